/**
 * Vigil's own API and UI paths under careless or hostile requests: absurd paging numbers are
 * answered, not 500s; the UI's security headers come with `/ui` as with `/ui/`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { OutputDispatcher } from '../../src/outputs/index.js';
import { UI_DIR } from '../../src/server/index.js';
import { startServer, type RunningServer } from '../support/server.js';

let dir: string;
let server: RunningServer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-hostile-api-'));
  server = await startServer(['--data', dir]);
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('paging numbers that are not whole, negative or huge are left out or capped, never a 500', async () => {
  for (const path of ['/api/runs?size=1e300', '/api/runs?size=-1&offset=0.5', '/api/alerts?size=1e300&offset=1e300', '/api/alerts/_groups?by=host&size=1e300', '/api/rules/x/runs?size=NaN']) {
    const r = await fetch(`${server.url}${path}`);
    assert.equal(r.status, 200, `${path}: ${await r.text()}`);
  }
});

test('/ui without its slash gets the UI security headers too', async () => {
  assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm test builds it)');
  for (const path of ['/ui', '/ui/', '/ui?x=1']) {
    const r = await fetch(`${server.url}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
  }
});

test('a body that never ends is cut off at --request-timeout, and the server goes on answering', async () => {
  const slow = await startServer(['--data', join(dir, 'timeout'), '--no-bundled-rules', '--request-timeout', '1s']);
  try {
    const { hostname, port } = new URL(slow.url);
    const t0 = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), hostname, () => {
        sock.write('POST /_bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ind\r\n');
      });
      let got = '';
      sock.on('data', (b: Buffer) => (got += b.toString()));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
      setTimeout(() => reject(new Error('still held after 10 s')), 10_000).unref();
    });
    assert.ok(Date.now() - t0 < 5000, `cut off after ${Date.now() - t0} ms`);
    assert.match(answer, /^HTTP\/1\.1 408|^$/);
    assert.equal((await fetch(`${slow.url}/_cat/indices?format=json`)).status, 200);
  } finally {
    await slow.stop();
  }
});

test('a webhook output shows only its origin in health: its path and query hold tokens', () => {
  const d = new OutputDispatcher([{ kind: 'webhook', url: 'https://bot:hunter2@hooks.example.com/services/T000/B000/XXXXSECRET?token=abc' }]);
  try {
    const shown = d.stats()[0]!.output;
    assert.equal(shown, 'webhook https://hooks.example.com/…');
    assert.doesNotMatch(shown, /SECRET|hunter2|abc/);
  } finally {
    d.close();
  }
});

/** The server's peak resident memory so far (VmHWM), in MiB. */
const peakMiB = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

test('indexing pressure: a 95 MB bulk of 3 million tiny items (a 300 KB gzip) is answered 429 without the memory it once took; small bulks go on', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-pressure-'));
  const s = await startServer(['--data', d]);
  try {
    const item = '{"create":{}}\n{"a":1}\n';
    const body = gzipSync(Buffer.from(item.repeat(Math.floor(95 * 1024 * 1024 / item.length))));
    assert.ok(body.length < 1024 * 1024, `${body.length} bytes compressed`);
    const before = peakMiB(s.proc.pid!);
    const r = await fetch(`${s.url}/logs-bomb/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, body });
    assert.equal(r.status, 429);
    const e = (await r.json()) as { error: { type: string; reason: string } };
    assert.equal(e.error.type, 'es_rejected_execution_exception');
    assert.match(e.error.reason, /max_coordinating_and_primary_bytes=\d+/);
    const grew = peakMiB(s.proc.pid!) - before;
    assert.ok(grew < 1024, `the server grew by ${grew.toFixed(0)} MiB (it once grew by 5.7 GB)`);
    const ok = await fetch(`${s.url}/logs-ok/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: item.repeat(10) });
    assert.equal(ok.status, 200);
  } finally {
    await s.stop();
    rmSync(d, { recursive: true, force: true });
  }
  // the limit is a setting; a bulk under it passes, one over it is refused
  const d2 = mkdtempSync(join(tmpdir(), 'vigil-pressure-'));
  const small = await startServer(['--data', d2, '--indexing-pressure', '64kb']);
  try {
    const doc = `{"create":{}}\n${JSON.stringify({ '@timestamp': '2026-11-20T00:00:00Z', pad: 'x'.repeat(200) })}\n`;
    assert.equal((await fetch(`${small.url}/logs-x/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: doc.repeat(20) })).status, 200);
    assert.equal((await fetch(`${small.url}/logs-x/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: doc.repeat(400) })).status, 429);
  } finally {
    await small.stop();
    rmSync(d2, { recursive: true, force: true });
  }
});

