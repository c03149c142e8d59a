import type { RuleMatch } from '../alerts/index.js';
import { JsonProjector, parseJsonObject, projection } from '../core/index.js';
import { RuleSet, type EventHit, type Matcher, type RuleSetHit, type SequenceHit, type StatefulCode } from '../engine/index.js';
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
  readonly set: RuleSet<number>;
  /** Per entry (a stateful code's rule, see RuleSet.ruleOf), its place among the scheduled rules. */
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
      const set = new RuleSet(
        places.map((i) => ({ rule: i, query: this.rules[i]!.compiled!, eventCategoryField: this.rules[i]!.rule.event_category_override })),
        { role: 'scan' },
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
  readonly matches: RuleMatch[];
  /** Stateful rules: a matcher of its own for this window (events come in arrival order: it orders them). */
  readonly matcher: Matcher | null;
  matcherMs: number;
  error: string | null;
}

/** For one index: the time each field must lie in for some window of a rule that reads it (null: none). */
interface IndexWindows {
  readonly part: IndexRuleSet;
  readonly ts: TimeRange | null;
  readonly ingested: TimeRange | null;
  /** The times of its events seen, to count each window's events at the end. */
  readonly tsSeen: number[];
  readonly ingestedSeen: number[];
}

/** Text in ASCII alone: its bytes are its characters, as the projector needs. */
const NOT_ASCII = /[^\u0000-\u007f]/; // eslint-disable-line no-control-regex

/** What an event scanned by its fields is handed as: its hits are given the document after. */
const NO_ID = {};

/** The range that holds every window given on one time field (null: none windows by it). */
function spanOf(ws: readonly PassWindow[], byIngested: boolean): TimeRange | null {
  const on = ws.filter((w) => w.byIngested === byIngested);
  return on.length === 0 ? null : { after: Math.min(...on.map((w) => w.from)), upTo: Math.max(...on.map((w) => w.to)) };
}

const inSpan = (s: TimeRange | null, t: number | null | undefined): t is number => s !== null && t !== null && t !== undefined && t > s.after && t <= s.upTo;

/**
 * One pass over stored events (in arrival order, see `EventStore.scanArrivals`) for every window of
 * the rules due together, whichever time each windows by: each event is parsed once and scanned once
 * by the rule set, and a hit counts for a window only when the event lies in it and in the rule's
 * indices. So rules due at the same time share the read, the parse and the index lookups, and each
 * keeps its own window, and so its own results: the same as running it alone over its window.
 */
export class SharedPass {
  private readonly open: OpenWindow[];
  /** Per rule, its windows in this pass. */
  private readonly byRule: OpenWindow[][];
  private readonly byIndex = new Map<string, IndexWindows>();
  private readonly bridge = new EventBridge();
  private readonly hits: Array<RuleSetHit<number>> = [];
  private readonly codes: StatefulCode[] = [];
  /** Per event, the windows that take it, each with its matcher (null: an event query's hit). */
  private readonly takers: Array<OpenWindow | Matcher | null> = [];
  /** Per rule set used, the tests its rules had run before the pass (for their cost). */
  private readonly testsBefore = new Map<IndexRuleSet, number[]>();
  private scanMs = 0;

  constructor(
    private readonly rules: ScheduledRuleSet,
    windows: readonly PassWindow[],
  ) {
    this.byRule = rules.rules.map(() => []);
    this.open = windows.map((w) => {
      const q = rules.rules[w.rule]!.compiled!;
      const stateful = q.kind !== 'event' || q.ast.pipes.length > 0;
      const o: OpenWindow = { window: w, matches: [], matcher: stateful ? q.createMatcher({ lateness: Infinity }) : null, matcherMs: 0, error: null };
      this.byRule[w.rule]!.push(o);
      return o;
    });
  }

  /** What the pass must read of each time field: every window's range, over all indices. */
  static spans(windows: readonly PassWindow[]): { timestamp: TimeRange | null; ingested: TimeRange | null } {
    return { timestamp: spanOf(windows, false), ingested: spanOf(windows, true) };
  }

  private windowsOf(index: string): IndexWindows {
    let w = this.byIndex.get(index);
    if (!w) {
      const windows = this.open.filter((o) => this.rules.accepted(o.window.rule, index)).map((o) => o.window);
      const part = this.rules.forIndex(index);
      if (!this.testsBefore.has(part)) this.testsBefore.set(part, part.set.testsByRule());
      w = { part, ts: spanOf(windows, false), ingested: spanOf(windows, true), tsSeen: [], ingestedSeen: [] };
      this.byIndex.set(index, w);
    }
    return w;
  }

