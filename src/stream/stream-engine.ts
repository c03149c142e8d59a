import { randomUUID } from 'node:crypto';
import type { BuiltAlert } from '../alerts/index.js';
import { parseJsonObject } from '../core/index.js';
import { PASS_ALL, rawFilterOf, RawText, type Matcher, type RawFilter } from '../engine/index.js';
import { EventBridge, writeMatches, type ActiveRule } from '../scheduler/index.js';
import { createIndexMatcher, type Store, type StoredEvent } from '../store/index.js';

interface RuleStream {
  readonly rule: ActiveRule;
  readonly matcher: Matcher;
  readonly bridge: EventBridge;
  readonly inIndex: (name: string) => boolean;
  /** Events whose text cannot match are neither parsed nor fed to the matcher. */
  readonly raw: RawFilter;
  /** Alerts written per interval bucket (bucket = floor(event time / interval)). */
  readonly perBucket: Map<number, number>;
  counters: { searched: number; matches: number; written: number; existing: number; dropped: number; since: number };
}


const parseSource = (json: string): Record<string, unknown> | null => {
  const r = parseJsonObject(json);
  return r.ok ? r.value : null;
};

/** Whether a rule's query can run as events arrive (samples and pipes need the whole input). */
export function isStreamable(r: ActiveRule): boolean {
  const c = r.compiled;
  return c !== null && (c.kind === 'event' || c.kind === 'sequence') && c.ast.pipes.length === 0;
}

/**
 * Matches events as they are ingested, for rules in streaming mode. Same alert ids as a scheduled
 * run over the same events. Event queries match at once; sequences order events within a lateness
 * of `from − interval` (the overlap the scheduled windows would give them). At most `max_signals`
 * alerts per rule per interval of event time; the rest are counted as dropped.
 */
export class StreamEngine {
  private streams = new Map<string, RuleStream>();

  constructor(
    private readonly store: Store,
    private readonly onAlerts: (alerts: BuiltAlert[]) => void,
  ) {}

  /** Re-synchronises with the current rules: keeps state of unchanged rules, starts new ones. */
  sync(rules: readonly ActiveRule[], now: number): void {
    const next = new Map<string, RuleStream>();
    const fresh: RuleStream[] = [];
    for (const r of rules) {
      if (!r.enabled || !r.streaming || !isStreamable(r)) continue;
      const prior = this.streams.get(r.rule.rule_id);
      if (prior && prior.rule.compiled === r.compiled) {
        next.set(r.rule.rule_id, prior);
        continue;
      }
      const lateness = r.compiled!.kind === 'event' ? 0 : Math.max(0, r.lookbackMs - r.intervalMs);
      const stream: RuleStream = {
        rule: r,
        matcher: r.compiled!.createMatcher({ lateness }),
        bridge: new EventBridge(),
        inIndex: createIndexMatcher(r.indexPatterns),
        // the matcher orders by @timestamp (the stored time) unless the rule overrides it with
        // another event field: then every event is read, since a skipped one could not move time on
        raw: !r.rule.timestamp_override || r.rule.timestamp_override === 'event.ingested' ? rawFilterOf(r.compiled!.ast) : PASS_ALL,
        perBucket: new Map(),
        counters: { searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, since: now },
      };
      next.set(r.rule.rule_id, stream);
      fresh.push(stream);
    }
    this.streams = next;
    for (const s of fresh) this.replay(s, now);
  }

  get active(): number {
    return this.streams.size;
  }

  /** Matches newly stored events; returns the alerts written. */
  push(events: readonly StoredEvent[], now: number): BuiltAlert[] {
    const out: BuiltAlert[] = [];
    if (this.streams.size === 0) return out;
    // parsed (and lowercased) once per event, and only for events some rule's text test lets through
    const parsed: Array<Record<string, unknown> | null | undefined> = new Array(events.length);
    const texts: Array<RawText | undefined> = new Array(events.length);
    for (const s of this.streams.values()) this.feed(s, events, parsed, texts, now, out);
    if (out.length) this.onAlerts(out);
    return out;
  }