test('1e400 and bytes that are not UTF-8 fail their own bulk item (not silently Infinity or U+FFFD); the other items are written', async () => {
  const good = (n: number): Buffer => Buffer.from(`{"create":{}}\n{"@timestamp":"2026-11-20T00:00:00Z","n":${n}}\n`);
  const body = Buffer.concat([good(1), Buffer.from('{"create":{}}\n{"a":{"b":1e400}}\n'), good(2), Buffer.from('{"create":{}}\n{"name":"'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('"}\n'), good(3), Buffer.from(`{"create":{}}\n{"big":${'9'.repeat(400)}}\n`)]);
  const r = (await (await fetch(`${server.url}/logs-odd/_bulk?refresh=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body })).json()) as { errors: boolean; items: Array<{ create: { status: number; error?: { reason: string } } }> };
  assert.deepEqual(r.items.map((i) => i.create.status), [201, 400, 201, 400, 201, 400]);
  assert.match(r.items[1]!.create.error!.reason, /\[4:1\] failed to parse field \[a\.b\] of type \[float\]: \[float\] supports only finite values/);
  assert.match(r.items[3]!.create.error!.reason, /\[8:1\] failed to parse: Invalid UTF-8/);
  assert.match(r.items[5]!.create.error!.reason, /field \[big\]/);
  const n = (await (await fetch(`${server.url}/logs-odd/_count`)).json()) as { count: number };
  assert.equal(n.count, 3);
  // a single document with such bytes is refused whole
  const one = await fetch(`${server.url}/logs-odd/_doc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]) });
  assert.equal(one.status, 400);
  assert.match(((await one.json()) as { error: { reason: string } }).error.reason, /Invalid UTF-8/);
  // so is a search body sent with GET (read by its own hook)
  const get = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const u = new URL(server.url);
    const body = Buffer.concat([Buffer.from('{"query":{"term":{"name":"'), Buffer.from([0xff]), Buffer.from('"}}}')]);
    const r = httpRequest({ host: u.hostname, port: u.port, path: '/logs-odd/_search', method: 'GET', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    r.on('error', reject);
    r.end(body);
  });
  assert.equal(get.status, 400, get.text);
  assert.match(get.text, /Invalid UTF-8/);
});

