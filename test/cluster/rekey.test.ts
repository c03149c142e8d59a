/**
 * Sequences whose joins cross hosts, in a cluster (src/cluster/rekey.ts): which rules are sent on
 * to a key partition, where their events go, and the engine's side of it without NATS: a node that
 * reads an event collects it for those rules instead of matching it, another node matches what it
 * is sent (the same alerts as one engine over all events), and an event read again is sent again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Vigil, type ForwardedEvent, type IngestItem } from '../../src/app/index.js';
import { expandedKeys, forwardTargets, joinsWithinHost, keyPartition, streamRoute } from '../../src/cluster/index.js';
import { ManualClock } from '../../src/core/index.js';
import { activeRule } from '../../src/detect/index.js';
import { parseQuery } from '../../src/eql/index.js';
import { loadRules } from '../../src/rules/index.js';
import type { ForwardRequest } from '../../src/stream/index.js';
import { sharedDir } from '../support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-rekey-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const within = (q: string): boolean => {
  const p = parseQuery(q, {});
  assert.ok(p.ast, q);
  return joinsWithinHost(p.ast);
};

test('joins that stay within a host, and joins that cross hosts', () => {
  assert.equal(within('process where true'), true);
  assert.equal(within('sequence by host.id [process where true] [network where true]'), true);
  assert.equal(within('sequence by user.name, host.id [process where true] [network where true]'), true);
  assert.equal(within('sequence [process where true] by process.entity_id [process where true] by process.parent.entity_id'), true);
  assert.equal(within('sample by host.name [process where true] [network where true]'), true);
  // a user, an address, no key at all: events of several hosts may join
  assert.equal(within('sequence by user.name [process where true] [network where true]'), false);
  assert.equal(within('sequence with maxspan=1m [process where true] [network where true]'), false);
  assert.equal(within('sample by source.ip [network where true] [network where true]'), false);
  // a host field in one stage's key joined to another field in the other's is not a host join
  assert.equal(within('sequence [process where true] by host.id [network where true] by destination.ip'), false);
  assert.equal(within('sequence by host.id [process where true] [network where true] until [process where true]'), true);
});

test('a sequence over alerts only runs where it is, joins or not: every node holds every alert', () => {
  const rule = (index: string[]): Parameters<typeof streamRoute>[0] => activeRule({ ...RULES[0]!, index } as never, true, true);
  assert.equal(streamRoute(rule(['logs-*'])), 'forward');
  assert.equal(streamRoute(rule(['.alerts-security.*'])), 'local');
  assert.equal(streamRoute(rule(['.alerts-security.*', 'logs-*'])), 'forward');
});

test('a join key expands as the engine joins it; a key goes to one partition whichever rule sends it', () => {
  assert.deepEqual(expandedKeys('', []), ['']);
  assert.deepEqual(expandedKeys('["bob"]', [false]), ['["bob"]']);
  assert.deepEqual(expandedKeys('[["a","b","a",null],"x"]', [false, false]).sort(), ['["a","x"]', '["b","x"]']);
  assert.deepEqual(expandedKeys('[[null]]', [true]), ['[null]']);
  // a field key that may not be null and holds no value joins nowhere, as in the matcher
  assert.deepEqual(expandedKeys('[[null]]', [false]), []);
  for (let i = 0; i < 50; i++) {
    const k = JSON.stringify([`user-${i}`]);
    const p = keyPartition('rule-a', k, 16);
    assert.ok(p >= 0 && p < 16);
    assert.equal(keyPartition('rule-b', k, 16), p);
  }
  // a sequence without keys: one partition per rule
  const spread = new Set(Array.from({ length: 50 }, (_, i) => keyPartition(`rule-${i}`, '', 16)));
  assert.ok(spread.size > 4, `keyless rules spread over partitions: ${spread.size}`);
});

test("the corpus's sequences: those joined on anything but a host are sent on, each to its key's partition", async (t) => {
  const set = await loadRules([join(sharedDir, 'corpus/detection-rules')]);
  let sequences = 0;
  let forwarded = 0;
  for (const r of set.rules) {
    const a = activeRule(r, true, true);
    if (a.compiled?.kind !== 'sequence') continue;
    sequences++;
    const route = streamRoute(a);
    if (route === 'forward') forwarded++;
    const overAlerts = a.indexPatterns.every((p) => p.startsWith('.alerts-security') || p.startsWith('.siem-signals'));
    assert.equal(route === 'forward', !overAlerts && !joinsWithinHost(a.compiled.ast) && a.compiled.judge(() => () => undefined) !== null, r.rule_id);
    const q = a.compiled.ast.query;
    if (q.kind === 'sequence' && q.by.some((k) => k.kind === 'field' && k.path.join('.') === 'host.id')) assert.equal(route, 'local', `${r.rule_id} joins on host.id`);
  }
  t.diagnostic(`${forwarded} of ${sequences} corpus sequences join across hosts and are sent on to key partitions`);
  assert.ok(sequences > 100 && forwarded > 0 && forwarded < sequences);
});

const base = { description: 'test', severity: 'high', risk_score: 73, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1, index: ['logs-*'], type: 'eql', language: 'eql' };
const RULES = [
  { ...base, rule_id: 'by-user', name: 'one user, two hosts', query: 'sequence by user.name with maxspan=5m [process where process.name == "one.exe"] [process where process.name == "two.exe"]' },
  { ...base, rule_id: 'by-host', name: 'one host', query: 'sequence by host.id with maxspan=5m [process where process.name == "one.exe"] [process where process.name == "two.exe"]' },
];
const T0 = Date.UTC(2026, 0, 1);
const ev = (id: string, s: number, host: string, user: string, name: string): IngestItem => ({
  op: 'create',
  index: 'logs-endpoint.events.process-default',
  id,
  json: JSON.stringify({ '@timestamp': new Date(T0 + s * 1000).toISOString(), event: { category: ['process'] }, host: { id: host }, user: { name: user }, process: { name } }),
});
const sent = (fs: readonly ForwardRequest[]): ForwardedEvent[] =>
  fs.map((f) => ({ index: f.event.index, id: f.event.id, json: f.event.json, ts: f.event.ts, ingested: f.event.ingested ?? 0, rules: new Set([f.rule.rule.rule_id]) }));

test("one node reads, another matches what it was sent: the same alerts as one engine's", async () => {
  const rules = join(dir, 'rules.ndjson');
  writeFileSync(rules, RULES.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const open = (name: string, route: boolean): Promise<Vigil> => Vigil.open({ dataDir: join(dir, name), memory: true, rulePaths: [rules], clock: new ManualClock(T0), scanThreads: 0, streamingDefault: true, ...(route ? { streamRoute } : {}) });
  const [reader, keyNode, single] = await Promise.all([open('reader', true), open('key', true), open('single', false)]);
  try {
    const events = [ev('a1', 1, 'h1', 'bob', 'one.exe'), ev('a2', 2, 'h1', 'bob', 'two.exe'), ev('b1', 3, 'h2', 'eve', 'one.exe'), ev('b2', 4, 'h3', 'eve', 'two.exe'), ev('n1', 5, 'h3', 'eve', 'other.exe')];
    const forwards: ForwardRequest[] = [];
    await reader.ingest(events, forwards);
    await single.ingest(events);
    // the reader sends on the four stage events of the user rule (not the fifth), matches the host rule itself
    assert.deepEqual(forwards.map((f) => `${f.rule.rule.rule_id}:${f.event.id}`).sort(), ['by-user:a1', 'by-user:a2', 'by-user:b1', 'by-user:b2']);
    // each user's events go to one key partition
    const targets = forwards.map((f) => forwardTargets(f.rule, JSON.parse(f.event.json), 16));
    assert.deepEqual(targets[0], targets[1]);
    assert.deepEqual(targets[2], targets[3]);
    await keyNode.matchForwarded(sent(forwards));
    for (const v of [reader, keyNode, single]) await v.advanceTo(T0 + 3_600_000);
    const shells = (v: Vigil, rule: string): string[] =>
      v.store.alerts
        .search({ ruleId: [rule], buildingBlocks: false, size: 100 })
        .alerts.map((a) => a.id)
        .sort();
    const alone = shells(single, 'by-user');
    assert.equal(alone.length, 2, 'bob on one host, eve on two');
    assert.deepEqual(shells(keyNode, 'by-user'), alone, 'the key node finds what one engine finds, under the same ids');
    assert.deepEqual(shells(reader, 'by-user'), [], 'the reader does not match the rule it sends on');
    assert.deepEqual(shells(reader, 'by-host'), shells(single, 'by-host'));
    assert.equal(shells(reader, 'by-host').length, 1);
    // an event read again (stored already, so not matched again) is found again for sending on
    const again = await reader.ingest([events[2]!]);
    assert.equal(again[0]!.ok, false);
    assert.deepEqual(
      reader.forwardsOf([events[2]!]).map((f) => `${f.rule.rule.rule_id}:${f.event.id}`),
      ['by-user:b1'],
    );
  } finally {
    await Promise.all([reader.close(), keyNode.close(), single.close()]);
  }
});
