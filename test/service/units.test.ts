import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/index.js';
import { buildAlerts, commonFields, matchAlertId, ruleUuid, type MatchedEvent } from '../../src/alerts/index.js';
import { Vigil, type IngestItem } from '../../src/app/index.js';
import { parseBulk } from '../../src/server/index.js';
import { planExecution, Scheduler } from '../../src/scheduler/index.js';
import { activeRule } from '../../src/detect/index.js';
import { createIndexMatcher, openSqliteStore } from '../../src/store/index.js';
import type { Rule } from '../../src/rules/index.js';

const MIN = 60_000;

test('index patterns: wildcards, comma lists, exclusions in order, _all, remote clusters', () => {
  const m = (p: string[], name: string): boolean => createIndexMatcher(p)(name);
  assert.equal(m(['logs-endpoint.events.*'], 'logs-endpoint.events.process-default'), true);
  assert.equal(m(['logs-endpoint.events.*'], 'logs-endpoint.alerts-default'), false);
  assert.equal(m(['winlogbeat-*,logs-windows.*'], 'logs-windows.sysmon-default'), true);
  assert.equal(m(['logs-*', '-logs-b*'], 'logs-bad'), false);
  assert.equal(m(['logs-*', '-logs-b*', 'logs-bad'], 'logs-bad'), true);
  assert.equal(m(['_all'], 'anything'), true);
  assert.equal(m(['remote:logs-*'], 'logs-x'), false);
  assert.equal(m(['logs-x'], 'logs-xy'), false);
});

test('schedule plan: due times, look-back windows, gaps caught up in look-back-sized windows', () => {
  assert.deepEqual(planExecution(null, 100 * MIN, 5 * MIN, 9 * MIN), { due: true, gap: null, skipped: null, windows: [{ kind: 'scheduled', from: 91 * MIN, to: 100 * MIN }] });
  assert.equal(planExecution(100 * MIN, 104 * MIN, 5 * MIN, 9 * MIN).due, false);
  assert.deepEqual(planExecution(100 * MIN, 105 * MIN, 5 * MIN, 9 * MIN).windows, [{ kind: 'scheduled', from: 96 * MIN, to: 105 * MIN }]);
  // late by exactly the overlap: still no gap
  assert.equal(planExecution(100 * MIN, 109 * MIN, 5 * MIN, 9 * MIN).gap, null);
  const p = planExecution(100 * MIN, 130 * MIN, 5 * MIN, 9 * MIN);
  assert.deepEqual(p.gap, { from: 100 * MIN, to: 121 * MIN });
  assert.deepEqual(
    p.windows.map((w) => [w.kind, w.from / MIN, w.to / MIN]),
    [
      ['catch-up', 100, 109],
      ['catch-up', 109, 118],
      ['catch-up', 118, 121],
      ['scheduled', 121, 130],
    ],
  );
});

test('bulk parser: pairs actions and documents; each bad line fails only its item', () => {
  const body = [
    '{"index":{"_index":"a"}}',
    '{"x":1}',
    '',
    '{"create":{"_id":"7"}}',
    '{"y":2}',
    '{"create":{"_index":"a"}}',
    '{not json',
    'not an action',
    '{"z":3}',
    '{"delete":{"_index":"a","_id":"1"}}',
    '{"index":{"_index":"UPPER"}}',
    '{"w":1}',
    '{"create":{"_index":"a"}}',
    '[1]',
    '{"index":{"_index":"a"}}',
    '{"last":true}',
  ].join('\n');
  const items = parseBulk(body, 'dflt');
  assert.deepEqual(
    items.map((i) => (i.ok ? `ok ${i.op} ${i.index} ${i.id ?? '-'}${'json' in i ? ` ${i.json}` : ''}` : `${i.status} ${i.type} @${i.line}`)),
    [
      'ok index a - {"x":1}',
      'ok create dflt 7 {"y":2}',
      // the parser reads only the time fields of a document; the store checks that it is JSON
      'ok create a - {not json',
      '400 illegal_argument_exception @8',
      'ok delete a 1',
      '400 invalid_index_name_exception @11',
      '400 document_parsing_exception @13',
      'ok index a - {"last":true}',
    ],
  );
  assert.equal(parseBulk('{"index":{}}\n{"a":1}\n', undefined)[0]!.ok, false);
});

