import { type Clock, type EventTimes, parseJsonObject, formatDiagnostics, ManualClock, nextTurn } from '../core/index.js';
import { createFieldGetter, parseFieldPath } from '../ecs/index.js';
import { defaultParseTimestamp } from '../engine/index.js';
import type { BuiltAlert } from '../alerts/index.js';
import { OutputDispatcher, type OutputOptions, type OutputSpec } from '../outputs/index.js';
import { loadRules, parseRuleFile, writeNdjsonRules, type Rule } from '../rules/index.js';
import { Scheduler } from '../scheduler/index.js';
import { openSqliteStore, type AlertRow, type EventWriteResult, type Store, type RunStore, type StoredEvent, type WriteOp } from '../store/index.js';
import { StreamEngine, type ForwardRequest, type StreamRoute } from '../stream/index.js';
import { DEFAULT_RULE_LIMITS, describeAggregation, isScheduled, isStreamable, limitProblems, ruleIndexMatcher, type ActiveRule, type RuleLimits } from '../detect/index.js';
import { countRules, ruleState, selectRules, techniquesOf, type RuleListQuery, type RuleSummary } from './rule-list.js';
import { RuleRegistry } from './rule-registry.js';
import { Documents } from './documents.js';
import { ExceptionBook, located, namesList, PREVIEW_MS, type LocatedError } from './exceptions.js';

export interface VigilConfig {
  /** Folder of the SQLite store. */
  readonly dataDir: string;
  /** Keep everything in memory (tests, benchmarks). */
  readonly memory?: boolean;
  /** Rule files and folders loaded at start (added or updated; enable state of known rules is kept). */
  readonly rulePaths: readonly string[];
  readonly clock: Clock;
  /** Whether rules that are new to the store run in streaming mode. */
  readonly streamingDefault?: boolean;
  readonly outputs?: readonly OutputSpec[];
  readonly outputOptions?: OutputOptions;
  readonly retention?: { readonly maxAgeMs?: number; readonly maxBytes?: number };
  readonly log?: (line: string) => void;
  /** Threads the scheduler's passes scan on, and the ranges they take turns by (see SchedulerDeps). */
  readonly scanThreads?: number;
  readonly scanRange?: number;
  /**
   * Load the rules Elastic has deprecated (`maturity = "deprecated"`, the corpus's `_deprecated/`):
   * left out by default, as their replacements would alert twice.
   */
  readonly includeDeprecated?: boolean;
  /** What one rule may cost (interval, look-back, max_signals, catch-up); DEFAULT_RULE_LIMITS when left out. */
  readonly ruleLimits?: RuleLimits;
  /** CPU time one rule execution may take, ms (default 5 minutes); see SchedulerDeps.ruleBudgetMs */
  readonly ruleBudgetMs?: number;
  /** Also given every alert written (cluster mode sends them to PostgreSQL); must not throw. */
  readonly alertSink?: (alerts: readonly AlertRow[]) => void;
  /** Where each streaming rule runs (cluster mode forwards the sequences whose joins cross hosts); default: here. */
  readonly streamRoute?: (r: ActiveRule) => StreamRoute;
}

/** An event another node sent on for some of this node's forwarded rules (see StreamRoute). */
export interface ForwardedEvent {
  readonly index: string;
  readonly id: string;
  readonly json: string;
  readonly ts: number | null;
  readonly ingested: number;
  /** The rules it was sent for. */
  readonly rules: ReadonlySet<string>;
}

/** The fields of an alert's document that triage sets (status, its reason and who, assignees, notes). */
const TRIAGE_FIELDS = ['kibana.alert.workflow_status', 'kibana.alert.workflow_status_updated_at', 'kibana.alert.workflow_reason', 'kibana.alert.workflow_user', 'kibana.alert.workflow_assignee_ids', 'vigil.alert.notes'];

/** Where alerts are also stored as documents (Kibana's alerts index), for searches and rules over alerts. */
export const ALERTS_INDEX = '.alerts-security.alerts-default';

export interface IngestItem {
  readonly op: WriteOp;
  readonly index: string;
  readonly id?: string;
  /** The parsed document, when the caller has it. */
  readonly source?: Readonly<Record<string, unknown>>;
  /** The time fields read from the text without parsing it (see peekEventTimes). */
  readonly times?: EventTimes;
  /** The document's JSON text as received; the store refuses it when it is not a JSON object. */
  readonly json: string;
}

/** Where a field of a rule is in an imported file (on the NDJSON line of the rule, or a TOML `field =` line), 1-based. */
function fieldPosition(text: string, ruleId: string, field: string): { line: number; col: number } {
  const at = (offset: number): { line: number; col: number } => {
    const before = text.slice(0, offset);
    return { line: before.split('\n').length, col: offset - before.lastIndexOf('\n') };
  };
  const idAt = text.indexOf(ruleId);
  const lineStart = idAt < 0 ? 0 : text.lastIndexOf('\n', idAt) + 1;
  const lineEnd = text.indexOf('\n', lineStart) < 0 ? text.length : text.indexOf('\n', lineStart);
  const quoted = text.indexOf(`"${field}"`, lineStart);
  if (quoted >= 0 && quoted < lineEnd) return at(quoted);
  const named = new RegExp(`^[\\t ]*${field}\\s*=`, 'm').exec(text);
  if (named) return at(named.index + named[0].length - named[0].trimStart().length);
  return at(lineStart);
}

