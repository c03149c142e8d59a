import { buildAlerts, matchAlertId, type BuiltAlert, type MatchedEvent, type RuleMatch } from '../alerts/index.js';
import type { EventHit, SequenceHit } from '../engine/index.js';
import type { Store } from '../store/index.js';
import type { ActiveRule } from './active-rule.js';

/** What writing a rule's matches did. */
export interface WriteOutcome {
  /** Alerts written (sequence alerts count once, not per building block). */
  readonly written: number;
  /** Matches whose alert already existed (overlapping windows, retries). */
  readonly existing: number;
  /** New matches left out by the cap (`max_signals`). */
  readonly dropped: number;
  readonly alerts: BuiltAlert[];
}

/**
 * Remembers, for documents parsed from stored events, what alert ids and times need (version,
 * stored time), and turns the engine's hits into matches. One bridge serves every rule of a pass.
 */
export class EventBridge {
  private readonly meta = new WeakMap<object, { version: number; ts: number | null }>();

  register(source: object, version: number, ts: number | null): void {
    this.meta.set(source, { version, ts });
  }

  matched(h: EventHit): MatchedEvent {
    const m = this.meta.get(h._source);
    return { index: h._index, id: h._id, version: m?.version ?? 1, source: h._source, time: m?.ts ?? null };
  }

  /** The hit as a match; null for a sequence all of whose events are missing ones. */
  toMatch(h: EventHit | SequenceHit): RuleMatch | null {
    if ('events' in h) {
      const events = h.events.filter((e) => !e.missing).map((e) => this.matched(e));
      return events.length > 0 ? { kind: 'sequence', events } : null;
    }
    return { kind: 'event', event: this.matched(h) };
  }
}

/**
 * Keeps matches whose alerts do not exist yet, up to `limit`, and builds and writes their alerts.
 * Shared by scheduled and streaming runs, so both give the same alerts with the same ids.
 */
export function writeMatches(store: Store, rule: ActiveRule, matches: readonly RuleMatch[], limit: number, now: number, executionId: string): WriteOutcome {
  if (matches.length === 0) return { written: 0, existing: 0, dropped: 0, alerts: [] };
  const uniq = new Map<string, RuleMatch>();
  for (const m of matches) {
    const id = matchAlertId(rule.rule.rule_id, m);
    if (!uniq.has(id)) uniq.set(id, m);
  }
  const existing = store.alerts.has([...uniq.keys()]);
  const fresh = [...uniq].filter(([id]) => !existing.has(id));
  // the cap keeps the earliest matches, whatever order the events were read in
  if (fresh.length > limit) fresh.sort((a, b) => timeOf(a[1]) - timeOf(b[1]));
  const kept = fresh.slice(0, Math.max(0, limit));
  const alerts = kept.flatMap(([, m]) => buildAlerts({ rule: rule.rule, now, executionId }, m));
  const written = new Set(store.alerts.insert(alerts));
  let n = 0;
  for (const [id] of kept) if (written.has(id)) n++;
  return { written: n, existing: existing.size, dropped: fresh.length - kept.length, alerts: alerts.filter((a) => written.has(a.id)) };
}

/** The time of a match: its event's, or its sequence's first event's (null: none). */
export function matchTime(m: RuleMatch): number | null {
  switch (m.kind) {
    case 'sequence':
      return m.events[0]?.time ?? null;
    case 'threshold':
      return m.result.to;
    default:
      return m.event.time;
  }
}

const timeOf = (m: RuleMatch): number => matchTime(m) ?? Infinity;
