import { createHash } from 'node:crypto';
import { createIndexMatcher } from '../core/index.js';
import { compileStatement, type CompiledQuery } from '../engine/index.js';
import { parseQuery } from '../eql/index.js';
import { ruleStatement } from './exceptions.js';
import { suppressionParams, type SuppressionParams } from './suppression.js';
import { ruleKqlStatement } from '../kql/index.js';
import { DEFAULT_RULE_LIMITS, limitedSchedule, limitProblems, type RuleLimits } from './limits.js';
import { isKqlRule, newTermsParams, queryTimestampField, thresholdParams, threatMatchParams, type NewTermsParams, type Rule, type ThresholdParams, type ThreatMatchParams } from '../rules/index.js';

/** What a rule of an aggregating type does with its query's matches before they alert. */
export type Aggregation =
  | { readonly kind: 'threshold'; readonly params: ThresholdParams }
  | { readonly kind: 'new_terms'; readonly params: NewTermsParams }
  | { readonly kind: 'threat_match'; readonly params: ThreatMatchParams };

/** A rule's aggregation (null: its matches alert one by one), or what is wrong with its parameters. */
export function aggregationOf(rule: Rule): { aggregation: Aggregation | null; problem: string | null } {
  const p = rule.type === 'threshold' ? thresholdParams(rule) : rule.type === 'new_terms' ? newTermsParams(rule) : rule.type === 'threat_match' ? threatMatchParams(rule) : null;
  if (p === null) return { aggregation: null, problem: null };
  if (!p.ok) return { aggregation: null, problem: p.problem };
  return { aggregation: { kind: rule.type, params: p.params } as Aggregation, problem: null };
}

/** What an aggregation does, in words (the rule page shows it). */
export function describeAggregation(a: Aggregation): string {
  switch (a.kind) {
    case 'threshold': {
      const p = a.params;
      const by = p.fields.length ? ` with the same ${p.fields.join(', ')}` : '';
      const card = p.cardinality.map((c) => ` and at least ${c.value} distinct ${c.field}`).join('');
      return `one alert per group of at least ${p.value} matching events${by}${card} in a run; events a group's alert counted are not counted again`;
    }
    case 'new_terms':
      return `one alert per matching event whose ${a.params.fields.join(' + ')} was not seen in the ${a.params.historyWindowStart.replace('now-', '')} before it (history learnt from stored events, then kept)`;
    case 'threat_match':
      return `matching events whose ${[...new Set(a.params.mapping.flat().map((e) => e.field))].join(', ')} equals an indicator's (indicators: ${a.params.index.join(', ')})`;
  }
}

/**
 * The name of what an aggregating rule remembers (new terms seen, threshold groups alerted): the
 * rule, and what its memory depends on (type, query, parameters, time field). A rule whose query or
 * fields change starts afresh.
 */
export function stateScope(rule: Rule): string {
  const h = createHash('sha256').update(JSON.stringify([rule.type, rule.query, rule.language, rule.timestamp_override, rule.extra?.threshold, rule.extra?.new_terms, rule.extra?.new_terms_fields, rule.extra?.history_window_start])).digest('hex');
  return `${rule.type}:${rule.rule_id}:${h.slice(0, 16)}`;
}

/** A rule ready to run: the model, its compiled query, and its schedule in milliseconds. */
export interface ActiveRule {
  readonly rule: Rule;
  readonly enabled: boolean;
  readonly streaming: boolean;
  /** Null when the rule cannot run (another rule type, or a query that does not compile). */
  readonly compiled: CompiledQuery | null;
  readonly problem: string | null;
  readonly intervalMs: number;
  readonly lookbackMs: number;
  /** alerts one execution may write: the rule's max_signals within the server's ceiling */
  readonly maxSignals: number;
  /** where the rule went past the server's limits and runs at the nearest allowed value instead */
  readonly limited: readonly string[];
  readonly indexPatterns: readonly string[];
  /** Which stored time the window applies to. */
  readonly timeField: 'timestamp' | 'ingested';
  /** What its type does with its query's matches (null: each alerts). */
  readonly aggregation: Aggregation | null;
  /** Its alert suppression (null: none). */
  readonly suppression: SuppressionParams | null;
}

/** Kibana's default `securitySolution:defaultIndex`, used when a rule names no index. */
export const DEFAULT_INDEX_PATTERNS = ['apm-*-transaction*', 'auditbeat-*', 'endgame-*', 'filebeat-*', 'logs-*', 'packetbeat-*', 'traces-apm*', 'winlogbeat-*', '-*elastic-cloud-logs-*'];

/**
 * Whether a rule's query can run as events arrive (samples and pipes need the whole input; the
 * aggregating types run over windows).
 */
export function isStreamable(r: ActiveRule): boolean {
  const c = r.compiled;
  return c !== null && r.aggregation === null && (c.kind === 'event' || c.kind === 'sequence') && c.ast.pipes.length === 0;
}

