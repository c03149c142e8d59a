/**
 * The triage API over real HTTP: the rules list's states, counts, filters, sorting, paging and bulk
 * enable; ATT&CK coverage counting only rules that run; alert groups, closing reasons and notes,
 * assignees, free text that reads the event and not the rule's parameters; process ancestry from
 * process-start events; compressed answers and cached assets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';
import { createServer, NO_SECURITY } from '../../src/server/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-triage-'));
const T0 = Date.UTC(2026, 0, 1);
const threat = (technique: string) => [{ framework: 'MITRE ATT&CK', tactic: { id: 'TA0002', name: 'Execution', reference: 'https://attack.mitre.org/tactics/TA0002/' }, technique: [{ id: technique, name: technique, reference: `https://attack.mitre.org/techniques/${technique}/` }] }];
const rule = (id: string, extra: Record<string, unknown>): string =>
  JSON.stringify({ rule_id: id, name: `Rule ${id}`, description: 'test', type: 'eql', language: 'eql', index: ['logs-*'], severity: 'low', risk_score: 21, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1, ...extra });

let v: Vigil;
let app: FastifyInstance;
let url: string;

before(async () => {
  const rules = join(dir, 'rules.ndjson');
  writeFileSync(
    rules,
    [
      // names comsvcs in its query: free text for comsvcs must not find its alerts for that
      rule('whoami', { query: 'process where process.name == "whoami" and not process.args == "comsvcs.dll"', severity: 'high', risk_score: 73, threat: threat('T1033'), tags: ['Domain: Endpoint', 'OS: Windows'] }),
      rule('seq', { query: 'sequence by host.id [process where process.name == "whoami"] [network where true]', severity: 'medium', risk_score: 47, threat: threat('T1059') }),
      // cannot stream: it is scheduled even when set to stream
      rule('sample', { query: 'sample by host.id [process where true] [network where true]', threat: threat('T1059') }),
      rule('off', { query: 'process where process.name == "net.exe"', enabled: false, threat: threat('T1087') }),
      // a type Vigil does not run, enabled in its file
      rule('ml', { type: 'machine_learning', language: undefined, query: undefined, machine_learning_job_id: 'job', anomaly_threshold: 50, threat: threat('T1087') }),
    ].join('\n') + '\n',
  );
  v = await Vigil.open({ dataDir: join(dir, 'data'), memory: true, rulePaths: [rules], clock: new ManualClock(T0), scanThreads: 0, streamingDefault: true });
  app = await createServer(v, { security: NO_SECURITY });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await app.close();
  await v.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call<T = Record<string, unknown>>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}

interface Summary {
  rule_id: string;
  state: string;
  enabled: boolean;
  runnable: boolean;
  problem: string | null;
  alerts: number;
  query?: string;
}
interface ListAnswer {
  total: number;
  rules: Summary[];
  counts: { total: number; enabled: number; runnable: number; running: number; streaming: number; scheduled: number; disabled: number; cannot_run: number; cannot_run_by_reason: Record<string, number> };
}

test('rules list: what runs, what cannot and why; filters, sort, paging and bulk enable on the server', async () => {
  const all = await call<ListAnswer>('/api/rules');
  assert.equal(all.status, 200);
  const state = Object.fromEntries(all.body.rules.map((r) => [r.rule_id, r.state]));
  assert.deepEqual(state, { whoami: 'streaming', seq: 'streaming', sample: 'scheduled', off: 'disabled', ml: 'cannot run' });
  // the list row is a summary: no query text
  assert.equal(all.body.rules[0]!.query, undefined);
  const ml = all.body.rules.find((r) => r.rule_id === 'ml')!;
  assert.equal(ml.enabled, true);
  assert.equal(ml.runnable, false);
  assert.match(ml.problem ?? '', /machine_learning/);
  assert.deepEqual({ ...all.body.counts, cannot_run_by_reason: undefined }, { total: 5, enabled: 4, runnable: 4, running: 3, streaming: 2, scheduled: 1, disabled: 1, cannot_run: 1, cannot_run_by_reason: undefined });
  assert.equal(Object.values(all.body.counts.cannot_run_by_reason).reduce((a, b) => a + b, 0), 1);
  // health counts the same way
  const h = await call<{ rules: ListAnswer['counts'] }>('/api/health');
  assert.deepEqual(h.body.rules, all.body.counts);

  const cannot = await call<ListAnswer>('/api/rules?state=cannot%20run');
  assert.deepEqual(cannot.body.rules.map((r) => r.rule_id), ['ml']);
  const errors = await call<ListAnswer>('/api/rules?has_errors=true');
  assert.deepEqual(errors.body.rules.map((r) => r.rule_id), ['ml']);
  const search = await call<ListAnswer>('/api/rules?q=os:%20windows');
  assert.deepEqual(search.body.rules.map((r) => r.rule_id), ['whoami']);
  const bySeverity = await call<ListAnswer>('/api/rules?sort=severity&order=desc&size=2');
  assert.equal(bySeverity.body.total, 5);
  assert.deepEqual(bySeverity.body.rules.map((r) => r.rule_id), ['whoami', 'seq']);
  const page2 = await call<ListAnswer>('/api/rules?sort=name&order=asc&size=2&offset=2');
  assert.deepEqual(page2.body.rules.map((r) => r.rule_id), ['sample', 'seq']);
  assert.equal((await call('/api/rules?sort=nonsense')).status, 400);
  assert.equal((await call('/api/rules?enabled=maybe')).status, 400);

  // coverage: T1087 is named by a disabled rule and one that cannot run: no rule of it runs
  const cov = await call<{ tactics: Array<{ id: string; techniques: Array<{ id: string; rules: Array<{ rule_id: string; state: string }> }> }> }>('/api/coverage');
  const exec = cov.body.tactics.find((t) => t.id === 'TA0002')!;
  const t1087 = exec.techniques.find((t) => t.id === 'T1087')!;
  assert.deepEqual(t1087.rules.map((r) => r.state).sort(), ['cannot run', 'disabled']);
  assert.deepEqual(exec.techniques.find((t) => t.id === 'T1059')!.rules.map((r) => r.state).sort(), ['scheduled', 'streaming']);
  const byTechnique = await call<ListAnswer>('/api/rules?technique=T1059');
  assert.deepEqual(byTechnique.body.rules.map((r) => r.rule_id).sort(), ['sample', 'seq']);

  // bulk: disable everything a filter selects, then enable a selection by id
  const off = await call<{ matched: number; updated: number }>('/api/rules/_bulk_action', { action: 'disable', query: { type: 'eql', state: 'streaming' } });
  assert.deepEqual(off.body, { matched: 2, updated: 2 });
  assert.equal((await call<ListAnswer>('/api/rules')).body.counts.running, 1);
  const on = await call<{ matched: number; updated: number }>('/api/rules/_bulk_action', { action: 'enable', ids: ['whoami', 'seq', 'off'] });
  assert.deepEqual(on.body, { matched: 3, updated: 3 });
  assert.equal((await call<ListAnswer>('/api/rules')).body.counts.running, 4);
  assert.equal((await call('/api/rules/_bulk_action', { action: 'explode', ids: [] })).status, 400);
});

test('alerts: groups, closing with a reason and a note, assignees, free text over the event only', async () => {
  const ev = (i: number, host: string, user: string, category: string, more: Record<string, unknown>): string =>
    JSON.stringify({ '@timestamp': new Date(T0 + i * 1000).toISOString(), event: { category, type: ['start'] }, host: { id: host, name: host }, user: { name: user }, ...more });
  await v.ingest([
    { op: 'create', index: 'logs-endpoint.events.process-default', id: 'a1', json: ev(1, 'h1', 'alice', 'process', { process: { name: 'whoami', args: ['whoami'] } }) },
    { op: 'create', index: 'logs-endpoint.events.process-default', id: 'a2', json: ev(2, 'h1', 'bob', 'process', { process: { name: 'whoami', args: ['whoami', '/all'] } }) },
    { op: 'create', index: 'logs-endpoint.events.process-default', id: 'a3', json: ev(3, 'h2', 'alice', 'process', { process: { name: 'whoami', args: ['whoami', '/priv'] } }) },
  ]);
  await v.advanceTo(T0 + 10 * 60_000);
  const list = await call<{ total: number; alerts: Array<{ id: string; host: string; assignee: string | null; doc: Record<string, unknown> }> }>('/api/alerts?rule_id=whoami');
  assert.equal(list.body.total, 3);

  // the rule's query names comsvcs.dll, no event does
  assert.equal((await call<{ total: number }>('/api/alerts?q=comsvcs')).body.total, 0);
  assert.equal((await call<{ total: number }>('/api/alerts?q=%2Fpriv')).body.total, 1);
  // the rule's name is searchable
  assert.equal((await call<{ total: number }>('/api/alerts?q=rule%20whoami')).body.total, 3);

  // field filters (an alert page's filter in / out): nested event fields, array values, the alert's
  // own dotted fields; with and without; in the list, the groups and a status change by filter
  const total = async (qs: string): Promise<number> => (await call<{ total: number }>(`/api/alerts?rule_id=whoami&${qs}`)).body.total;
  assert.equal(await total('field=user.name:alice'), 2);
  assert.equal(await total('field=-user.name:alice'), 1);
  assert.equal(await total('field=process.args:%2Fpriv'), 1, 'an array holding the value');
  assert.equal(await total('field=-process.args:%2Fpriv&field=user.name:alice'), 1);
  assert.equal(await total(`field=${encodeURIComponent('kibana.alert.rule.name:Rule whoami')}`), 3);
  assert.equal(await total('field=host.id:nowhere'), 0);
  assert.equal((await call('/api/alerts?field=no-colon')).status, 400);
  assert.equal((await call("/api/alerts?field=a'b:c")).status, 400);
  const bobGroups = await call<{ groups: Array<{ key: string; count: number }> }>('/api/alerts/_groups?by=host&field=-user.name:alice');
  assert.deepEqual(bobGroups.body.groups.map((g) => [g.key, g.count]), [['h1', 1]]);
  const acked = await call<{ updated: number }>('/api/alerts/_status', { query: { rule_id: 'whoami', field: ['user.name:bob'] }, status: 'acknowledged' });
  assert.equal(acked.body.updated, 1);
  assert.equal(await total('status=acknowledged'), 1);
  await call('/api/alerts/_status', { query: { rule_id: 'whoami', field: ['user.name:bob'] }, status: 'open' });

  const byHost = await call<{ total: number; groups: Array<{ key: string; count: number; severity: string; first: number; last: number; open: number }> }>('/api/alerts/_groups?by=host');
  assert.equal(byHost.body.total, 2);
  assert.deepEqual(
    byHost.body.groups.map((g) => [g.key, g.count, g.severity, g.first, g.last, g.open]),
    [
      ['h1', 2, 'high', T0 + 1000, T0 + 2000, 2],
      ['h2', 1, 'high', T0 + 3000, T0 + 3000, 1],
    ],
  );
  const byRule = await call<{ groups: Array<{ key: string; name: string; count: number }> }>('/api/alerts/_groups?by=rule');
  assert.deepEqual(byRule.body.groups.map((g) => [g.key, g.name, g.count]), [['whoami', 'Rule whoami', 3]]);
  assert.equal((await call('/api/alerts/_groups?by=colour')).status, 400);

  // close a host's alerts (a group action: by filter) as benign, with a note
  const closed = await call<{ updated: number }>('/api/alerts/_status', { query: { host: 'h1' }, status: 'closed', reason: 'benign', note: 'admin inventory script', user: 'ana' });
  assert.equal(closed.body.updated, 2);
  const h1 = (await call<typeof list.body>('/api/alerts?host=h1&status=closed')).body.alerts;
  assert.equal(h1.length, 2);
  for (const a of h1) {
    assert.equal(a.doc['kibana.alert.workflow_status'], 'closed');
    assert.equal(a.doc['kibana.alert.workflow_reason'], 'benign');
    assert.equal(a.doc['kibana.alert.workflow_user'], 'ana');
    assert.deepEqual((a.doc['vigil.alert.notes'] as Array<{ text: string; reason: string }>).map((n) => [n.text, n.reason]), [['admin inventory script', 'benign']]);
  }
  // opened again: the reason goes, the note stays
  await call('/api/alerts/_status', { ids: [h1[0]!.id], status: 'open' });
  const reopened = (await call<{ doc: Record<string, unknown> }>(`/api/alerts/${encodeURIComponent(h1[0]!.id)}`)).body;
  assert.equal(reopened.doc['kibana.alert.workflow_reason'], null);
  assert.equal((reopened.doc['vigil.alert.notes'] as unknown[]).length, 1);
  assert.equal((await call('/api/alerts/_status', { ids: [h1[0]!.id], status: 'closed', reason: 'bored' })).status, 400);
  assert.equal((await call('/api/alerts/_status', { ids: [h1[0]!.id], status: 'open', reason: 'benign' })).status, 400);

  // assign, filter by assignee, unassign
  const h2 = list.body.alerts.find((a) => a.host === 'h2')!;
  assert.equal((await call<{ updated: number }>('/api/alerts/_assign', { ids: [h2.id], assignee: 'ana' })).body.updated, 1);
  const mine = (await call<typeof list.body>('/api/alerts?assignee=ana')).body;
  assert.deepEqual(mine.alerts.map((a) => [a.id, a.assignee, a.doc['kibana.alert.workflow_assignee_ids']]), [[h2.id, 'ana', ['ana']]]);
  assert.equal((await call<{ total: number }>('/api/alerts?assignee=_none&status=open,closed')).body.total, 2);
  await call('/api/alerts/_assign', { ids: [h2.id], assignee: null });
  assert.equal((await call<{ total: number }>('/api/alerts?assignee=ana')).body.total, 0);
  assert.equal((await call('/api/alerts/_assign', { ids: [h2.id], assignee: 7 })).status, 400);
});

test('process ancestry follows process-start events, past a parent event that names no parent', async () => {
  const at = (s: number): string => new Date(T0 + 3_600_000 + s * 1000).toISOString();
  const proc = (id: string, s: number, entity: string, parent: string | null, name: string, type = 'start', category = 'process'): { op: 'create'; index: string; id: string; json: string } => ({
    op: 'create',
    index: `logs-endpoint.events.${category}-default`,
    id,
    json: JSON.stringify({ '@timestamp': at(s), event: { category: [category], type: [type] }, host: { name: 'w1' }, process: { entity_id: entity, name, ...(parent ? { parent: { entity_id: parent } } : {}) } }),
  });
  const events = [proc('outlook', 1, 'E-outlook', 'E-explorer', 'OUTLOOK.EXE'), proc('word', 2, 'E-word', 'E-outlook', 'WINWORD.EXE')];
  // Word's network events, after its start and before its child: they name no parent
  for (let i = 0; i < 60; i++) events.push(proc(`word-net-${i}`, 3 + i * 0.01, 'E-word', null, 'WINWORD.EXE', 'connection', 'network'));
  events.push(proc('cmd', 5, 'E-cmd', 'E-word', 'cmd.exe'));
  await v.ingest(events);
  const r = await call<{ chain: Array<{ _id: string }> }>('/api/events/logs-endpoint.events.process-default/cmd/ancestry');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.chain.map((c) => c._id), ['cmd', 'word', 'outlook']);
});

test('answers are compressed for clients that accept it; hashed UI assets are cached for good, the page is not', async () => {
  const res = await fetch(`${url}/api/rules`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(res.headers.get('content-encoding'), 'gzip');
  // fetch decodes it; the raw bytes are gzip (node:http does not decode)
  const raw = await new Promise<Buffer>((resolve, reject) => {
    void import('node:http').then(({ get }) =>
      get(`${url}/api/rules`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => parts.push(d));
        r.on('end', () => resolve(Buffer.concat(parts)));
      }).on('error', reject),
    );
  });
  assert.equal((JSON.parse(gunzipSync(raw).toString()) as ListAnswer).total, 5);
  const page = await fetch(`${url}/ui/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  const asset = /src="\/ui\/(assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
  assert.ok(asset, 'index.html names a hashed script');
  const a = await fetch(`${url}/ui/${asset}`);
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  // a gzip-encoded _bulk body is still read once
  const { gzipSync } = await import('node:zlib');
  const bulk = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, body: gzipSync('{"create":{"_index":"logs-x"}}\n{"@timestamp":"2026-01-01T00:00:00Z"}\n') });
  assert.equal(((await bulk.json()) as { errors: boolean }).errors, false);
});

test('a rule switched from streaming to scheduled runs on from where the stream stopped: nothing missed, nothing twice, no gap; a toggle answers the counts', async () => {
  const imported = await fetch(`${url}/api/rules/_import?filename=switch.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: rule('switch', { query: 'process where process.name == "switch-me"' }) + '\n' });
  assert.equal(imported.status, 200);
  const now = v.clock.now();
  const ev = (id: string, at: number): { op: 'create'; index: string; id: string; json: string } => ({
    op: 'create',
    index: 'logs-endpoint.events.process-default',
    id,
    json: JSON.stringify({ '@timestamp': new Date(at).toISOString(), event: { category: ['process'], type: ['start'] }, host: { id: 'h9' }, process: { name: 'switch-me' } }),
  });
  await v.ingest([ev('s1', now + 1000)]);
  const alerts = async (): Promise<string[]> => (await call<{ alerts: Array<{ doc: Record<string, unknown> }> }>('/api/alerts?rule_id=switch&status=open,acknowledged,closed')).body.alerts.map((a) => String((a.doc['kibana.alert.ancestors'] as Array<{ id: string }>)[0]!.id)).sort();
  assert.deepEqual(await alerts(), ['s1'], 'streamed at ingest');

  const res = await fetch(`${url}/api/rules/switch`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ streaming: false }) });
  const answer = (await res.json()) as Summary & { counts: ListAnswer['counts'] };
  assert.equal(answer.state, 'scheduled');
  const list = (await call<ListAnswer>('/api/rules?size=0')).body.counts;
  assert.deepEqual(answer.counts, list, 'the toggle answers the counts the list shows');

  // an event after the switch: the stream no longer takes it, the next scheduled run does
  await v.ingest([ev('s2', now + 60_000)]);
  assert.deepEqual(await alerts(), ['s1']);
  // the server then misses two hours (no run): the first run catches up from where the stream stopped
  (v.clock as ManualClock).set(now + 2 * 3_600_000);
  await v.tick();
  assert.deepEqual(await alerts(), ['s1', 's2'], 'the scheduled runs cover the time since the switch, the streamed event once');
  const view = (await call<{ gaps: { total: number; unfilled: number }; last_run: { kind: string } | null }>('/api/rules/switch')).body;
  assert.equal(view.gaps.unfilled, 0);
  assert.ok(view.last_run, 'the rule has run on its schedule');
});

test('a list longer than one slice of the answer comes whole, in order, compressed or not', async () => {
  const many = Array.from({ length: 640 }, (_, i) => rule(`bulk-${String(i).padStart(3, '0')}`, { name: `Many ${(i * 7919) % 640}`, query: 'process where process.name == "none"', enabled: false })).join('\n') + '\n';
  const r = await fetch(`${url}/api/rules/_import?filename=many.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: many });
  assert.equal(r.status, 200);
  const all = await call<ListAnswer>('/api/rules?size=5000');
  assert.equal(all.body.total, all.body.counts.total);
  assert.equal(all.body.rules.length, all.body.total);
  assert.ok(all.body.total >= 645);
  const names = all.body.rules.map((x) => (x as unknown as { name: string }).name);
  assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
  const plain = await fetch(`${url}/api/rules?size=5000`, { headers: { 'accept-encoding': 'identity' } });
  assert.deepEqual(JSON.parse(await plain.text()), all.body);
  const cov = await call<{ tactics: unknown[] }>('/api/coverage');
  assert.equal(cov.status, 200);
});
