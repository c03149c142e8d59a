import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { nextTurn, type Clock } from '../core/index.js';
import type { BuiltAlert } from '../alerts/index.js';
import { isScheduled, PassFeed, passSpans, RuleAggregator, ScheduledRuleSet, SharedPass, writeMatches, type ActiveRule, type PassWindow, type WindowOutcome } from '../detect/index.js';
import type { RunRecord, Store } from '../store/index.js';
import { ScanThreads } from './scan-thread.js';
import { nextDue, planExecution, type Plan, type PlannedWindow } from './plan.js';

export interface SchedulerDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** The rules as they are now (enabled or not, streaming or not). */
  readonly rules: () => readonly ActiveRule[];
  /** Called with the alerts each execution wrote (for outputs); must not throw. */
  readonly onAlerts: (alerts: BuiltAlert[]) => void;
  /** Execution ids; random by default. */
  readonly newExecutionId?: () => string;
  /** Time spent in an execution, for the log; wall time by default even under a manual clock. */
  readonly elapsed?: () => number;
  /**
   * Lets others run (HTTP requests, ingest) during a pass; called every `sliceMs` of work. By
   * default the next turn of the event loop.
   */
  readonly pause?: () => Promise<void>;
  /** Work between two pauses, ms (default 20). */
  readonly sliceMs?: number;
  /**
   * Threads passes scan on, beside the one that feeds matchers and records (default: one per core
   * but one, at least 1 and up to 4; 0: the pass runs on the caller's thread). Only a store that can be read from another
   * thread (see EventStore.readerFile) allows them.
   */
  readonly scanThreads?: number;
  /** Arrival sequence numbers per range the scan threads take turns by (default 8,192). */
  readonly scanRange?: number;
  /** catch-up windows one execution may run (see planExecution); the rest of a long gap stays on record, unfilled */
  readonly maxCatchUpWindows?: number;
  /** CPU time one rule's window may take in a pass, ms (default 5 minutes, as Kibana's rule timeout); past it the window fails and stays a gap */
  readonly ruleBudgetMs?: number;
}

/** A rule due now, with its plan. */
interface DueRule {
  readonly rule: ActiveRule;
  /** Its place in the scheduled rule set. */
  readonly place: number;
  readonly plan: Plan;
}


/**
 * Runs every enabled, scheduled rule when its interval has passed, over its look-back window,
 * recording gaps and catching them up. Rules due at the same time share one pass over the stored
 * events (see SharedPass), each with its own window, cap and run record. A pass
 * pauses every few milliseconds so that the server keeps answering, and `stop` ends it at the next
 * pause: an execution is recorded whole (alerts, run record and covered time in one transaction) or
 * not at all, and an execution not recorded runs again at the next start.
 */
export class Scheduler {
  private readonly newId: () => string;
  private readonly elapsed: () => number;
  private readonly pause: () => Promise<void>;
  private readonly sliceMs: number;
  private readonly budgetMs: number;
  private running: Promise<number> | null = null;
  private stopping = false;
  private shared: { key: readonly ActiveRule['compiled'][]; set: ScheduledRuleSet } | null = null;
  private thread: ScanThreads | null;
  /** Why passes no longer scan on their own thread (null: they do, or never did). */
  threadProblem: string | null = null;

  constructor(private readonly deps: SchedulerDeps) {
    this.newId = deps.newExecutionId ?? randomUUID;
    this.elapsed = deps.elapsed ?? (() => performance.now());
    this.pause = deps.pause ?? nextTurn;
    this.sliceMs = deps.sliceMs ?? 20;
    this.budgetMs = deps.ruleBudgetMs ?? 5 * 60_000;
    const threads = deps.scanThreads ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    const file = threads > 0 ? deps.store.events.readerFile() : null;
    this.thread = file === null ? null : new ScanThreads(file, threads, deps.scanRange);
  }

  private scheduled(): ActiveRule[] {
    return this.deps.rules().filter(isScheduled);
  }

  /** The earliest time any scheduled rule is due (null when none is scheduled). */
  nextDueTime(): number | null {
    const now = this.deps.clock.now();
    let best: number | null = null;
    for (const r of this.scheduled()) {
      const t = nextDue(this.deps.store.runs.coveredUntil(r.rule.rule_id), r.intervalMs, now);
      if (best === null || t < best) best = t;
    }
    return best;
  }