/** Whether the scheduler runs the rule: enabled and runnable, and not streaming (a rule set to stream that cannot is scheduled). */
export function isScheduled(r: ActiveRule): boolean {
  return r.enabled && r.compiled !== null && (!r.streaming || !isStreamable(r));
}

/** Whether an index name is one of the rule's indices, remembered per name (a pass asks per event). */
export function ruleIndexMatcher(r: ActiveRule): (index: string) => boolean {
  const match = createIndexMatcher(r.indexPatterns);
  const seen = new Map<string, boolean>();
  return (name) => {
    let v = seen.get(name);
    if (v === undefined) seen.set(name, (v = match(name)));
    return v;
  };
}

/** A rule's query compiled, or why it cannot run. */
export function compileRule(rule: Rule): { compiled: CompiledQuery | null; problem: string | null } {
  if (isKqlRule(rule)) return compileKqlRule(rule);
  if (rule.type !== 'eql') return { compiled: null, problem: `rule type '${rule.type}'${rule.language ? ` in ${rule.language}` : ''} is not run by Vigil yet (EQL rules and KQL query, threshold, new-terms and indicator match rules are)` };
  if (!rule.query) return { compiled: null, problem: 'the rule has no query' };
  const options = { timestampField: queryTimestampField(rule), eventCategoryField: rule.event_category_override ?? 'event.category' };
  const parsed = parseQuery(rule.query, {});
  if (!parsed.ast || parsed.diagnostics.some((x) => x.severity === 'error')) {
    const d = parsed.diagnostics.find((x) => x.severity === 'error');
    return { compiled: null, problem: `query does not compile: ${d?.message ?? 'unknown error'}` };
  }
  try {
    return { compiled: compileStatement(ruleStatement(rule, parsed.ast), options), problem: null };
  } catch (e) {
    return { compiled: null, problem: `query does not compile: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * A KQL rule: its query compiled into the EQL engine as an event query (see kqlToEql), each field
 * typed by ECS; a query rule alerts per matching event, the others aggregate the matches (see
 * Aggregation), and need parameters that make sense (an indicator query that translates).
 */
function compileKqlRule(rule: Rule): { compiled: CompiledQuery | null; problem: string | null } {
  const a = aggregationOf(rule);
  if (a.problem !== null) return { compiled: null, problem: a.problem };
  if (a.aggregation?.kind === 'threat_match') {
    const p = a.aggregation.params;
    if (p.language !== 'kuery') return { compiled: null, problem: `indicator queries in ${p.language} are not run by Vigil yet (KQL ones are)` };
    const tq = ruleKqlStatement(p.query, 0);
    if (!tq.ok) return { compiled: null, problem: `the indicator query: ${tq.problem}` };
  }
  const t = ruleKqlStatement(rule.query);
  if (!t.ok) return { compiled: null, problem: t.problem };
  return { compiled: compileStatement(ruleStatement(rule, t.statement), { timestampField: queryTimestampField(rule) }), problem: null };
}

/** Why Vigil cannot run a rule (null: it can). An EQL rule that loaded can (its query was checked then). */
export function whyNotRunnable(rule: Rule): string | null {
  if (rule.type === 'eql') return rule.query ? null : 'the rule has no query';
  return compileRule(rule).problem;
}

/** The key under which a rule's compiled query stays the same (see compileRule). */
export function compileKey(rule: Rule): string {
  const x = rule.extra;
  return JSON.stringify([rule.type, rule.query, rule.timestamp_override, rule.event_category_override, rule.language, x?.threshold, x?.new_terms, x?.new_terms_fields, x?.history_window_start, x?.threat_query, x?.threat_mapping, x?.threat_index, x?.threat_language, x?.threat_filters, rule.vigil_exceptions?.key]);
}

/** A rule ready to run, from its model and flags (its query compiled unless given). */
export function activeRule(rule: Rule, enabled: boolean, streaming: boolean, compiled: { compiled: CompiledQuery | null; problem: string | null } = compileRule(rule), limits: RuleLimits = DEFAULT_RULE_LIMITS): ActiveRule {
  const { intervalMs, lookbackMs, maxSignals } = limitedSchedule(rule, limits);
  const sup = suppressionParams(rule, intervalMs);
  return {
    rule,
    enabled,
    streaming,
    compiled: sup.ok ? compiled.compiled : null,
    problem: sup.ok ? compiled.problem : (compiled.problem ?? sup.problem),
    suppression: sup.ok ? sup.params : null,
    intervalMs,
    lookbackMs,
    maxSignals,
    limited: limitProblems(rule, limits).map((p) => p.message),
    indexPatterns: rule.index && rule.index.length > 0 ? rule.index : DEFAULT_INDEX_PATTERNS,
    timeField: rule.timestamp_override === 'event.ingested' ? 'ingested' : 'timestamp',
    aggregation: compiled.compiled === null ? null : aggregationOf(rule).aggregation,
  };
}
