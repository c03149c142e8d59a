import type { Value } from '../eql/index.js';
import type { EngineEvent } from './event.js';
import { Queue } from './queue.js';
import { keyString, type StageSpec } from './sequence.js';

interface SampleEntry {
  readonly joinKeys: Value[];
  /** Per stage, the first events that matched it under this key, at most `cap` of them. */
  lists: EngineEvent[][] | null;
  /** Events held over all lists. */
  held: number;
}

/** What a sample matcher counts. */
export interface SampleCounters {
  /** Keys given up at the cap on open keys before they held a sample (oldest key first). */
  droppedByCap: number;
}

type SampleOut = { joinKeys: Value[]; events: EngineEvent[] };

/**
 * `sample by k [A] [B] …` as Elasticsearch runs it: for each join key, each stage's first hits (at
 * most stages + maxPerKey − 1, what Elasticsearch asks each stage's search for), from which the
 * samples are picked in order, one distinct event per stage, up to `maxPerKey` per key (a stage with
 * fewer hits lends its events to several samples). A key is settled (its samples found and its
 * events let go) when every stage's list is full, or at the end of input. At most `maxOpen` keys hold
 * events; beyond it the key that opened longest ago is settled with what it has, or, when that is no
 * sample, loses its events and may open again (counted in `counters.droppedByCap`).
 */
export class SampleMatcher {
  private readonly byKey = new Map<string, SampleEntry>();
  /** Keys as they opened, oldest first. */
  private readonly order = new Queue<{ readonly k: string; readonly entry: SampleEntry }>();
  private openKeys = 0;
  private readonly cap: number;
  readonly counters: SampleCounters = { droppedByCap: 0 };
  seen = 0;

  constructor(
    private readonly stages: readonly StageSpec[],
    private readonly maxPerKey = 1,
    private readonly maxOpen = 1_000_000,
  ) {
    this.cap = stages.length + Math.max(1, maxPerKey) - 1;
  }

  /** One event; returns the samples of keys it settles. */
  push(e: EngineEvent): SampleOut[] {
    this.seen++;
    const out: SampleOut[] = [];
    const n = this.stages.length;
    for (let i = 0; i < n; i++) {
      const st = this.stages[i]!;
      if (!st.matches(e)) continue;
      for (const values of st.keys(e)) {
        const k = keyString(values);
        let entry = this.byKey.get(k);
        if (!entry) {
          entry = { joinKeys: values, lists: Array.from({ length: n }, () => []), held: 0 };
          this.byKey.set(k, entry);
          this.openKeys++;
          this.order.push({ k, entry });
        }
        const lists = entry.lists;
        if (lists === null) continue; // settled
        const list = lists[i]!;
        if (list.length >= this.cap) continue;
        list.push(e);
        entry.held++;
        if (entry.held === n * this.cap) this.settle(entry, out);
      }
    }
    if (this.openKeys > this.maxOpen) this.enforceCap(out);
    return out;
  }

  /** End of input: every key not yet settled gives its samples. */
  flush(): SampleOut[] {
    const out: SampleOut[] = [];
    while (this.order.size > 0) {
      const { entry } = this.order.shift()!;
      if (entry.lists !== null) this.settle(entry, out);
    }
    return out;
  }

  private settle(entry: SampleEntry, out: SampleOut[]): number {
    const lists = entry.lists!;
    entry.lists = null;
    this.openKeys--;
    const before = out.length;
    if (lists.every((l) => l.length > 0)) pickSamples(lists, this.maxPerKey, (events) => out.push({ joinKeys: entry.joinKeys, events }));
    return out.length - before;
  }

  /** Over the cap, the key that opened longest ago is settled with what it holds. */
  private enforceCap(out: SampleOut[]): void {
    while (this.openKeys > this.maxOpen && this.order.size > 0) {
      const { k, entry } = this.order.shift()!;
      if (entry.lists === null) continue; // settled since
      if (this.settle(entry, out) > 0) continue;
      // no sample: the key may open again
      this.counters.droppedByCap++;
      this.byKey.delete(k);
    }
  }
}

/**
 * Up to `max` samples from per-stage lists, in order (the first stage's earliest event first): one
 * event per stage, no event twice in a sample. Backtracking, as a stage's hits may hold events that
 * match other stages too.
 */
function pickSamples(lists: readonly EngineEvent[][], max: number, found: (events: EngineEvent[]) => void): void {
  const n = lists.length;
  const pick: EngineEvent[] = [];
  let count = 0;
  const walk = (stage: number): boolean => {
    for (const e of lists[stage]!) {
      if (pick.includes(e)) continue;
      pick.push(e);
      if (stage === n - 1) {
        found([...pick]);
        count++;
      } else if (walk(stage + 1)) return true;
      pick.pop();
      if (count >= max) return true;
    }
    return count >= max;
  };
  walk(0);
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
    if (this.until && this.until.matches(e)) for (const values of this.until.keys(e)) this.byKey.delete(keyString(values));
    for (let i = 0; i < this.stages.length; i++) {
      const st = this.stages[i]!;
      if (!st.matches(e)) continue;
      const values = st.keys(e)[0];
      if (!values) continue;
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
