/**
 * Alert suppression: one alert per group of values per window, the later matches counted into it
 * (kibana.alert.suppression.*). The same groups, counts and spans in streaming and scheduled runs,
 * with events out of order, and across a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Vigil, type IngestItem } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';
import { runHunt } from '../../src/hunt/index.js';
import type { Rule } from '../../src/rules/index.js';

const T0 = Date.UTC(2026, 0, 1, 10);
const MIN = 60_000;

const ruleOf = (strategy: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  rule_id: `sup-${strategy}`,
  name: 'suppressed starts',
  description: 'd',
  type: 'query',
  language: 'kuery',
  query: 'event.type:start',
  index: ['logs-*'],
  severity: 'medium',
  risk_score: 47,
  interval: '5m',
  from: 'now-9m',
  max_signals: 100,
  enabled: true,
  version: 1,
  alert_suppression: { group_by: ['host.name'], duration: { value: 10, unit: 'm' }, missing_fields_strategy: strategy },
  ...extra,
});

const ev = (host: string | null, at: number, n: number): IngestItem => ({
  op: 'create',
  index: 'logs-x',
  json: JSON.stringify({ '@timestamp': new Date(at).toISOString(), event: { category: ['process'], type: ['start'] }, ...(host ? { host: { name: host } } : {}), process: { name: `p${n}.exe` } }),
});

// host a three times in the first 10 minutes, b once, two without a host, a again in the next window
const EVENTS: Array<[string | null, number]> = [
  ['a', T0],
  ['a', T0 + MIN],
  ['b', T0 + MIN],
  ['a', T0 + 2 * MIN],
  [null, T0 + 3 * MIN],
  [null, T0 + 4 * MIN],
  ['a', T0 + 12 * MIN],
];

type Outcome = Array<[string, number, string, string]>;

function outcome(v: Vigil, ruleId: string): Outcome {
  return shape(v.store.alerts.search({ ruleId: [ruleId], size: 100 }).alerts.map((a) => a.doc));
}

function shape(docs: ReadonlyArray<Record<string, unknown>>): Outcome {
  return docs
    .map((d): [string, number, string, string] => {
      const terms = d['kibana.alert.suppression.terms'] as Array<{ value: unknown }> | undefined;
      return [terms === undefined ? 'no terms' : JSON.stringify(terms[0]!.value), Number(d['kibana.alert.suppression.docs_count'] ?? -1), String(d['kibana.alert.suppression.start'] ?? ''), String(d['kibana.alert.suppression.end'] ?? '')];
    })
    .sort((x, y) => (x.join() < y.join() ? -1 : 1));
}

const iso = (t: number): string => new Date(t).toISOString();
const EXPECTED_SUPPRESS: Outcome = [
  ['["a"]', 0, iso(T0 + 12 * MIN), iso(T0 + 12 * MIN)],
  ['["a"]', 2, iso(T0), iso(T0 + 2 * MIN)],
  ['["b"]', 0, iso(T0 + MIN), iso(T0 + MIN)],
  ['null', 1, iso(T0 + 3 * MIN), iso(T0 + 4 * MIN)],
].sort((x, y) => (x.join() < y.join() ? -1 : 1)) as Outcome;

async function hunt(strategy: string, order: number[], workers: number): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sup-hunt-'));
  try {
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, order.map((i) => ev(EVENTS[i]![0], EVENTS[i]![1], i).json).join('\n') + '\n');
    const r = await runHunt({ rules: [ruleOf(strategy) as unknown as Rule], inputs: [file], workers, lateness: Infinity });
    return shape(r.alerts.map((a) => a.doc));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(mode: 'streaming' | 'scheduled' | 'restart', strategy: string, order: number[]): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sup-'));
  try {
    const rules = join(dir, 'rules.ndjson');
    writeFileSync(rules, `${JSON.stringify(ruleOf(strategy))}\n`);
    const clock = new ManualClock(T0);
    const open = (): Promise<Vigil> => Vigil.open({ dataDir: join(dir, 'data'), rulePaths: [rules], clock, scanThreads: 0, streamingDefault: mode !== 'scheduled' });
    let v = await open();
    const items = order.map((i) => ev(EVENTS[i]![0], EVENTS[i]![1], i));
    if (mode === 'restart') {
      await v.ingest(items.slice(0, 3));
      await v.close();
      v = await open();
      await v.ingest(items.slice(3));
    } else {
      for (const it of items) await v.ingest([it]);
    }
    await v.advanceTo(T0 + 30 * MIN);
    const out = outcome(v, `sup-${strategy}`);
    await v.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('alert suppression: the same groups, counts and spans in streaming and scheduled runs, out of order, and across a restart', async () => {
  const inOrder = EVENTS.map((_, i) => i);
  const shuffled = [3, 0, 6, 5, 1, 4, 2];
  for (const mode of ['streaming', 'scheduled', 'restart'] as const) {
    for (const order of [inOrder, shuffled]) assert.deepEqual(await run(mode, 'suppress', order), EXPECTED_SUPPRESS, `${mode} ${order.join('')}`);
  }
  // the hunt: on the main thread and on two workers (each finds part of a group)
  for (const workers of [0, 2]) for (const order of [inOrder, shuffled]) assert.deepEqual(await hunt('suppress', order, workers), EXPECTED_SUPPRESS, `hunt on ${workers} workers ${order.join('')}`);
});

test('alert suppression: doNotSuppress alerts each match missing a group_by field; a bad suppression is a located reason not to run', async () => {
  const out = await run('streaming', 'doNotSuppress', EVENTS.map((_, i) => i));
  assert.equal(out.filter((o) => o[0] === 'no terms').length, 2, 'the two events without host.name alert one by one');
  assert.equal(out.filter((o) => o[0] !== 'no terms').length, 3);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sup-bad-'));
  try {
    const rules = join(dir, 'rules.ndjson');
    writeFileSync(rules, `${JSON.stringify(ruleOf('suppress', { rule_id: 'bad', alert_suppression: { group_by: [] } }))}\n${JSON.stringify(ruleOf('suppress', { rule_id: 'good' }))}\n`);
    const v = await Vigil.open({ dataDir: join(dir, 'data'), rulePaths: [rules], clock: new ManualClock(T0), scanThreads: 0 });
    assert.match(String(v.registry.find('bad')!.problem), /group_by must name 1 to 3 fields/);
    assert.ok(v.registry.find('good')!.compiled);
    await v.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alert suppression on a sequence rule: later sequences of a group are counted into the first, their building blocks not written, in streaming and scheduled runs', async () => {
  for (const streaming of [true, false]) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sup-seq-'));
    try {
      const rules = join(dir, 'rules.ndjson');
      const seq = ruleOf('suppress', { rule_id: 'sup-seq', type: 'eql', language: 'eql', query: 'sequence by host.name with maxspan=1m [process where process.name == "a.exe"] [process where process.name == "b.exe"]' });
      writeFileSync(rules, `${JSON.stringify(seq)}\n`);
      const clock = new ManualClock(T0);
      const v = await Vigil.open({ dataDir: join(dir, 'data'), rulePaths: [rules], clock, scanThreads: 0, streamingDefault: streaming });
      const proc = (name: string, host: string, at: number): IngestItem => ({ op: 'create', index: 'logs-x', json: JSON.stringify({ '@timestamp': new Date(at).toISOString(), event: { category: ['process'], type: ['start'] }, host: { name: host }, process: { name } }) });
      await v.ingest([proc('a.exe', 'h', T0), proc('b.exe', 'h', T0 + 1000), proc('a.exe', 'h', T0 + 2 * MIN), proc('b.exe', 'h', T0 + 2 * MIN + 1000), proc('a.exe', 'g', T0 + 3 * MIN), proc('b.exe', 'g', T0 + 3 * MIN + 1000)]);
      await v.advanceTo(T0 + 30 * MIN);
      const shown = v.store.alerts.search({ ruleId: ['sup-seq'], buildingBlocks: false, size: 50 }).alerts.map((a) => [JSON.stringify((a.doc['kibana.alert.suppression.terms'] as Array<{ value: unknown }>)[0]!.value), a.doc['kibana.alert.suppression.docs_count']]).sort();
      assert.deepEqual(shown, [['["g"]', 0], ['["h"]', 1]], streaming ? 'streaming' : 'scheduled');
      assert.equal(v.store.alerts.search({ ruleId: ['sup-seq'], size: 0 }).total, 2 + 4, 'two sequence alerts and their four building blocks');
      await v.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
