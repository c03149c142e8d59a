import { buildAlerts, matchAlertId, type BuiltAlert, type MatchedEvent, type RuleMatch } from '../alerts/index.js';
import type { EventHit, SequenceHit } from '../engine/index.js';
import type { Store, StoredEvent } from '../store/index.js';
import type { ActiveRule } from './active-rule.js';

export interface ExecutionResult {
  readonly searched: number;
  readonly matches: number;
  /** Alerts written (sequence alerts count once, not per building block). */
  readonly written: number;
  /** Matches whose alert already existed (overlapping windows, retries). */
  readonly existing: number;
  /** New matches left out by `max_signals`. */
  readonly dropped: number;
  readonly alerts: BuiltAlert[];
}

/** Wraps stored events as engine input and remembers what alert ids need (version, time). */
export class EventBridge {
  private readonly meta = new WeakMap<object, { version: number; ts: number | null }>();

  input(e: StoredEvent): { _index: string; _id: string; _source: Record<string, unknown> } {
    const source = JSON.parse(e.json) as Record<string, unknown>;
    this.meta.set(source, { version: e.version, ts: e.ts });
    return { _index: e.index, _id: e.id, _source: source };
  }

  register(source: object, version: number, ts: number | null): void {
    this.meta.set(source, { version, ts });
  }

  matched(h: EventHit): MatchedEvent {
    const m = this.meta.get(h._source);
    return { index: h._index, id: h._id, version: m?.version ?? 1, source: h._source, time: m?.ts ?? null };
  }

  toMatch(h: EventHit | SequenceHit): RuleMatch {
    if ('events' in h) return { kind: 'sequence', events: h.events.filter((e) => !e.missing).map((e) => this.matched(e)) };
    return { kind: 'event', event: this.matched(h) };
  }
}

/**
 * Keeps matches whose alerts do not exist yet, up to `limit`, and builds their alerts.
 * Returns what was written and what the cap dropped. Shared by scheduled and streaming runs.
 */
export function writeMatches(store: Store, rule: ActiveRule, matches: readonly RuleMatch[], limit: number, now: number, executionId: string): Omit<ExecutionResult, 'searched' | 'matches'> {
  const ids = matches.map((m) => matchAlertId(rule.rule.rule_id, m));
  const uniq = new Map<string, RuleMatch>();
  ids.forEach((id, i) => {
    if (!uniq.has(id)) uniq.set(id, matches[i]!);
  });
  const existing = store.alerts.has([...uniq.keys()]);
  const fresh = [...uniq].filter(([id]) => !existing.has(id));
  const kept = fresh.slice(0, Math.max(0, limit));
  const alerts = kept.flatMap(([, m]) => buildAlerts({ rule: rule.rule, now, executionId }, m));
  const written = new Set(store.alerts.insert(alerts));
  const keptIds = new Set(kept.map(([id]) => id));
  return {
    written: [...keptIds].filter((id) => written.has(id)).length,
    existing: existing.size,
    dropped: fresh.length - kept.length,
    alerts: alerts.filter((a) => written.has(a.id)),
  };
}

/** Runs a rule's query over one window of stored events and writes its alerts. */
export function executeRule(store: Store, rule: ActiveRule, window: { from: number; to: number }, now: number, executionId: string): ExecutionResult {
  if (!rule.compiled) throw new Error(rule.problem ?? 'rule cannot run');
  const bridge = new EventBridge();
  let searched = 0;
  const events = store.events.scan({ patterns: rule.indexPatterns, after: window.from, upTo: window.to, timeField: rule.timeField });
  const inputs = (function* () {
    for (const e of events) {
      searched++;
      yield bridge.input(e);
    }
  })();
  const hits = rule.compiled.run(inputs);
  const list: Array<EventHit | SequenceHit> = hits.events ?? hits.sequences ?? [];
  const matches = list.map((h) => bridge.toMatch(h)).filter((m) => m.kind === 'event' || m.events.length > 0);
  const w = writeMatches(store, rule, matches, rule.rule.max_signals, now, executionId);
  return { searched, matches: matches.length, ...w };
}
