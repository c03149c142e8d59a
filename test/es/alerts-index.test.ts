/**
 * The alerts as an index: every alert Vigil writes is also a document of
 * `.alerts-security.alerts-default`, kept current when triage changes it, so `_search`, `_count` and
 * `_eql/search` answer over alerts and rules whose index patterns name `.alerts-security.*`
 * (higher-order rules over building blocks) run over them, scheduled and streaming.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ALERTS_INDEX, Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';
import { createServer, NO_SECURITY } from '../../src/server/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 0, 1);
const base = { description: 'test', severity: 'low', risk_score: 21, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1 };
const RULES = [
  { ...base, rule_id: 'bb-whoami', name: 'whoami (building block)', type: 'eql', language: 'eql', index: ['logs-*'], query: 'process where process.name == "whoami"', building_block_type: 'default' },
  { ...base, rule_id: 'bb-net', name: 'network (building block)', type: 'eql', language: 'eql', index: ['logs-*'], query: 'network where destination.port == 4444', building_block_type: 'default' },
  // higher order: a KQL query and an EQL sequence over the building blocks' alerts (alerts are
  // stamped with the time of the run that wrote them, so a sequence over alerts of two runs needs a
  // look-back over both, as the corpus's 12-hour one over 6-hour runs)
  { ...base, rule_id: 'ho-kql', name: 'whoami alert on h1', type: 'query', language: 'kuery', index: ['.alerts-security.*'], query: 'kibana.alert.rule.rule_id: "bb-whoami" and host.id: "h1"', severity: 'high', risk_score: 73 },
  { ...base, rule_id: 'ho-eql', name: 'two building blocks on one host', type: 'eql', language: 'eql', index: ['.alerts-security.*'], query: 'sequence by host.id with maxspan=30m [any where kibana.alert.rule.rule_id == "bb-whoami"] [any where kibana.alert.rule.rule_id == "bb-net"]', severity: 'critical', risk_score: 99, from: 'now-30m' },
];

async function run(streaming: boolean): Promise<void> {
  const sub = join(dir, streaming ? 'streaming' : 'scheduled');
  const rules = join(dir, `rules-${streaming}.ndjson`);
  writeFileSync(rules, RULES.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const clock = new ManualClock(T0);
  const v = await Vigil.open({ dataDir: sub, memory: true, rulePaths: [rules], clock, scanThreads: 0, streamingDefault: streaming });
  const app = await createServer(v, { security: NO_SECURITY });
  try {
    const ev = (id: string, i: number, host: string, more: Record<string, unknown>): { op: 'create'; index: string; id: string; json: string } => ({
      op: 'create',
      index: 'logs-endpoint.events-default',
      id,
      json: JSON.stringify({ '@timestamp': new Date(T0 + i * 1000).toISOString(), host: { id: host, name: host }, ...more }),
    });
    await v.ingest([
      ev('p1', 10, 'h1', { event: { category: 'process' }, process: { name: 'whoami' } }),
      ev('p2', 20, 'h2', { event: { category: 'process' }, process: { name: 'whoami' } }),
    ]);
    // the building blocks alert, their copies reach the alerts index, then the higher-order rules run
    await v.advanceTo(T0 + 6 * 60_000);
    await v.alertCopiesDone();
    // the network building block alerts a run later than the process one
    await v.ingest([ev('n1', 6 * 60 + 30, 'h1', { event: { category: 'network' }, destination: { port: 4444 } })]);
    await v.advanceTo(T0 + 12 * 60_000);
    await v.alertCopiesDone();
    await v.advanceTo(T0 + 18 * 60_000);
    await v.alertCopiesDone();
    await v.advanceTo(T0 + 24 * 60_000);
    await v.alertCopiesDone();
    // streaming orders a sequence's events within its lateness (from − interval: 25 minutes here)
    await v.advanceTo(T0 + 40 * 60_000);
    await v.alertCopiesDone();
    const by = (rule: string): Array<{ host: string | null }> => v.store.alerts.search({ ruleId: [rule], size: 100, buildingBlocks: true }).alerts.map((a) => ({ host: a.host }));
    assert.equal(by('bb-whoami').length, 2);
    assert.equal(by('bb-net').length, 1);
    assert.deepEqual(by('ho-kql'), [{ host: 'h1' }], `${streaming ? 'streaming' : 'scheduled'}: the KQL rule over alerts`);
    // the sequence over alerts: one alert for the sequence and one building block per event, all on h1
    const seq = v.store.alerts.search({ ruleId: ['ho-eql'], size: 100, buildingBlocks: true }).alerts;
    assert.equal(seq.length, 3, `${streaming ? 'streaming' : 'scheduled'}: the sequence over alerts`);
    assert.ok(seq.every((a) => a.host === 'h1'));

    // the alerts index answers the search APIs
    const search = await app.inject({ method: 'POST', url: `/${ALERTS_INDEX}/_search`, payload: { size: 0, query: { term: { 'kibana.alert.rule.rule_id': 'bb-whoami' } }, aggs: { hosts: { terms: { field: 'host.id' } } } } });
    assert.equal(search.statusCode, 200, search.body);
    const sj = search.json() as { hits: { total: { value: number } }; aggregations: { hosts: { buckets: Array<{ key: string }> } } };
    assert.equal(sj.hits.total.value, 2);
    assert.deepEqual(sj.aggregations.hosts.buckets.map((b) => b.key).sort(), ['h1', 'h2']);
    const eql = await app.inject({ method: 'POST', url: '/.alerts-security.*/_eql/search', payload: { query: 'any where kibana.alert.rule.rule_id == "ho-kql"' } });
    assert.equal((eql.json() as { hits: { total: { value: number } } }).hits.total.value, 1, eql.body);
    // a wildcard that does not start with the dot does not reach the alerts, as with hidden indices
    const all = await app.inject({ method: 'POST', url: '/*/_count', payload: {} });
    assert.equal((all.json() as { count: number }).count, 3);

    // triage shows in the index
    const id = v.store.alerts.search({ ruleId: ['ho-kql'], size: 1 }).alerts[0]!.id;
    v.setAlertStatus([id], 'closed', { reason: 'false_positive' });
    await v.alertCopiesDone();
    const doc = await app.inject({ method: 'GET', url: `/${ALERTS_INDEX}/_doc/${id}` });
    assert.equal((doc.json() as { _source: Record<string, unknown> })._source['kibana.alert.workflow_status'], 'closed');
  } finally {
    await app.close();
    await v.close();
  }
}

test('scheduled: higher-order rules over .alerts-security.* alert on building-block alerts; the alerts index answers _search, _eql/search, and shows triage', () => run(false));
test('streaming: the same, the alert copies matched as they arrive', () => run(true));
