import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runHunt, Vigil, type IngestItem } from '../src/app/index.js';
import { ManualClock } from '../src/core/index.js';
import { writeNdjsonRules, type Rule } from '../src/rules/index.js';
import { repoRoot } from './support/shared.js';

/**
 * The threshold and new-terms timelines of test/tables/aggregations.txt, each run by the hunt (one
 * execution over the whole input) and by the service's schedule (windows every 5 minutes over the
 * last 9), each compared with what the table expects of it.
 */

interface Timeline {
  readonly title: string;
  readonly rule: Rule;
  readonly events: Array<{ minute: number; doc: Record<string, unknown> }>;
  readonly hunt: string[];
  readonly serve: string[];
}

const T0 = Date.parse('2026-11-23T12:00:00Z');
const MIN = 60_000;
const INDEX = 'logs-timeline';
const dir = mkdtempSync(join(tmpdir(), 'vigil-aggregations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}

const list = (s: string): string[] => (s.trim() === 'none' ? [] : s.split('|').map((x) => x.trim()));

function loadTimelines(): Timeline[] {
  const text = readFileSync(join(repoRoot, 'test/tables/aggregations.txt'), 'utf8');
  const out: Timeline[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const get = (p: string): string | undefined => lines.find((l) => l.startsWith(p))?.slice(p.length).trim();
    const title = get('# ');
    const ruleLine = get('rule: ');
    const query = get('query: ');
    const hunt = get('hunt: ');
    const serve = get('serve: ');
    if (!title || !ruleLine || query === undefined || hunt === undefined || serve === undefined) continue;
    const sp = ruleLine.indexOf(' ');
    const type = ruleLine.slice(0, sp) as Rule['type'];
    const params = JSON.parse(ruleLine.slice(sp + 1)) as Record<string, unknown>;
    const rule: Rule = {
      rule_id: `timeline-${out.length}`,
      name: title,
      description: title,
      type,
      language: 'kuery',
      query,
      index: [INDEX],
      severity: 'low',
      risk_score: 21,
      interval: '5m',
      from: 'now-9m',
      to: 'now',
      max_signals: 100,
      enabled: true,
      tags: [],
      references: [],
      author: [],
      version: 1,
      false_positives: [],
      threat: [],
      extra: params,
    };
    const events = lines
      .filter((l) => /^-?\d/.test(l))
      .map((l) => {
        const [minute, category, ...fields] = l.trim().split(/\s+/);
        const doc: Record<string, unknown> = { '@timestamp': new Date(T0 + Number(minute) * MIN).toISOString(), event: { category } };
        for (const f of fields) {
          const eq = f.indexOf('=');
          const v = f.slice(eq + 1);
          setPath(doc, f.slice(0, eq), v.includes(',') ? v.split(',') : v);
        }
        return { minute: Number(minute), doc };
      });
    out.push({ title, rule, events, hunt: list(hunt), serve: list(serve) });
  }
  return out;
}

const minuteOf = (iso: unknown): number => (Date.parse(String(iso)) - T0) / MIN;

/** An alert as the table writes it. */
function render(doc: Readonly<Record<string, unknown>>): string {
  const th = doc['kibana.alert.threshold_result'] as { terms: Array<{ field: string; value: unknown }>; count: number; cardinality: Array<{ value: number }>; from: string } | undefined;
  if (th) {
    const parts = [th.terms.map((t) => `${t.field}=${String(t.value)}`).join(','), `count=${th.count}`];
    if (th.cardinality.length) parts.push(`card=${th.cardinality[0]!.value}`);
    parts.push(`from=${minuteOf(th.from)}`, `to=${minuteOf(doc['kibana.alert.original_time'])}`);
    return parts.filter(Boolean).join(' ');
  }
  const event = (doc['kibana.alert.ancestors'] as Array<{ id: string }>)[0]!.id.split(':')[1];
  return `${event} ${JSON.stringify(doc['kibana.alert.new_terms'])}`;
}

const timelines = loadTimelines();

test('the threshold and new-terms timeline file holds at least 15 cases of each driver', () => {
  assert.ok(timelines.length >= 15, `${timelines.length}`);
  assert.ok(timelines.some((t) => t.rule.type === 'threshold') && timelines.some((t) => t.rule.type === 'new_terms'));
});

for (const [k, t] of timelines.entries()) {
  test(`aggregation timeline: ${t.title}`, async () => {
    const events = join(dir, `events-${k}.ndjson`);
    writeFileSync(events, t.events.map((e) => JSON.stringify(e.doc)).join('\n') + '\n');
    for (const workers of [0, 2]) {
      const hunt = await runHunt({ rules: [t.rule], inputs: [events], index: INDEX, workers, now: T0 });
      assert.deepEqual(hunt.rulesSkipped, []);
      // alerts of one time come in the order of their ids: compared in the table's order
      assert.deepEqual(hunt.alerts.map((a) => render(a.doc)).sort((a, b) => byTable(t.hunt, a, b)), t.hunt, `hunt on ${workers} workers`);
    }

    const rules = join(dir, `rules-${k}.ndjson`);
    writeFileSync(rules, writeNdjsonRules([t.rule]));
    const clock = new ManualClock(T0);
    const v = await Vigil.open({ dataDir: join(dir, `serve-${k}`), memory: true, rulePaths: [rules], clock, scanThreads: 0 });
    try {
      const items: IngestItem[] = t.events.map((e, i) => ({ op: 'create', index: INDEX, id: `0:${i + 1}`, json: JSON.stringify(e.doc) }));
      await v.ingest(items);
      await v.advanceTo(T0 + 60 * MIN);
      const found = v.store.alerts.search({ size: 1000 }).alerts.map((a) => a.doc);
      // the service's order: by the alert's time, then as the table writes them
      const got = found.map(render).sort((a, b) => byTable(t.serve, a, b));
      assert.deepEqual(got, t.serve, 'serve');
      // each written once, whatever the overlap of windows
      assert.equal(new Set(found.map((d) => d['kibana.alert.uuid'])).size, found.length);
    } finally {
      await v.close();
    }
  });
}

/** Sorts alerts the table expects in its order (others after, by text), so that a difference shows as one. */
function byTable(expected: readonly string[], a: string, b: string): number {
  const ia = expected.indexOf(a);
  const ib = expected.indexOf(b);
  return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib) || (a < b ? -1 : a > b ? 1 : 0);
}
