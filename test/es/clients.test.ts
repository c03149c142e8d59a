/**
 * Elasticsearch clients nobody here wrote, against `vigil serve`: @elastic/elasticsearch 7, 8 and 9
 * (npm aliases), @opensearch-project/opensearch 3, Debian's python3-elasticsearch 7.17, and an
 * elasticdump export of an index that round-trips into a second Vigil. Each checks its answers
 * against what the test's own data says they must be.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client as Client9 } from '@elastic/elasticsearch';
import { Client as Client7 } from 'elasticsearch7';
import { Client as Client8 } from 'elasticsearch8';
import { Client as ClientOs } from '@opensearch-project/opensearch';
import { repoRoot } from '../support/shared.js';
import { startServer, type RunningServer } from '../support/server.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const HOSTS = ['web-1', 'web-2', 'db-1', 'mail-1'];
const PROCS = ['bash', 'curl', 'python3', 'sshd', 'cron'];

interface Ev {
  '@timestamp': string;
  host: { name: string };
  process: { name: string; pid: number };
  event: { category: string[]; type: string[] };
  message: string;
  bytes: number;
}

/** 240 events over 10 days, hosts and processes in a fixed pattern. */
function events(): Array<{ id: string; doc: Ev }> {
  const out: Array<{ id: string; doc: Ev }> = [];
  for (let i = 0; i < 240; i++) {
    out.push({
      id: `e${i}`,
      doc: {
        '@timestamp': new Date(T0 + i * 3_600_000).toISOString(),
        host: { name: HOSTS[i % 4]! },
        process: { name: PROCS[i % 5]!, pid: 1000 + i },
        event: { category: ['process'], type: ['start'] },
        message: `${PROCS[i % 5]} started on ${HOSTS[i % 4]} run ${i % 7 === 0 ? 'Nightly Backup' : 'interactive'}`,
        bytes: i * 10,
      },
    });
  }
  return out;
}

const DATA = events();
const DOCS = DATA.map((d) => d.doc);
const ID = new Map(DATA.map((d) => [d.doc as unknown, d.id]));
const action = (index: string) => (doc: unknown) => ({ index: { _index: index, _id: ID.get(doc)! } });
const count = (f: (e: Ev) => boolean): number => DATA.filter((d) => f(d.doc)).length;

let dir: string;
let server: RunningServer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-clients-'));
  server = await startServer(['--data', join(dir, 'a'), '--no-bundled-rules']);
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What every client does the same way, over a call that returns the answer's body. */
type Call = (api: string, params: Record<string, unknown>) => Promise<Record<string, unknown>>;

