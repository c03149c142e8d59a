import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/core/index.js';
import { runHunt, Vigil, type IngestItem } from '../../src/app/index.js';
import { DEFAULT_RULE_LIMITS } from '../../src/detect/index.js';
import { addNoise, generateEvents, namesInQueries } from '../../src/gen/index.js';
import { isKqlRule, loadRules, writeNdjsonRules, type Rule } from '../../src/rules/index.js';
import { requireShared } from '../support/shared.js';

/**
 * The service's scheduled runs, its streaming and `vigil hunt` are one engine driven three ways: over
 * the same events with the corpus rules they must raise the same alerts, with the same ids. The
 * events are generated with noise where the rules look (each process gets the parent and the name of
 * other processes), so that many rules are candidates and some fire on benign activity.
 */
const dir = mkdtempSync(join(tmpdir(), 'vigil-one-engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// the index most of the corpus's process rules read (a hunt with --index runs the rules that read it)
const INDEX = 'logs-endpoint.events.process-default';
const T0 = Date.parse('2026-11-23T00:00:00Z');
const MIN = 60_000;

/**
 * Generated events made noisy where the corpus rules look (see addNoise): many rules are candidates
 * and some fire on what is, here, background activity.
 */
function noisyEvents(rules: readonly Rule[]): string[] {
  const lines = [...generateEvents({ events: 3000, seed: 11, plantEvery: 100, start: T0 })];
  // then a minute of events as generated, whose plants the noise has not renamed: bursts of kills
  // for the threshold rule among them
  const clean = generateEvents({ events: 1000, seed: 12, plantEvery: 100, start: T0 + 2 * MIN });
  return [...addNoise(lines, namesInQueries(rules.map((r) => r.query ?? '')), { seed: 5 }), ...clean];
}

async function corpusWithoutCaps(): Promise<string> {
  const set = await loadRules([requireShared('corpus/detection-rules')]);
  // no max_signals cap applies: every match is written in each mode
  // every type both run: EQL, and KQL query, threshold and new-terms rules (indicator match needs
  // stored indicators, which a hunt has not); the enabled ones, as the service runs those only
  const rules = set.rules
    .filter((r) => (r.type === 'eql' || (isKqlRule(r) && r.type !== 'threat_match')) && r.enabled && r.metadata?.maturity !== 'deprecated')
    .map((r) => ({ ...r, max_signals: 1_000_000 }));
  const file = join(dir, 'rules.ndjson');
  writeFileSync(file, writeNdjsonRules(rules));
  return file;
}

/**
 * How the service runs: streaming; scheduled on its own thread (a store in memory); scheduled with
 * passes scanned on two threads over a store on disk, in ranges of 97 events so that the threads take
 * many turns and the feed puts them back in arrival order.
 */
type Mode = 'streaming' | 'scheduled' | 'scheduled on two scan threads';

async function serviceAlertIds(rulesFile: string, lines: readonly string[], mode: Mode): Promise<{ ids: Set<string>; rules: Set<string>; executions: number }> {
  const clock = new ManualClock(T0);
  const streaming = mode === 'streaming';
  const threads = mode === 'scheduled on two scan threads';
  const v = await Vigil.open({ dataDir: join(dir, mode.replace(/ /g, '-')), memory: !threads, rulePaths: [rulesFile], clock, streamingDefault: streaming, scanThreads: threads ? 2 : 0, scanRange: 97, ruleLimits: { ...DEFAULT_RULE_LIMITS, maxSignals: 1_000_000 } });
  try {
    // in batches, as _bulk requests would bring them; ids as the hunt gives them (file 0, line n)
    for (let i = 0; i < lines.length; i += 500) {
      const items: IngestItem[] = lines.slice(i, i + 500).map((json, k) => ({ op: 'create', index: INDEX, id: `0:${i + k + 1}`, json }));
      await v.ingest(items);
    }
    const executions = await v.advanceTo(T0 + 60 * MIN);
    // passes ran where asked: on two scan threads, or on the caller's thread (none failed on the way)
    assert.deepEqual(v.scheduler.threads(), { scan_threads: threads ? 2 : 0, scan_thread_problem: null });
    const found = v.store.alerts.search({ size: 1_000_000, buildingBlocks: true });
    return { ids: new Set(found.alerts.map((a) => a.id)), rules: new Set(found.alerts.map((a) => a.ruleId)), executions };
  } finally {
    await v.close();
  }
}

test('scheduled runs, streaming and hunt give the same alert ids over noisy events with the corpus rules', async () => {
  const rulesFile = await corpusWithoutCaps();
  const ruleSet = await loadRules([rulesFile]);
  const lines = noisyEvents(ruleSet.rules);
  const eventsFile = join(dir, 'events.ndjson');
  writeFileSync(eventsFile, lines.join('\n') + '\n');

  const hunt = await runHunt({ rules: ruleSet.rules, inputs: [eventsFile], index: INDEX, workers: 0, now: T0 });
  const huntIds = new Set(hunt.alerts.map((a) => a.id));
  const huntRules = new Set(hunt.alerts.map((a) => String(a.doc['kibana.alert.rule.rule_id'])));

  const scheduled = await serviceAlertIds(rulesFile, lines, 'scheduled');
  const threaded = await serviceAlertIds(rulesFile, lines, 'scheduled on two scan threads');
  const streaming = await serviceAlertIds(rulesFile, lines, 'streaming');

  const diff = (a: Set<string>, b: Set<string>): string[] => [...a].filter((x) => !b.has(x)).slice(0, 5);
  // the data is noisy enough to make many rules fire, sequences and samples among them
  assert.ok(huntIds.size >= 100, `hunt found ${huntIds.size} alerts`);
  assert.ok(huntRules.size >= 15, `hunt alerts come from ${huntRules.size} rules`);
  assert.ok(hunt.alerts.some((a) => a.doc['kibana.alert.group.id'] !== undefined), 'sequences or samples among them');
  const types = new Set(hunt.alerts.map((a) => String(a.doc['kibana.alert.rule.type'])));
  assert.deepEqual([...types].sort(), ['eql', 'new_terms', 'query', 'threshold'], 'alerts of every type');
  console.log(`hunt: ${huntIds.size} alerts from ${huntRules.size} rules; scheduled: ${scheduled.ids.size} in ${scheduled.executions} executions; on scan threads: ${threaded.ids.size}; streaming: ${streaming.ids.size}`);
  assert.ok(scheduled.executions >= 1024, `${scheduled.executions} scheduled executions`);
  assert.deepEqual(diff(scheduled.ids, huntIds), [], 'scheduled alerts the hunt did not raise');
  assert.deepEqual(diff(huntIds, scheduled.ids), [], 'hunt alerts the scheduled runs did not raise');
  assert.equal(scheduled.ids.size, huntIds.size);
  assert.equal(threaded.executions, scheduled.executions);
  assert.deepEqual(diff(threaded.ids, huntIds), [], 'alerts of passes on scan threads the hunt did not raise');
  assert.deepEqual(diff(huntIds, threaded.ids), [], 'hunt alerts the passes on scan threads did not raise');
  assert.equal(threaded.ids.size, huntIds.size);
  assert.deepEqual(diff(streaming.ids, huntIds), [], 'streaming alerts the hunt did not raise');
  assert.deepEqual(diff(huntIds, streaming.ids), [], 'hunt alerts streaming did not raise');
  assert.equal(streaming.ids.size, huntIds.size);
});
