import { compareEvents, type EngineEvent } from './event.js';
import type { Value } from '../eql/index.js';
import { Queue } from './queue.js';

/** One stage as the matcher sees it: a test and the join key of an event. */
export interface StageSpec {
  readonly matches: (e: EngineEvent) => boolean;
  /**
   * The join keys an event takes part under at this stage (each: shared `by` values first, then the
   * stage's own): one, several when a key field holds several values (Elasticsearch joins under each
   * combination), none when a key that may not be null is.
   */
  readonly keys: (e: EngineEvent) => Value[][];
  /** `![…]`: the event must not happen. */
  readonly missing: boolean;
  /** Endgame `fork=true`: advancing past this stage leaves the earlier partial in place. */
  readonly fork?: boolean;
}

export interface SequenceLimits {
  /** Open partial sequences kept at most, over all keys; the oldest key is dropped beyond it. */
  readonly maxOpen?: number;
  /** Events kept per key and missing stage, to disprove `![…]`. */
  readonly maxMissingHistory?: number;
}

/** A completed sequence: one event per stage, null in the slots of missing events. */
export interface SequenceMatch {
  readonly joinKeys: Value[];
  readonly events: (EngineEvent | null)[];
}

/** Counters the run log and the UI show. */
export interface SequenceCounters {
  seen: number;
  started: number;
  completed: number;
  expired: number;
  untilDropped: number;
  droppedByCap: number;
  missingRejected: number;
}

interface Partial {
  readonly events: EngineEvent[];
  readonly joinKeys: Value[];
}

interface Pending {
  readonly match: Partial;
  /** The trailing missing window closes at this time. */
  readonly closesAt: number;
}

/**
 * Elasticsearch's sequence state machine, kept apart from whatever feeds it events. Events must
 * arrive in order (timestamp, tiebreaker). For each key each stage holds at most one partial
 * sequence, the most recent: a new first-stage event replaces an older start, and an event that
 * matches stage i moves the partial from stage i-1 forward. Stages are tried last to first, so one
 * event never advances the same sequence twice.
 */
export class SequenceMatcher {
  readonly counters: SequenceCounters = { seen: 0, started: 0, completed: 0, expired: 0, untilDropped: 0, droppedByCap: 0, missingRejected: 0 };
  private readonly positive: StageSpec[];
  /** For each stage index (in the original order), its position among positive stages, or -1. */
  private readonly posIndex: number[];
  /** Per key: the partial waiting at each positive stage except the last. */
  private readonly open = new Map<string, (Partial | undefined)[]>();
  private openCount = 0;
  /** Per missing stage: per key, events that matched it (in order). */
  private readonly missingSeen: Map<string, EngineEvent[]>[];
  private readonly pending: Pending[] = [];
  private watermark = -Infinity;
  /** Starts in time order (key, start time), so expiry visits only what expires: amortised O(1). */
  private readonly starts = new Queue<{ readonly k: string; readonly ts: number }>();
  /** Missing-stage history entries in time order, for the same reason. */
  private readonly seenOrder = new Queue<{ readonly stage: number; readonly k: string; readonly ts: number }>();
  /** Keys in the order they were opened, for eviction at the cap. */
  private readonly keyOrder = new Queue<{ readonly k: string; readonly slots: (Partial | undefined)[] }>();
  private readonly maxOpen: number;
  private readonly maxHistory: number;
  /** The first stage is a positive one (no leading missing stage looks back before it). */
  private readonly leadingPositive: boolean;

  constructor(
    private readonly stages: readonly StageSpec[],
    private readonly until: StageSpec | null,
    private readonly maxspan: number | null,
    limits: SequenceLimits = {},
  ) {
    this.positive = stages.filter((s) => !s.missing);
    this.leadingPositive = stages.length > 0 && !stages[0]!.missing;
    let p = 0;
    this.posIndex = stages.map((s) => (s.missing ? -1 : p++));
    this.missingSeen = stages.map(() => new Map());
    this.maxOpen = limits.maxOpen ?? 1_000_000;
    this.maxHistory = limits.maxMissingHistory ?? 10_000;
  }

  /**
   * Holds nothing that a later event could complete or disprove: no partial sequence and no match
   * waiting for its trailing missing window. An event that can only advance a partial, end one
   * (`until`) or disprove one (a missing stage after the first positive one) changes nothing now.
   */
  get idle(): boolean {
    return this.openCount === 0 && this.pending.length === 0;
  }

  /** The first stage is positive: before its first event, no other event changes anything. */
  get startsAtFirstStage(): boolean {
    return this.leadingPositive;
  }

  /** Whether `e` is an event of the first stage (always, when the first stage is a missing one: then any event may matter). */
  opens(e: EngineEvent): boolean {
    return !this.leadingPositive || this.stages[0]!.matches(e);
  }

  /** Number of partial sequences currently held. */
  get openSequences(): number {
    return this.openCount;
  }

