import { randomUUID } from 'node:crypto';
import type { BuiltAlert, RuleMatch } from '../alerts/index.js';
import { parseJsonObject } from '../core/index.js';
import { PASS_ALL, rawFilterOf, RawText, ruleOfCode, RuleSet, unionRawFilter, type EventHit, type Matcher, type RawFilter, type RuleSetHit, type SequenceHit, type StatefulCode } from '../engine/index.js';
import { EventBridge, isStreamable, matchTime, ruleIndexMatcher, writeMatches, type ActiveRule } from '../detect/index.js';
import type { Store, StoredEvent } from '../store/index.js';

/**
 * Where a stream's rule runs in a cluster: `local`, on the node that reads the event (its joins stay
 * within a host); `forward`, on the node that holds its join key's partition, which the reading node
 * sends the events of its stages to (see PushOptions).
 */
export type StreamRoute = 'local' | 'forward';

/** An event one of a forwarded rule's stages may take, for the caller to send to its key's node. */
export interface ForwardRequest {
  readonly rule: ActiveRule;
  readonly event: StoredEvent;
  readonly source: Readonly<Record<string, unknown>>;
}

export interface PushOptions {
  /**
   * Read events: where the events of forwarded rules' stages are collected. Without it, forwarded
   * rules take nothing (a replay of events already sent on).
   */
  readonly forwards?: ForwardRequest[];
  /** Forwarded events: only forwarded rules take them, each only the rules named for it. */
  readonly forwardedFor?: (e: StoredEvent) => ReadonlySet<string> | undefined;
  /** Only collect `forwards`: no rule here takes the events (see `forwardsOf`). */
  readonly forwardOnly?: boolean;
}

interface RuleStream {
  readonly rule: ActiveRule;
  readonly route: StreamRoute;
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

/** One rule set of the engine and the streams it feeds, in its entry order. */
interface Layer {
  readonly set: RuleSet<RuleStream>;
  readonly order: readonly RuleStream[];
}

/** Changes of rules taken up by muting and extra layers before the whole rule set is built again. */
const MAX_LAYERS = 8;
const MAX_MUTED = 128;

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
  /** The active streams, in rule order. */
  private order: RuleStream[] = [];
  /**
   * The rule sets the events go through: the whole set as last built, then one per batch of rules
   * started since. A rule switched off stays in its layer, muted, until the layers are built again
   * as one (`compact`): building the whole set for 1,500 rules takes 100 ms, so a toggle does not.
   */
  private layers: Layer[] = [];
  private muted = new Set<RuleStream>();
  private raw: RawFilter = PASS_ALL;
  /** Counts syncs; a stream remembers the one that started it (see `pushSliced`). */
  private generation = 0;
  private readonly born = new WeakMap<RuleStream, number>();
  private readonly bridge = new EventBridge();

  constructor(
    private readonly store: Store,
    private readonly onAlerts: (alerts: BuiltAlert[]) => void,
    private readonly routeOf: (r: ActiveRule) => StreamRoute = () => 'local',
  ) {}

