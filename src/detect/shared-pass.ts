import type { RuleMatch } from '../alerts/index.js';
import { createIndexMatcher, parseJsonObject } from '../core/index.js';
import { RuleSet, type EventHit, type Matcher, type RuleSetHit, type SequenceHit, type StatefulCode } from '../engine/index.js';
import type { StoredEvent } from '../store/index.js';
import type { ActiveRule } from './active-rule.js';
import { EventBridge } from './matches.js';

/** One rule over one window: `(from, to]` on the pass's time field. */
export interface PassWindow {
  /** The rule's place in the rule set the pass runs (see `ScheduledRuleSet`). */
  readonly rule: number;
  readonly from: number;
  readonly to: number;
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

/**
 * The scheduled rules as one rule set that only scans (a stateful rule gets a matcher per window of
 * each pass, see `SharedPass`). Built once per set of rules: building it costs far more than one
 * event, little against one pass.
 */
export class ScheduledRuleSet {
  readonly set: RuleSet<number>;
  /** Per rule, whether an index name is one of its indices (memoised per name). */
  private readonly accepts: Array<(index: string) => boolean>;

  constructor(readonly rules: readonly ActiveRule[]) {
    this.set = new RuleSet(
      rules.map((r, i) => ({ rule: i, query: r.compiled!, eventCategoryField: r.rule.event_category_override })),
      { role: 'scan' },
    );
    this.accepts = rules.map((r) => memoByName(createIndexMatcher(r.indexPatterns)));
  }

  accepted(rule: number, index: string): boolean {
    return this.accepts[rule]!(index);
  }
}

function memoByName(f: (name: string) => boolean): (name: string) => boolean {
  const seen = new Map<string, boolean>();
  return (name) => {
    let v = seen.get(name);
    if (v === undefined) seen.set(name, (v = f(name)));
    return v;
  };
}

interface OpenWindow {
  readonly window: PassWindow;
  readonly matches: RuleMatch[];
  /** Stateful rules: a matcher of its own for this window, fed in time order. */
  readonly matcher: Matcher | null;
  matcherMs: number;
  error: string | null;
}

/**
 * One pass over stored events, in the order of a time field, for every window of the rules due
 * together: each event is parsed once and scanned once by the rule set, and a hit counts for a
 * window only when the event lies in it and in the rule's indices. So rules due at the same time
 * share the read, the parse and the index lookups, and each keeps its own window, and so its own
 * results: the same as running it alone over its window.
 */
export class SharedPass {
  private readonly open: OpenWindow[];
  /** Per rule, its windows in this pass. */
  private readonly byRule: OpenWindow[][];
  /** Per index name: the windows of rules that read it, and the time span they cover. */
  private readonly byIndex = new Map<string, { readonly windows: OpenWindow[]; readonly from: number; readonly to: number }>();
  /** Per index name, the times of its events seen (in order), to count each window's events. */
  private readonly times = new Map<string, number[]>();
  private readonly bridge = new EventBridge();
  private readonly hits: Array<RuleSetHit<number>> = [];
  private readonly codes: StatefulCode[] = [];
  private readonly testsBefore: number[];
  private scanMs = 0;

  constructor(
    private readonly rules: ScheduledRuleSet,
    windows: readonly PassWindow[],
    private readonly byIngested: boolean,
  ) {
    this.byRule = rules.rules.map(() => []);
    this.open = windows.map((w) => {
      const q = rules.rules[w.rule]!.compiled!;
      const stateful = q.kind !== 'event' || q.ast.pipes.length > 0;
      // in timestamp order already, unless the rule orders by another field or the pass by ingest time
      const ordered = !byIngested && !rules.rules[w.rule]!.rule.timestamp_override;
      const o: OpenWindow = { window: w, matches: [], matcher: stateful ? q.createMatcher({ lateness: ordered ? 0 : Infinity }) : null, matcherMs: 0, error: null };
      this.byRule[w.rule]!.push(o);
      return o;
    });
    this.testsBefore = rules.set.testsByRule();
  }

  private windowsOf(index: string): { readonly windows: OpenWindow[]; readonly from: number; readonly to: number } {
    let w = this.byIndex.get(index);
    if (!w) {
      const windows = this.open.filter((o) => this.rules.accepted(o.window.rule, index));
      w = { windows, from: Math.min(...windows.map((o) => o.window.from)), to: Math.max(...windows.map((o) => o.window.to)) };
      this.byIndex.set(index, w);
      this.times.set(index, []);
    }
    return w;
  }

  /** One stored event, in the pass's time order. */
  push(e: StoredEvent): void {
    const t = this.byIngested ? e.ingested : e.ts;
    if (t === undefined || t === null) return;
    const span = this.windowsOf(e.index);
    if (span.windows.length === 0 || t <= span.from || t > span.to) return;
    this.times.get(e.index)!.push(t);
    const t0 = performance.now();
    const parsed = e.source ? { ok: true as const, value: e.source as Record<string, unknown> } : parseJsonObject(e.json);
    if (!parsed.ok) return; // the store holds only JSON objects; a damaged one is not matched
    const source = parsed.value;
    this.bridge.register(source, e.version, e.ts);
    const event = { _index: e.index, _id: e.id, _source: source };
    const hits = this.hits;
    const codes = this.codes;
    hits.length = 0;
    codes.length = 0;
    this.rules.set.scan(event, hits, codes);
    this.scanMs += performance.now() - t0;
    for (const h of hits) {
      for (const o of this.byRule[h.rule]!) if (inWindow(o.window, t) && this.rules.accepted(o.window.rule, e.index)) this.add(o, h.hit);
    }
    for (const code of codes) {
      for (const o of this.byRule[this.rules.set.ruleOf(code)]!) {
        if (o.error !== null || !inWindow(o.window, t) || !this.rules.accepted(o.window.rule, e.index)) continue;
        const m = o.matcher!;
        // an event of a later stage only: of use only while the sequence holds something
        if ((code & 1) === 1 && m.idle()) continue;
        this.feed(o, () => m.push(event));
      }
    }
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
    for (const o of this.open) if (o.matcher && o.error === null) this.feed(o, () => o.matcher!.flush());
    const tests = this.rules.set.testsByRule().map((n, i) => n - this.testsBefore[i]!);
    const totalTests = tests.reduce((a, b) => a + b, 0);
    return this.open.map((o) => {
      const share = totalTests === 0 ? 0 : (this.scanMs * tests[o.window.rule]!) / totalTests / this.byRule[o.window.rule]!.length;
      return { window: o.window, searched: this.searched(o.window), matches: o.matches, cpuMs: o.matcherMs + share, error: o.error };
    });
  }

  /** Events of the rule's indices within the window, counted from the times seen per index. */
  private searched(w: PassWindow): number {
    let n = 0;
    for (const [index, times] of this.times) if (this.rules.accepted(w.rule, index)) n += upperBound(times, w.to) - upperBound(times, w.from);
    return n;
  }
}

function inWindow(w: PassWindow, t: number): boolean {
  return t > w.from && t <= w.to;
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
