import { buildAlerts, matchAlertId, type BuiltAlert, type MatchedEvent, type RuleMatch } from '../alerts/index.js';
import type { EventHit, SequenceHit } from '../engine/index.js';
import type { Store, SuppressionGroup } from '../store/index.js';
import { suppressionGroup, type SuppressionTerms } from './suppression.js';
import type { ActiveRule } from './active-rule.js';

/** What writing a rule's matches did. */
export interface WriteOutcome {
  /** Alerts written (sequence alerts count once, not per building block). */
  readonly written: number;
  /** Matches whose alert already existed (overlapping windows, retries). */
  readonly existing: number;
  /** New matches left out by the cap (`max_signals`). */
  readonly dropped: number;
  /** Matches counted into an existing alert by alert suppression. */
  readonly suppressed: number;
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
 * Shared by scheduled and streaming runs, so both give the same alerts with the same ids. With alert
 * suppression, a match of a group (its values and window, see suppressionGroup) that has an alert
 * already is counted into that alert instead (each match once, whatever run sees it again); only new
 * alerts count for the cap.
 */
export function writeMatches(store: Store, rule: ActiveRule, matches: readonly RuleMatch[], limit: number, now: number, executionId: string): WriteOutcome {
  if (matches.length === 0) return { written: 0, existing: 0, dropped: 0, suppressed: 0, alerts: [] };
  const uniq = new Map<string, RuleMatch>();
  for (const m of matches) {
    const id = matchAlertId(rule.rule.rule_id, m);
    if (!uniq.has(id)) uniq.set(id, m);
  }
  const existing = store.alerts.has([...uniq.keys()]);
  let fresh = [...uniq].filter(([id]) => !existing.has(id));
  const sup = rule.suppression;
  const grouped: Array<{ key: string; terms: SuppressionTerms; list: Array<[string, RuleMatch]>; known: SuppressionGroup | undefined }> = [];
  if (sup && fresh.length > 0) {
    const counted = store.alerts.suppressedMatches(fresh.map(([id]) => id));
    // in time order: a group's alert is its earliest match that this write sees
    fresh = fresh.filter(([id]) => !counted.has(id)).sort((a, b) => timeOf(a[1]) - timeOf(b[1]));
    const byKey = new Map<string, { terms: SuppressionTerms; list: Array<[string, RuleMatch]> }>();
    const plain: Array<[string, RuleMatch]> = [];
    for (const f of fresh) {
      const g = suppressionGroup(rule.rule.rule_id, sup, f[1], matchTime(f[1]) ?? now);
      if (!g) plain.push(f);
      else {
        const e = byKey.get(g.key) ?? { terms: g.terms, list: [] };
        e.list.push(f);
        byKey.set(g.key, e);
      }
    }
    const known = store.alerts.suppressionGroups([...byKey.keys()]);
    fresh = plain;
    for (const [key, g] of byKey) {
      const k = known.get(key);
      grouped.push({ key, terms: g.terms, list: g.list, known: k });
      if (!k) fresh.push(g.list[0]!);
    }
  }
  // the cap keeps the earliest matches, whatever order the events were read in
  if (fresh.length > limit) fresh.sort((a, b) => timeOf(a[1]) - timeOf(b[1]));
  const kept = fresh.slice(0, Math.max(0, limit));
  const alerts = kept.flatMap(([, m]) => buildAlerts({ rule: rule.rule, now, executionId }, m));
  const written = new Set(store.alerts.insert(alerts));
  let n = 0;
  for (const [id] of kept) if (written.has(id)) n++;
  let suppressed = 0;
  let dropped = fresh.length - kept.length;
  for (const g of grouped) {
    const times = g.list.map(([, m]) => matchTime(m) ?? now);
    const start = Math.min(...times, g.known?.start ?? Infinity);
    const end = Math.max(...times, g.known?.end ?? -Infinity);
    if (g.known) {
      store.alerts.recordSuppression({ key: g.key, alertId: g.known.alertId, start, end, count: g.known.count + g.list.length, matchIds: g.list.map(([id]) => id), terms: g.terms });
      suppressed += g.list.length;
    } else if (written.has(g.list[0]![0])) {
      store.alerts.recordSuppression({ key: g.key, alertId: g.list[0]![0], start, end, count: g.list.length - 1, matchIds: g.list.slice(1).map(([id]) => id), terms: g.terms });
      suppressed += g.list.length - 1;
    } else dropped += g.list.length - 1; // its first match was left out by the cap: the rest go with it
  }
  return { written: n, existing: existing.size, dropped, suppressed, alerts: alerts.filter((a) => written.has(a.id)) };
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