const getTimestamp = createFieldGetter(parseFieldPath('@timestamp'));
const getIngested = createFieldGetter(parseFieldPath('event.ingested'));
const getParentEntity = createFieldGetter(parseFieldPath('process.parent.entity_id'));

/** Rules one import may hold (Kibana's `xpack.securitySolution.maxRuleImportExportSize`). */
export const MAX_RULE_IMPORT = 10_000;

/** The span of run records that a rule's cost sums (a day). */
const COST_WINDOW_MS = 24 * 3_600_000;
/** How long rules stay unchanged before the stream's rule set is built again whole. */
const STREAM_COMPACT_QUIET_MS = 30_000;
/** A rule as files and views show it: without the exceptions Vigil folded in (see ExceptionBook). */
const withoutExceptions = (r: Rule): Rule => {
  if (!r.vigil_exceptions) return r;
  const copy: { -readonly [K in keyof Rule]?: Rule[K] } = { ...r };
  delete copy.vigil_exceptions;
  return copy as Rule;
};
/** A change to the rules or their exceptions made through the API (see Vigil.applyRuleChange). */
export type RuleChange =
  | { readonly kind: 'flags'; readonly rule_id: string; readonly flags: { enabled?: boolean; streaming?: boolean } }
  | { readonly kind: 'bulk'; readonly ids: readonly string[]; readonly enabled: boolean }
  | { readonly kind: 'import'; readonly text: string; readonly filename: string; readonly overwrite: boolean }
  | { readonly kind: 'exceptions_import'; readonly text: string; readonly filename: string }
  | { readonly kind: 'value_list'; readonly list_id: string; readonly type: string; readonly text: string }
  | { readonly kind: 'exception_add'; readonly body: Record<string, unknown>; readonly rule_id: string | null; readonly close_alerts: boolean; readonly user: string | null }
  | { readonly kind: 'exception_remove'; readonly item_id: string }
  | { readonly kind: 'exception_list_remove'; readonly list_id: string };
/** What applying a change gave; its kind is the change's. */
export type RuleChangeResult =
  | { readonly kind: 'flags'; readonly found: boolean }
  | { readonly kind: 'bulk'; readonly updated: number }
  | ({ readonly kind: 'import' } & ReturnType<Vigil['importRules']>)
  | { readonly kind: 'exceptions_import'; readonly result: ReturnType<Vigil['importExceptions']> }
  | { readonly kind: 'value_list'; readonly result: ReturnType<Vigil['importValueList']> }
  | { readonly kind: 'exception_add'; readonly result: ReturnType<Vigil['addException']> }
  | { readonly kind: 'exception_remove'; readonly found: boolean }
  | { readonly kind: 'exception_list_remove'; readonly found: boolean };

/** Rule summaries made between two turns of the event loop (about 1.5 ms of work). */
const SUMMARY_SLICE = 500;

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** The times an event is stored under: its `@timestamp` (null when it has none that parses), and `event.ingested` or arrival. */
function storedTimes(times: EventTimes, now: number): { ts: number | null; ingested: number } {
  const ing: unknown = times.ingested;
  return { ts: finite(defaultParseTimestamp(times.timestamp)), ingested: ing === undefined ? now : (finite(defaultParseTimestamp(ing)) ?? now) };
}


/**
 * The detection service: store, rules, scheduler, streaming, outputs. Transport-free; the HTTP
 * server and the CLI call it.
 */
export class Vigil {
  readonly registry: RuleRegistry;
  readonly limits: RuleLimits;
  readonly scheduler: Scheduler;
  readonly stream: StreamEngine;
  readonly outputs: OutputDispatcher;
  readonly exceptions: ExceptionBook;
  readonly documents: Documents;
  /** Alerts waiting to be copied into the alerts index (see copyAlerts). */
  private alertCopies = new Set<string>();
  private copying: Promise<unknown> = Promise.resolve();
  /** Rule-file problems met at start, formatted with file:line:col. */
  readonly startupProblems: string[] = [];
  private lastRetention = -Infinity;
  private readonly started: number;
  private ingested = { events: 0, bytes: 0, failed: 0, since: 0 };
  private clockMoves: Promise<number> = Promise.resolve(0);
  /** The stream's work (batches matched in slices, time moved on), one piece after another. */
  private streamWork: Promise<unknown> = Promise.resolve();
  /** When rules last changed (performance.now()), for `compactStream`. */
  private lastRuleChange = 0;
  private closing = false;
  /** Deprecated rules in the rule files, not loaded (see VigilConfig.includeDeprecated). */
  deprecatedLeftOut = 0;

  private constructor(
    readonly store: Store,
    readonly clock: Clock,
    private readonly config: VigilConfig,
  ) {
    this.limits = config.ruleLimits ?? DEFAULT_RULE_LIMITS;
    this.registry = new RuleRegistry(this.limits);
    this.outputs = new OutputDispatcher(config.outputs ?? [], config.outputOptions);
    const onAlerts = (alerts: BuiltAlert[]): void => {
      this.outputs.send(alerts.map((a) => a.doc));
      this.copyAlerts(alerts.map((a) => a.id));
      config.alertSink?.(alerts);
    };
    this.scheduler = new Scheduler({ store, clock, rules: () => this.registry.rules, onAlerts, scanThreads: config.scanThreads, scanRange: config.scanRange, maxCatchUpWindows: this.limits.maxCatchUpWindows, ruleBudgetMs: config.ruleBudgetMs });
    this.stream = new StreamEngine(store, onAlerts, config.streamRoute);
    this.exceptions = new ExceptionBook(store);
    this.documents = new Documents(store);
    this.started = clock.now();
    this.ingested.since = this.started;
  }