async function exercise(name: string, call: Call, eqlCall: Call, helpers: { bulk(index: string): Promise<{ successful: number; failed: number }>; scroll(index: string): Promise<number> }): Promise<void> {
  const index = `${name}-events`;
  // an index with a mapping, then a field added to it (merged, not replaced)
  await call('indices.create', { index, body: { mappings: { properties: { bytes: { type: 'long' }, '@timestamp': { type: 'date' } } } } });
  await call('indices.putMapping', { index, body: { properties: { message: { type: 'text' } } } });
  const mapping = (await call('indices.getMapping', { index })) as Record<string, { mappings: { properties: Record<string, { type: string }> } }>;
  assert.equal(mapping[index]!.mappings.properties.bytes!.type, 'long', `${name}: putMapping kept the earlier field`);
  assert.equal(mapping[index]!.mappings.properties.message!.type, 'text');

  const b = await helpers.bulk(index);
  assert.deepEqual(b, { successful: DATA.length, failed: 0 }, `${name}: bulk helper`);
  await call('indices.refresh', { index });

  // count and search
  const c = await call('count', { index, body: { query: { term: { 'host.name': 'web-2' } } } });
  assert.equal(c.count, count((e) => e.host.name === 'web-2'), `${name}: count`);
  const s = (await call('search', {
    index,
    body: {
      size: 3,
      query: { bool: { filter: [{ range: { '@timestamp': { gte: '2026-12-03T00:00:00Z', lt: '2026-12-05T00:00:00Z' } } }], must: [{ match: { message: 'nightly backup' } }] } },
      sort: [{ bytes: 'desc' }],
      aggs: { hosts: { terms: { field: 'host.name', size: 2 } }, total: { sum: { field: 'bytes' } }, daily: { date_histogram: { field: '@timestamp', calendar_interval: 'day' } } },
    },
  })) as { hits: { total: { value: number }; hits: Array<{ _id: string; _source: Ev }> }; aggregations: { hosts: { buckets: Array<{ key: string; doc_count: number }>; sum_other_doc_count: number }; total: { value: number }; daily: { buckets: unknown[] } } };
  const inRange = DATA.filter((d) => d.doc['@timestamp'] >= '2026-12-03T00:00:00' && d.doc['@timestamp'] < '2026-12-05T00:00:00' && d.doc.message.includes('Nightly Backup'));
  assert.equal(s.hits.total.value, inRange.length, `${name}: search total`);
  assert.deepEqual(
    s.hits.hits.map((h) => h._id),
    [...inRange].sort((x, y) => y.doc.bytes - x.doc.bytes).slice(0, 3).map((d) => d.id),
    `${name}: sorted hits`,
  );
  assert.equal(s.aggregations.total.value, inRange.reduce((a, d) => a + d.doc.bytes, 0));
  assert.equal(s.aggregations.daily.buckets.length, 2);
  const byHost = new Map<string, number>();
  for (const d of inRange) byHost.set(d.doc.host.name, (byHost.get(d.doc.host.name) ?? 0) + 1);
  assert.equal(s.aggregations.hosts.buckets.reduce((a, x) => a + x.doc_count, 0) + s.aggregations.hosts.sum_other_doc_count, inRange.length);

  // search_after through every document, 50 at a time, in @timestamp order
  const seen: string[] = [];
  let afterKey: unknown[] | undefined;
  for (;;) {
    const page = (await call('search', { index, body: { size: 50, sort: [{ '@timestamp': 'asc' }, { bytes: 'asc' }], ...(afterKey ? { search_after: afterKey } : {}) } })) as { hits: { hits: Array<{ _id: string; sort: unknown[] }> } };
    if (page.hits.hits.length === 0) break;
    seen.push(...page.hits.hits.map((h) => h._id));
    afterKey = page.hits.hits[page.hits.hits.length - 1]!.sort;
  }
  assert.deepEqual(seen, DATA.map((d) => d.id), `${name}: search_after pages`);

  // the scroll helper reads everything
  assert.equal(await helpers.scroll(index), DATA.length, `${name}: scroll`);

  // update (partial document), then delete
  const u = await call('update', { index, id: 'e5', body: { doc: { process: { name: 'renamed' } } } });
  assert.equal(u.result, 'updated');
  const got = (await call('get', { index, id: 'e5' })) as { _source: Ev };
  assert.equal(got._source.process.name, 'renamed');
  assert.equal(got._source.process.pid, 1005, `${name}: update merges into the document`);
  const d = await call('delete', { index, id: 'e6' });
  assert.equal(d.result, 'deleted');
  const after2 = await call('count', { index });
  assert.equal(after2.count, DATA.length - 1);

  // a template
  await call('indices.putIndexTemplate', { name: `${name}-tpl`, body: { index_patterns: [`${name}-tpl-*`], template: { mappings: { properties: { n: { type: 'long' } } } } } });
  const tpl = (await call('indices.getIndexTemplate', { name: `${name}-tpl` })) as { index_templates: Array<{ name: string }> };
  assert.equal(tpl.index_templates[0]!.name, `${name}-tpl`);

  // EQL
  const eql = (await eqlCall('eql.search', { index, body: { query: 'process where host.name == "db-1" and process.name == "bash"' } })) as { hits: { total: { value: number } } };
  assert.equal(eql.hits.total.value, count((e) => e.host.name === 'db-1' && e.process.name === 'bash'), `${name}: eql`);
}