  /**
   * Executes every rule that is due at the clock's current time. Returns how many executions ran.
   * A call while a pass runs waits for it and runs nothing more (the next tick will).
   */
  async tick(): Promise<number> {
    if (this.running) {
      await this.running;
      return 0;
    }
    if (this.stopping) return 0;
    this.running = this.runDue().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Ends a pass at its next pause, recording nothing of it; resolves once nothing runs. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.thread?.stop();
    await this.running?.catch(() => 0);
    await this.thread?.close();
  }

  /** How passes scan: on how many threads of their own (0: on the caller's), and why no longer, if they stopped. */
  threads(): { scan_threads: number; scan_thread_problem: string | null } {
    return { scan_threads: this.thread?.count ?? 0, scan_thread_problem: this.threadProblem };
  }

  /** Readies the scan threads for the scheduled rules as they are now (call when the rules change). */
  prepare(): void {
    if (this.thread && !this.running && !this.stopping) this.thread.prepare(this.ruleSet(this.scheduled()));
  }

  /** The rule set of the scheduled rules, built again only when they change. */
  private ruleSet(rules: readonly ActiveRule[]): ScheduledRuleSet {
    const key = rules.map((r) => r.compiled);
    const s = this.shared;
    if (s && s.key.length === key.length && s.key.every((c, i) => c === key[i])) return s.set;
    const set = new ScheduledRuleSet(rules);
    this.shared = { key, set };
    return set;
  }