  /** Re-synchronises with the current rules: keeps state of unchanged rules, starts new ones. */
  sync(rules: readonly ActiveRule[], now: number): void {
    this.generation++;
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
        route: this.routeOf(r),
        matcher: null,
        lateness: r.compiled!.kind === 'event' ? 0 : Math.max(0, r.lookbackMs - r.intervalMs),
        accepts: ruleIndexMatcher(r),
        // the matcher orders by @timestamp (the stored time) unless the rule overrides it with
        // another event field: then every event is read, since a skipped one could not move time on
        raw: !r.rule.timestamp_override || r.rule.timestamp_override === 'event.ingested' ? rawFilterOf(r.compiled!.ast) : PASS_ALL,
        perBucket: new Map(),
        counters: { searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, cpuMs: 0, since: now },
      };
      this.born.set(stream, this.generation);
      next.set(r.rule.rule_id, stream);
      fresh.push(stream);
    }
    const gone = this.order.filter((s) => next.get(s.rule.rule.rule_id) !== s);
    // a rule that stops streaming (switched to its schedule, disabled, changed) has covered its time
    // until now: its schedule, or its next stream, goes on from there
    const still = new Set(rules.map((r) => r.rule.rule_id));
    const closing = gone.filter((s) => still.has(s.rule.rule.rule_id));
    // all rules change at once when their exceptions do: their records in one transaction
    if (closing.length > 0) this.store.transaction(() => closing.forEach((s) => this.closeInterval(s, now)));
    this.streams = next;
    this.order = [...next.values()];
    for (const s of gone) this.muted.add(s);
    if (this.layers.length === 0 || this.layers.length >= MAX_LAYERS || this.muted.size > MAX_MUTED) this.compact();
    else if (fresh.length > 0) this.layers.push(this.layer(fresh));
    this.raw = unionRawFilter(this.order.map((s) => s.raw));
    if (fresh.length > 0) this.replay(fresh, now);
  }

  /** Builds the rule set again as one layer of the active streams (their matchers kept). */
  compact(): void {
    this.muted.clear();
    this.layers = this.order.length > 0 ? [this.layer(this.order)] : [];
  }

  /** Whether the rule set is in more than one layer or holds muted rules (see `compact`). */
  get fragmented(): boolean {
    return this.layers.length > 1 || this.muted.size > 0;
  }

  /** A rule set over `streams` that feeds their matchers (made here for new ones, kept after). */
  private layer(streams: readonly RuleStream[]): Layer {
    const set = new RuleSet(
      streams.map((s) => ({ rule: s, query: s.rule.compiled!, eventCategoryField: s.rule.rule.event_category_override, lateness: s.lateness, matcher: s.matcher ?? undefined })),
    );
    streams.forEach((s, i) => (s.matcher = set.matchers.matcherOf(i)));
    return { set, order: streams };
  }

  get active(): number {
    return this.streams.size;
  }

  /**
   * Matches newly stored events, in slices of about `sliceMs` with a `pause` between them, so that a
   * large batch does not keep the server from answering; returns the alerts written. Rules may change during a pause: a rule started since the
   * batch began has already read it from the store (see `replay`), one stopped reads no more of it.
   */
  async pushSliced(events: readonly StoredEvent[], now: number, pause: () => Promise<void>, sliceMs: number, opts: PushOptions = {}): Promise<BuiltAlert[]> {
    const out: BuiltAlert[] = [];
    const gen = this.generation;
    const older = (s: RuleStream): boolean => (this.born.get(s) ?? 0) <= gen;
    let step = 16;
    for (let i = 0; i < events.length; ) {
      if (this.layers.length === 0) break;
      const t0 = performance.now();
      const chunk = events.slice(i, i + step);
      i += chunk.length;
      const found: BuiltAlert[] = [];
      this.feed(this.layers, this.order.filter(older), this.raw, chunk, now, found, gen === this.generation ? null : older, opts);
      if (found.length) {
        this.onAlerts(found);
        out.push(...found);
      }
      // as many events as fit in a slice, from what the last chunk took
      const ms = performance.now() - t0;
      step = Math.max(1, Math.min(512, Math.floor((chunk.length * sliceMs) / Math.max(ms, 0.05))));
      if (i < events.length) await pause();
    }
    return out;
  }

  /**
   * The events of forwarded rules' stages among `events`, which no rule here takes: events read
   * again that the store already holds (refused as conflicts, so not matched again), whose sending
   * on may not have happened the first time.
   */
  forwardsOf(events: readonly StoredEvent[], now: number): ForwardRequest[] {
    const forwards: ForwardRequest[] = [];
    if (this.layers.length > 0 && this.order.some((s) => s.route === 'forward')) this.feed(this.layers, [], this.raw, events, now, [], null, { forwards, forwardOnly: true });
    return forwards;
  }

  /**
   * Feeds new streams the stored events of their look-back, so that after a restart (or when a rule
   * is switched to streaming) sequences in flight complete and events stored but not yet matched
   * when the server stopped are matched. Alerts already written are recognised by their ids.
   */
  private replay(started: readonly RuleStream[], now: number): void {
    // a forwarded rule takes only events sent to it: the node's stored events are not all of its key's
    const fresh = started.every((s) => s.route === 'local') ? started : started.filter((s) => s.route === 'local');
    if (fresh.length === 0) return;
    // the layer just built for them, or the whole set when most of it is new (a start); else a set of their own
    const last = this.layers[this.layers.length - 1]!;
    const layer = last.order === fresh || (last.order === this.order && fresh.length * 2 >= last.order.length) ? last : this.layer(fresh);
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
      this.feed([layer], group, raw, events, now, out, within);
    }
    if (out.length) this.onAlerts(out);
  }

  /**
   * Scans `events` through the layers' rule sets and feeds their matchers, for the `streams` given
   * (muted ones and those `within` refuses take nothing); writes the alerts found to `out`.
   */
  private feed(layers: readonly Layer[], streams: readonly RuleStream[], raw: RawFilter, events: readonly StoredEvent[], now: number, out: BuiltAlert[], within: ((s: RuleStream, e: StoredEvent) => boolean) | null, opts: PushOptions = {}): void {
    const muted = this.muted;
    const { forwards, forwardedFor, forwardOnly } = opts;
    const open = (s: RuleStream, e: StoredEvent): boolean => !muted.has(s) && s.accepts(e.index) && !(s.rule.timeField === 'timestamp' && e.ts === null) && (within === null || within(s, e));
    const takes = forwardOnly ? (): boolean => false : forwardedFor ? (s: RuleStream, e: StoredEvent): boolean => s.route === 'forward' && open(s, e) && forwardedFor(e)?.has(s.rule.rule.rule_id) === true : (s: RuleStream, e: StoredEvent): boolean => s.route === 'local' && open(s, e);
    const found: Array<RuleSetHit<RuleStream>> = [];
    const hits: Array<RuleSetHit<RuleStream>> = [];
    const codes: StatefulCode[] = [];
    const testsBefore = layers.map((l) => l.set.index.testsByRule());
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
      for (const { set, order } of layers) {
        hits.length = 0;
        codes.length = 0;
        set.scan(event, hits, codes);
        for (const h of hits) if (takes(h.rule, e)) found.push(h);
        for (const code of codes) {
          const s = order[ruleOfCode(code)]!;
          if (forwards && s.route === 'forward') {
            // any stage, a later one too: the key's node may hold the sequence it moves on
            if (open(s, e)) forwards.push({ rule: s.rule, event: e, source });
            continue;
          }
          if (!takes(s, e) || !set.matchers.wants(code)) continue;
          const t1 = performance.now();
          set.matchers.feed(code, event, found);
          s.counters.cpuMs += performance.now() - t1;
        }
      }
      scanMs += performance.now() - t0;
    }
    // events no rule was fed still move time on, for rules that order by the stored time; a
    // forwarded rule's time moves with the events sent to it only (they come later than a node's
    // own: a host partition taken over after a node died sends its events on seconds late)
    const route: StreamRoute = forwardedFor ? 'forward' : 'local';
    if (newest > -Infinity) {
      for (const s of streams) {
        if (!movesWithStoredTime(s) || muted.has(s) || s.route !== route) continue;
        for (const hit of s.matcher!.advance(newest)) found.push({ rule: s, hit });
      }
    }
    // the scan's time shared by the tests each rule cost it
    const spent = layers.map((l, k) => l.set.index.testsByRule().map((n, i) => n - testsBefore[k]![i]!));
    const total = spent.reduce((a, xs) => a + xs.reduce((b, n) => b + n, 0), 0);
    if (total > 0) layers.forEach((l, k) => l.order.forEach((s, i) => (s.counters.cpuMs += (scanMs * spent[k]![i]!) / total)));
    for (const s of streams) {
      if (muted.has(s) || s.route !== route) continue;
      for (const [index, c] of perIndex) if (s.accepts(index)) s.counters.searched += s.rule.timeField === 'timestamp' ? c.n - c.untimed : c.n;
    }
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
        const w = writeMatches(this.store, s.rule, list, s.rule.maxSignals - used, now, randomUUID());
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
    for (const s of this.streams.values()) if (now - s.counters.since >= s.rule.intervalMs) this.closeInterval(s, now);
  }

  /** Records a stream's run since its last record, and that it covered the rule's time to `now`. */
  private closeInterval(s: RuleStream, now: number): void {
    const c = s.counters;
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
      error: c.dropped > 0 ? `max_signals (${s.rule.maxSignals}) per interval reached: ${c.dropped} matches not written` : null,
    });
    this.store.runs.setCoveredUntil(s.rule.rule.rule_id, now);
    s.counters = { searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, cpuMs: 0, since: now };
  }
}
