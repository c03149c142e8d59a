import type { Value } from '../eql/index.js';
import type { EngineEvent } from './event.js';
import { Queue } from './queue.js';
import { keyString, type StageSpec } from './sequence.js';

interface SampleEntry {
  slots: (EngineEvent | undefined)[];
  /** Slots filled. */
  filled: number;
  /** Samples found for the key. */
  done: number;
}

/** What a sample matcher counts. */
export interface SampleCounters {
  /** Partial samples (a key's events so far) given up at the cap on open keys, oldest key first. */
  droppedByCap: number;
}

/**
 * `sample by k [A] [B] …`: for each join key, the first event of each stage, in no particular
 * order; a key gives at most `maxPerKey` samples. At most `maxOpen` keys hold a partial sample (the
 * events it holds stay in memory until it completes or the input ends); beyond it, the key that
 * opened longest ago loses its events (a partial sample given up, counted in `counters.droppedByCap`).
 */
export class SampleMatcher {
  private readonly byKey = new Map<string, SampleEntry>();
  /** Keys as they opened a partial sample, oldest first. */
  private readonly order = new Queue<{ readonly k: string; readonly entry: SampleEntry; readonly slots: SampleEntry['slots'] }>();
  private openKeys = 0;
  readonly counters: SampleCounters = { droppedByCap: 0 };
  seen = 0;

  constructor(
    private readonly stages: readonly StageSpec[],
    private readonly maxPerKey = 1,
    private readonly maxOpen = 1_000_000,
  ) {}

  push(e: EngineEvent): Array<{ joinKeys: Value[]; events: EngineEvent[] }> {
    this.seen++;
    const out: Array<{ joinKeys: Value[]; events: EngineEvent[] }> = [];
    const n = this.stages.length;
    for (let i = 0; i < n; i++) {
      const st = this.stages[i]!;
      if (!st.matches(e)) continue;
      const values = st.key(e);
      const k = keyString(values);
      let entry = this.byKey.get(k);
      if (!entry) {
        entry = { slots: new Array<EngineEvent | undefined>(n).fill(undefined), filled: 0, done: 0 };
        this.byKey.set(k, entry);
      }
      if (entry.done >= this.maxPerKey || entry.slots[i] !== undefined) continue;
      entry.slots[i] = e;
      entry.filled++;
      if (entry.filled === n) {
        out.push({ joinKeys: values, events: entry.slots as EngineEvent[] });
        entry.done++;
        entry.slots = new Array<EngineEvent | undefined>(n).fill(undefined);
        entry.filled = 0;
        if (n > 1) this.openKeys--;
      } else if (entry.filled === 1) {
        this.openKeys++;
        this.order.push({ k, entry, slots: entry.slots });
        if (this.openKeys > this.maxOpen) this.enforceCap();
      }
      break; // an event fills one stage of a sample: the events of a sample are distinct
    }
    return out;
  }

  /** Over the cap, the key that opened longest ago loses what it holds. */
  private enforceCap(): void {
    while (this.openKeys > this.maxOpen && this.order.size > 0) {
      const { k, entry, slots } = this.order.shift()!;
      if (entry.slots !== slots || entry.filled === 0) continue; // completed since
      this.counters.droppedByCap++;
      this.openKeys--;
      if (entry.done === 0) this.byKey.delete(k);
      else {
        entry.slots = new Array<EngineEvent | undefined>(this.stages.length).fill(undefined);
        entry.filled = 0;
      }
    }
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
