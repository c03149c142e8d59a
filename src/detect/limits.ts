import { parseDateMath, parseDuration, type Rule } from '../rules/index.js';

/**
 * What a server lets one rule cost, whoever wrote it: how often it may run, how far back it may
 * look, how many alerts one execution may write, and how many windows one catch-up may run.
 */
export interface RuleLimits {
  /** Kibana's `xpack.alerting.rules.minimumScheduleInterval` (1m) */
  readonly minIntervalMs: number;
  readonly maxLookbackMs: number;
  /** Kibana's `xpack.alerting.rules.run.alerts.max` (1000) */
  readonly maxSignals: number;
  /** catch-up windows one execution runs after downtime; older uncovered time stays a gap */
  readonly maxCatchUpWindows: number;
  /** rules Vigil holds at most, files and imports together (imports past it are refused) */
  readonly maxRules: number;
}

export const DEFAULT_RULE_LIMITS: RuleLimits = { minIntervalMs: 60_000, maxLookbackMs: 7 * 86_400_000, maxSignals: 1000, maxCatchUpWindows: 100, maxRules: 20_000 };

const human = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** Where a rule goes past the limits: the field and what is wrong (empty: within them). */
export function limitProblems(rule: Rule, limits: RuleLimits): Array<{ field: 'interval' | 'from' | 'max_signals'; message: string }> {
  const out: Array<{ field: 'interval' | 'from' | 'max_signals'; message: string }> = [];
  const interval = parseDuration(rule.interval);
  if (interval !== null && interval < limits.minIntervalMs) out.push({ field: 'interval', message: `interval ${rule.interval} is shorter than this server's minimum ${human(limits.minIntervalMs)} (--min-rule-interval)` });
  const from = parseDateMath(rule.from);
  if (from !== null && -from > Math.max(limits.maxLookbackMs, interval ?? 0)) out.push({ field: 'from', message: `from ${rule.from} looks back further than this server's maximum ${human(limits.maxLookbackMs)} (--max-lookback)` });
  if (rule.max_signals > limits.maxSignals) out.push({ field: 'max_signals', message: `max_signals ${rule.max_signals} is above this server's ceiling ${limits.maxSignals} (--max-signals)` });
  return out;
}

/** The schedule a rule runs on within the limits (a rule file past them runs at the nearest allowed values). */
export function limitedSchedule(rule: Rule, limits: RuleLimits): { intervalMs: number; lookbackMs: number; maxSignals: number } {
  const intervalMs = Math.max(parseDuration(rule.interval) ?? 300_000, limits.minIntervalMs);
  const fromOffset = parseDateMath(rule.from);
  const lookback = Math.max(fromOffset !== null && fromOffset < 0 ? -fromOffset : intervalMs, intervalMs);
  return { intervalMs, lookbackMs: Math.min(lookback, Math.max(limits.maxLookbackMs, intervalMs)), maxSignals: Math.min(rule.max_signals, limits.maxSignals) };
}
