import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runHunt } from '../src/app/index.js';
import { compileQuery, IndexMapping, type EventHit, type QueryOptions, type SequenceHit } from '../src/engine/index.js';
import { loadRules } from '../src/rules/index.js';
import { eqlRule } from './support/rules.js';
import { repoRoot } from './support/shared.js';

/**
 * The timeline tables (test/tables/sequences.txt, test/tables/joins.txt), each case run three ways:
 * a batch over the events in any order, a streaming matcher fed them in the order written, and a
 * hunt over them as an NDJSON file with the query as a rule.
 */
interface Timeline {
  readonly file: string;
  readonly title: string;
  readonly query: string;
  readonly events: Record<string, unknown>[];
  readonly expect: string[];
  /** Expected join keys of each result, as JSON, when the case gives them. */
  readonly keys: string[] | null;
  /** An index mapping's `properties` for the events, when the case gives one. */
  readonly mapping: Record<string, unknown> | null;
  readonly maxSamplesPerKey: number | undefined;
  readonly dialect: 'endgame' | undefined;
  /** Why the hunt does not run the case, or null when it does. */
  readonly noHunt: string | null;
}

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}

const lineValue = (lines: string[], prefix: string): string | null => {
  const l = lines.find((x) => x.startsWith(prefix));
  return l === undefined ? null : l.slice(prefix.length).trim();
};

function loadTimelines(file: string): Timeline[] {
  const text = readFileSync(join(repoRoot, 'test/tables', file), 'utf8');
  const out: Timeline[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const title = lineValue(lines, '# ');
    const query = lineValue(lines, 'query: ');
    const expect = lineValue(lines, 'expect: ');
    if (title === null || query === null || expect === null) continue;
    const events = lines
      .filter((l) => /^\d/.test(l))
      .map((l, i) => {
        const [time, category, ...fields] = l.trim().split(/\s+/);
        const ms = time!.endsWith('ms') ? Number(time!.slice(0, -2)) : Number(time) * 1000;
        const ev: Record<string, unknown> = { '@timestamp': new Date(Date.UTC(2026, 0, 1) + ms).toISOString(), event: { category }, id: String(i + 1) };
        for (const f of fields) {
          // name=text, or name:=JSON (an array, a number, null)
          const json = f.indexOf(':=');
          const eq = f.indexOf('=');
          if (json > 0 && json < eq) setPath(ev, f.slice(0, json), JSON.parse(f.slice(json + 2)));
          else setPath(ev, f.slice(0, eq), f.slice(eq + 1));
        }
        return ev;
      });
    const keys = lineValue(lines, 'keys: ');
    const mapping = lineValue(lines, 'mapping: ');
    const samples = lineValue(lines, 'max_samples_per_key: ');
    out.push({
      file,
      title,
      query,
      events,
      expect: expect === 'none' ? [] : expect.split('|').map((s) => s.trim()),
      keys: keys === null ? null : keys.split('|').map((s) => JSON.stringify(JSON.parse(s.trim()))),
      mapping: mapping === null ? null : (JSON.parse(mapping) as Record<string, unknown>),
      maxSamplesPerKey: samples === null ? undefined : Number(samples),
      dialect: lineValue(lines, 'dialect: ') === 'endgame' ? 'endgame' : undefined,
      noHunt: lineValue(lines, 'no hunt: '),
    });
  }
  return out;
}

const render = (hits: Array<EventHit | SequenceHit>): string[] =>
  hits.map((h) => ('events' in h ? h.events.map((e) => (e.missing ? '-' : e._id)).join(' ') : (h as EventHit)._id));
const renderKeys = (hits: Array<EventHit | SequenceHit>): string[] => hits.map((h) => JSON.stringify('join_keys' in h ? h.join_keys : null));

const sequences = loadTimelines('sequences.txt');
const joins = loadTimelines('joins.txt');

test('the timeline tables hold their cases (sequences.txt at least 20, joins.txt at least 25)', () => {
  assert.ok(sequences.length >= 20, `${sequences.length}`);
  assert.ok(joins.length >= 25, `${joins.length}`);
});

const dir = mkdtempSync(join(tmpdir(), 'vigil-timelines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const t of [...sequences, ...joins]) {
  test(`${t.file}: ${t.title}`, async () => {
    const index = 'events';
    const options: QueryOptions = {
      idField: 'id',
      dialect: t.dialect,
      maxSamplesPerKey: t.maxSamplesPerKey,
      ...(t.mapping ? { mappings: new Map([[index, IndexMapping.fromJson({ properties: t.mapping })]]) } : {}),
    };
    const inputs = t.events.map((e) => (t.mapping ? { _index: index, _id: String(e.id), _source: e } : e));
    const c = compileQuery(t.query, options);
    assert.ok(c.ok, JSON.stringify(c.diagnostics));
    // batch: events in any order
    const batch = c.query.run(inputs);
    const hits = [...(batch.sequences ?? []), ...(batch.events ?? [])];
    assert.deepEqual(render(hits), t.expect, 'batch');
    if (t.keys) assert.deepEqual(renderKeys(hits), t.keys, 'batch join keys');
    // streaming, in the order written, with enough lateness to reorder them
    const m = c.query.createMatcher({ lateness: 60_000 });
    const streamed = [...inputs.flatMap((e) => m.push(e)), ...m.flush()];
    assert.deepEqual(render(streamed), t.expect, 'streaming');
    if (t.keys) assert.deepEqual(renderKeys(streamed), t.keys, 'streaming join keys');
    if (t.noHunt !== null) return;
    // the hunt: the query as a rule, the events as a file; a sequence's events are its building blocks
    const name = `t${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, `${name}.ndjson`), t.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    writeFileSync(join(dir, `${name}.rules.ndjson`), eqlRule(name, t.query) + '\n');
    const rules = (await loadRules([join(dir, `${name}.rules.ndjson`)])).rules;
    const hunt = async (workers: number): Promise<string[]> => {
      // with a worker, verdicts: the worker reads the join keys, this thread expands them
      const r = await runHunt({ rules, inputs: [join(dir, `${name}.ndjson`)], workers, verdicts: workers > 0, lateness: Infinity, now: Date.UTC(2026, 0, 2) });
      assert.equal(r.rulesRun, 1, JSON.stringify(r.rulesSkipped));
      const line = (a: (typeof r.alerts)[number]): string => {
        const anc = (a.doc['kibana.alert.ancestors'] as Array<{ id: string }>)[0]!;
        return String(Number(/:(\d+)$/.exec(anc.id)![1]));
      };
      const groups = new Map<string, Array<{ at: number; id: string }>>();
      const found: string[] = [];
      for (const a of r.alerts) {
        if (a.groupId === null) found.push(line(a));
        else if (a.buildingBlock) {
          const g = groups.get(a.groupId) ?? [];
          g.push({ at: Number(a.doc['kibana.alert.group.index']), id: line(a) });
          groups.set(a.groupId, g);
        }
      }
      for (const g of groups.values()) found.push(g.sort((x, y) => x.at - y.at).map((x) => x.id).join(' '));
      return found.sort();
    };
    // the hunt writes no missing-event slots, orders matches by time, and writes a match of the
    // same events (under another join key) once: its alerts have the same ids
    const want = [...new Set(t.expect.map((s) => s.split(' ').filter((x) => x !== '-').join(' ')))];
    assert.deepEqual(await hunt(0), want.sort(), 'hunt');
    assert.deepEqual(await hunt(1), want, 'hunt with a worker and verdicts');
  });
}