  static async open(config: VigilConfig): Promise<Vigil> {
    const store = openSqliteStore(config.dataDir, { memory: config.memory, writerThread: true });
    const v = new Vigil(store, config.clock, config);
    if (config.rulePaths.length > 0) {
      const set = await loadRules(config.rulePaths);
      for (const f of set.files) if (f.diagnostics.some((d) => d.severity === 'error')) v.startupProblems.push(formatDiagnostics(f.diagnostics.filter((d) => d.severity === 'error'), f.text, { context: false }));
      for (const r of set.rules) {
        if (r.metadata?.maturity === 'deprecated' && config.includeDeprecated !== true) continue;
        for (const p of limitProblems(r, v.limits)) v.startupProblems.push(`warning: rule ${r.rule_id} (${r.name}): ${p.message}; it runs at the allowed value`);
      }
      const now = config.clock.now();
      store.transaction(() => {
        for (const r of set.rules) {
          const stored = store.rules.get(r.rule_id);
          if (r.metadata?.maturity === 'deprecated' && config.includeDeprecated !== true) {
            // left out, and forgotten when an earlier start loaded it from its file
            v.deprecatedLeftOut++;
            if (stored?.origin === 'file') store.rules.remove(r.rule_id);
            continue;
          }
          // a rule imported through the API (edited copy) wins over the file it may have come from
          if ((stored?.origin ?? 'file') === 'file') v.upsertRule(r, 'file', now);
        }
      });
    }
    v.refreshRules();
    return v;
  }

  private upsertRule(r: Rule, origin: string, now: number, overwriteFlags?: { enabled?: boolean }): void {
    const known = this.store.rules.get(r.rule_id);
    this.store.rules.upsert({
      ruleId: r.rule_id,
      body: r as unknown as Record<string, unknown>,
      origin,
      updated: now,
      enabled: overwriteFlags?.enabled,
      streaming: known ? undefined : this.config.streamingDefault === true,
    });
  }

  refreshRules(): void {
    this.registry.refresh(this.store.rules.list(), (rules) => this.exceptions.apply(rules, this.clock.now()));
    for (const p of this.exceptions.problems) this.config.log?.(`exceptions: ${p} (left out)`);
    this.rulesChanged();
  }

  /** The stream and the scheduler take up the registry's rules as they are now. */
  private rulesChanged(): void {
    this.stream.sync(this.registry.rules, this.clock.now());
    this.scheduler.prepare();
    this.lastRuleChange = performance.now();
  }

