import { randomUUID } from 'node:crypto';
import type { BuiltAlert, RuleMatch } from '../alerts/index.js';
import { parseJsonObject } from '../core/index.js';
import { PASS_ALL, rawFilterOf, RawText, ruleOfCode, RuleSet, unionRawFilter, type EventHit, type Matcher, type RawFilter, type RuleSetHit, type SequenceHit, type StatefulCode } from '../engine/index.js';
import { EventBridge, isStreamable, matchTime, ruleIndexMatcher, writeMatches, type ActiveRule } from '../detect/index.js';
import type { Store, StoredEvent } from '../store/index.js';

interface RuleStream {
  readonly rule: ActiveRule;
  /** What the rule holds between batches (stateful rules, and event queries that need engine state). */
  matcher: Matcher | null;
  readonly lateness: number;
  readonly accepts: (index: string) => boolean;
  /** The texts of events it may match (see RawFilter); part of the engine's union. */
  readonly raw: RawFilter;
  /** Alerts written per interval bucket (bucket = floor(event time / interval)). */
  readonly perBucket: Map<number, number>;
  counters: { searched: number; matches: number; written: number; existing: number; dropped: number; cpuMs: number; since: number };
}

/** A stateful stream whose matcher orders events by the stored time (@timestamp), so that time can move it on. */
function movesWithStoredTime(s: RuleStream): boolean {
  const o = s.rule.rule.timestamp_override;
  return s.matcher !== null && s.lateness > 0 && (!o || o === 'event.ingested');
}

/**
 * Matches events as they are ingested, for rules in streaming mode, through one rule set: each
 * batch is parsed once (only the events whose text may match some rule, see `unionRawFilter`) and
 * scanned once for all rules. Same alert ids as a scheduled run over the same events. Event queries
 * match at once; sequences order events within a lateness of `from − interval` (the overlap the
 * scheduled windows would give them). At most `max_signals` alerts per rule per interval of event
 * time; the rest are counted as dropped.
 */
