import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileQuery, type EventHit, type SequenceHit } from '../src/engine/index.js';
import { repoRoot } from './support/shared.js';

interface Timeline {
  readonly title: string;
  readonly query: string;
  readonly events: Record<string, unknown>[];
  readonly expect: string[];
}

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}

function loadTimelines(): Timeline[] {
  const text = readFileSync(join(repoRoot, 'test/tables/sequences.txt'), 'utf8');
  const out: Timeline[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const title = lines.find((l) => l.startsWith('# '));
    const query = lines.find((l) => l.startsWith('query: '));
    const expect = lines.find((l) => l.startsWith('expect: '));
    if (!title || !query || !expect) continue;
    const events = lines
      .filter((l) => /^\d/.test(l))
      .map((l, i) => {
        const [time, category, ...fields] = l.trim().split(/\s+/);
        const ms = time!.endsWith('ms') ? Number(time!.slice(0, -2)) : Number(time) * 1000;
        const ev: Record<string, unknown> = { '@timestamp': new Date(Date.UTC(2026, 0, 1) + ms).toISOString(), event: { category }, id: String(i + 1) };
        for (const f of fields) {
          const eq = f.indexOf('=');
          setPath(ev, f.slice(0, eq), f.slice(eq + 1));
        }
        return ev;
      });
    const e = expect.slice('expect: '.length).trim();
    out.push({ title: title.slice(2), query: query.slice('query: '.length), events, expect: e === 'none' ? [] : e.split('|').map((s) => s.trim()) });
  }
  return out;
}

const render = (hits: Array<EventHit | SequenceHit>): string[] =>
  hits.map((h) => ('events' in h ? h.events.map((e) => (e.missing ? '-' : e._id)).join(' ') : (h as EventHit)._id));

const timelines = loadTimelines();

test('the sequence timeline file holds at least 20 cases', () => {
  assert.ok(timelines.length >= 20, `${timelines.length}`);
});

for (const t of timelines) {
  test(`sequence timeline: ${t.title}`, () => {
    const c = compileQuery(t.query, { idField: 'id' });
    assert.ok(c.ok, JSON.stringify(c.diagnostics));
    // batch: events in any order
    const batch = c.query.run(t.events);
    assert.deepEqual(render(batch.sequences ?? []), t.expect, 'batch');
    // streaming, in the order written, with enough lateness to reorder them
    const m = c.query.createMatcher({ lateness: 60_000 });
    const streamed = [...t.events.flatMap((e) => m.push(e)), ...m.flush()];
    assert.deepEqual(render(streamed), t.expect, 'streaming');
  });
}