  /**
   * Feeds a new stream the stored events of its look-back, so that after a restart (or when a rule
   * is switched to streaming) sequences in flight complete and events stored but not yet matched
   * when the server stopped are matched. Alerts already written are recognised by their ids.
   */
  private replay(s: RuleStream, now: number): void {
    const r = s.rule;
    const events = [...this.store.events.scan({ patterns: r.indexPatterns, after: now - r.lookbackMs, upTo: now, timeField: r.timeField })];
    if (events.length === 0) return;
    const out: BuiltAlert[] = [];
    this.feed(s, events, new Array(events.length), new Array(events.length), now, out);
    if (out.length) this.onAlerts(out);
  }

  private feed(s: RuleStream, events: readonly StoredEvent[], parsed: Array<Record<string, unknown> | null | undefined>, texts: Array<RawText | undefined>, now: number, out: BuiltAlert[]): void {
    const hits = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!s.inIndex(e.index)) continue;
      if (s.rule.timeField === 'timestamp' && e.ts === null) continue; // a scheduled window never holds it
      s.counters.searched++;
      if (s.raw.needles && !s.raw.test((texts[i] ??= new RawText(e.json)))) {
        // not fed, but its time moves held events on (stream time is the timestamp here)
        if (e.ts !== null && s.rule.compiled!.kind !== 'event') for (const h of s.matcher.advance(e.ts)) hits.push(h);
        continue;
      }
      let source = parsed[i];
      if (source === undefined) source = parsed[i] = (e.source as Record<string, unknown> | undefined) ?? parseSource(e.json);
      if (source === null) continue;
      // sequences hand back earlier events, so their versions and times are remembered; an event query's hit is this event
      if (s.rule.compiled!.kind !== 'event') s.bridge.register(source, e.version, e.ts);
      for (const h of s.matcher.push({ _index: e.index, _id: e.id, _source: source })) {
        if (!('events' in h) && h._source === source) s.bridge.register(source, e.version, e.ts);
        hits.push(h);
      }
    }
    if (hits.length === 0) return;
    const matches = hits.map((h) => s.bridge.toMatch(h)).filter((m) => m.kind === 'event' || m.events.length > 0);
    s.counters.matches += matches.length;
    // the cap applies per interval of event time
    const byBucket = new Map<number, typeof matches>();
    for (const m of matches) {
      const t = m.kind === 'event' ? m.event.time : (m.events[0]?.time ?? null);
      const b = Math.floor((t ?? now) / s.rule.intervalMs);
      const list = byBucket.get(b) ?? [];
      list.push(m);
      byBucket.set(b, list);
    }
    for (const [b, list] of byBucket) {
      const used = s.perBucket.get(b) ?? 0;
      const w = writeMatches(this.store, s.rule, list, s.rule.rule.max_signals - used, now, randomUUID());
      // alerts found already written (a replay after restart) fill the interval's cap too
      s.perBucket.set(b, used + w.written + w.existing);
      s.counters.written += w.written;
      s.counters.existing += w.existing;
      s.counters.dropped += w.dropped;
      out.push(...w.alerts);
    }
    if (s.perBucket.size > 64) for (const k of [...s.perBucket.keys()].sort((x, y) => x - y).slice(0, s.perBucket.size - 64)) s.perBucket.delete(k);
  }

  /**
   * Writes a run-log record per streaming rule whose interval has elapsed since its last record,
   * so streaming rules show in the execution log like scheduled ones.
   */
  recordRuns(now: number): void {
    for (const s of this.streams.values()) {
      const c = s.counters;
      if (now - c.since < s.rule.intervalMs) continue;
      this.store.runs.record({
        ruleId: s.rule.rule.rule_id,
        executionId: randomUUID(),
        kind: 'streaming',
        started: c.since,
        durationMs: 0,
        windowFrom: c.since,
        windowTo: now,
        searched: c.searched,
        matches: c.matches,
        written: c.written,
        existing: c.existing,
        dropped: c.dropped,
        gapMs: 0,
        status: c.dropped > 0 ? 'partial failure' : 'succeeded',
        error: c.dropped > 0 ? `max_signals (${s.rule.rule.max_signals}) per interval reached: ${c.dropped} matches not written` : null,
      });
      this.store.runs.setCoveredUntil(s.rule.rule.rule_id, now);
      s.counters = { searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, since: now };
    }
  }
}
