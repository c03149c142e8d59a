import type { RuleMatch } from '../alerts/index.js';
import { JsonProjector, parseJsonObject, projection } from '../core/index.js';
import { isGated, isStateful, RuleIndex, ruleOfCode, statefulCode, type EventHit, type Matcher, type RuleSetHit, type SequenceHit, type StatefulCode } from '../engine/index.js';
import type { StoredEvent, TimeRange } from '../store/index.js';
import { ruleIndexMatcher, type ActiveRule } from './active-rule.js';
import { EventBridge } from './matches.js';

/** One rule over one window: `(from, to]` on the event's timestamp, or on its ingest time. */
export interface PassWindow {
  /** The rule's place in the rule set the pass runs (see `ScheduledRuleSet`). */
  readonly rule: number;
  readonly from: number;
  readonly to: number;
  readonly byIngested: boolean;
}

/** What one window of one rule found, and what it cost. */
export interface WindowOutcome {
  readonly window: PassWindow;
  /** Events of the rule's indices in its window. */
  readonly searched: number;
  readonly matches: RuleMatch[];
  /** The rule's share of the pass's CPU time (see RunRecord.cpuMs). */
  readonly cpuMs: number;
  /** Set when the rule's matcher failed; its matches are then not to be written. */
  readonly error: string | null;
}

/** The scheduled rules that read one index, as one rule set that only scans. */
export interface IndexRuleSet {
  /** Entries are the rules' places among the scheduled rules. */
  readonly set: RuleIndex<number>;
  /** Per entry (a stateful code's rule, see ruleOfCode), its place among the scheduled rules. */
  readonly places: readonly number[];
  /** Reads of an event's text only the fields the rule set scans (see RuleSet.fieldsScanned). */
  readonly projector: JsonProjector;
}

/**
 * The scheduled rules, and per index the rule set of those that read it (a stateful rule gets a
 * matcher per window of each pass, see `SharedPass`). An index's rule set is built when the index
 * is first read and shared by every index whose rules are the same: building one costs far more
 * than one event, little against one pass, and an event is scanned only by the rules of its index.
 */
export class ScheduledRuleSet {
  /** Per rule, whether an index name is one of its indices (memoised per name). */
  private readonly accepts: Array<(index: string) => boolean>;
  private readonly byIndex = new Map<string, IndexRuleSet>();
  private readonly byRules = new Map<string, IndexRuleSet>();

  constructor(readonly rules: readonly ActiveRule[]) {
    this.accepts = rules.map(ruleIndexMatcher);
  }

  accepted(rule: number, index: string): boolean {
    return this.accepts[rule]!(index);
  }

  /** The rule set of the rules that read `index`. */
  forIndex(index: string): IndexRuleSet {
    let part = this.byIndex.get(index);
    if (part) return part;
    const places = this.rules.map((_, i) => i).filter((i) => this.accepted(i, index));
    const key = places.join(',');
    part = this.byRules.get(key);
    if (!part) {
      const set = new RuleIndex(
        places.map((i) => ({ rule: i, query: this.rules[i]!.compiled!, eventCategoryField: this.rules[i]!.rule.event_category_override })),
      );
      part = { set, places, projector: new JsonProjector(projection(set.fieldsScanned())) };
      this.byRules.set(key, part);
    }
    this.byIndex.set(index, part);
    return part;
  }
}

interface OpenWindow {
  readonly window: PassWindow;
  matches: RuleMatch[];
  matcher: Matcher | null;
  matcherMs: number;
  error: string | null;
}

/** For one index: its rule set, the time each field must lie in for some window of a rule that reads it (null: none). */
interface IndexWindows {
  readonly part: IndexRuleSet;
  readonly ts: TimeRange | null;
  readonly ingested: TimeRange | null;
  /** The times of its events seen, to count each window's events at the end. */
  readonly tsSeen: number[];
  readonly ingestedSeen: number[];
}

/** What an event scanned by its fields is handed as: its hits are given the document after. */
const NO_ID = {};

/** The range that holds every window given on one time field (null: none windows by it). */
function spanOf(ws: readonly PassWindow[], byIngested: boolean): TimeRange | null {
  const on = ws.filter((w) => w.byIngested === byIngested);
  return on.length === 0 ? null : { after: Math.min(...on.map((w) => w.from)), upTo: Math.max(...on.map((w) => w.to)) };
}

const inSpan = (s: TimeRange | null, t: number | null | undefined): t is number => s !== null && t !== null && t !== undefined && t > s.after && t <= s.upTo;

