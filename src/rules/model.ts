import type { Expr } from '../eql/index.js';
/** The rule model: the fields of Elastic's detection rules, one shape for every format. */

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export type RuleType = 'eql' | 'query' | 'new_terms' | 'esql' | 'machine_learning' | 'threshold' | 'threat_match' | 'saved_query';
export const RULE_TYPES: readonly RuleType[] = ['eql', 'query', 'new_terms', 'esql', 'machine_learning', 'threshold', 'threat_match', 'saved_query'];

export interface ThreatEntry {
  readonly id: string;
  readonly name: string;
  readonly reference: string;
}
export interface ThreatTechnique extends ThreatEntry {
  readonly subtechnique?: readonly ThreatEntry[];
}
export interface Threat {
  readonly framework: string;
  readonly tactic: ThreatEntry;
  readonly technique?: readonly ThreatTechnique[];
}

export interface Rule {
  readonly rule_id: string;
  readonly name: string;
  readonly description: string;
  readonly type: RuleType;
  readonly language?: string;
  readonly query?: string;
  readonly index?: readonly string[];
  readonly severity: Severity;
  readonly risk_score: number;
  readonly interval: string;
  readonly from: string;
  readonly to: string;
  readonly max_signals: number;
  readonly enabled: boolean;
  readonly tags: readonly string[];
  readonly references: readonly string[];
  readonly author: readonly string[];
  readonly license?: string;
  readonly version: number;
  readonly note?: string;
  readonly setup?: string;
  readonly false_positives: readonly string[];
  readonly threat: readonly Threat[];
  readonly timestamp_override?: string;
  readonly building_block_type?: string;
  readonly exceptions_list?: readonly unknown[];
  /**
   * Vigil's own: the exception items that apply to the rule (from the lists its `exceptions_list`
   * names), as the condition that excepts an event, folded into its query when it is compiled; `key`
   * changes with them. Set by `applyExceptions` (detect), not read from rule files.
   */
  readonly vigil_exceptions?: {
    /** What excepts an event from every filter; null when only stage items apply. */
    readonly condition: Expr | null;
    /** What excepts an event from one stage's filter only (items with `vigil_stage`), stage from 1. */
    readonly stages: ReadonlyArray<{ readonly stage: number; readonly condition: Expr }>;
    readonly items: number;
    readonly key: string;
  };
  readonly alert_suppression?: Readonly<Record<string, unknown>>;
  readonly severity_mapping?: readonly unknown[];
  readonly risk_score_mapping?: readonly unknown[];
  readonly rule_name_override?: string;
  readonly event_category_override?: string;
  readonly investigation_fields?: Readonly<Record<string, unknown>>;
  readonly required_fields?: readonly unknown[];
  readonly related_integrations?: readonly unknown[];
  /** Fields of other rule types (new_terms, threshold, machine_learning_job_id, threat_*, …) kept as given. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** detection-rules `[metadata]` (creation_date, maturity, integration, …) kept as given. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * The event field a rule's query orders events by: its `timestamp_override`, except
 * `event.ingested`, which only moves the rule's window (the query still orders by `@timestamp`).
 */
export function queryTimestampField(rule: Rule): string {
  return rule.timestamp_override && rule.timestamp_override !== 'event.ingested' ? rule.timestamp_override : '@timestamp';
}

/** The rule types whose query is KQL: the custom query, and the three that aggregate its matches. */
export const KQL_RULE_TYPES: readonly RuleType[] = ['query', 'threshold', 'new_terms', 'threat_match'];

/**
 * Whether a rule's query is KQL, which Vigil compiles into its EQL engine: a `query` rule in `kuery`,
 * or a threshold, new-terms or indicator-match rule (in `kuery`, their default).
 */
export function isKqlRule(rule: Pick<Rule, 'type' | 'language'>): boolean {
  if (rule.type === 'query') return rule.language === 'kuery';
  return KQL_RULE_TYPES.includes(rule.type) && (rule.language ?? 'kuery') === 'kuery';
}

/** Whether a rule's matches are aggregated before they alert (threshold, new terms, indicator match). */
export function isAggregating(rule: Pick<Rule, 'type'>): boolean {
  return rule.type === 'threshold' || rule.type === 'new_terms' || rule.type === 'threat_match';
}

/** Kibana's defaults for fields a rule may leave out. */
export const RULE_DEFAULTS = {
  interval: '5m',
  from: 'now-6m',
  to: 'now',
  max_signals: 100,
  enabled: true,
  version: 1,
} as const;

/** Keys of the model other than `extra` and `metadata`, in the order writers emit them. */
export const RULE_KEYS = [
  'rule_id',
  'name',
  'description',
  'type',
  'language',
  'query',
  'index',
  'severity',
  'risk_score',
  'interval',
  'from',
  'to',
  'max_signals',
  'enabled',
  'tags',
  'references',
  'author',
  'license',
  'version',
  'note',
  'setup',
  'false_positives',
  'threat',
  'timestamp_override',
  'building_block_type',
  'exceptions_list',
  'alert_suppression',
  'severity_mapping',
  'risk_score_mapping',
  'rule_name_override',
  'event_category_override',
  'investigation_fields',
  'required_fields',
  'related_integrations',
] as const satisfies ReadonlyArray<keyof Rule>;

/** The rule as a flat record of Elastic field names (what TOML `[rule]` and Kibana NDJSON hold). */
export function ruleToRecord(rule: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of RULE_KEYS) if (rule[k] !== undefined) out[k] = rule[k];
  for (const [k, v] of Object.entries(rule.extra ?? {})) out[k] = v;
  return out;
}
