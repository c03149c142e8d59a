/**
 * A new-terms rule's memory survives SIGKILL: the terms it has seen are kept in the same transaction
 * as the alerts they raised, so after a kill mid-run and a restart each new term has exactly one
 * alert, and terms seen before the kill (no longer in any window) are still known after it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeNdjsonRules, type Rule } from '../../src/rules/index.js';
import { api, startServer, type RunningServer } from '../support/server.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;
const INDEX = 'logs-endpoint.events.process-default';
const RULE = 'new-terms-crash';
const dir = mkdtempSync(join(tmpdir(), 'vigil-new-terms-crash-'));
const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const rule: Rule = {
  rule_id: RULE,
  name: 'First AWS CLI with a custom endpoint on a host',
  description: 'new terms on host.id',
  type: 'new_terms',
  language: 'kuery',
  query: 'event.category:process and process.name:aws and process.args:"--endpoint-url"',
  index: ['logs-endpoint.events.*'],
  severity: 'medium',
  risk_score: 47,
  interval: '5m',
  from: 'now-9m',
  to: 'now',
  max_signals: 1_000_000,
  enabled: true,
  tags: [],
  references: [],
  author: [],
  version: 1,
  false_positives: [],
  threat: [],
  extra: { new_terms_fields: ['host.id'], history_window_start: 'now-7d' },
};
const rulesFile = join(dir, 'rules.ndjson');
writeFileSync(rulesFile, writeNdjsonRules([rule]));
const data = join(dir, 'data');

const start = async (clock: number): Promise<RunningServer> => {
  const s = await startServer(['--data', data, '--clock', new Date(clock).toISOString(), '--rules', rulesFile, '--no-bundled-rules', '--max-signals', '1000000']);
  servers.push(s);
  return s;
};

const bulk = (hosts: readonly string[], t: number, tag: string): string =>
  hosts
    .map(
      (h, i) =>
        `{"create":{"_index":"${INDEX}","_id":"${tag}-${i}"}}\n${JSON.stringify({
          '@timestamp': new Date(t + i).toISOString(),
          event: { category: ['process'], type: ['start'] },
          host: { id: h },
          process: { name: 'aws', args: ['aws', 's3', 'ls', '--endpoint-url', 'http://203.0.113.9:9000'] },
        })}\n`,
    )
    .join('');

async function send(url: string, body: string): Promise<void> {
  const r = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  assert.equal(r.status, 200);
  const j = (await r.json()) as { errors: boolean };
  assert.equal(j.errors, false);
}

/** Per host, the alerts of the rule. */
async function alertsByHost(url: string): Promise<Map<string, number>> {
  const by = new Map<string, number>();
  for (let offset = 0; ; offset += 10_000) {
    const page = (await api<{ alerts: Array<{ doc: Record<string, unknown> }> }>(url, `/api/alerts?rule_id=${RULE}&size=10000&offset=${offset}&sort=created`)).body.alerts;
    if (page.length === 0) break;
    for (const a of page) {
      const terms = a.doc['kibana.alert.new_terms'] as string[];
      by.set(terms[0]!, (by.get(terms[0]!) ?? 0) + 1);
    }
  }
  return by;
}

test('SIGKILL mid-run and a restart: each new term alerts once, and terms seen before the kill stay known', async (t) => {
  let s = await start(T0);
  // 30,000 events of 6,000 hosts (each five times) in the next window make its run long enough to interrupt
  const hosts = Array.from({ length: 6000 }, (_, i) => `h${i}`);
  for (let k = 0; k < 5; k++) await send(s.url, bulk(hosts, T0 + 2 * MIN + k * 10_000, `a${k}`));
  const run = fetch(`${s.url}/api/_clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ now: new Date(T0 + 5 * MIN).toISOString() }) }).catch(() => null);
  await new Promise((r) => setTimeout(r, 300));
  await s.stop(true);
  const answered = await run;

  s = await start(T0 + 5 * MIN);
  const mid = [...(await alertsByHost(s.url)).values()].reduce((a, b) => a + b, 0);
  // the interrupted run wrote all of its alerts and its memory, or none of either
  assert.ok(mid === 0 || mid === 6000, `alerts after the kill: ${mid}`);
  await api(s.url, '/api/_clock', { body: { now: new Date(T0 + 5 * MIN).toISOString() } });
  let by = await alertsByHost(s.url);
  assert.equal(by.size, 6000);
  assert.deepEqual([...by.values()].filter((n) => n !== 1), []);

  // killed again once the run is recorded, then the same hosts and ten new ones come back a quarter
  // of an hour later: their first sightings are in no window any more, only in the rule's memory
  await s.stop(true);
  s = await start(T0 + 5 * MIN);
  await send(s.url, bulk([...hosts, ...Array.from({ length: 10 }, (_, i) => `new${i}`)], T0 + 20 * MIN, 'b'));
  await api(s.url, '/api/_clock', { body: { now: new Date(T0 + 25 * MIN).toISOString() } });
  by = await alertsByHost(s.url);
  assert.equal(by.size, 6010);
  assert.deepEqual([...by.values()].filter((n) => n !== 1), []);
  for (let i = 0; i < 10; i++) assert.equal(by.get(`new${i}`), 1);
  const health = (await api<{ scheduler?: unknown }>(s.url, '/api/health')).body;
  assert.ok(health);
  t.diagnostic(`run answered before the kill: ${answered !== null}; alerts after the kill ${mid}; after the re-run 6,000; after the return 6,010`);
  await s.stop();
});