/** What the scan half of a pass tells the feed half at the end. */
export interface ScanSummary {
  /** Per window (in the order given), the events of its rule's indices within it. */
  readonly searched: readonly number[];
  /** Per rule (place), the filters the scan tested for it. */
  readonly tests: readonly number[];
  /** Time spent scanning, ms. */
  readonly scanMs: number;
}

/** What the pass must read of each time field: every window's range, over all indices. */
export function passSpans(windows: readonly PassWindow[]): { timestamp: TimeRange | null; ingested: TimeRange | null } {
  return { timestamp: spanOf(windows, false), ingested: spanOf(windows, true) };
}

/**
 * The scan half of a pass: which rules may take each event. It keeps no matcher, so it can run on
 * another thread than the feed half (the scheduler's scan thread): it reads events, projects them by
 * the fields the rules of their index read and scans them with those rules' index, and hands on
 * only the events some rule may take, with the rules' places and stateful codes.
 */
export class PassScan {
  private readonly byIndex = new Map<string, IndexWindows>();
  private readonly ruleHits: Array<RuleSetHit<number>> = [];
  private readonly ruleCodes: StatefulCode[] = [];
  /** Of the last event scanned that some rule may take: the places of the event queries it meets. */
  readonly hits: number[] = [];
  /** And its stateful codes, by place among the scheduled rules (see statefulCode). */
  readonly codes: number[] = [];
  /** And its document, when the scan had to parse it (a text not in ASCII alone). */
  parsed: Record<string, unknown> | null = null;
  private readonly testsBefore = new Map<IndexRuleSet, number[]>();
  private scanMs = 0;

  constructor(
    private readonly rules: ScheduledRuleSet,
    private readonly windows: readonly PassWindow[],
  ) {}

  private windowsOf(index: string): IndexWindows {
    let w = this.byIndex.get(index);
    if (!w) {
      const windows = this.windows.filter((x) => this.rules.accepted(x.rule, index));
      const part = this.rules.forIndex(index);
      if (!this.testsBefore.has(part)) this.testsBefore.set(part, part.set.testsByRule());
      w = { part, ts: spanOf(windows, false), ingested: spanOf(windows, true), tsSeen: [], ingestedSeen: [] };
      this.byIndex.set(index, w);
    }
    return w;
  }

  /** The text of the last event scanned as UTF-8, its first `size` bytes (see `bytes`). */
  private scratch = Buffer.alloc(1 << 16);
  size = 0;
  /** Whether the last event scanned was in ASCII alone (its UTF-8 bytes are its characters). */
  ascii = false;

  /** The UTF-8 bytes of the last event scanned (valid until the next scan). */
  get bytes(): Uint8Array {
    return this.scratch.subarray(0, this.size);
  }

  /** Scans one stored event, given as its text (or its document); true when some rule may take it (see `hits`, `codes`, `parsed`). */
  scan(index: string, ts: number | null, ingested: number | null, text: string, source?: Record<string, unknown>): boolean {
    const w = this.windowsOf(index);
    const byTs = inSpan(w.ts, ts);
    const byIngested = inSpan(w.ingested, ingested);
    if (!byTs && !byIngested) return false;
    if (byTs) w.tsSeen.push(ts!);
    if (byIngested) w.ingestedSeen.push(ingested!);
    const t0 = performance.now();
    const hits = this.ruleHits;
    const codes = this.ruleCodes;
    hits.length = 0;
    codes.length = 0;
    this.parsed = null;
    const { set, places, projector: pj } = w.part;
    // an ASCII text is scanned by the fields the rules read, taken from it without a parse; the
    // document is parsed only when some rule takes the event (other texts are parsed here). The text
    // is written as UTF-8: it is ASCII alone when it takes one byte a character
    if (this.scratch.length < text.length * 3) this.scratch = Buffer.alloc(Math.max(text.length * 3, this.scratch.length * 2));
    this.size = this.scratch.write(text, 0, 'utf8');
    this.ascii = this.size === text.length;
    const projected = source === undefined && this.ascii && pj.project(this.scratch, text, 0, text.length);
    if (projected) set.scanFields(pj.values, pj.filled, pj.filledCount, NO_ID, hits, codes);
    else {
      if (source === undefined) {
        const parsed = parseJsonObject(text);
        if (!parsed.ok) return false; // the store holds only JSON objects; a damaged one is not matched
        source = parsed.value;
      }
      this.parsed = source;
      set.scan({ _index: index, _id: '', _source: source }, hits, codes);
    }
    this.scanMs += performance.now() - t0;
    if (hits.length === 0 && codes.length === 0) return false;
    this.hits.length = 0;
    this.codes.length = 0;
    for (const h of hits) this.hits.push(h.rule);
    // the codes by place among the scheduled rules, not among this index's rules
    for (const c of codes) this.codes.push(statefulCode(places[ruleOfCode(c)]!, isGated(c)));
    return true;
  }