  /** Feeds one event (in order); returns the sequences it completes. */
  push(e: EngineEvent): SequenceMatch[] {
    this.counters.seen++;
    if (e.ts > this.watermark) this.watermark = e.ts;
    // holding nothing, with a positive first stage, only an event of that stage changes anything: a
    // missing stage's event before it is never between or after its positive events. (A rule whose
    // missing stage takes nearly every event, "Defend alert followed by telemetry loss", spent
    // 1.3 s of a 300,000-event cycle recording such events, since a matcher with lateness takes them.)
    if (this.idle && !this.opens(e)) return [];
    const out: SequenceMatch[] = [];
    this.releasePending(out, false);

    // remember events that can disprove a missing stage
    for (let i = 0; i < this.stages.length; i++) {
      const st = this.stages[i]!;
      if (!st.missing || !st.matches(e)) continue;
      for (const values of st.keys(e)) {
        const k = keyString(values);
        const seen = this.missingSeen[i]!;
        const list = seen.get(k) ?? [];
        list.push(e);
        if (list.length > this.maxHistory) list.shift();
        seen.set(k, list);
        if (this.maxspan !== null) this.seenOrder.push({ stage: i, k, ts: e.ts });
      }
    }

    const last = this.positive.length - 1;
    for (let i = last; i >= 0; i--) {
      const st = this.positive[i]!;
      if (!st.matches(e)) continue;
      for (const values of st.keys(e)) this.advance(i, e, values, out);
    }
    // `until` after the stages, as Elasticsearch rejects only a step over an earlier until event: the
    // until event that completes a sequence completes it, and a partial it started or moved on ends
    if (this.until && this.until.matches(e)) {
      for (const values of this.until.keys(e)) {
        const k = keyString(values);
        const slots = this.open.get(k);
        if (!slots) continue;
        const n = slots.filter((x) => x !== undefined).length;
        this.counters.untilDropped += n;
        this.openCount -= n;
        this.open.delete(k);
      }
    }
    this.expire();
    return out;
  }

  /** One event at positive stage `i` under one join key. */
  private advance(i: number, e: EngineEvent, values: Value[], out: SequenceMatch[]): void {
    const last = this.positive.length - 1;
    const k = keyString(values);
    if (i === 0) {
      if (last === 0) {
        this.complete({ events: [e], joinKeys: values }, k, out);
        return;
      }
      const slots = this.slotsFor(k);
      if (slots[0] === undefined) this.openCount++;
      slots[0] = { events: [e], joinKeys: values };
      this.counters.started++;
      if (this.maxspan !== null) this.starts.push({ k, ts: e.ts });
      this.enforceCap();
      return;
    }
    const st = this.positive[i]!;
    const slots = this.open.get(k);
    const prev = slots?.[i - 1];
    if (!slots || !prev) return;
    if (!st.fork) {
      slots[i - 1] = undefined;
      this.openCount--;
    }
    if (this.maxspan !== null && e.ts - prev.events[0]!.ts > this.maxspan) {
      this.counters.expired++;
      return;
    }
    const next: Partial = { events: [...prev.events, e], joinKeys: prev.joinKeys };
    if (i === last) this.complete(next, k, out);
    else {
      if (slots[i] === undefined) this.openCount++;
      slots[i] = next;
    }
  }

  /** End of input: trailing missing windows close. */
  flush(): SequenceMatch[] {
    const out: SequenceMatch[] = [];
    this.releasePending(out, true);
    return out;
  }

  private slotsFor(k: string): (Partial | undefined)[] {
    let slots = this.open.get(k);
    if (!slots) {
      slots = new Array<Partial | undefined>(Math.max(1, this.positive.length - 1));
      this.open.set(k, slots);
      this.keyOrder.push({ k, slots });
    }
    return slots;
  }

  private complete(p: Partial, k: string, out: SequenceMatch[]): void {
    const hasTrailing = this.stages.length > 0 && this.stages[this.stages.length - 1]!.missing;
    if (hasTrailing) {
      const closesAt = this.maxspan === null ? Infinity : p.events[0]!.ts + this.maxspan;
      this.pending.push({ match: p, closesAt });
      return;
    }
    this.emit(p, k, out);
  }

  private emit(p: Partial, k: string, out: SequenceMatch[]): void {
    if (this.disproved(p, k)) {
      this.counters.missingRejected++;
      return;
    }
    this.counters.completed++;
    const events: (EngineEvent | null)[] = this.stages.map((st, i) => (st.missing ? null : p.events[this.posIndex[i]!]!));
    out.push({ joinKeys: p.joinKeys, events });
  }

  private releasePending(out: SequenceMatch[], all: boolean): void {
    if (this.pending.length === 0) return;
    const keep: Pending[] = [];
    for (const pd of this.pending) {
      if (all || this.watermark > pd.closesAt) this.emit(pd.match, keyString(pd.match.joinKeys), out);
      else keep.push(pd);
    }
    this.pending.splice(0, this.pending.length, ...keep);
  }

