import type { Enrichment, MatchedEvent, RuleMatch } from '../alerts/index.js';
import { compileStatement, IndicatorIndex, NewTermsTracker, ThresholdCounter, type IndicatorDoc, type IndicatorMatch, type TermsSighting } from '../engine/index.js';
import { createFieldGetter, parseFieldPath } from '../ecs/index.js';
import { createIndexMatcher, parseJsonObject } from '../core/index.js';
import { ruleKqlStatement } from '../kql/index.js';
import type { ThreatMatchParams } from '../rules/index.js';
import type { Store } from '../store/index.js';
import { stateScope, type ActiveRule, type Aggregation } from './active-rule.js';

/** Combinations of values an aggregating rule remembers at most (the latest kept). */
export const MAX_TERMS_PER_RULE = 200_000;
/** A rule's memory up to this size is read at once (see RuleAggregator.lookup). */
const PRELOAD_TERMS = 20_000;

/** The event matches of a list, in time order (events without a time last), the order they came in otherwise. */
function eventsInTimeOrder(matches: readonly RuleMatch[]): MatchedEvent[] {
  const events: MatchedEvent[] = [];
  for (const m of matches) if (m.kind === 'event') events.push(m.event);
  return events.map((e, i) => ({ e, i })).sort((a, b) => (a.e.time ?? Infinity) - (b.e.time ?? Infinity) || a.i - b.i).map((x) => x.e);
}

/**
 * One rule's executions in one record, for the aggregating types: what each window's event
 * matches come to (threshold groups, new terms, indicator matches), with the memory the type keeps
 * in the store (`Store.terms`) read as needed and written by `commit`, in the same transaction as
 * the alerts. A record that is not committed leaves the memory as it was, so the windows run again
 * give the same alerts (and ids).
 */
export class RuleAggregator {
  private readonly scope: string;
  private readonly pending = new Map<string, TermsSighting>();
  private readonly tracker: NewTermsTracker | null;
  private indicators: IndicatorIndex | null = null;
  private learnedUntil: number | null;

  constructor(
    private readonly store: Store,
    private readonly rule: ActiveRule,
    private readonly aggregation: Aggregation,
    private readonly now: number,
  ) {
    this.scope = stateScope(rule.rule);
    this.learnedUntil = aggregation.kind === 'new_terms' ? learnedUntil(store, this.scope) : null;
    this.tracker = aggregation.kind === 'new_terms' ? new NewTermsTracker(aggregation.params, this.lookup()) : null;
  }

  /**
   * How the rule's memory is read: all at once when it is small (a first run reads nothing; a
   * broad rule over noisy data asked for tens of thousands of keys one by one), else key by key.
   */
  private lookup(): (key: string) => TermsSighting | null {
    if (this.store.terms.count(this.scope) > PRELOAD_TERMS) return (key) => this.store.terms.get(this.scope, key);
    const all = this.store.terms.all(this.scope);
    return (key) => all.get(key) ?? null;
  }

  /**
   * The stretch of history a new-terms rule must learn before a window starting at `from` (null:
   * none): from where its memory ends (or the history window's start, when it has none) to `from`.
   */
  static historyBefore(store: Store, rule: ActiveRule, from: number): { from: number; to: number } | null {
    if (rule.aggregation?.kind !== 'new_terms') return null;
    const start = from - rule.aggregation.params.historyMs;
    const until = learnedUntil(store, stateScope(rule.rule));
    const a = until === null ? start : Math.max(until, start);
    return a < from ? { from: a, to: from } : null;
  }

  /** The matches of a stretch of history before the windows: remembered, never alerted. */
  learn(matches: readonly RuleMatch[], to: number): void {
    if (!this.tracker) return;
    for (const e of eventsInTimeOrder(matches)) if (e.time !== null) this.tracker.learn(e.source, e.time);
    this.learnedUntil = Math.max(this.learnedUntil ?? -Infinity, to);
  }

  /** What one window's matches come to (the window `(from, to]`). */
  window(matches: readonly RuleMatch[], to: number): RuleMatch[] {
    switch (this.aggregation.kind) {
      case 'threshold':
        return this.threshold(matches);
      case 'new_terms': {
        const out: RuleMatch[] = [];
        for (const e of eventsInTimeOrder(matches)) {
          if (e.time === null) continue;
          for (const terms of this.tracker!.observe(e.source, e.time)) out.push({ kind: 'new_terms', event: e, terms });
        }
        this.learnedUntil = Math.max(this.learnedUntil ?? -Infinity, to);
        return out;
      }
      case 'threat_match':
        return this.threat(matches, this.aggregation.params);
    }
  }

  private threshold(matches: readonly RuleMatch[]): RuleMatch[] {
    if (this.aggregation.kind !== 'threshold') return [];
    const since = (key: string): number | null => (this.pending.get(key) ?? this.store.terms.get(this.scope, key))?.last ?? null;
    const counter = new ThresholdCounter(this.aggregation.params, since);
    for (const e of eventsInTimeOrder(matches)) if (e.time !== null) counter.add(e.source, e.time);
    const out: RuleMatch[] = [];
    for (const b of counter.reached()) {
      // the group's alert counted its events up to its latest: the next windows count the later ones
      this.pending.set(b.key, { first: b.from, last: b.to });
      out.push({ kind: 'threshold', result: { terms: b.terms, count: b.count, cardinality: b.cardinality, from: b.from, to: b.to } });
    }
    return out;
  }

