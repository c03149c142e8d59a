import type { Value } from '../eql/index.js';
import type { EngineEvent } from './event.js';
import { keyString, type StageSpec } from './sequence.js';

/**
 * `sample by k [A] [B] …`: for each join key, the first event of each stage, in no particular
 * order; a key gives at most `maxPerKey` samples.
 */
export class SampleMatcher {
  private readonly byKey = new Map<string, { slots: (EngineEvent | undefined)[]; done: number }>();
  seen = 0;

  constructor(
    private readonly stages: readonly StageSpec[],
    private readonly maxPerKey = 1,
  ) {}

  push(e: EngineEvent): Array<{ joinKeys: Value[]; events: EngineEvent[] }> {
    this.seen++;
    const out: Array<{ joinKeys: Value[]; events: EngineEvent[] }> = [];
    for (let i = 0; i < this.stages.length; i++) {
      const st = this.stages[i]!;
      if (!st.matches(e)) continue;
      const values = st.key(e);
      const k = keyString(values);
      let entry = this.byKey.get(k);
      if (!entry) {
        entry = { slots: new Array<EngineEvent | undefined>(this.stages.length).fill(undefined), done: 0 };
        this.byKey.set(k, entry);
      }
      if (entry.done >= this.maxPerKey || entry.slots[i] !== undefined) continue;
      entry.slots[i] = e;
      if (entry.slots.every((x) => x !== undefined)) {
        out.push({ joinKeys: values, events: entry.slots as EngineEvent[] });
        entry.done++;
        entry.slots = new Array<EngineEvent | undefined>(this.stages.length).fill(undefined);
      }
      break; // an event fills one stage of a sample: the events of a sample are distinct
    }
    return out;
  }
}

/** Samples come out ordered by their join keys, as Elasticsearch's composite buckets do (null first). */
export function compareKeys(a: readonly Value[], b: readonly Value[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const sx = JSON.stringify(x);
    const sy = JSON.stringify(y);
    if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : x > y ? 1 : 0;
    if (sx !== sy) return sx < sy ? -1 : 1;
  }
  return 0;
}

/**
 * Endgame's `join by k [A] [B] until [C]`: for each key, the first event of each stage in any order;
 * `until` clears a key's progress.
 */
export class JoinMatcher {
  private readonly byKey = new Map<string, (EngineEvent | undefined)[]>();

  constructor(
    private readonly stages: readonly StageSpec[],
    private readonly until: StageSpec | null,
  ) {}

  push(e: EngineEvent): Array<{ joinKeys: Value[]; events: EngineEvent[] }> {
    const out: Array<{ joinKeys: Value[]; events: EngineEvent[] }> = [];
    if (this.until && this.until.matches(e)) this.byKey.delete(keyString(this.until.key(e)));
    for (let i = 0; i < this.stages.length; i++) {
      const st = this.stages[i]!;
      if (!st.matches(e)) continue;
      const values = st.key(e);
      const k = keyString(values);
      let slots = this.byKey.get(k);
      if (!slots) {
        slots = new Array<EngineEvent | undefined>(this.stages.length).fill(undefined);
        this.byKey.set(k, slots);
      }
      if (slots[i] !== undefined) continue;
      slots[i] = e;
      if (slots.every((x) => x !== undefined)) {
        out.push({ joinKeys: values, events: slots as EngineEvent[] });
        this.byKey.delete(k);
      }
    }
    return out;
  }
}
