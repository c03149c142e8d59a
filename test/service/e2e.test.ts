/**
 * End to end: `vigil serve` as a child process on a temporary data dir, events sent with the official
 * @elastic/elasticsearch client (bulk helper and raw transport), time moved with the manual clock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { api, startServer, type RunningServer } from '../support/server.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;
const iso = (t: number): string => new Date(t).toISOString();
const MYSQL = 'linux-restricted-shell-breakout-via-the-mysql-command';
const XP = 'execution-via-mssql-xp-cmdshell-stored-procedure';
const INDEX = 'logs-endpoint.events.process-default';

type Doc = Record<string, unknown>;
const shell = (t: number, host: string, over: { name?: string; args?: string[] } = {}): Doc => ({
  '@timestamp': iso(t),
  event: { category: ['process'], type: ['start'], kind: 'event' },
  host: { name: host, os: { type: 'linux' } },
  user: { name: 'mysql' },
  process: { name: over.name ?? 'bash', pid: 4242, parent: { name: 'mysql', args: over.args ?? ['mysql', '-e', '\\!/bin/bash'] } },
});
const cmd = (t: number, host: string, args: string[]): Doc => ({
  '@timestamp': iso(t),
  event: { category: ['process'], type: ['start'] },
  host: { name: host, os: { type: 'windows' } },
  user: { name: 'MSSQLSERVER' },
  process: { name: 'cmd.exe', args, parent: { name: 'sqlservr.exe' } },
});

// the first batch: 3 matches, 4 near misses (each one detail away from a match)
const batch1: Array<{ id: string; doc: Doc }> = [
  { id: 'm1', doc: shell(T0 + 2 * MIN, 'lin-1') },
  { id: 'm2', doc: shell(T0 + 3 * MIN, 'lin-2', { name: 'sh', args: ['mysql', '-e', '\\!sh'] }) },
  { id: 'n1', doc: shell(T0 + 2 * MIN, 'lin-3', { name: 'BASH' }) },
  { id: 'n2', doc: shell(T0 + 2 * MIN, 'lin-4', { args: ['mysql', '\\!/bin/bash'] }) },
  { id: 'x1', doc: cmd(T0 + 4 * MIN, 'win-1', ['cmd.exe', '/c', 'whoami']) },
  { id: 'n3', doc: cmd(T0 + 4 * MIN, 'win-2', ['cmd.exe', '/c', 'dir']) },
  { id: 'n4', doc: cmd(T0 + 4 * MIN, 'win-3', ['cmd.exe', '/c', '\\\\server\\share\\x.bat']) },
];

const dirs: string[] = [];
const servers: RunningServer[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-e2e-'));
  dirs.push(d);
  return d;
};
after(async () => {
  for (const s of servers) await s.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const start = async (args: string[]): Promise<RunningServer> => {
  const s = await startServer(args);
  servers.push(s);
  return s;
};

interface AlertView {
  id: string;
  rule_id: string;
  status: string;
  host: string | null;
  doc: Record<string, unknown>;
}
interface RunView {
  ruleId: string;
  kind: string;
  searched: number;
  matches: number;
  written: number;
  existing: number;
  dropped: number;
  status: string;
  error: string | null;
  windowFrom: number;
  windowTo: number;
}
const alerts = async (url: string, query = ''): Promise<{ total: number; alerts: AlertView[] }> => (await api<{ total: number; alerts: AlertView[] }>(url, `/api/alerts?size=1000${query}`)).body;
const runs = async (url: string, ruleId: string): Promise<RunView[]> => (await api<{ runs: RunView[] }>(url, `/api/runs?rule_id=${ruleId}&size=1000`)).body.runs.reverse();
const advance = async (url: string, to: number): Promise<void> => {
  const r = await api(url, '/api/_clock', { body: { now: iso(to) } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
};

async function sendBatch1(client: Client): Promise<{ successful: number; failed: number; drops: Array<{ status: number; type: string }> }> {
  const drops: Array<{ status: number; type: string }> = [];
  // valid documents plus three bad items: not an object, a bad index name, a duplicate create
  const source: Array<{ id?: string; doc: unknown; index?: string }> = [...batch1, { doc: '[1, 2]' }, { id: 'bad-index', doc: shell(T0, 'x'), index: 'Logs-Upper' }, { id: 'm1', doc: shell(T0 + 2 * MIN, 'lin-1') }];
  let i = 0;
  const stats = await client.helpers.bulk({
    datasource: source.map((s) => s.doc) as Array<Doc | string>,
    onDocument: () => {
      const s = source[i++]!;
      return { create: { _index: s.index ?? INDEX, ...(s.id ? { _id: s.id } : {}) } };
    },
    onDrop: (d) => drops.push({ status: d.status, type: (d.error as { type: string } | null)?.type ?? '' }),
    flushBytes: 1_000_000,
  });
  return { successful: stats.successful, failed: stats.failed, drops };
}

test('vigil serve end to end: ingest with the official client, scheduled runs, caps, gaps, streaming', async (t) => {
  const dataA = tempDir();
  let a = await start(['--data', dataA, '--clock', iso(T0)]);
  const client = new Client({ node: a.url });

  await t.test('the client connects: cluster info and product header', async () => {
    const info = await client.info();
    assert.match(info.version.number, /^8\./);
    const res = await fetch(a.url);
    assert.equal(res.headers.get('x-elastic-product'), 'Elasticsearch');
    const unknown = await api(a.url, '/_no_such_api/x');
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.body), /no handler found for uri/);
  });

  await t.test('bulk helper: good items indexed, each bad item dropped with its reason', async () => {
    const r = await sendBatch1(client);
    assert.equal(r.successful, 7);
    assert.equal(r.failed, 3);
    assert.deepEqual(r.drops.map((d) => `${d.status} ${d.type}`).sort(), ['400 document_parsing_exception', '400 invalid_index_name_exception', '409 version_conflict_engine_exception']);
  });

  await t.test('a malformed NDJSON line fails its item; the rest of the request is indexed', async () => {
    const raw = `{"create":{"_index":"${INDEX}","_id":"broken"}}\n{"@timestamp": "2026-11-23T09:00:00Z", "oops\n{"create":{"_index":"${INDEX}","_id":"fine"}}\n${JSON.stringify(shell(T0 - 30 * MIN, 'old'))}\n`;
    const res = (await client.transport.request({ method: 'POST', path: '/_bulk', bulkBody: raw })) as { errors: boolean; items: Array<Record<string, { status: number; error?: { type: string } }>> };
    assert.equal(res.errors, true);
    assert.equal(res.items.length, 2);
    assert.equal(res.items[0]!.create!.status, 400);
    assert.equal(res.items[0]!.create!.error!.type, 'document_parsing_exception');
    assert.equal(res.items[1]!.create!.status, 201);
    const got = await client.get({ index: INDEX, id: 'fine' });
    assert.equal(got.found, true);
  });

  await t.test('_eql/search through the client, with a filter; bad queries give a located error', async () => {
    const r = await client.eql.search({ index: 'logs-endpoint.events.*', query: 'process where process.parent.name == "mysql"', size: 100, filter: { range: { '@timestamp': { gte: iso(T0) } } } });
    assert.equal(r.hits.total?.value, 4);
    await assert.rejects(client.eql.search({ index: 'logs-*', query: 'process where process.name == ' }), (e: { meta: { statusCode: number; body: { error: { type: string; reason: string } } } }) => {
      assert.equal(e.meta.statusCode, 400);
      assert.match(e.meta.body.error.reason, /^line 1:\d+: /);
      return true;
    });
  });

  await t.test('overlapping scheduled executions raise each expected alert exactly once', async () => {
    for (const m of [5, 10, 15]) await advance(a.url, T0 + m * MIN);
    const all = await alerts(a.url);
    const hosts = all.alerts.map((x) => `${x.rule_id} ${x.host}`).sort();
    assert.deepEqual(hosts, [`${XP} win-1`, `${MYSQL} lin-1`, `${MYSQL} lin-2`]);
    const mysqlRuns = await runs(a.url, MYSQL);
    assert.deepEqual(
      mysqlRuns.map((r) => [r.windowTo, r.written, r.existing]),
      [
        [T0, 0, 0],
        [T0 + 5 * MIN, 2, 0],
        [T0 + 10 * MIN, 0, 2],
        [T0 + 15 * MIN, 0, 0],
      ],
    );
    assert.ok(mysqlRuns.every((r) => r.status === 'succeeded'));
    // the alert document follows Kibana's schema
    const m1 = all.alerts.find((x) => x.host === 'lin-1')!.doc;
    assert.equal(m1['kibana.alert.rule.rule_id'], MYSQL);
    assert.equal(m1['kibana.alert.rule.name'], 'Linux Restricted Shell Breakout via the mysql command');
    assert.match(String(m1['kibana.alert.rule.uuid']), /^[0-9a-f-]{36}$/);
    assert.equal(m1['kibana.alert.severity'], 'medium');
    assert.equal(m1['kibana.alert.risk_score'], 47);
    assert.equal(m1['kibana.alert.original_time'], iso(T0 + 2 * MIN));
    assert.equal(m1['kibana.alert.workflow_status'], 'open');
    assert.match(String(m1['kibana.alert.reason']), /process bash, parent process mysql by mysql on lin-1 created medium alert/);
    assert.equal((m1['kibana.alert.rule.threat'] as Array<{ tactic: { name: string } }>)[0]!.tactic.name, 'Execution');
    assert.deepEqual((m1['kibana.alert.ancestors'] as Array<{ id: string }>).map((x) => x.id), ['m1']);
    assert.equal((m1.event as { kind: string }).kind, 'signal');
    assert.equal((m1['kibana.alert.original_event'] as { kind: string }).kind, 'event');
  });

  await t.test('workflow status is set in bulk and filters alerts', async () => {
    const ids = (await alerts(a.url, `&rule_id=${MYSQL}`)).alerts.map((x) => x.id);
    const r = await api<{ updated: number }>(a.url, '/api/alerts/_status', { body: { ids, status: 'acknowledged' } });
    assert.equal(r.body.updated, 2);
    assert.equal((await alerts(a.url, '&status=open')).total, 1);
    const one = await api<AlertView>(a.url, `/api/alerts/${ids[0]}`);
    assert.equal(one.body.doc['kibana.alert.workflow_status'], 'acknowledged');
    assert.equal((await api(a.url, '/api/alerts/_status', { body: { ids, status: 'bogus' } })).status, 400);
  });

  await t.test('rules API: import with located diagnostics; max_signals caps and the log counts the drop', async () => {
    const rule = (await api<Record<string, unknown>>(a.url, `/api/rules/${MYSQL}`)).body;
    const capped = { ...rule, rule_id: 'mysql-capped', name: 'mysql breakout (capped)', max_signals: 3 };
    for (const k of ['streamable', 'runnable', 'problem', 'origin', 'updated', 'covered_until', 'last_run', 'gaps', 'alerts', 'streaming']) delete (capped as Record<string, unknown>)[k];
    const broken = { ...capped, rule_id: 'broken', query: 'process where process.name ==' };
    const imp = await fetch(`${a.url}/api/rules/_import?filename=capped.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${JSON.stringify(capped)}\n${JSON.stringify(broken)}\n` });
    const body = (await imp.json()) as { imported: string[]; errors: Array<{ line: number; col: number; message: string }> };
    assert.deepEqual(body.imported, ['mysql-capped']);
    assert.equal(body.errors.length, 1);
    assert.equal(body.errors[0]!.line, 2);
    assert.ok(body.errors[0]!.col > 1);
    const list = (await api<{ rules: Array<{ rule_id: string; enabled: boolean }> }>(a.url, '/api/rules')).body.rules;
    assert.deepEqual(list.map((r) => r.rule_id).sort(), [XP, MYSQL, 'mysql-capped'].sort());
    const exported = await (await fetch(`${a.url}/api/rules/_export`)).text();
    assert.equal(exported.trim().split('\n').length, 4); // three rules and Kibana's summary line

    const seven = Array.from({ length: 7 }, (_, i) => ({ id: `cap${i}`, doc: shell(T0 + 16 * MIN + (i + 1) * 1000, `cap-${i}`) }));
    await client.helpers.bulk({ datasource: seven.map((s) => s.doc), onDocument: () => ({ create: { _index: INDEX } }) });
    await advance(a.url, T0 + 20 * MIN);
    const capRuns = (await runs(a.url, 'mysql-capped')).filter((r) => r.matches > 0);
    assert.equal(capRuns.length, 1);
    assert.equal(capRuns[0]!.matches, 7);
    assert.equal(capRuns[0]!.written, 3);
    assert.equal(capRuns[0]!.dropped, 4);
    assert.equal(capRuns[0]!.status, 'partial failure');
    assert.match(capRuns[0]!.error ?? '', /max_signals \(3\).*4 matches not written/);
    assert.equal((await alerts(a.url, '&rule_id=mysql-capped')).total, 3);
    // the uncapped rule wrote all seven
    assert.equal((await alerts(a.url, `&rule_id=${MYSQL}`)).total, 9);
  });

  await t.test('a stopped period shows as a gap and is caught up after a restart', async () => {
    await advance(a.url, T0 + 30 * MIN);
    const r = await api<{ items: unknown[] }>(a.url, '/_bulk', { raw: `{"create":{"_index":"${INDEX}","_id":"in-gap"}}\n${JSON.stringify(shell(T0 + 42 * MIN, 'lin-gap'))}\n` });
    assert.equal(r.status, 200);
    assert.equal(await a.stop(), 0);
    a = await start(['--data', dataA, '--clock', iso(T0 + 60 * MIN)]);
    await advance(a.url, T0 + 60 * MIN);
    const gaps = (await api<{ gaps: Array<{ from: number; to: number; filled: number | null }> }>(a.url, `/api/gaps?rule_id=${MYSQL}`)).body.gaps;
    assert.equal(gaps.length, 1, JSON.stringify(gaps));
    assert.equal(gaps[0]!.from, T0 + 30 * MIN);
    assert.equal(gaps[0]!.to, T0 + 51 * MIN);
    assert.notEqual(gaps[0]!.filled, null);
    const late = (await runs(a.url, MYSQL)).filter((x) => x.windowTo > T0 + 30 * MIN);
    assert.deepEqual(
      late.map((x) => [x.kind, x.windowFrom, x.windowTo, x.written]),
      [
        ['catch-up', T0 + 30 * MIN, T0 + 39 * MIN, 0],
        ['catch-up', T0 + 39 * MIN, T0 + 48 * MIN, 1],
        ['catch-up', T0 + 48 * MIN, T0 + 51 * MIN, 0],
        ['scheduled', T0 + 51 * MIN, T0 + 60 * MIN, 0],
      ],
    );
    assert.equal((await alerts(a.url, `&host=lin-gap&rule_id=${MYSQL}`)).total, 1);
    const view = (await api<{ gaps: { total: number; unfilled: number } }>(a.url, `/api/rules/${MYSQL}`)).body;
    assert.deepEqual(view.gaps, { total: 1, unfilled: 0 });
  });

  await t.test('streaming mode raises the same alerts, with the same ids, as scheduled runs', async () => {
    const b = await start(['--data', tempDir(), '--clock', iso(T0), '--streaming']);
    const clientB = new Client({ node: b.url });
    const r = await sendBatch1(clientB);
    assert.equal(r.successful, 7);
    const streamed = (await alerts(b.url)).alerts.map((x) => x.id).sort();
    const scheduled = (await alerts(a.url)).alerts.filter((x) => ['m1', 'm2', 'x1'].includes(((x.doc['kibana.alert.ancestors'] as Array<{ id: string }>)[0]!).id)).map((x) => x.id).sort();
    assert.equal(streamed.length, 3);
    assert.deepEqual(streamed, scheduled);
    // streaming rules appear in the execution log once their interval has passed
    await advance(b.url, T0 + 6 * MIN);
    const logged = await runs(b.url, MYSQL);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.kind, 'streaming');
    assert.equal(logged[0]!.written, 2);
    await b.stop();
  });

  await a.stop();
});
