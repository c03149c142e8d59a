import { childExprs, type EventFilter, type Expr } from '../eql/index.js';
import type { CompiledQuery, EventHit, Matcher, SequenceHit } from './compile-query.js';
import type { EventInput, EventText, Verdict } from './event.js';

/**
 * The second half of the multi-rule engine (the first is `RuleIndex`, which decides which rules an
 * event meets): the matchers of stateful rules (sequences, samples, pipes, and event queries whose
 * filter needs engine state), fed in input order with the events the index hands them as codes.
 */

const sharedNeeds = new WeakMap<Expr, boolean>();

/** A rule as the engine takes it. */
export interface RuleSetEntry<R> {
  readonly rule: R;
  readonly query: CompiledQuery;
  /** The field the query's category test reads (default `event.category`). */
  readonly eventCategoryField?: string;
  /** This rule's lateness (ms), over the stateful rules'; for matchers. */
  readonly lateness?: number;
  /**
   * A matcher of this query to feed, kept from an earlier rule set (so that a stateful rule keeps
   * what it holds when other rules change); by default a new one.
   */
  readonly matcher?: Matcher;
}

export interface RuleSetHit<R> {
  readonly rule: R;
  readonly hit: EventHit | SequenceHit;
}

/** What an event is to a stateful rule: `order * 2` (its place among the entries), plus 1 when it passes only its gated filters. */
export type StatefulCode = number;

/** The code of an event for the rule at `order` among the entries; `gated` when it passed only later stages' filters. */
export function statefulCode(order: number, gated: boolean): StatefulCode {
  return order * 2 + (gated ? 1 : 0);
}

/** Whether a stateful code came of a later stage only (of use only while the sequence holds something). */
export function isGated(code: StatefulCode): boolean {
  return (code & 1) === 1;
}

/** The rule (its place among the entries) of a stateful code. */
export function ruleOfCode(code: StatefulCode): number {
  return code >> 1;
}

/** Whether a condition needs engine state (endgame's relationships): then the rule's matcher sees every event. */
export function needsState(e: Expr): boolean {
  if (e.kind === 'logical' && e.shared) {
    // a condition many rules share (their exceptions, maybe a 100,000-value list): walked once
    let v = sharedNeeds.get(e);
    if (v === undefined) sharedNeeds.set(e, (v = childExprs(e).some(needsState)));
    return v;
  }
  return e.kind === 'relationship' || childExprs(e).some(needsState);
}

/** The filters of a query, each a unit of the index: the event query's, or every stage's and until's. */
export function queryFilters(query: CompiledQuery): EventFilter[] {
  const q = query.ast.query;
  return q.kind === 'event' ? [q.filter] : [...q.stages.map((st) => st.filter), ...('until' in q && q.until ? [q.until.filter] : [])];
}

/** Whether a query keeps state across events (a sequence, a sample, pipes). */
export function isStateful(query: CompiledQuery): boolean {
  return query.kind !== 'event' || query.ast.pipes.length > 0;
}

/**
 * Whether the index answers a rule by its filter alone (an event query without pipes, whose filter
 * needs no engine state, in an indexed set); every other rule has a matcher.
 */
export function isDirect(query: CompiledQuery, indexed: boolean): boolean {
  return !isStateful(query) && indexed && !queryFilters(query).some((f) => needsState(f.condition));
}

export interface StatefulRulesOptions {
  /** As RuleIndexOptions.indexed: false gives every rule a matcher. */
  readonly indexed?: boolean;
  /**
   * How far (ms) an event may arrive behind the newest one and still be put in order for sequences
   * and samples (default: all input is ordered before matching, which holds it in memory).
   */
  readonly lateness?: number;
}

/** The matchers of the rules the index does not answer alone, by the rules' places among the entries. */
export class StatefulRules<R> {
  private readonly slots: Array<{ readonly rule: R; readonly matcher: Matcher | null }>;

  constructor(entries: ReadonlyArray<RuleSetEntry<R>>, options: StatefulRulesOptions = {}) {
    const indexed = options.indexed !== false;
    this.slots = entries.map((entry) => {
      const { rule, query } = entry;
      if (isDirect(query, indexed)) return { rule, matcher: null };
      // stateful rules keep events in order; event queries answer at once
      const lateness = isStateful(query) ? (entry.lateness ?? options.lateness ?? Infinity) : 0;
      return { rule, matcher: entry.matcher ?? query.createMatcher({ lateness }) };
    });
  }

  /** The matcher a rule is fed through (null for an event query the index answers). */
  matcherOf(order: number): Matcher | null {
    return this.slots[order]?.matcher ?? null;
  }

  /** Whether the rule of `code` needs its event now (false: a gated event the rule cannot use). */
  wants(code: StatefulCode): boolean {
    return !isGated(code) || !this.slots[ruleOfCode(code)]!.matcher!.idle();
  }

  /**
   * Hands an event to the rule of `code` (in input order), with the verdict the index gave with the
   * code, if any; hits it completes go to `out`.
   */
  feed(code: StatefulCode, event: EventInput | EventText, out: Array<RuleSetHit<R>>, verdict?: Verdict): void {
    const slot = this.slots[ruleOfCode(code)]!;
    for (const hit of slot.matcher!.push(event, verdict)) out.push({ rule: slot.rule, hit });
  }

  /** Partial sequences and samples given up at their caps on open state, over all rules. */
  droppedByCap(): number {
    let n = 0;
    for (const s of this.slots) n += (s.matcher?.counters.sequence?.droppedByCap ?? 0) + (s.matcher?.counters.sample?.droppedByCap ?? 0);
    return n;
  }

  /** Events that reached a stateful rule after a later one, over all rules. */
  lateEvents(): number {
    let n = 0;
    for (const s of this.slots) n += s.matcher?.counters.late ?? 0;
    return n;
  }

  /** Ends the input: the rules report what they found. */
  flush(out: Array<RuleSetHit<R>>): void {
    for (const s of this.slots) for (const hit of s.matcher?.flush() ?? []) out.push({ rule: s.rule, hit });
  }
}