/** Legacy clients (7.x, OpenSearch) take `body` and answer `{ body }`. */
function legacyCall(client: Record<string, unknown>): Call {
  return async (api, params) => {
    const [a, b] = api.split('.');
    const target = (b ? (client[a!] as Record<string, unknown>) : client) as Record<string, (p: unknown) => Promise<{ body: Record<string, unknown> }>>;
    const fn = target[b ?? a!]!.bind(target);
    return (await fn(params)).body;
  };
}

/** 8.x and 9.x take the body's keys at the top and answer the body. */
function modernCall(client: Record<string, unknown>): Call {
  return async (api, params) => {
    const [a, b] = api.split('.');
    const target = (b ? (client[a!] as Record<string, unknown>) : client) as Record<string, (p: unknown) => Promise<Record<string, unknown>>>;
    const { body, ...rest } = params as { body?: Record<string, unknown> };
    const flat = api === 'indices.create' || api === 'update' ? { ...rest, ...(body ?? {}) } : { ...rest, ...(body ?? {}) };
    return target[b ?? a!]!.call(target, flat);
  };
}

test('@elastic/elasticsearch 9: bulk helper, mappings, search with aggregations, search_after, scroll, update, delete, templates, EQL', async () => {
  const client = new Client9({ node: server.url });
  await exercise('es9', modernCall(client as unknown as Record<string, unknown>), modernCall(client as unknown as Record<string, unknown>), {
    bulk: async (index) => {
      const r = await client.helpers.bulk({ datasource: DOCS, onDocument: action(index), refreshOnCompletion: true });
      return { successful: r.successful, failed: r.failed };
    },
    scroll: async (index) => {
      let n = 0;
      for await (const doc of client.helpers.scrollDocuments({ index, size: 70 })) if (doc) n++;
      return n;
    },
  });
  await client.close();
});

test('@elastic/elasticsearch 8: the same, plus a point in time', async () => {
  const client = new Client8({ node: server.url });
  await exercise('es8', modernCall(client as unknown as Record<string, unknown>), modernCall(client as unknown as Record<string, unknown>), {
    bulk: async (index) => {
      const r = await client.helpers.bulk({ datasource: DOCS, onDocument: action(index) });
      return { successful: r.successful, failed: r.failed };
    },
    scroll: async (index) => {
      let n = 0;
      for await (const r of client.helpers.scrollSearch({ index, size: 100 })) n += r.documents.length;
      return n;
    },
  });
  // a point in time does not see documents written after it opened
  const pit = await client.openPointInTime({ index: 'es8-events', keep_alive: '1m' });
  await client.index({ index: 'es8-events', id: 'late', document: { '@timestamp': '2026-12-20T00:00:00Z', host: { name: 'web-1' } }, refresh: true });
  const r = await client.search({ pit: { id: pit.id, keep_alive: '1m' }, size: 0, track_total_hits: true });
  assert.equal((r.hits.total as { value: number }).value, DATA.length - 1);
  const now = await client.count({ index: 'es8-events' });
  assert.equal(now.count, DATA.length);
  const closed = await client.closePointInTime({ id: pit.id });
  assert.equal(closed.succeeded, true);
  await client.close();
});

test('@elastic/elasticsearch 7: the same through the 7.x API shape', async () => {
  const client = new Client7({ node: server.url });
  await exercise('es7', legacyCall(client as unknown as Record<string, unknown>), legacyCall(client as unknown as Record<string, unknown>), {
    bulk: async (index) => {
      const r = await client.helpers.bulk({ datasource: DOCS, onDocument: action(index) as never });
      return { successful: r.successful, failed: r.failed };
    },
    scroll: async (index) => {
      let n = 0;
      for await (const doc of client.helpers.scrollDocuments({ index, body: { size: 60 } } as never)) if (doc) n++;
      return n;
    },
  });
  await client.close();
});