const rule = {
  rule_id: 'r1',
  name: 'Rule one',
  description: 'd',
  type: 'eql',
  query: 'process where true',
  severity: 'high',
  risk_score: 73,
  interval: '5m',
  from: 'now-9m',
  to: 'now',
  max_signals: 100,
  enabled: true,
  tags: [],
  references: [],
  author: ['Elastic'],
  version: 1,
  false_positives: [],
  threat: [],
} as unknown as Rule;
const ev = (id: string, host: string, user: string, version = 1): MatchedEvent => ({
  index: 'logs-a',
  id,
  version,
  time: Date.parse('2026-11-23T10:00:00Z'),
  source: { '@timestamp': '2026-11-23T10:00:00Z', event: { category: 'process', kind: 'event' }, host: { name: host }, user: { name: user }, process: { name: 'cmd.exe' } },
});

test('alert ids: depend on rule and events (index, id, version) only', () => {
  const a = matchAlertId('r1', { kind: 'event', event: ev('1', 'h', 'u') });
  assert.equal(a, matchAlertId('r1', { kind: 'event', event: ev('1', 'other', 'other') }));
  assert.notEqual(a, matchAlertId('r2', { kind: 'event', event: ev('1', 'h', 'u') }));
  assert.notEqual(a, matchAlertId('r1', { kind: 'event', event: ev('1', 'h', 'u', 2) }));
  const one = buildAlerts({ rule, now: 1, executionId: 'x' }, { kind: 'event', event: ev('1', 'h', 'u') });
  const two = buildAlerts({ rule, now: 2, executionId: 'y' }, { kind: 'event', event: ev('1', 'h', 'u') });
  assert.equal(one[0]!.id, two[0]!.id);
  assert.equal(ruleUuid('r1'), ruleUuid('r1'));
  assert.match(ruleUuid('r1'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('a sequence gives a building block per event and one alert with the shared fields', () => {
  const alerts = buildAlerts({ rule, now: 1, executionId: 'x' }, { kind: 'sequence', events: [ev('1', 'h', 'alice'), ev('2', 'h', 'bob')] });
  assert.equal(alerts.length, 3);
  const [b0, b1, shell] = alerts;
  assert.equal(b0!.buildingBlock && b1!.buildingBlock, true);
  assert.equal(shell!.buildingBlock, false);
  assert.equal(b0!.doc['kibana.alert.building_block_type'], 'default');
  assert.equal(b1!.doc['kibana.alert.group.index'], 1);
  assert.equal(new Set(alerts.map((a) => a.groupId)).size, 1);
  assert.deepEqual((shell!.doc['kibana.alert.ancestors'] as Array<{ id: string }>).map((x) => x.id), [b0!.id, b1!.id]);
  assert.deepEqual(shell!.doc.host, { name: 'h' });
  assert.equal(shell!.doc.user, undefined);
  assert.deepEqual(commonFields([{ a: { b: 1, c: 2 }, d: [1] }, { a: { b: 1, c: 3 }, d: [1] }]), { a: { b: 1 }, d: [1] });
});

test('SQLite store: a document that is not a JSON object fails alone; an overwrite by one keeps the old version', () => {
  const s = openSqliteStore('', { memory: true });
  const w = (op: 'index' | 'create', id: string | undefined, json: string) => ({ op, index: 'logs-a', id, json, ts: 1, ingested: 1 });
  const r = s.events.write([w('create', 'a', '{"v":1}'), w('create', undefined, '{not json'), w('create', undefined, '[1,2]'), w('create', undefined, ' {"ok":true}'), w('index', 'a', '{"v":'), w('create', undefined, '{"x":1} trailing')]);
  assert.deepEqual(
    r.map((x) => (x.ok ? `ok v${x.version}` : `${x.status} ${x.type}: ${x.reason}`)),
    [
      'ok v1',
      `400 document_parsing_exception: failed to parse: ${jsonError('{not json')}`,
      '400 document_parsing_exception: failed to parse: the document must be a JSON object',
      'ok v1',
      `400 document_parsing_exception: failed to parse: ${jsonError('{"v":')}`,
      `400 document_parsing_exception: failed to parse: ${jsonError('{"x":1} trailing')}`,
    ],
  );
  assert.equal(s.events.count(), 2);
  assert.equal(s.events.get('logs-a', 'a')!.json, '{"v":1}');
  s.close();
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} parses`);
}

test('SQLite store: create conflicts, index overwrites with a new version, scans in time order', () => {
  const s = openSqliteStore('', { memory: true });
  const w = (op: 'index' | 'create', id: string | undefined, ts: number | null, index = 'logs-a') => ({ op, index, id, json: JSON.stringify({ id, ts }), ts, ingested: 1000 });
  const r = s.events.write([w('create', 'a', 30), w('create', 'b', 10), w('create', 'a', 5), w('index', 'b', 20), w('create', undefined, 15, 'other-x'), w('create', 'n', null)]);
  assert.deepEqual(
    r.map((x) => (x.ok ? `${x.id} v${x.version} ${x.created ? 'created' : 'updated'}` : `${x.id} ${x.status}`)),
    ['a v1 created', 'b v1 created', 'a 409', 'b v2 updated', `${r[4]!.id} v1 created`, 'n v1 created'],
  );
  assert.equal(r[4]!.id.length, 20);
  // time order; events without a timestamp first (no window ever holds them)
  assert.deepEqual([...s.events.scan({ patterns: ['*'] })].map((e) => e.id), ['n', r[4]!.id, 'b', 'a']);
  assert.deepEqual([...s.events.scan({ patterns: ['logs-*'], after: 10, upTo: 30 })].map((e) => `${e.id}@${e.ts}`), ['b@20', 'a@30']);
  assert.deepEqual(s.events.resolve(['logs-*']), ['logs-a']);
  assert.equal(s.events.get('logs-a', 'b')!.version, 2);
  assert.equal(s.events.deleteBefore(25), 2);
  assert.equal(s.events.count(), 2);
  s.close();
});

test('streaming after a restart: a sequence begun before the stop completes after it, and no alert is written twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'));
  try {
    const seqRule = { ...rule, rule_id: 'seq', name: 'a then b', query: 'sequence by host.name with maxspan=5m [process where process.name == "a1"] [process where process.name == "b2"]' };
    const ruleFile = join(dir, 'rules.ndjson');
    writeFileSync(ruleFile, `${JSON.stringify(seqRule)}\n${JSON.stringify({ ...rule, rule_id: 'ev', name: 'b2 seen', query: 'process where process.name == "b2"' })}\n`);
    const t0 = Date.parse('2026-11-23T10:00:00Z');
    const clock = new ManualClock(t0);
    const doc = (name: string, host: string, at: number): IngestItem => {
      const json = JSON.stringify({ '@timestamp': new Date(at).toISOString(), event: { category: ['process'], type: ['start'] }, host: { name: host }, process: { name: name } });
      return { op: 'create', index: 'logs-x', json };
    };
    const open = (): Promise<Vigil> => Vigil.open({ dataDir: join(dir, 'data'), rulePaths: [ruleFile], clock, streamingDefault: true });
    const count = (v: Vigil, ruleId: string): number => v.store.alerts.search({ ruleId: [ruleId], size: 0 }).total;
    let v = await open();
    await v.ingest([doc('a1', 'h1', t0 - 1000), doc('b2', 'h2', t0 - 900)]);
    assert.equal(count(v, 'ev'), 1);
    await v.close();
    clock.set(t0 + 60_000);
    v = await open(); // replays the look-back: the b2 event alert exists already, the a1 on h1 waits for its b2
    assert.equal(count(v, 'ev'), 1);
    assert.equal(count(v, 'seq'), 0);
    // sequences wait out the lateness (look-back − interval = 4 min) of event time before they match
    await v.ingest([doc('b2', 'h1', t0 + 30_000), doc('zz', 'h9', t0 + 5 * MIN)]);
    assert.equal(count(v, 'seq'), 3, 'two building blocks and the sequence alert');
    assert.equal(count(v, 'ev'), 2);
    await v.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streaming rules switched off and on: off writes nothing more, on reads its look-back, the state of the others is kept through layers and a rebuild; a batch matched in slices while rules change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-layers-'));
  try {
    const t0 = Date.parse('2026-11-23T10:00:00Z');
    const clock = new ManualClock(t0);
    const rules = [
      { ...rule, rule_id: 'seq', name: 'a then b', query: 'sequence by host.name with maxspan=5m [process where process.name == "a1"] [process where process.name == "b2"]' },
      { ...rule, rule_id: 'ev', name: 'b2 seen', query: 'process where process.name == "b2"' },
      { ...rule, rule_id: 'ev2', name: 'b2 seen again', query: 'process where process.name : "B2"' },
    ];
    const ruleFile = join(dir, 'rules.ndjson');
    writeFileSync(ruleFile, rules.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const doc = (name: string, host: string, at: number): IngestItem => ({
      op: 'create',
      index: 'logs-x',
      json: JSON.stringify({ '@timestamp': new Date(at).toISOString(), event: { category: ['process'], type: ['start'] }, host: { name: host }, process: { name } }),
    });
    const v = await Vigil.open({ dataDir: join(dir, 'data'), rulePaths: [ruleFile], clock, streamingDefault: true });
    const count = (ruleId: string): number => v.store.alerts.search({ ruleId: [ruleId], size: 0 }).total;
    assert.equal(v.stream.fragmented, false);
    await v.ingest([doc('a1', 'h1', t0 - 60_000), doc('b2', 'h2', t0 - 50_000)]);
    assert.deepEqual([count('ev'), count('ev2')], [1, 1]);
    assert.ok(v.setRuleFlags('ev', { enabled: false }));
    assert.equal(v.stream.fragmented, true, 'a rule switched off is muted, not rebuilt');
    await v.ingest([doc('b2', 'h3', t0 - 40_000)]);
    assert.deepEqual([count('ev'), count('ev2')], [1, 2], 'a muted rule writes nothing');
    assert.ok(v.setRuleFlags('ev', { enabled: true }));
    assert.equal(count('ev'), 2, 'switched on, it reads the events of its look-back');
    v.stream.compact();
    assert.equal(v.stream.fragmented, false);
    // the sequence on h1 began before the changes and the rebuild; its matcher is the same one
    clock.set(t0 + 10 * MIN);
    await v.ingest([doc('b2', 'h1', t0 - 30_000), doc('zz', 'h9', t0 + 5 * MIN)]);
    assert.equal(count('seq'), 3, 'two building blocks and the sequence alert');
    assert.deepEqual([count('ev'), count('ev2')], [3, 3]);

    // a batch matched in slices: ev is switched off and ev2 back on during a pause
    assert.ok(v.setRuleFlags('ev2', { enabled: false }));
    const batch = Array.from({ length: 60 }, (_, i) => doc('b2', `k${i}`, t0 + 6 * MIN + i * 1000));
    const written = v.store.events.write(batch.map((b) => ({ ...b, ts: Date.parse(JSON.parse(b.json)['@timestamp']), ingested: clock.now() })));
    const stored = written.map((w, i) => {
      assert.ok(w.ok);
      return { index: w.index, id: w.id, version: w.version, seq: w.seq, ts: t0 + 6 * MIN + i * 1000, ingested: clock.now(), json: batch[i]!.json };
    });
    let pauses = 0;
    await v.stream.pushSliced(stored, clock.now(), async () => {
      if (++pauses === 3) {
        v.setRuleFlags('ev', { enabled: false });
        v.setRuleFlags('ev2', { enabled: true });
      }
    }, 0.0001);
    assert.ok(pauses >= 3);
    const evBefore = count('ev') - 3;
    assert.ok(evBefore > 0 && evBefore < 60, `ev matched the slices before it was switched off (${evBefore})`);
    assert.equal(count('ev2'), 3 + 60, 'ev2, switched on during the batch, read all of it once');
    await v.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scan threads: a pass scans beside the feed, also when the rules changed twice while the threads compiled them; a thread that cannot read the store is given up and the pass runs on the scheduler thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-scan-threads-'));
  try {
    const rules = [
      { ...rule, rule_id: 'seq', name: 'a then b', query: 'sequence by host.name with maxspan=5m [process where process.name == "a1"] [process where process.name == "b2"]' },
      { ...rule, rule_id: 'ev', name: 'b2 seen', query: 'process where process.name == "b2"' },
    ];
    const t0 = Date.parse('2026-11-23T10:00:00Z');
    const docs = Array.from({ length: 300 }, (_, i) => {
      const name = i % 3 === 0 ? 'a1' : i % 3 === 1 ? 'b2' : 'zz';
      const json = JSON.stringify({ '@timestamp': new Date(t0 - 200_000 + i * 500).toISOString(), event: { category: ['process'] }, host: { name: `h${i % 7}` }, process: { name } });
      return { op: 'create' as const, index: 'logs-x', id: `e${i}`, json };
    });
    const run = async (name: string, threads: number, badFile: boolean, rulesChangeTwice = false): Promise<{ alerts: string[]; threads: ReturnType<Scheduler['threads']> }> => {
      const store = openSqliteStore(join(dir, name), { writerThread: true });
      await store.events.writeAsync(docs.map((d) => ({ ...d, ts: Date.parse(JSON.parse(d.json)['@timestamp'] as string), ingested: t0 })));
      const events = badFile ? { ...store.events, readerFile: () => join(dir, 'missing', 'vigil.db') } : store.events;
      let active = rules.map((r) => activeRule(r as Rule, true, false));
      const s = new Scheduler({ store: { ...store, events }, clock: new ManualClock(t0), rules: () => active, onAlerts: () => undefined, scanThreads: threads, scanRange: 16 });
      if (rulesChangeTwice) {
        // the threads get the rules, which change again before they have compiled them
        s.prepare();
        active = rules.map((r) => activeRule(r as Rule, true, false));
        s.prepare();
      }
      assert.equal(await s.tick(), 2);
      const out = { alerts: store.alerts.search({ size: 1000, buildingBlocks: true }).alerts.map((a) => a.id).sort(), threads: s.threads() };
      await s.stop();
      await store.close();
      return out;
    };
    const here = await run('here', 0, false);
    const two = await run('two', 2, false);
    const failed = await run('failed', 1, true);
    const changed = await run('changed', 1, false, true);
    // 100 b2 events; sequences pair an a1 with the next b2 on its host
    assert.ok(here.alerts.length > 100, `${here.alerts.length} alerts`);
    assert.deepEqual(two.alerts, here.alerts);
    assert.deepEqual(two.threads, { scan_threads: 2, scan_thread_problem: null });
    assert.deepEqual(failed.alerts, here.alerts);
    assert.deepEqual(changed.alerts, here.alerts);
    assert.deepEqual(changed.threads, { scan_threads: 1, scan_thread_problem: null });
    assert.equal(failed.threads.scan_threads, 0);
    assert.match(failed.threads.scan_thread_problem ?? '', /scan thread: .*(missing|unable to open|directory)/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