  private threat(matches: readonly RuleMatch[], p: ThreatMatchParams): RuleMatch[] {
    this.indicators ??= loadIndicators(this.store, p, this.now);
    const idx = this.indicators;
    // no indicator stored: no event can match (the service's own data holds none of most feeds)
    if (idx.size === 0) return [];
    const path = createFieldGetter(parseFieldPath(p.indicatorPath));
    const out: RuleMatch[] = [];
    for (const m of matches) {
      if (m.kind !== 'event') continue;
      const found = idx.matches(m.event.source);
      if (found.length > 0) out.push({ kind: 'threat', event: m.event, enrichments: found.map((f) => enrichment(f, path)) });
    }
    return out;
  }

  /** Keeps what the executions learnt (in the caller's transaction), and forgets what the history window no longer needs. */
  commit(): void {
    const terms = this.store.terms;
    if (this.tracker) {
      terms.put(this.scope, this.tracker.changes());
      if (this.learnedUntil !== null && Number.isFinite(this.learnedUntil)) this.store.meta.put(learnedKey(this.scope), String(this.learnedUntil));
      terms.prune(this.scope, this.now - this.rule.lookbackMs - (this.aggregation.kind === 'new_terms' ? this.aggregation.params.historyMs : 0), MAX_TERMS_PER_RULE);
    } else if (this.pending.size > 0) {
      terms.put(this.scope, this.pending);
      // a group's history matters while its events can still be in a window
      terms.prune(this.scope, this.now - 2 * this.rule.lookbackMs, MAX_TERMS_PER_RULE);
    }
  }
}

const learnedKey = (scope: string): string => `terms-learned:${scope}`;

function learnedUntil(store: Store, scope: string): number | null {
  const v = store.meta.get(learnedKey(scope));
  return v === null ? null : Number(v);
}

function enrichment(f: IndicatorMatch, path: (s: unknown) => unknown): Enrichment {
  const at = path(f.indicator.source);
  const indicator = at && typeof at === 'object' && !Array.isArray(at) ? (at as Record<string, unknown>) : {};
  const feedName = createFieldGetter(parseFieldPath('threat.feed.name'))(f.indicator.source);
  return {
    indicator,
    matched: { atomic: f.atomic, field: f.field, id: f.indicator.id, index: f.indicator.index, type: 'indicator_match_rule' },
    feed: typeof feedName === 'string' ? { name: feedName } : {},
  };
}

/**
 * Whether a document is an indicator of an indicator-match rule: its indicator query (date math at
 * `now`) and its filters take it. Null when the indicator query cannot run.
 */
export function indicatorTest(p: ThreatMatchParams, now: number): ((doc: IndicatorDoc) => boolean) | null {
  const t = ruleKqlStatement(p.query, now);
  if (!t.ok) return null;
  const matcher = compileStatement(t.statement).createMatcher();
  const filters = p.filters.map((f) => ({ get: createFieldGetter(parseFieldPath(f.field)), value: f.value, negate: f.negate }));
  const holds = (source: unknown): boolean =>
    filters.every((f) => {
      const v = f.get(source);
      const hit = Array.isArray(v) ? v.some((x) => x === f.value) : v === f.value;
      return hit !== f.negate;
    });
  return (doc) => holds(doc.source) && matcher.push({ _index: doc.index, _id: doc.id, _source: doc.source as Record<string, unknown> }).length > 0;
}

/** The enrichment of an alert for one indicator an event matched (Kibana's `threat.enrichments` entry). */
export function enrichmentOf(f: IndicatorMatch, p: ThreatMatchParams): Enrichment {
  return enrichment(f, createFieldGetter(parseFieldPath(p.indicatorPath)));
}

/**
 * The indicators of an indicator-match rule: the stored documents of its indicator indices that its
 * indicator query (its date math at `now`) and filters take.
 */
export function loadIndicators(store: Store, p: ThreatMatchParams, now: number): IndicatorIndex {
  const idx = new IndicatorIndex(p);
  const test = indicatorTest(p, now);
  if (test === null) return idx;
  const accepts = createIndexMatcher(p.index);
  const names = store.events.indices().map((i) => i.name).filter(accepts);
  if (names.length === 0) return idx;
  // every stored indicator (the indicator query says which times count), read by any ingest time
  for (const e of store.events.scanArrivals({ patterns: names, ingested: { after: Number.MIN_SAFE_INTEGER, upTo: Number.MAX_SAFE_INTEGER } })) {
    const parsed = e.source ? { ok: true as const, value: e.source as Record<string, unknown> } : parseJsonObject(e.json);
    if (!parsed.ok) continue;
    const doc = { index: e.index, id: e.id, source: parsed.value };
    if (test(doc)) idx.add(doc);
  }
  return idx;
}