  /**
   * True when the missing events did happen, as Elasticsearch's tables pin it down:
   * - a missing stage between two positive ones is disproved by any event in that gap;
   * - the leading and trailing missing stages are disproved together: each needs an event (before
   *   the first / after the last positive event), and with the latest leading and the earliest
   *   trailing one the whole sequence must still fit in maxspan.
   */
  private disproved(p: Partial, k: string): boolean {
    let earliest = p.events[0]!.ts;
    let latest = p.events[p.events.length - 1]!.ts;
    let outer = 0;
    let outerFound = 0;
    for (let i = 0; i < this.stages.length; i++) {
      if (!this.stages[i]!.missing) continue;
      let before: EngineEvent | null = null;
      let after: EngineEvent | null = null;
      for (let j = i - 1; j >= 0 && !before; j--) if (!this.stages[j]!.missing) before = p.events[this.posIndex[j]!]!;
      for (let j = i + 1; j < this.stages.length && !after; j++) if (!this.stages[j]!.missing) after = p.events[this.posIndex[j]!]!;
      const isOuter = !before || !after;
      if (isOuter) outer++;
      const seen = this.missingSeen[i]!.get(k);
      if (!seen || seen.length === 0) continue;
      let pick: EngineEvent | null = null;
      for (const x of seen) {
        if (before && compareEvents(x, before) <= 0) continue;
        if (after && compareEvents(x, after) >= 0) break;
        if (!before) pick = x; // leading: the latest candidate
        else if (!pick) pick = x; // between or trailing: the earliest
      }
      if (!pick) continue;
      if (!isOuter) return true;
      outerFound++;
      if (pick.ts < earliest) earliest = pick.ts;
      if (pick.ts > latest) latest = pick.ts;
    }
    return outer > 0 && outerFound === outer && (this.maxspan === null || latest - earliest <= this.maxspan);
  }

  /** Drops partial sequences that can no longer finish within maxspan. */
  private expire(): void {
    if (this.maxspan === null) return;
    const horizon = this.watermark - this.maxspan;
    while (this.starts.size > 0 && this.starts.peek()!.ts < horizon) {
      const { k } = this.starts.shift()!;
      const slots = this.open.get(k);
      if (!slots) continue;
      let live = 0;
      for (let i = 0; i < slots.length; i++) {
        const p = slots[i];
        if (!p) continue;
        if (p.events[0]!.ts < horizon) {
          slots[i] = undefined;
          this.openCount--;
          this.counters.expired++;
        } else live++;
      }
      if (live === 0) this.open.delete(k);
    }
    // a missing-stage event can disprove sequences up to two maxspans later
    const old = horizon - this.maxspan;
    while (this.seenOrder.size > 0 && this.seenOrder.peek()!.ts < old) {
      const { stage, k } = this.seenOrder.shift()!;
      const seen = this.missingSeen[stage]!;
      const list = seen.get(k);
      if (!list) continue;
      while (list.length > 0 && list[0]!.ts < old) list.shift();
      if (list.length === 0) seen.delete(k);
    }
  }

  /** Over the cap, the key opened longest ago goes first (a queue: Map iteration after many deletes is slow). */
  private enforceCap(): void {
    while (this.openCount > this.maxOpen && this.keyOrder.size > 0) {
      const { k, slots } = this.keyOrder.shift()!;
      if (this.open.get(k) !== slots) continue; // that key was closed and opened again since
      let n = 0;
      for (const x of slots) if (x !== undefined) n++;
      this.openCount -= n;
      this.counters.droppedByCap += n;
      this.open.delete(k);
    }
  }
}

/** A join key as a map key: values compared exactly, as a term would be. */
export function keyString(values: readonly Value[]): string {
  return values.length === 0 ? '' : JSON.stringify(values);
}

/**
 * The join keys of one event from its key values, as Elasticsearch forms them: a multi-valued value
 * joins under each of its distinct values (nulls in it dropped; sorted, as doc values are), several
 * multi-valued values under every combination; a value that may not be null (`nullable[i]` false)
 * and is (or holds no value) gives no key. `multi` false (endgame) takes an array as one value.
 */
export function expandKeys(values: Value[], nullable: readonly boolean[], multi: boolean): Value[][] {
  let plain = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Array.isArray(v) && multi) plain = false;
    else if (v === null && !nullable[i]) return [];
  }
  if (plain) return [values];
  let out: Value[][] = [[]];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let alts: Value[];
    if (Array.isArray(v)) {
      const seen = new Map<string, Value>();
      for (const x of flatValues(v as Value[])) if (x !== null) seen.set(keyString([x]), x);
      alts = [...seen.values()].sort((a, b) => compareKeys([a], [b]));
      if (alts.length === 0) {
        if (!nullable[i]) return [];
        alts = [null];
      }
    } else alts = [v];
    if (alts.length === 1) {
      for (const k of out) k.push(alts[0]!);
      continue;
    }
    const next: Value[][] = [];
    for (const k of out) for (const a of alts) next.push([...k, a]);
    out = next;
  }
  return out;
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

function flatValues(v: readonly Value[], out: Value[] = []): Value[] {
  for (const x of v) {
    if (Array.isArray(x)) flatValues(x as Value[], out);
    else out.push(x);
  }
  return out;
}
