import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { BuiltAlert } from '../alerts/index.js';
import type { RunRecord, Store } from '../store/index.js';
import type { ActiveRule } from './active-rule.js';
import { executeRule } from './execute-rule.js';
import { nextDue, planExecution } from './plan.js';

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
}

/**
 * Runs every enabled, scheduled rule when its interval has passed, over its look-back window,
 * recording gaps and catching them up. `tick` is driven by a timer in production and by tests
 * moving a manual clock (`runUntil`), which replays each execution at its due time.
 */
export class Scheduler {
  private readonly newId: () => string;
  private readonly elapsed: () => number;
  private running = false;

  constructor(private readonly deps: SchedulerDeps) {
    this.newId = deps.newExecutionId ?? randomUUID;
    this.elapsed = deps.elapsed ?? (() => performance.now());
  }

  private scheduled(): ActiveRule[] {
    return this.deps.rules().filter((r) => r.enabled && !r.streaming && r.compiled !== null);
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

  /** Executes every rule that is due at the clock's current time. Returns how many executions ran. */
  tick(): number {
    if (this.running) return 0; // a timer tick during a long run waits for the next one
    this.running = true;
    try {
      let n = 0;
      for (const r of this.scheduled()) n += this.runRule(r);
      return n;
    } finally {
      this.running = false;
    }
  }

  private runRule(r: ActiveRule): number {
    const { store, clock } = this.deps;
    const id = r.rule.rule_id;
    const now = clock.now();
    const plan = planExecution(store.runs.coveredUntil(id), now, r.intervalMs, r.lookbackMs);
    if (!plan.due) return 0;
    let gapId: number | null = null;
    if (plan.gap) gapId = store.runs.addGap({ ruleId: id, from: plan.gap.from, to: plan.gap.to, detected: now, filled: null });
    let allOk = true;
    for (const w of plan.windows) {
      const executionId = this.newId();
      const t0 = this.elapsed();
      const base = { ruleId: id, executionId, kind: w.kind, started: now, windowFrom: w.from, windowTo: w.to, gapMs: w.kind === 'scheduled' && plan.gap ? plan.gap.to - plan.gap.from : 0 };
      let rec: RunRecord;
      try {
        const res = executeRule(store, r, w, now, executionId);
        rec = { ...base, durationMs: this.elapsed() - t0, searched: res.searched, matches: res.matches, written: res.written, existing: res.existing, dropped: res.dropped, status: res.dropped > 0 ? 'partial failure' : 'succeeded', error: res.dropped > 0 ? `max_signals (${r.rule.max_signals}) reached: ${res.dropped} matches not written` : null };
        if (res.alerts.length) this.deps.onAlerts(res.alerts);
      } catch (e) {
        allOk = false;
        rec = { ...base, durationMs: this.elapsed() - t0, searched: 0, matches: 0, written: 0, existing: 0, dropped: 0, status: 'failed', error: e instanceof Error ? e.message : String(e) };
      }
      store.runs.record(rec);
    }
    if (gapId !== null && allOk) store.runs.fillGap(gapId, now);
    store.runs.setCoveredUntil(id, now);
    return plan.windows.length;
  }
}