test('@opensearch-project/opensearch 3: the same through OpenSearch\'s client', async () => {
  const client = new ClientOs({ node: server.url });
  // OpenSearch's client has no EQL API: the request goes through its transport
  const eqlOverTransport: Call = async (_api, params) => (await client.transport.request({ method: 'POST', path: `/${String(params.index)}/_eql/search`, body: params.body as Record<string, unknown> })).body as Record<string, unknown>;
  await exercise('os', legacyCall(client as unknown as Record<string, unknown>), eqlOverTransport, {
    bulk: async (index) => {
      const r = await client.helpers.bulk({ datasource: DOCS, onDocument: action(index) as never });
      return { successful: r.successful, failed: r.failed };
    },
    scroll: async (index) => {
      let n = 0;
      for await (const doc of client.helpers.scrollDocuments({ index, body: { size: 80 } } as never)) if (doc) n++;
      return n;
    },
  });
  await client.close();
});

test("Debian's python3-elasticsearch 7.17: helpers.bulk, search, helpers.scan, count, update, delete, EQL", () => {
  const script = join(repoRoot, 'test', 'es', 'python-client.py');
  // Debian's python, which its python3-elasticsearch package serves (npm test installs it)
  const r = spawnSync('/usr/bin/python3', [script, server.url, JSON.stringify(DATA)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `python client failed:\n${r.stderr}\n${r.stdout}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  assert.deepEqual(out, {
    bulk_ok: DATA.length,
    errors: 0,
    count_web1: count((e) => e.host.name === 'web-1'),
    search_curl: count((e) => e.process.name === 'curl'),
    scanned: DATA.length,
    updated_pid: 1007,
    after_delete: DATA.length - 1,
    eql_cron: count((e) => e.process.name === 'cron'),
    terms_buckets: HOSTS.length,
  });
});

test('elasticdump: an index exported from one Vigil and imported into another is the same, mapping and documents', async () => {
  const other = await startServer(['--data', join(dir, 'b'), '--no-bundled-rules']);
  try {
    const bin = join(repoRoot, 'node_modules', '.bin', 'elasticdump');
    const dump = (args: string[]): void => {
      const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `elasticdump ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
    };
    const file = join(dir, 'dump.ndjson');
    const mapFile = join(dir, 'mapping.json');
    dump([`--input=${server.url}/es9-events`, `--output=${mapFile}`, '--type=mapping']);
    dump([`--input=${server.url}/es9-events`, `--output=${file}`, '--type=data', '--limit=37']);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, DATA.length - 1); // es9 deleted one
    dump([`--input=${mapFile}`, `--output=${other.url}/copy`, '--type=mapping']);
    dump([`--input=${file}`, `--output=${other.url}/copy`, '--type=data', '--limit=50']);
    const a = new Client9({ node: server.url });
    const b = new Client9({ node: other.url });
    const all = async (c: Client9, index: string): Promise<Map<string, unknown>> => {
      const m = new Map<string, unknown>();
      for await (const r of c.helpers.scrollSearch({ index, size: 100 })) for (const h of r.body.hits.hits) m.set(h._id!, h._source);
      return m;
    };
    const [x, y] = await Promise.all([all(a, 'es9-events'), all(b, 'copy')]);
    assert.equal(y.size, x.size);
    for (const [id, src] of x) assert.deepEqual(y.get(id), src, `document ${id}`);
    const m = await b.indices.getMapping({ index: 'copy' });
    assert.equal((m.copy!.mappings.properties!.bytes as { type: string }).type, 'long');
    await Promise.all([a.close(), b.close()]);
  } finally {
    await other.stop();
  }
});