export class StreamEngine {
  private streams = new Map<string, RuleStream>();
  /** The streams in rule-set order, and their rule set. */
  private order: RuleStream[] = [];
  private set: RuleSet<RuleStream> | null = null;
  private raw: RawFilter = PASS_ALL;
  private readonly bridge = new EventBridge();

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
      const stream: RuleStream = {
        rule: r,
        matcher: null,
        lateness: r.compiled!.kind === 'event' ? 0 : Math.max(0, r.lookbackMs - r.intervalMs),
        accepts: ruleIndexMatcher(r),
        // the matcher orders by @timestamp (the stored time) unless the rule overrides it with
        // another event field: then every event is read, since a skipped one could not move time on
        raw: !r.rule.timestamp_override || r.rule.timestamp_override === 'event.ingested' ? rawFilterOf(r.compiled!.ast) : PASS_ALL,
        perBucket: new Map(),
        counters: { searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, cpuMs: 0, since: now },
      };
      next.set(r.rule.rule_id, stream);
      fresh.push(stream);
    }
    this.streams = next;
    this.order = [...next.values()];
    this.set = this.order.length > 0 ? this.ruleSet(this.order) : null;
    this.raw = unionRawFilter(this.order.map((s) => s.raw));
    if (fresh.length > 0) this.replay(fresh, now);
  }

  /** A rule set over `streams` that feeds their matchers (made here for new ones, kept after). */
  private ruleSet(streams: readonly RuleStream[]): RuleSet<RuleStream> {
    const set = new RuleSet(
      streams.map((s) => ({ rule: s, query: s.rule.compiled!, eventCategoryField: s.rule.rule.event_category_override, lateness: s.lateness, matcher: s.matcher ?? undefined })),
    );
    streams.forEach((s, i) => (s.matcher = set.matchers.matcherOf(i)));
    return set;
  }

  get active(): number {
    return this.streams.size;
  }

  /** Matches newly stored events; returns the alerts written. */
  push(events: readonly StoredEvent[], now: number): BuiltAlert[] {
    const out: BuiltAlert[] = [];
    if (this.set === null) return out;
    this.feed(this.set, this.order, this.raw, events, now, out, null);
    if (out.length) this.onAlerts(out);
    return out;
  }

  /**
   * Feeds new streams the stored events of their look-back, so that after a restart (or when a rule
   * is switched to streaming) sequences in flight complete and events stored but not yet matched
   * when the server stopped are matched. Alerts already written are recognised by their ids.
   */
  private replay(fresh: readonly RuleStream[], now: number): void {
    const set = fresh.length === this.order.length ? this.set! : this.ruleSet(fresh);
    const raw = unionRawFilter(fresh.map((s) => s.raw));
    const out: BuiltAlert[] = [];
    for (const timeField of ['timestamp', 'ingested'] as const) {
      const group = fresh.filter((s) => s.rule.timeField === timeField);
      if (group.length === 0) continue;
      const names = new Set<string>();
      for (const s of group) for (const n of this.store.events.resolve(s.rule.indexPatterns)) names.add(n);
      if (names.size === 0) continue;
      const longest = Math.max(...group.map((s) => s.rule.lookbackMs));
      const events = [...this.store.events.scan({ patterns: [...names], after: now - longest, upTo: now, timeField })];
      const wanted = new Set(group);
      // each rule gets only its own look-back, on its own time field
      const within = (s: RuleStream, e: StoredEvent): boolean => {
        if (!wanted.has(s)) return false;
        const t = timeField === 'ingested' ? e.ingested : e.ts;
        return t !== undefined && t !== null && t > now - s.rule.lookbackMs;
      };
      this.feed(set, fresh, raw, events, now, out, within);
    }
    if (out.length) this.onAlerts(out);
  }

  private feed(set: RuleSet<RuleStream>, streams: readonly RuleStream[], raw: RawFilter, events: readonly StoredEvent[], now: number, out: BuiltAlert[], within: ((s: RuleStream, e: StoredEvent) => boolean) | null): void {
    const takes = (s: RuleStream, e: StoredEvent): boolean => s.accepts(e.index) && !(s.rule.timeField === 'timestamp' && e.ts === null) && (within === null || within(s, e));
    const found: Array<RuleSetHit<RuleStream>> = [];
    const hits: Array<RuleSetHit<RuleStream>> = [];
    const codes: StatefulCode[] = [];
    const testsBefore = set.index.testsByRule();
    let scanMs = 0;
    let newest = -Infinity;
    // events per index (and those without a time), for each rule's count of events examined
    const perIndex = new Map<string, { n: number; untimed: number }>();
    for (const e of events) {
      const c = perIndex.get(e.index) ?? { n: 0, untimed: 0 };
      c.n++;
      if (e.ts === null) c.untimed++;
      else if (e.ts > newest) newest = e.ts;
      perIndex.set(e.index, c);
      if (raw.needles && !raw.test(new RawText(e.json))) continue;
      const t0 = performance.now();
      let source = e.source as Record<string, unknown> | undefined;
      if (!source) {
        const p = parseJsonObject(e.json);
        if (!p.ok) continue;
        source = p.value;
      }
      this.bridge.register(source, e.version, e.ts);
      const event = { _index: e.index, _id: e.id, _source: source };
      hits.length = 0;
      codes.length = 0;
      set.scan(event, hits, codes);
      scanMs += performance.now() - t0;
      for (const h of hits) if (takes(h.rule, e)) found.push(h);
      for (const code of codes) {
        const s = streams[ruleOfCode(code)]!;
        if (!takes(s, e) || !set.matchers.wants(code)) continue;
        const t1 = performance.now();
        set.matchers.feed(code, event, found);
        s.counters.cpuMs += performance.now() - t1;
      }
    }
    // events no rule was fed still move time on, for rules that order by the stored time
    if (newest > -Infinity) {
      for (const s of streams) {
        if (!movesWithStoredTime(s)) continue;
        for (const hit of s.matcher!.advance(newest)) found.push({ rule: s, hit });
      }
    }
    const tests = set.index.testsByRule();
    const total = tests.reduce((a, n, i) => a + n - testsBefore[i]!, 0);
    streams.forEach((s, i) => {
      if (total > 0) s.counters.cpuMs += (scanMs * (tests[i]! - testsBefore[i]!)) / total;
      for (const [index, c] of perIndex) if (s.accepts(index)) s.counters.searched += s.rule.timeField === 'timestamp' ? c.n - c.untimed : c.n;
    });
    if (found.length > 0) this.write(found, now, out);
  }

  private write(found: ReadonlyArray<RuleSetHit<RuleStream>>, now: number, out: BuiltAlert[]): void {
    const byStream = new Map<RuleStream, Array<EventHit | SequenceHit>>();
    for (const { rule, hit } of found) {
      const list = byStream.get(rule) ?? [];
      list.push(hit);
      byStream.set(rule, list);
    }
    for (const [s, hits] of byStream) {
      const t0 = performance.now();
      const matches = hits.map((h) => this.bridge.toMatch(h)).filter((m): m is RuleMatch => m !== null);
      s.counters.matches += matches.length;
      // the cap applies per interval of event time
      const byBucket = new Map<number, RuleMatch[]>();
      for (const m of matches) {
        const b = Math.floor((matchTime(m) ?? now) / s.rule.intervalMs);
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
      s.counters.cpuMs += performance.now() - t0;
    }
  }

  /**
   * The clock has reached `now`: event time is at least there, so sequences stop waiting for events
   * older than their lateness allows (without it, the last events of a quiet source would wait for
   * a newer one). Rules that order by another field than the stored time are left as they are.
   */
  advanceTime(now: number): BuiltAlert[] {
    const found: Array<RuleSetHit<RuleStream>> = [];
    for (const s of this.order) {
      if (!movesWithStoredTime(s)) continue;
      for (const hit of s.matcher!.advance(now)) found.push({ rule: s, hit });
    }
    const out: BuiltAlert[] = [];
    if (found.length > 0) this.write(found, now, out);
    if (out.length) this.onAlerts(out);
    return out;
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
        cpuMs: c.cpuMs,
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
      s.counters = { searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, cpuMs: 0, since: now };
    }
  }
}