test('_eql/search: size above 10,000 (max_result_window) is refused, not answered with 70 MB', async () => {
  const r = await fetch(`${server.url}/logs-odd/_eql/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'any where true', size: 1_000_000 }) });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: { reason: string } }).error.reason, /size must be less than or equal to \[10000\]/);
});

test('broken templates and mappings are refused at PUT (400 with what is wrong); one already stored broken answers no 500', async () => {
  const put = async (path: string, body: unknown): Promise<{ status: number; type: string; reason: string }> => {
    const r = await fetch(`${server.url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = (await r.json()) as { error?: { type: string; reason: string } };
    return { status: r.status, type: j.error?.type ?? '', reason: j.error?.reason ?? '' };
  };
  const cases: Array<[string, unknown, RegExp]> = [
    ['/_index_template/b1', { index_patterns: ['logs-b1*'], template: { mappings: { properties: { a: 'text' } } } }, /Expected map for property \[fields\] on field \[a\]/],
    ['/_index_template/b2', { index_patterns: ['logs-b2*'], template: { mappings: { properties: 'x' } } }, /\[properties\] must be an object/],
    ['/_index_template/b3', { index_patterns: ['logs-b3*'], template: { mappings: { properties: { a: { type: 'nonsense' } } } } }, /No handler for type \[nonsense\] declared on field \[a\]/],
    ['/_index_template/b4', { index_patterns: ['logs-b4*'], template: { mappings: { properties: { a: { type: 'keyword', fields: 'x' } } } } }, /\[fields\] of \[a\]/],
    ['/_index_template/b5', { index_patterns: ['logs-b5*'], priority: 'high' }, /\[priority\] must be a whole number/],
    ['/_index_template/b6', { index_patterns: [5] }, /\[index_patterns\] must be/],
    ['/_index_template/b7', { index_patterns: ['logs-b7*'], composed_of: 'c' }, /\[composed_of\]/],
    ['/_template/b8', { index_patterns: ['logs-b8*'], mappings: { properties: { a: { b: 1 } } } }, /No type specified for field \[a\]/],
    ['/_component_template/b9', { template: { mappings: { properties: { host: { properties: { name: { type: 'strng' } } } } } } }, /No handler for type \[strng\] declared on field \[host\.name\]/],
    ['/logs-b10', { mappings: { properties: { a: { type: 'nope' } } } }, /No handler for type \[nope\]/],
  ];
  for (const [path, body, why] of cases) {
    const r = await put(path, body);
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r)}`);
    assert.match(r.reason, why, path);
  }
  assert.equal((await fetch(`${server.url}/_index_template/b1`)).status, 404, 'nothing of a refused template is stored');
  // what Elastic's own templates do stays accepted: objects by properties or `enabled` alone, multi-fields, dynamic templates
  const ok = await put('/_index_template/good', { index_patterns: ['logs-good*'], priority: 1, template: { mappings: { dynamic_templates: [{ s: { match_mapping_type: 'string', mapping: { type: 'keyword' } } }], properties: { host: { properties: { name: { type: 'keyword', fields: { text: { type: 'match_only_text' } } } } }, raw: { enabled: false }, n: { type: 'scaled_float', scaling_factor: 100 } } } } });
  assert.equal(ok.status, 200, JSON.stringify(ok));
  const m = await fetch(`${server.url}/logs-b10/_mapping`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ properties: { z: { type: 'bogus' } } }) });
  assert.equal(m.status, 400);
});

test('a template stored broken (by an older version, or by hand) answers no 500 on ingest, search, EQL or listing', async () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-hostile-tpl-'));
  try {
    let s = await startServer(['--data', d, '--no-bundled-rules']);
    assert.equal((await fetch(`${s.url}/logs-x/_doc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"@timestamp":"2026-12-01T00:00:00Z","a":"x"}' })).status, 201);
    await s.stop();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(d, 'vigil.db'));
    const put = db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)');
    put.run('_index_template:t1', JSON.stringify({ index_patterns: 'logs-*', priority: 'high', composed_of: 'x', template: { mappings: { properties: { a: 'text', b: { type: 'nonsense' }, c: { fields: 'x' } } } } }));
    put.run('_index_template:t2', '{{{ not json');
    put.run('_component_template:x', JSON.stringify({ template: 'nope' }));
    put.run('_template:t3', JSON.stringify({ index_patterns: [5, null], mappings: 'x' }));
    db.close();
    s = await startServer(['--data', d, '--no-bundled-rules']);
    try {
      const calls: Array<[string, string, string?]> = [
        ['POST', '/logs-x/_doc', '{"@timestamp":"2026-12-01T00:00:01Z","a":"y","b":"z"}'],
        ['POST', '/_bulk', '{"create":{"_index":"logs-y"}}\n{"@timestamp":"2026-12-01T00:00:02Z","a":"q"}\n'],
        ['POST', '/logs-*/_search', '{"query":{"term":{"a":"y"}}}'],
        ['POST', '/logs-*/_eql/search', '{"query":"any where a == \\"y\\""}'],
        ['GET', '/_index_template'],
        ['GET', '/_component_template'],
        ['GET', '/_template'],
        ['GET', '/logs-x/_mapping'],
        ['GET', '/logs-x'],
        ['GET', '/_cat/indices'],
      ];
      for (const [method, path, body] of calls) {
        const r = await fetch(`${s.url}${path}`, { method, headers: { 'content-type': path === '/_bulk' ? 'application/x-ndjson' : 'application/json' }, body });
        assert.ok(r.status < 500, `${method} ${path}: ${r.status} ${await r.text()}`);
      }
      const hits = (await (await fetch(`${s.url}/logs-x/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":{"match_all":{}}}' })).json()) as { hits: { total: { value: number } } };
      assert.equal(hits.hits.total.value, 2, 'ingest went on');
    } finally {
      await s.stop();
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