  private async runDue(): Promise<number> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const rules = this.scheduled();
    const due: DueRule[] = [];
    rules.forEach((r, place) => {
      const plan = planExecution(store.runs.coveredUntil(r.rule.rule_id), now, r.intervalMs, r.lookbackMs, this.deps.maxCatchUpWindows ?? Infinity);
      if (!plan.due) return;
      // a new-terms rule first learns the history its memory lacks, in the same pass
      const history = RuleAggregator.historyBefore(store, r, plan.windows[0]!.from);
      due.push({ rule: r, place, plan: history ? { ...plan, windows: [{ kind: 'history', ...history }, ...plan.windows] } : plan });
    });
    if (due.length === 0) return 0;
    const set = this.ruleSet(rules);
    const outcomes = await this.pass(set, due);
    if (outcomes === null) return 0; // stopped: nothing of this pass is recorded
    let n = 0;
    // each rule's executions are one transaction; between them the server answers (recording a
    // thousand rules took longer than a request should wait)
    let sliceStart = performance.now();
    for (const d of due) {
      n += this.record(d, outcomes.get(d)!, now);
      if (performance.now() - sliceStart >= this.sliceMs) {
        await this.pause();
        sliceStart = performance.now();
      }
    }
    return n;
  }

  /** One pass over the stored events for the due rules, whichever time each windows by; null when stopped on the way. */
  private async pass(set: ScheduledRuleSet, group: readonly DueRule[]): Promise<Map<DueRule, Array<{ window: PlannedWindow; outcome: WindowOutcome; ms: number }>> | null> {
    const { store } = this.deps;
    const windows: PassWindow[] = [];
    const planned: Array<{ d: DueRule; w: PlannedWindow }> = [];
    for (const d of group)
      for (const w of d.plan.windows) {
        windows.push({ rule: d.place, from: w.from, to: w.to, byIngested: d.rule.timeField === 'ingested' });
        planned.push({ d, w });
      }
    const t0 = this.elapsed();
    // the stored indices some due rule reads, by name (each rule's own patterns apply per event)
    const names = store.events.indices().map((i) => i.name).filter((name) => group.some((d) => set.accepted(d.place, name)));
    const spans = passSpans(windows);
    const query = { patterns: names, timestamp: spans.timestamp ?? undefined, ingested: spans.ingested ?? undefined };
    let outcomes: WindowOutcome[] | null = null;
    const bounds = names.length === 0 ? null : store.events.arrivalBounds(query);
    if (bounds === null) outcomes = new SharedPass(set, windows, this.budgetMs).finish();
    else if (this.thread) {
      // the scan half on the scan threads, the feed half here
      const feed = new PassFeed(set, windows, this.budgetMs);
      try {
        const summary = await this.thread.run(set, windows, query, bounds, feed, this.sliceMs, () => this.stopping);
        if (summary === null || this.stopping) return null;
        outcomes = await feed.finishSliced(summary, () => this.pause(), this.sliceMs, () => this.stopping);
        if (outcomes === null) return null;
      } catch (e) {
        if (this.stopping) return null;
        // the thread failed: this pass and the next run here
        this.threadProblem = e instanceof Error ? e.message : String(e);
        void this.thread.close();
        this.thread = null;
      }
    }
    if (outcomes === null) {
      const pass = new SharedPass(set, windows, this.budgetMs);
      let sliceStart = performance.now();
      let k = 0;
      for (const e of store.events.scanArrivals({ ...query, seq: bounds ?? undefined })) {
        pass.push(e);
        if ((++k & 255) === 0 && performance.now() - sliceStart >= this.sliceMs) {
          await this.pause();
          if (this.stopping) return null;
          sliceStart = performance.now();
        }
      }
      outcomes = await pass.finishSliced(() => this.pause(), this.sliceMs, () => this.stopping);
      if (outcomes === null) return null;
    }
    // executions of one pass finish together: each took the pass's time
    const ms = this.elapsed() - t0;
    const out = new Map<DueRule, Array<{ window: PlannedWindow; outcome: WindowOutcome; ms: number }>>();
    outcomes.forEach((outcome, i) => {
      const { d, w } = planned[i]!;
      const list = out.get(d) ?? [];
      list.push({ window: w, outcome, ms });
      out.set(d, list);
    });
    return out;
  }

  /** Writes one rule's executions: alerts, run records, gap and covered time, in one transaction. */
  private record(d: DueRule, results: ReadonlyArray<{ window: PlannedWindow; outcome: WindowOutcome; ms: number }>, now: number): number {
    const { store } = this.deps;
    const r = d.rule;
    const id = r.rule.rule_id;
    const plan = d.plan;
    const written: BuiltAlert[] = [];
    store.transaction(() => {
      let gapId: number | null = null;
      if (plan.skipped) store.runs.addGap({ ruleId: id, from: plan.skipped.from, to: plan.skipped.to, detected: now, filled: null });
      if (plan.gap) gapId = store.runs.addGap({ ruleId: id, from: plan.gap.from, to: plan.gap.to, detected: now, filled: null });
      let allOk = true;
      // an aggregating rule's windows go through its aggregator, which keeps its memory at the end
      const agg = r.aggregation ? new RuleAggregator(store, r, r.aggregation, now) : null;
      let historyError: string | null = null;
      for (const { window: w, outcome: o, ms } of results) {
        if (w.kind === 'history') {
          if (o.error !== null) historyError = `learning the history before the window failed: ${o.error}`;
          else agg?.learn(o.matches, w.to);
          continue;
        }
        const executionId = this.newId();
        const base = { ruleId: id, executionId, kind: w.kind, started: now, windowFrom: w.from, windowTo: w.to, gapMs: w.kind === 'scheduled' && plan.gap ? plan.gap.to - plan.gap.from : 0, cpuMs: o.cpuMs, searched: o.searched };
        let rec: RunRecord;
        try {
          if (o.error !== null) throw new Error(o.error);
          if (historyError !== null) throw new Error(historyError);
          const t0 = this.elapsed();
          const matches = agg ? agg.window(o.matches, w.to) : o.matches;
          const res = writeMatches(store, r, matches, r.maxSignals, now, executionId);
          const writeMs = this.elapsed() - t0;
          const dropped = res.dropped;
          rec = { ...base, durationMs: ms + writeMs, cpuMs: o.cpuMs + writeMs, matches: matches.length, written: res.written, existing: res.existing, dropped, status: dropped > 0 ? 'partial failure' : 'succeeded', error: dropped > 0 ? `max_signals (${r.maxSignals}) reached: ${dropped} matches not written` : null };
          written.push(...res.alerts);
        } catch (e) {
          allOk = false;
          rec = { ...base, durationMs: ms, matches: 0, written: 0, existing: 0, dropped: 0, status: 'failed', error: e instanceof Error ? e.message : String(e) };
          // the window was not covered: it stays on record as a gap (unless it is already part of one)
          if (!(plan.gap && w.from >= plan.gap.from && w.to <= plan.gap.to)) store.runs.addGap({ ruleId: id, from: w.from, to: w.to, detected: now, filled: null });
        }
        store.runs.record(rec);
      }
      if (allOk) agg?.commit();
      if (gapId !== null && allOk) store.runs.fillGap(gapId, now);
      store.runs.setCoveredUntil(id, now);
    });
    if (written.length) this.deps.onAlerts(written);
    return results.length;
  }
}