  /** Ends the scan. */
  summary(): ScanSummary {
    for (const iw of this.byIndex.values()) {
      iw.tsSeen.sort((a, b) => a - b);
      iw.ingestedSeen.sort((a, b) => a - b);
    }
    const tests = new Array<number>(this.rules.rules.length).fill(0);
    for (const [part, before] of this.testsBefore) part.set.testsByRule().forEach((n, k) => (tests[part.places[k]!]! += n - before[k]!));
    return { searched: this.windows.map((w) => this.searched(w)), tests, scanMs: this.scanMs };
  }

  /** Events of the rule's indices within the window, counted from the times seen per index. */
  private searched(w: PassWindow): number {
    let n = 0;
    for (const [index, iw] of this.byIndex) {
      if (!this.rules.accepted(w.rule, index)) continue;
      const times = w.byIngested ? iw.ingestedSeen : iw.tsSeen;
      n += upperBound(times, w.to) - upperBound(times, w.from);
    }
    return n;
  }
}

/** An event the scan half handed on, as the feed half needs it. */
export interface PassCandidate {
  readonly index: string;
  readonly id: string;
  readonly version: number;
  readonly ts: number | null;
  readonly ingested: number | null;
}

/**
 * The feed half of a pass: per window of a due rule, the events that rule's window takes, in arrival
 * order, to its own matcher (for a stateful rule) or as matches (for an event query). It parses an
 * event only when some window takes it: most events a stateful rule is handed are for a later stage
 * of a sequence that holds nothing yet.
 */
/** Events a matcher's flush takes between two looks at the clock (see PassFeed.finishSliced). */
const FLUSH_PIECE = 512;

export class PassFeed {
  private readonly open: OpenWindow[];
  /** Per rule, its windows in this pass. */
  private readonly byRule: OpenWindow[][];
  private readonly bridge = new EventBridge();
  /** Per event, the windows that take it, each with its matcher (null: an event query's hit). */
  private readonly takers: Array<OpenWindow | Matcher | null> = [];

  constructor(
    private readonly rules: ScheduledRuleSet,
    windows: readonly PassWindow[],
    /** CPU time a window's matcher may take (Kibana's rule timeout); past it the window fails and its matcher is dropped. */
    private readonly budgetMs = Infinity,
  ) {
    this.byRule = rules.rules.map(() => []);
    this.open = windows.map((w) => {
      const q = rules.rules[w.rule]!.compiled!;
      const o: OpenWindow = { window: w, matches: [], matcher: isStateful(q) ? q.createMatcher({ lateness: Infinity }) : null, matcherMs: 0, error: null };
      this.byRule[w.rule]!.push(o);
      return o;
    });
  }

