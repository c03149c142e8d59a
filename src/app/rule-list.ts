import { isScheduled, type ActiveRule } from '../detect/index.js';
import type { RunRecord } from '../store/index.js';

/**
 * What a rule does now, as every count and list shows it: it streams, it runs on its schedule, it
 * is disabled, or Vigil cannot run it (another rule type, a query that does not compile) whatever
 * its enabled flag says.
 */
export type RuleState = 'streaming' | 'scheduled' | 'disabled' | 'cannot run';

export function ruleState(r: ActiveRule): RuleState {
  if (r.compiled === null) return 'cannot run';
  if (!r.enabled) return 'disabled';
  return isScheduled(r) ? 'scheduled' : 'streaming';
}

/** How many rules are in each state, and how many are enabled and runnable. */
export interface RuleCounts {
  readonly total: number;
  /** Enabled flag set (whether or not Vigil can run them). */
  readonly enabled: number;
  /** Rules Vigil can run (enabled or not). */
  readonly runnable: number;
  /** Enabled and runnable: what detects. */
  readonly running: number;
  readonly streaming: number;
  readonly scheduled: number;
  readonly disabled: number;
  /** Rules Vigil cannot run, enabled or not; `by_reason` says why. */
  readonly cannot_run: number;
  readonly cannot_run_by_reason: Record<string, number>;
}

export function countRules(rules: readonly ActiveRule[]): RuleCounts {
  let enabled = 0;
  let streaming = 0;
  let scheduled = 0;
  let disabled = 0;
  let cannot = 0;
  const byReason: Record<string, number> = {};
  for (const r of rules) {
    if (r.enabled) enabled++;
    const s = ruleState(r);
    if (s === 'streaming') streaming++;
    else if (s === 'scheduled') scheduled++;
    else if (s === 'disabled') disabled++;
    else {
      cannot++;
      const why = reasonClass(r.problem);
      byReason[why] = (byReason[why] ?? 0) + 1;
    }
  }
  return { total: rules.length, enabled, runnable: rules.length - cannot, running: streaming + scheduled, streaming, scheduled, disabled, cannot_run: cannot, cannot_run_by_reason: byReason };
}

/** A problem's kind, for counting: its first clause ("rule type 'esql' is not run by Vigil yet"). */
function reasonClass(problem: string | null): string {
  if (!problem) return 'unknown';
  const head = problem.split(/ \(|[:\n]/)[0]!.trim();
  return head.length > 80 ? `${head.slice(0, 77)}…` : head;
}

/** A rule as the rules list shows it: enough to filter, sort and draw a row, not its query or notes. */
export interface RuleSummary {
  readonly rule_id: string;
  readonly name: string;
  readonly type: string;
  readonly language: string | null;
  readonly severity: string;
  readonly risk_score: number;
  readonly interval: string;
  readonly from: string;
  readonly tags: readonly string[];
  readonly enabled: boolean;
  readonly streaming: boolean;
  readonly streamable: boolean;
  readonly runnable: boolean;
  readonly state: RuleState;
  readonly problem: string | null;
  readonly building_block: boolean;
  readonly last_run: Pick<RunRecord, 'started' | 'durationMs' | 'status' | 'error' | 'kind' | 'written'> | null;
  readonly gaps: { total: number; unfilled: number };
  readonly alerts: number;
  readonly has_data: boolean;
  readonly cost: { cpu_ms: number; events: number; runs: number };
  /** ATT&CK technique ids (sub-techniques included) the rule names. */
  readonly techniques: readonly string[];
}

export interface RuleListQuery {
  /** Words that must all appear in the name, rule id or tags (case-insensitive). */
  readonly q?: string;
  readonly type?: readonly string[];
  readonly severity?: readonly string[];
  readonly tag?: readonly string[];
  readonly state?: readonly RuleState[];
  readonly enabled?: boolean;
  readonly runnable?: boolean;
  readonly hasAlerts?: boolean;
  readonly hasErrors?: boolean;
  readonly hasData?: boolean;
  readonly technique?: string;
  readonly ids?: readonly string[];
  readonly sort?: RuleSort;
  readonly order?: 'asc' | 'desc';
  readonly size?: number;
  readonly offset?: number;
}

export const RULE_SORTS = ['name', 'severity', 'risk', 'type', 'state', 'alerts', 'cpu', 'events', 'last_run', 'gaps'] as const;
export type RuleSort = (typeof RULE_SORTS)[number];
export const RULE_STATES: readonly RuleState[] = ['streaming', 'scheduled', 'disabled', 'cannot run'];

const SEVERITY_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };
const STATE_RANK: Record<RuleState, number> = { streaming: 0, scheduled: 1, disabled: 2, 'cannot run': 3 };

