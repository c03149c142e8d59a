import { createIndexMatcher } from '../core/index.js';
import { ecsFieldType } from '../ecs/index.js';
import { compileQuery, compileStatement, type CompiledQuery } from '../engine/index.js';
import { kqlStatement } from '../kql/index.js';
import { isKqlQueryRule, parseDateMath, parseDuration, queryTimestampField, type Rule } from '../rules/index.js';

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
  readonly indexPatterns: readonly string[];
  /** Which stored time the window applies to. */
  readonly timeField: 'timestamp' | 'ingested';
}

/** Kibana's default `securitySolution:defaultIndex`, used when a rule names no index. */
export const DEFAULT_INDEX_PATTERNS = ['apm-*-transaction*', 'auditbeat-*', 'endgame-*', 'filebeat-*', 'logs-*', 'packetbeat-*', 'traces-apm*', 'winlogbeat-*', '-*elastic-cloud-logs-*'];

/** Whether a rule's query can run as events arrive (samples and pipes need the whole input). */
export function isStreamable(r: ActiveRule): boolean {
  const c = r.compiled;
  return c !== null && (c.kind === 'event' || c.kind === 'sequence') && c.ast.pipes.length === 0;
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
  if (isKqlQueryRule(rule)) return compileKqlRule(rule);
  if (rule.type !== 'eql') return { compiled: null, problem: `rule type '${rule.type}'${rule.language && rule.type === 'query' ? ` in ${rule.language}` : ''} is not run by Vigil yet (EQL rules and KQL query rules are)` };
  if (!rule.query) return { compiled: null, problem: 'the rule has no query' };
  const r = compileQuery(rule.query, {
    timestampField: queryTimestampField(rule),
    eventCategoryField: rule.event_category_override ?? 'event.category',
  });
  if (!r.ok) {
    const d = r.diagnostics.find((x) => x.severity === 'error');
    return { compiled: null, problem: `query does not compile: ${d?.message ?? 'unknown error'}` };
  }
  return { compiled: r.query, problem: null };
}

/**
 * A KQL query rule: its query compiled into the EQL engine as an event query (see kqlToEql), each
 * field typed by ECS. One alert per matching event, as Kibana's query rules.
 */
function compileKqlRule(rule: Rule): { compiled: CompiledQuery | null; problem: string | null } {
  const t = kqlStatement(rule.query ?? '', ecsFieldType);
  if (!t.ok) return { compiled: null, problem: t.problem };
  return { compiled: compileStatement(t.statement, { timestampField: queryTimestampField(rule) }), problem: null };
}

/** The key under which a rule's compiled query stays the same (see compileRule). */
export function compileKey(rule: Rule): string {
  return JSON.stringify([rule.type, rule.query, rule.timestamp_override, rule.event_category_override, rule.language]);
}

/** A rule ready to run, from its model and flags (its query compiled unless given). */
export function activeRule(rule: Rule, enabled: boolean, streaming: boolean, compiled: { compiled: CompiledQuery | null; problem: string | null } = compileRule(rule)): ActiveRule {
  const intervalMs = parseDuration(rule.interval) ?? 300_000;
  const fromOffset = parseDateMath(rule.from);
  const lookbackMs = fromOffset !== null && fromOffset < 0 ? -fromOffset : intervalMs;
  return {
    rule,
    enabled,
    streaming,
    compiled: compiled.compiled,
    problem: compiled.problem,
    intervalMs,
    lookbackMs: Math.max(lookbackMs, intervalMs),
    indexPatterns: rule.index && rule.index.length > 0 ? rule.index : DEFAULT_INDEX_PATTERNS,
    timeField: rule.timestamp_override === 'event.ingested' ? 'ingested' : 'timestamp',
  };
}