  /** One event the scan handed on, with its places and codes (see PassScan), and its document on demand. */
  take(e: PassCandidate, hits: ArrayLike<number>, codes: ArrayLike<number>, doc: () => Record<string, unknown>): void {
    const takers = this.takers;
    takers.length = 0;
    for (let i = 0; i < hits.length; i++) for (const o of this.byRule[hits[i]!]!) if (this.takes(o, e)) takers.push(o, null);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      const gated = isGated(code);
      for (const o of this.byRule[ruleOfCode(code)]!) if (this.takes(o, e) && !(gated && o.matcher!.idle())) takers.push(o, o.matcher);
    }
    if (takers.length === 0) return;
    const source = doc();
    const event = { _index: e.index, _id: e.id, _source: source };
    // what alert ids need of the event (its version and stored time), for the matches it may make
    this.bridge.register(source, e.version, e.ts);
    for (let k = 0; k < takers.length; k += 2) {
      const o = takers[k] as OpenWindow;
      const m = takers[k + 1] as Matcher | null;
      if (m === null) this.add(o, event);
      else this.feed(o, () => m.push(event));
    }
  }

  private takes(o: OpenWindow, e: PassCandidate): boolean {
    const t = o.window.byIngested ? e.ingested : e.ts;
    return o.error === null && t !== null && t > o.window.from && t <= o.window.to && this.rules.accepted(o.window.rule, e.index);
  }

  private feed(o: OpenWindow, step: () => Array<EventHit | SequenceHit>): void {
    const t0 = performance.now();
    try {
      for (const hit of step()) this.add(o, hit);
    } catch (err) {
      o.error = err instanceof Error ? err.message : String(err);
    }
    o.matcherMs += performance.now() - t0;
    if (o.matcherMs > this.budgetMs && o.error === null) {
      o.error = `the execution was stopped after ${Math.round(o.matcherMs).toLocaleString('en-US')} ms of CPU time, past its budget of ${Math.round(this.budgetMs).toLocaleString('en-US')} ms (--rule-timeout); its window is left as a gap`;
      // what it held is let go at once (a runaway sequence's state can be large)
      o.matcher = null;
      o.matches = [];
    }
  }

  private add(o: OpenWindow, hit: EventHit | SequenceHit): void {
    const m = this.bridge.toMatch(hit);
    if (m) o.matches.push(m);
  }

  /** Ends the pass: stateful rules report what they hold; one outcome per window, in the order given. */
  finish(scan: ScanSummary): WindowOutcome[] {
    for (const o of this.open) if (o.matcher && o.error === null) this.feed(o, () => o.matcher!.flush());
    return this.outcomes(scan);
  }

  /**
   * As `finish`, with a pause whenever `sliceMs` passed since the last: the end of a window sorts and
   * feeds what its matcher holds, and a pass's windows ended in one block kept the server from
   * answering for seconds. Null when `stopped()` says so after a pause.
   */
  async finishSliced(scan: ScanSummary, pause: () => Promise<void>, sliceMs: number, stopped: () => boolean): Promise<WindowOutcome[] | null> {
    let sliceStart = performance.now();
    for (const o of this.open) {
      // a matcher's flush a piece at a time (it may hold every event of the window, to sort them)
      for (let done = false; !done && o.matcher && o.error === null; ) {
        this.feed(o, () => {
          const r = o.matcher!.flushSome(FLUSH_PIECE);
          done = r.done;
          return r.hits;
        });
        if (performance.now() - sliceStart >= sliceMs) {
          await pause();
          if (stopped()) return null;
          sliceStart = performance.now();
        }
      }
    }
    return this.outcomes(scan);
  }

  private outcomes(scan: ScanSummary): WindowOutcome[] {
    const totalTests = scan.tests.reduce((a, b) => a + b, 0);
    return this.open.map((o, i) => {
      const share = totalTests === 0 ? 0 : (scan.scanMs * scan.tests[o.window.rule]!) / totalTests / this.byRule[o.window.rule]!.length;
      return { window: o.window, searched: scan.searched[i]!, matches: o.matches, cpuMs: o.matcherMs + share, error: o.error };
    });
  }
}

/**
 * One pass over stored events (in arrival order, see `EventStore.scanArrivals`) for every window of
 * the rules due together, whichever time each windows by, on one thread: each event is scanned once
 * by the rules of its index and parsed at most once, and a hit counts for a window only when the
 * event lies in it and in the rule's indices. So rules due at the same time share the read, the
 * parse and the index lookups, and each keeps its own window, and so its own results: the same as
 * running it alone over its window. (The scheduler may instead run the scan half on a thread of
 * its own and feed its candidates here through `PassFeed`.)
 */
export class SharedPass {
  private readonly scanHalf: PassScan;
  private readonly feedHalf: PassFeed;

  constructor(rules: ScheduledRuleSet, windows: readonly PassWindow[], budgetMs = Infinity) {
    this.scanHalf = new PassScan(rules, windows);
    this.feedHalf = new PassFeed(rules, windows, budgetMs);
  }

  /** One stored event. */
  push(e: StoredEvent): void {
    const s = this.scanHalf;
    if (!s.scan(e.index, e.ts, e.ingested ?? null, e.json, e.source as Record<string, unknown> | undefined)) return;
    const candidate: PassCandidate = { index: e.index, id: e.id, version: e.version, ts: e.ts, ingested: e.ingested ?? null };
    this.feedHalf.take(candidate, s.hits, s.codes, () => s.parsed ?? (JSON.parse(e.json) as Record<string, unknown>));
  }

  /** Ends the pass: one outcome per window, in the order given. */
  finish(): WindowOutcome[] {
    return this.feedHalf.finish(this.scanHalf.summary());
  }

  /** See PassFeed.finishSliced. */
  finishSliced(pause: () => Promise<void>, sliceMs: number, stopped: () => boolean): Promise<WindowOutcome[] | null> {
    return this.feedHalf.finishSliced(this.scanHalf.summary(), pause, sliceMs, stopped);
  }
}

/** The number of leading values `<= x` in a sorted array. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