/** Whether a rule has an error to show: it cannot run, or its last run failed. */
export const hasErrors = (r: RuleSummary): boolean => r.problem !== null || (r.last_run !== null && (r.last_run.status !== 'succeeded' || r.last_run.error !== null));

/** Compares texts as String.prototype.localeCompare does, without finding the collator each call. */
const collate = new Intl.Collator().compare;

/** The summaries the query selects, in its order, and how many there are before paging. */
export function selectRules(all: readonly RuleSummary[], q: RuleListQuery): { total: number; rules: RuleSummary[] } {
  const words = (q.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const ids = q.ids ? new Set(q.ids) : null;
  const picked = all.filter((r) => {
    if (ids && !ids.has(r.rule_id)) return false;
    if (q.type?.length && !q.type.includes(r.type)) return false;
    if (q.severity?.length && !q.severity.includes(r.severity)) return false;
    if (q.state?.length && !q.state.includes(r.state)) return false;
    if (q.tag?.length && !q.tag.every((t) => r.tags.includes(t))) return false;
    if (q.enabled !== undefined && r.enabled !== q.enabled) return false;
    if (q.runnable !== undefined && r.runnable !== q.runnable) return false;
    if (q.hasAlerts !== undefined && r.alerts > 0 !== q.hasAlerts) return false;
    if (q.hasErrors !== undefined && hasErrors(r) !== q.hasErrors) return false;
    if (q.hasData !== undefined && r.has_data !== q.hasData) return false;
    if (q.technique && !r.techniques.some((t) => t === q.technique || t.startsWith(`${q.technique}.`))) return false;
    if (words.length) {
      const text = `${r.name} ${r.rule_id} ${r.tags.join(' ')}`.toLowerCase();
      if (!words.every((w) => text.includes(w))) return false;
    }
    return true;
  });
  const key = sortKey(q.sort ?? 'name');
  const sign = (q.order ?? (q.sort === undefined || q.sort === 'name' || q.sort === 'type' || q.sort === 'state' ? 'asc' : 'desc')) === 'asc' ? 1 : -1;
  // each key made once, not once per comparison
  const keyed = picked.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => {
    const c = typeof a.k === 'number' && typeof b.k === 'number' ? a.k - b.k : collate(String(a.k), String(b.k));
    return c !== 0 ? sign * c : collate(a.r.name, b.r.name) || collate(a.r.rule_id, b.r.rule_id);
  });
  for (let i = 0; i < keyed.length; i++) picked[i] = keyed[i]!.r;
  const offset = Math.max(0, q.offset ?? 0);
  return { total: picked.length, rules: q.size === undefined ? picked.slice(offset) : picked.slice(offset, offset + q.size) };
}

function sortKey(s: RuleSort): (r: RuleSummary) => number | string {
  switch (s) {
    case 'name':
      return (r) => r.name.toLowerCase();
    case 'severity':
      return (r) => (SEVERITY_RANK[r.severity] ?? 0) * 1000 + r.risk_score;
    case 'risk':
      return (r) => r.risk_score;
    case 'type':
      return (r) => r.type;
    case 'state':
      return (r) => STATE_RANK[r.state];
    case 'alerts':
      return (r) => r.alerts;
    case 'cpu':
      return (r) => r.cost.cpu_ms;
    case 'events':
      return (r) => r.cost.events;
    case 'last_run':
      return (r) => r.last_run?.started ?? -1;
    case 'gaps':
      return (r) => r.gaps.unfilled * 1e6 + r.gaps.total;
  }
}

/** The ATT&CK technique ids a rule names (sub-techniques as T1234.001). */
export function techniquesOf(threat: unknown): string[] {
  const out = new Set<string>();
  if (!Array.isArray(threat)) return [];
  for (const t of threat as Array<{ technique?: Array<{ id?: string; subtechnique?: Array<{ id?: string }> }> }>) {
    for (const tech of t.technique ?? []) {
      if (typeof tech.id === 'string') out.add(tech.id);
      for (const sub of tech.subtechnique ?? []) if (typeof sub.id === 'string') out.add(sub.id);
    }
  }
  return [...out];
}