  /** Runs `work` after the stream's earlier work has ended (batches are matched in slices). */
  private inStream<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.streamWork.then(work);
    this.streamWork = run.catch(() => undefined);
    return run;
  }

  /**
   * Rule changes are taken up by the stream in layers (see StreamEngine.sync); once rules have not
   * changed for a while, the stream's rule set is built again whole (about 100 ms with the corpus).
   */
  private compactStream(): void {
    if (this.stream.fragmented && performance.now() - this.lastRuleChange > STREAM_COMPACT_QUIET_MS) this.stream.compact();
  }

  // ---- ingest -------------------------------------------------------------------------------

  /**
   * Stores a batch durably (one transaction), then matches it for streaming rules. `forwards`
   * collects the events of the stages of rules that run elsewhere (see StreamRoute): without it,
   * those rules take nothing of the batch.
   */
  async ingest(items: readonly IngestItem[], forwards?: ForwardRequest[]): Promise<EventWriteResult[]> {
    const now = this.clock.now();
    const writes = items.map((it) => {
      let times = it.times;
      if (!times) {
        // a document the store will refuse (it checks the JSON) has no time fields
        const parsed = it.source ? null : parseJsonObject(it.json);
        const source = it.source ?? (parsed?.ok ? parsed.value : null);
        times = { timestamp: getTimestamp(source), ingested: getIngested(source) };
      }
      return { op: it.op, index: it.index, id: it.id, json: it.json, ...storedTimes(times, now) };
    });
    const results = await this.store.events.writeAsync(writes);
    const stored: StoredEvent[] = [];
    results.forEach((r, i) => {
      if (r.ok) stored.push({ index: r.index, id: r.id, version: r.version, seq: r.seq, ts: writes[i]!.ts, ingested: writes[i]!.ingested, json: writes[i]!.json, source: items[i]!.source });
      else this.ingested.failed++;
    });
    this.ingested.events += stored.length;
    for (const w of writes) this.ingested.bytes += w.json.length;
    if (stored.length && this.stream.active > 0) {
      // matched in slices of 20 ms, so that a large batch with many rules does not hold the server
      await this.inStream(() => this.stream.pushSliced(stored, now, nextTurn, 20, { forwards })).catch((e: unknown) => {
        this.config.log?.(`streaming failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    }
    return results;
  }

  /** See StreamEngine.forwardsOf: what of `items` (already stored) forwarded rules' stages take. */
  forwardsOf(items: readonly IngestItem[]): ForwardRequest[] {
    const now = this.clock.now();
    const events: StoredEvent[] = [];
    for (const it of items) {
      const p = it.source ? null : parseJsonObject(it.json);
      const source = it.source ?? (p?.ok ? p.value : null);
      if (!source) continue;
      events.push({ index: it.index, id: it.id ?? '', version: 1, seq: 0, ...storedTimes({ timestamp: getTimestamp(source), ingested: getIngested(source) }, now), json: it.json, source });
    }
    return this.stream.forwardsOf(events, now);
  }

  /**
   * Matches events other nodes sent on for this node's forwarded rules (each only for the rules it
   * was sent for); they are not stored here (the node that read them did).
   */
  async matchForwarded(events: readonly ForwardedEvent[]): Promise<void> {
    if (events.length === 0 || this.stream.active === 0) return;
    const now = this.clock.now();
    const rules = new Map<StoredEvent, ReadonlySet<string>>();
    const stored = events.map((e) => {
      const s: StoredEvent = { index: e.index, id: e.id, version: 1, seq: 0, ts: e.ts, ingested: e.ingested, json: e.json };
      rules.set(s, e.rules);
      return s;
    });
    await this.inStream(() => this.stream.pushSliced(stored, now, nextTurn, 20, { forwardedFor: (e) => rules.get(e) })).catch((e: unknown) => {
      this.config.log?.(`streaming failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  /**
   * Copies alerts, as they are now, into the alerts index (ALERTS_INDEX) on a later turn: written
   * alerts arrive while the stream or a pass is matching, and their copies go in as ingested
   * events, so that searches and rules over `.alerts-security.*` see them.
   */
  copyAlerts(ids: readonly string[]): void {
    if (ids.length === 0 || this.closing) return;
    const first = this.alertCopies.size === 0;
    for (const id of ids) this.alertCopies.add(id);
    if (!first) return;
    this.copying = this.copying.then(
      () =>
        new Promise<void>((resolve) =>
          setImmediate(() => {
            const batch = [...this.alertCopies];
            this.alertCopies.clear();
            const items: IngestItem[] = [];
            for (const id of batch) {
              const a = this.store.alerts.get(id);
              if (a) items.push({ op: 'index', index: ALERTS_INDEX, id, source: a.doc, json: JSON.stringify(a.doc) });
            }
            this.ingest(items).then(
              () => resolve(),
              (e: unknown) => {
                this.config.log?.(`copying alerts to ${ALERTS_INDEX} failed: ${e instanceof Error ? e.message : String(e)}`);
                resolve();
              },
            );
          }),
        ),
    );
  }

  /** Resolves when the alerts written so far are in the alerts index. */
  async alertCopiesDone(): Promise<void> {
    while (this.alertCopies.size > 0) await this.copying;
    await this.copying;
  }

  /**
   * Alerts as another node of the cluster holds them (PostgreSQL's copy): those new here are stored,
   * those known take its triage state; their copies in the alerts index follow. Not sent to the
   * outputs (the cluster's outbox sends each alert once). The ids that changed here.
   */
  takeAlerts(rows: readonly AlertRow[]): string[] {
    if (rows.length === 0) return [];
    const added = this.store.alerts.insert(rows);
    const isNew = new Set(added);
    // of an alert held here, only its triage is taken (the copy's document may differ in key order)
    const triaged: AlertRow[] = [];
    for (const r of rows) {
      if (isNew.has(r.id)) continue;
      const here = this.store.alerts.get(r.id);
      if (!here || TRIAGE_FIELDS.every((f) => JSON.stringify(here.doc[f]) === JSON.stringify(r.doc[f]))) continue;
      const doc = { ...here.doc };
      for (const f of TRIAGE_FIELDS) {
        if (r.doc[f] === undefined) delete doc[f];
        else doc[f] = r.doc[f];
      }
      triaged.push({ ...here, status: r.status, assignee: r.assignee ?? null, doc });
    }
    const changed = this.store.alerts.setTriage(triaged);
    const ids = [...added, ...changed];
    this.copyAlerts(ids);
    return ids;
  }

  /** Sets alerts' workflow status (see AlertStore.setStatus), their copies in the alerts index too. */
  setAlertStatus(ids: readonly string[], status: string, extra?: { reason?: string | null; note?: string | null; by?: string | null }): number {
    const n = this.store.alerts.setStatus(ids, status, this.clock.now(), extra);
    this.copyAlerts(ids);
    return n;
  }

  assignAlerts(ids: readonly string[], assignee: string | null): number {
    const n = this.store.alerts.assign(ids, assignee, this.clock.now());
    this.copyAlerts(ids);
    return n;
  }

  // ---- time ---------------------------------------------------------------------------------

  /**
   * One scheduler round at the clock's time, plus streaming run records and retention. The
   * scheduler's passes pause often, so the server answers while they run.
   */
  async tick(): Promise<number> {
    const now = this.clock.now();
    // an exception item that expired no longer applies
    const expiry = this.exceptions.nextExpiry;
    if (expiry !== null && now >= expiry) this.refreshRules();
    const n = await this.scheduler.tick();
    await this.inStream(() => {
      this.stream.advanceTime(now);
      this.stream.recordRuns(now);
      this.compactStream();
    });
    if (now - this.lastRetention >= 60_000) {
      this.lastRetention = now;
      this.applyRetention(now);
    }
    return n;
  }

  /**
   * With a manual clock: moves time to `t`, running every execution at the time it falls due on
   * the way (as a server that was up all along would have).
   */
  advanceTo(t: number): Promise<number> {
    // moves of the clock run one after the other, each over the time the one before left
    const run = this.clockMoves.then(async () => {
      const clock = this.clock;
      if (!(clock instanceof ManualClock)) throw new Error('the clock is not manual');
      let runs = 0;
      for (let guard = 0; guard < 100_000 && !this.closing; guard++) {
        const due = this.scheduler.nextDueTime();
        if (due === null || due > t) break;
        clock.set(Math.max(clock.now(), due));
        const n = await this.tick();
        runs += n;
        if (n === 0) break;
      }
      clock.set(Math.max(clock.now(), t));
      if (!this.closing) runs += await this.tick();
      return runs;
    });
    this.clockMoves = run.catch(() => 0);
    return run;
  }

  private applyRetention(now: number): void {
    const r = this.config.retention;
    if (!r) return;
    if (r.maxAgeMs !== undefined) {
      const n = this.store.events.deleteBefore(now - r.maxAgeMs);
      if (n) this.config.log?.(`retention: removed ${n} events older than ${new Date(now - r.maxAgeMs).toISOString()}`);
    }
    if (r.maxBytes !== undefined) {
      const size = this.store.size();
      if (size > r.maxBytes) {
        const count = this.store.events.count();
        const n = this.store.events.trimTo(Math.floor(count * (r.maxBytes / size) * 0.9));
        this.config.log?.(`retention: store ${size} bytes over ${r.maxBytes}: removed the ${n} oldest events`);
      }
    }
  }

  // ---- rules --------------------------------------------------------------------------------

  /**
   * The rules list: each rule's summary (see RuleSummary), filtered, sorted and paged on the server.
   * A few queries for all rules (last runs, gaps, alert counts, costs), not a few per rule.
   */
  async ruleList(q: RuleListQuery = {}): Promise<{ total: number; rules: RuleSummary[] }> {
    return selectRules(await this.ruleSummaries(), q);
  }

  /**
   * Every rule's summary, made SUMMARY_SLICE rules at a time with a turn of the event loop between
   * (20,000 rules are allowed: made at once they would hold up ingest).
   */
  async ruleSummaries(): Promise<RuleSummary[]> {
    const rules = this.registry.rules;
    const summarize = this.summarizer();
    const out: RuleSummary[] = [];
    for (let i = 0; i < rules.length; i += SUMMARY_SLICE) {
      if (i > 0) await nextTurn();
      for (const r of rules.slice(i, i + SUMMARY_SLICE)) out.push(summarize(r));
    }
    return out;
  }

  /** One rule's summary. */
  ruleSummary(ruleId: string): RuleSummary | null {
    const r = this.registry.find(ruleId);
    return r ? this.summarizer()(r) : null;
  }

  /** Makes rule summaries from what is known now of runs, gaps, alerts and stored indices. */
  private summarizer(): (r: ActiveRule) => RuleSummary {
    const hasData = this.hasDataIn(this.store.events.indices().map((i) => i.name));
    const { costs, lastRuns, gaps } = this.runAggregates();
    const alerts = this.store.alerts.countsByRule();
    return (r: ActiveRule): RuleSummary => {
      const id = r.rule.rule_id;
      const last = lastRuns.get(id);
      const c = costs.get(id);
      const a = alerts.get(id);
      return {
        rule_id: id,
        name: r.rule.name,
        type: r.rule.type,
        language: r.rule.language ?? null,
        severity: r.rule.severity,
        risk_score: r.rule.risk_score,
        interval: r.rule.interval ?? '5m',
        from: r.rule.from ?? 'now-6m',
        tags: r.rule.tags ?? [],
        enabled: r.enabled,
        streaming: r.streaming,
        streamable: isStreamable(r),
        runnable: r.compiled !== null,
        state: ruleState(r),
        problem: r.problem,
        building_block: r.rule.building_block_type !== undefined,
        last_run: last ? { started: last.started, durationMs: last.durationMs, status: last.status, error: last.error, kind: last.kind, written: last.written } : null,
        gaps: gaps.get(id) ?? { total: 0, unfilled: 0 },
        // a building-block rule's alerts are all building blocks: they are its alerts
        alerts: (r.rule.building_block_type !== undefined ? a?.all : a?.shown) ?? 0,
        has_data: hasData(r),
        cost: { cpu_ms: c?.cpuMs ?? 0, events: c?.events ?? 0, runs: c?.runs ?? 0 },
        techniques: this.techniques(r),
      };
    };
  }

  private runCache: { changes: number; at: number; costs: Map<string, { runs: number; cpuMs: number; events: number }>; lastRuns: ReturnType<RunStore['lastRuns']>; gaps: ReturnType<RunStore['gapCounts']> } | null = null;

  /**
   * Per rule, what its runs of the last day cost, its last run and its gaps: read from the runs
   * (which grow by a record per rule and interval) again only when runs or gaps were recorded since,
   * or a minute of the clock went by.
   */
  private runAggregates(): { costs: Map<string, { runs: number; cpuMs: number; events: number }>; lastRuns: ReturnType<RunStore['lastRuns']>; gaps: ReturnType<RunStore['gapCounts']> } {
    const now = this.clock.now();
    const changes = this.store.runs.changes();
    const c = this.runCache;
    if (c && c.changes === changes && now >= c.at && now - c.at < 60_000) return c;
    this.runCache = { changes, at: now, costs: this.store.runs.costs(now - COST_WINDOW_MS), lastRuns: this.store.runs.lastRuns(), gaps: this.store.runs.gapCounts() };
    return this.runCache;
  }

  private readonly techniqueLists = new WeakMap<ActiveRule, string[]>();

  private techniques(r: ActiveRule): string[] {
    let t = this.techniqueLists.get(r);
    if (!t) this.techniqueLists.set(r, (t = techniquesOf(r.rule.threat)));
    return t;
  }

  /** Per rule, whether it has data, for the stored indices named by `indices`. */
  private dataCache: { indices: string; rules: WeakMap<ActiveRule, boolean> } = { indices: '', rules: new WeakMap() };

  /** Whether any of the stored indices matches a rule's patterns (ATT&CK coverage "with data"). */
  private hasDataIn(indexNames: readonly string[]): (r: ActiveRule) => boolean {
    const key = indexNames.join(',');
    if (this.dataCache.indices !== key) this.dataCache = { indices: key, rules: new WeakMap() };
    const known = this.dataCache.rules;
    return (r) => {
      let has = known.get(r);
      if (has === undefined) known.set(r, (has = indexNames.some(ruleIndexMatcher(r))));
      return has;
    };
  }

  /**
   * ATT&CK coverage: per tactic, the techniques the loaded rules name, each with its rules' names,
   * states and whether their indices hold events. Counted as covered only by rules that run.
   */
  async coverage(): Promise<{ tactics: Array<{ id: string; name: string; techniques: Array<{ id: string; name: string; rules: Array<{ rule_id: string; name: string; state: string; has_data: boolean }> }> }> }> {
    const rules = this.registry.rules;
    const summaries = new Map((await this.ruleSummaries()).map((s) => [s.rule_id, s]));
    const tactics = new Map<string, { id: string; name: string; techniques: Map<string, { id: string; name: string; rules: Array<{ rule_id: string; name: string; state: string; has_data: boolean }> }> }>();
    for (const r of rules) {
      const s = summaries.get(r.rule.rule_id);
      if (!s) continue; // removed while the summaries were made
      for (const t of r.rule.threat ?? []) {
        const tid = t.tactic?.id;
        if (!tid) continue;
        let tactic = tactics.get(tid);
        if (!tactic) tactics.set(tid, (tactic = { id: tid, name: t.tactic.name, techniques: new Map() }));
        for (const tech of t.technique ?? []) {
          let cell = tactic.techniques.get(tech.id);
          if (!cell) tactic.techniques.set(tech.id, (cell = { id: tech.id, name: tech.name, rules: [] }));
          if (!cell.rules.some((x) => x.rule_id === s.rule_id)) cell.rules.push({ rule_id: s.rule_id, name: s.name, state: s.state, has_data: s.has_data });
        }
      }
    }
    return { tactics: [...tactics.values()].map((t) => ({ id: t.id, name: t.name, techniques: [...t.techniques.values()].sort((a, b) => a.id.localeCompare(b.id)) })) };
  }

  /** Sets enabled on the rules chosen (by id, or every rule a list query selects); returns how many changed. */
  bulkEnable(ruleIds: readonly string[], enabled: boolean): number {
    const changes = new Map<string, { enabled: boolean }>();
    const byId = new Map(this.registry.rules.map((r) => [r.rule.rule_id, r]));
    this.store.transaction(() => {
      for (const id of ruleIds) {
        const r = byId.get(id);
        if (r && r.enabled !== enabled && this.store.rules.setFlags(id, { enabled })) changes.set(id, { enabled });
      }
    });
    if (changes.size) {
      this.registry.setFlags(changes);
      this.rulesChanged();
    }
    return changes.size;
  }

  /** One rule whole (its query, notes, references…) with its summary's status fields. */
  ruleView(ruleId: string): Record<string, unknown> | null {
    const r = this.registry.find(ruleId);
    const s = this.store.rules.get(ruleId);
    if (!r || !s) return null;
    const summary = this.ruleSummary(ruleId)!;
    const last = this.store.runs.runs({ ruleId, size: 1 }).runs[0] ?? null;
    return {
      ...withoutExceptions(r.rule),
      ...summary,
      exceptions: this.exceptions.ruleView(r.rule),
      last_run: last,
      // threshold, new terms, indicator match: what the rule does with its query's matches
      aggregation: r.aggregation ? describeAggregation(r.aggregation) : null,
      origin: s.origin,
      updated: new Date(s.updated).toISOString(),
      covered_until: this.store.runs.coveredUntil(ruleId),
      // where the rule went past the server's limits, and the values it runs at instead
      limits: r.limited.length ? { problems: r.limited, interval_ms: r.intervalMs, lookback_ms: r.lookbackMs, max_signals: r.maxSignals } : null,
      cost: { ...summary.cost, since: new Date(this.clock.now() - COST_WINDOW_MS).toISOString() },
    };
  }

  /**
   * A process event's ancestry from the stored events: the chain of `process.parent.entity_id`
   * back to the oldest known ancestor (at most `depth`), the event itself first.
   */
  ancestry(index: string, id: string, depth = 12): Array<{ index: string; id: string; ts: number | null; source: Record<string, unknown> }> | null {
    const start = this.store.events.get(index, id);
    if (!start) return null;
    const chain = [{ index: start.index, id: start.id, ts: start.ts, source: JSON.parse(start.json) as Record<string, unknown> }];
    const seen = new Set<string>();
    const parentOf = (src: Record<string, unknown>): string | null => {
      const v = getParentEntity(src);
      return typeof v === 'string' && v !== '' ? v : null;
    };
    let want = parentOf(chain[0]!.source);
    let upTo = start.ts;
    while (want && !seen.has(want) && chain.length <= depth) {
      seen.add(want);
      // the process's own start event (it names the parent); else its event that names a parent,
      // else any of its events (the chain ends there)
      const starts = this.store.events.findByField('process.entity_id', want, upTo, 1, { path: 'event.type', value: 'start' });
      const found = starts.length ? starts : this.store.events.findByField('process.entity_id', want, upTo, 50);
      if (found.length === 0) break;
      const best = found.map((e) => ({ e, source: JSON.parse(e.json) as Record<string, unknown> })).sort((a, b) => Number(parentOf(b.source) !== null) - Number(parentOf(a.source) !== null))[0]!;
      chain.push({ index: best.e.index, id: best.e.id, ts: best.e.ts, source: best.source });
      upTo = best.e.ts ?? upTo;
      want = parentOf(best.source);
    }
    return chain;
  }

  /**
   * A change to the rules as the API makes it, applied here. In cluster mode every node applies the
   * same changes in the same order (see ClusterNode.ruleChange); embedded, the API applies them at once.
   */
  applyRuleChange(c: RuleChange): RuleChangeResult {
    switch (c.kind) {
      case 'flags':
        return { kind: 'flags', found: this.setRuleFlags(c.rule_id, c.flags) };
      case 'bulk':
        return { kind: 'bulk', updated: this.bulkEnable(c.ids, c.enabled) };
      case 'import':
        return { kind: 'import', ...this.importRules(c.text, c.filename, c.overwrite) };
      case 'exceptions_import':
        return { kind: 'exceptions_import', result: this.importExceptions(c.text, c.filename) };
      case 'value_list':
        return { kind: 'value_list', result: this.importValueList(c.list_id, c.type, c.text) };
      case 'exception_add':
        return { kind: 'exception_add', result: this.addException(c.body, c.rule_id, c.close_alerts, c.user) };
      case 'exception_remove':
        return { kind: 'exception_remove', found: this.removeException(c.item_id) };
      case 'exception_list_remove':
        return { kind: 'exception_list_remove', found: this.removeExceptionList(c.list_id) };
    }
  }

  setRuleFlags(ruleId: string, flags: { enabled?: boolean; streaming?: boolean }): boolean {
    const ok = this.store.rules.setFlags(ruleId, flags);
    if (ok) {
      this.registry.setFlags(new Map([[ruleId, flags]]));
      this.rulesChanged();
    }
    return ok;
  }

  // ---- exceptions ---------------------------------------------------------------------------

  /** Imports exception lists (Kibana's export NDJSON); the rules take them up at once. */
  importExceptions(text: string, file: string): ReturnType<ExceptionBook['import']> {
    const r = this.exceptions.import(text, file);
    if (r.lists + r.items > 0) this.refreshRules();
    return r;
  }

  importValueList(id: string, type: string, text: string): ReturnType<ExceptionBook['importValueList']> {
    const r = this.exceptions.importValueList(id, type, text);
    if (r.ok) this.refreshRules();
    return r;
  }

  removeException(itemId: string): boolean {
    const ok = this.exceptions.removeItem(itemId);
    if (ok) this.refreshRules();
    return ok;
  }

  removeExceptionList(listId: string): boolean {
    const ok = this.exceptions.removeList(listId);
    if (ok) this.refreshRules();
    return ok;
  }

  exceptionLists(): ReturnType<ExceptionBook['lists']> {
    return this.exceptions.lists(this.registry.rules.map((r) => r.rule));
  }

  /** The rules an item of `listId` applies to (those naming the list), and `ruleId`'s. */
  private rulesOfList(listId: string, ruleId: string | null): string[] {
    const ids = this.registry.rules.filter((r) => namesList(r.rule, listId)).map((r) => r.rule.rule_id);
    return ruleId !== null && !ids.includes(ruleId) ? [...ids, ruleId] : ids;
  }

  /**
   * How many of the stored alerts of the last 7 days (by event time) an exception item would have
   * excepted, before it is saved: of `ruleId`, or of the rules using its list.
   */
  previewException(body: Record<string, unknown>, ruleId: string | null): { ok: true; alerts: number; examined: number; since: string; rules: number } | { ok: false; error: string } {
    if (ruleId !== null && !this.registry.find(ruleId)) return { ok: false, error: `no rule '${ruleId}'` };
    const item = this.exceptions.readItem(body, ruleId);
    if (!item.ok) return item;
    const since = this.clock.now() - PREVIEW_MS;
    const rules = this.rulesOfList(item.item.list_id, ruleId);
    const m = this.exceptions.matchingAlerts(item.item, rules, since);
    if ('error' in m) return { ok: false, error: m.error };
    return { ok: true, alerts: m.ids.length, examined: m.examined, since: new Date(since).toISOString(), rules: rules.length };
  }

  /**
   * Adds an exception item (to `ruleId`'s own list when no list is named); with `closeAlerts`, the
   * open alerts it matches (any time) are closed, with a note naming it.
   */
  addException(body: Record<string, unknown>, ruleId: string | null, closeAlerts: boolean, user: string | null): { ok: true; item: Record<string, unknown>; closed: number } | { ok: false; error: string } {
    if (ruleId !== null && !this.registry.find(ruleId)) return { ok: false, error: `no rule '${ruleId}'` };
    const item = this.exceptions.readItem(body, ruleId);
    if (!item.ok) return item;
    this.exceptions.addItem(item.item, ruleId);
    this.refreshRules();
    let closed = 0;
    if (closeAlerts) {
      const m = this.exceptions.matchingAlerts(item.item, this.rulesOfList(item.item.list_id, ruleId), undefined);
      if (!('error' in m) && m.ids.length) {
        const open = m.ids.filter((id) => this.store.alerts.get(id)?.status !== 'closed');
        closed = this.setAlertStatus(open, 'closed', { reason: null, note: `closed by exception '${item.item.name}'`, by: user });
      }
    }
    return { ok: true, item: item.item as unknown as Record<string, unknown>, closed };
  }

  /** Imports rule files (NDJSON, TOML, Markdown by file name); every problem comes back located. */
  importRules(text: string, fileName: string, overwrite: boolean): { imported: string[]; errors: Array<{ rule_id?: string; message: string; line: number; col: number; file: string; code: string }> } {
    const parsed = parseRuleFile(fileName, text);
    const errors: Array<LocatedError & { rule_id?: string }> = located(
      parsed.diagnostics.filter((d) => d.severity === 'error'),
      text,
      fileName,
    ).map((e) => ({ ...e, file: fileName }));
    const imported: string[] = [];
    if (parsed.rules.length > MAX_RULE_IMPORT) {
      return { imported, errors: [{ message: `an import holds at most ${MAX_RULE_IMPORT.toLocaleString('en-US')} rules (as Kibana's maxRuleImportExportSize); this one holds ${parsed.rules.length.toLocaleString('en-US')}: nothing imported`, line: 1, col: 1, file: fileName, code: 'VIGIL413' }] };
    }
    const now = this.clock.now();
    // a new rule counts against --max-rules; one that replaces a rule does not
    let held = this.registry.rules.length;
    this.store.transaction(() => {
      for (const r of parsed.rules) {
        const isNew = !this.registry.find(r.rule_id) && !this.store.rules.get(r.rule_id);
        if (isNew && held >= this.limits.maxRules) {
          errors.push({ rule_id: r.rule_id, message: `Vigil holds at most ${this.limits.maxRules.toLocaleString('en-US')} rules (--max-rules): not imported`, line: 1, col: 1, file: fileName, code: 'VIGIL413' });
          continue;
        }
        if (!overwrite && this.store.rules.get(r.rule_id)) {
          errors.push({ rule_id: r.rule_id, message: `rule_id: "${r.rule_id}" already exists`, line: 1, col: 1, file: fileName, code: 'VIGIL409' });
          continue;
        }
        // an imported rule past the limits is refused (a rule file past them runs at the allowed values, with a warning at start)
        const over = limitProblems(r, this.limits);
        if (over.length > 0) {
          for (const p of over) errors.push({ rule_id: r.rule_id, message: `${p.message}: not imported`, ...fieldPosition(text, r.rule_id, p.field), file: fileName, code: 'VIGIL413' });
          continue;
        }
        this.upsertRule(r, 'import', now);
        if (isNew) held++;
        imported.push(r.rule_id);
      }
    });
    if (imported.length) this.refreshRules();
    return { imported, errors };
  }

  exportRules(ruleIds?: readonly string[]): string {
    const rules = this.registry.rules.filter((r) => !ruleIds || ruleIds.includes(r.rule.rule_id)).map((r) => ({ ...withoutExceptions(r.rule), enabled: r.enabled }));
    return writeNdjsonRules(rules);
  }

  // ---- health -------------------------------------------------------------------------------

  health(): Record<string, unknown> {
    const now = this.clock.now();
    const lag = this.registry.rules
      .filter(isScheduled)
      .map((r) => {
        const c = this.store.runs.coveredUntil(r.rule.rule_id);
        return { rule_id: r.rule.rule_id, lag_ms: c === null ? null : Math.max(0, now - c - r.intervalMs) };
      });
    const secs = Math.max(1, (now - this.ingested.since) / 1000);
    const shown = this.store.alerts.search({ size: 0, buildingBlocks: false }).total;
    return {
      now: new Date(now).toISOString(),
      uptime_ms: now - this.started,
      events: { stored: this.store.events.count(), ingested: this.ingested.events, failed: this.ingested.failed, bytes: this.ingested.bytes, per_second: this.ingested.events / secs },
      store_bytes: this.store.size(),
      // the alerts the list shows: building blocks (a sequence's events, building-block rules) apart
      alerts: shown,
      building_block_alerts: this.store.alerts.count() - shown,
      // what runs and what cannot (enabled counts the flag, running what detects)
      rules: countRules(this.registry.rules),
      rule_lag: lag,
      scheduler: this.scheduler.threads(),
      // the ten rules whose runs of the last day took most CPU
      expensive_rules: [...this.runAggregates().costs]
        .sort((a, b) => b[1].cpuMs - a[1].cpuMs)
        .slice(0, 10)
        .map(([id, c]) => ({ rule_id: id, name: this.registry.find(id)?.rule.name ?? id, cpu_ms: c.cpuMs, events: c.events, runs: c.runs })),
      outputs: this.outputs.stats(),
      indices: this.store.events.indices(),
    };
  }

  /**
   * Stops detection work: a pass under way ends at its next pause, recording nothing of it (it runs
   * again at the next start), and no other starts. Ingest and reads still work until `close`.
   */
  async halt(): Promise<void> {
    this.closing = true;
    await this.scheduler.stop();
    await this.streamWork;
    await this.copying;
  }

  async close(): Promise<void> {
    await this.halt();
    await this.outputs.idle(2000);
    this.outputs.close();
    await this.store.close();
  }
}