  /** One stored event. */
  push(e: StoredEvent): void {
    const w = this.windowsOf(e.index);
    const byTs = inSpan(w.ts, e.ts);
    const byIngested = inSpan(w.ingested, e.ingested);
    if (!byTs && !byIngested) return;
    if (byTs) w.tsSeen.push(e.ts!);
    if (byIngested) w.ingestedSeen.push(e.ingested!);
    const t0 = performance.now();
    const hits = this.hits;
    const codes = this.codes;
    hits.length = 0;
    codes.length = 0;
    const { set, places, projector: pj } = w.part;
    // an ASCII text is scanned by the fields the rules read, taken from it without a parse; the
    // document is parsed only when some rule takes the event (other texts are parsed first)
    let source: Record<string, unknown> | null = (e.source as Record<string, unknown> | undefined) ?? null;
    if (source === null && !NOT_ASCII.test(e.json) && pj.project(Buffer.from(e.json, 'latin1'), e.json, 0, e.json.length)) {
      set.scanFields(pj.values, pj.filled, pj.filledCount, NO_ID, hits, codes);
    } else {
      if (source === null) {
        const parsed = parseJsonObject(e.json);
        if (!parsed.ok) return; // the store holds only JSON objects; a damaged one is not matched
        source = parsed.value;
      }
      set.scan({ _index: e.index, _id: e.id, _source: source }, hits, codes);
    }
    this.scanMs += performance.now() - t0;
    if (hits.length === 0 && codes.length === 0) return;
    // the windows that take the event, found before it is parsed: most events a stateful rule gets
    // are for a later stage of a sequence that holds nothing yet, and need no parse
    const takers = this.takers;
    takers.length = 0;
    for (const h of hits) for (const o of this.byRule[h.rule]!) if (this.takes(o, e)) takers.push(o, null);
    for (const code of codes) {
      const gated = set.gated(code);
      for (const o of this.byRule[places[set.ruleOf(code)]!]!) if (this.takes(o, e) && !(gated && o.matcher!.idle())) takers.push(o, o.matcher);
    }
    if (takers.length === 0) return;
    source ??= JSON.parse(e.json) as Record<string, unknown>;
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

  private takes(o: OpenWindow, e: StoredEvent): boolean {
    return o.error === null && inWindow(o.window, e) && this.rules.accepted(o.window.rule, e.index);
  }

  private feed(o: OpenWindow, step: () => Array<EventHit | SequenceHit>): void {
    const t0 = performance.now();
    try {
      for (const hit of step()) this.add(o, hit);
    } catch (err) {
      o.error = err instanceof Error ? err.message : String(err);
    }
    o.matcherMs += performance.now() - t0;
  }

  private add(o: OpenWindow, hit: EventHit | SequenceHit): void {
    const m = this.bridge.toMatch(hit);
    if (m) o.matches.push(m);
  }

  /** Ends the pass: stateful rules report what they hold; one outcome per window, in the order given. */
  finish(): WindowOutcome[] {
    for (const iw of this.byIndex.values()) {
      iw.tsSeen.sort((a, b) => a - b);
      iw.ingestedSeen.sort((a, b) => a - b);
    }
    for (const o of this.open) if (o.matcher && o.error === null) this.feed(o, () => o.matcher!.flush());
    const tests = new Array<number>(this.rules.rules.length).fill(0);
    for (const [part, before] of this.testsBefore) part.set.testsByRule().forEach((n, k) => (tests[part.places[k]!]! += n - before[k]!));
    const totalTests = tests.reduce((a, b) => a + b, 0);
    return this.open.map((o) => {
      const share = totalTests === 0 ? 0 : (this.scanMs * tests[o.window.rule]!) / totalTests / this.byRule[o.window.rule]!.length;
      return { window: o.window, searched: this.searched(o.window), matches: o.matches, cpuMs: o.matcherMs + share, error: o.error };
    });
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

function inWindow(w: PassWindow, e: StoredEvent): boolean {
  const t = w.byIngested ? e.ingested : e.ts;
  return t !== null && t !== undefined && t > w.from && t <= w.to;
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
