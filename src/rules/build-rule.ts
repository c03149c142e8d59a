import type { Diagnostic, Severity as DiagSeverity, Span } from '../core/index.js';
import { ecsFieldsMatching, ecsFieldType } from '../ecs/index.js';
import { parseQuery } from '../eql/index.js';
import { kqlToEql, parseKql } from '../kql/index.js';
import { parseDateMath, parseDuration } from './date-math.js';
import { RuleCodes } from './messages.js';
import { typeParamsProblem } from './rule-params.js';
import {
  isKqlRule,
  RULE_DEFAULTS,
  RULE_KEYS,
  RULE_TYPES,
  SEVERITIES,
  type Rule,
  type RuleType,
  type Severity,
  type Threat,
  type ThreatEntry,
  type ThreatTechnique,
} from './model.js';
import type { OffsetMap } from './source-map.js';

/** Where a rule came from, so its diagnostics can point into the file. */
export interface RuleSource {
  readonly file: string;
  /** The span of a field's definition in the file (falls back to the rule's own span). */
  readonly locate: (key: string) => Span;
  /** Maps an offset in the query text to an offset in the file. */
  readonly queryMap: OffsetMap | null;
}

export interface BuiltRule {
  readonly rule: Rule | null;
  readonly diagnostics: Diagnostic[];
}

const KNOWN = new Set<string>(RULE_KEYS);

/**
 * Validates an untyped record of Elastic rule fields into the model, applying Kibana's defaults.
 * Every problem becomes a diagnostic located in the source file; the rule is null only when a
 * required field is unusable.
 */
export function buildRule(record: Readonly<Record<string, unknown>>, source: RuleSource, metadata?: Record<string, unknown>): BuiltRule {
  const diagnostics: Diagnostic[] = [];
  const report = (code: string, message: string, key: string, severity: DiagSeverity = 'error'): void => {
    diagnostics.push({ code, severity, message, span: source.locate(key), file: source.file });
  };
  let fatal = false;

  const str = (key: string, required: boolean): string | undefined => {
    const v = record[key];
    if (v === undefined || v === null) {
      if (required) {
        report(RuleCodes.missingField, `missing required field '${key}'`, key);
        fatal = true;
      }
      return undefined;
    }
    if (typeof v !== 'string') {
      report(RuleCodes.wrongType, `'${key}' must be a string, found ${describe(v)}`, key);
      if (required) fatal = true;
      return undefined;
    }
    return v;
  };
  const strList = (key: string): string[] | undefined => {
    const v = record[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      report(RuleCodes.wrongType, `'${key}' must be a list of strings, found ${describe(v)}`, key);
      return undefined;
    }
    return v as string[];
  };
  const int = (key: string): number | undefined => {
    const v = record[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      report(RuleCodes.wrongType, `'${key}' must be a whole number, found ${describe(v)}`, key);
      return undefined;
    }
    return n;
  };
  const obj = (key: string): Record<string, unknown> | undefined => {
    const v = record[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) {
      report(RuleCodes.wrongType, `'${key}' must be a table/object, found ${describe(v)}`, key);
      return undefined;
    }
    return v as Record<string, unknown>;
  };
  const list = (key: string): unknown[] | undefined => {
    const v = record[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      report(RuleCodes.wrongType, `'${key}' must be a list, found ${describe(v)}`, key);
      return undefined;
    }
    return v;
  };

  const rule_id = str('rule_id', true);
  const name = str('name', true);
  const description = str('description', true);
  const typeText = str('type', true);
  let type: RuleType | undefined;
  if (typeText !== undefined) {
    if ((RULE_TYPES as readonly string[]).includes(typeText)) type = typeText as RuleType;
    else {
      report(RuleCodes.unknownRuleType, `unknown rule type '${typeText}': expected one of ${RULE_TYPES.join(', ')}`, 'type');
      fatal = true;
    }
  }
  const severityText = str('severity', true);
  let severity: Severity | undefined;
  if (severityText !== undefined) {
    if ((SEVERITIES as readonly string[]).includes(severityText)) severity = severityText as Severity;
    else {
      report(RuleCodes.unknownSeverity, `unknown severity '${severityText}': expected low, medium, high or critical`, 'severity');
      fatal = true;
    }
  }
  const risk_score = int('risk_score');
  if (record.risk_score === undefined) {
    report(RuleCodes.missingField, "missing required field 'risk_score'", 'risk_score');
    fatal = true;
  } else if (risk_score !== undefined && (risk_score < 0 || risk_score > 100)) {
    report(RuleCodes.riskScoreRange, `risk_score must be between 0 and 100, found ${risk_score}`, 'risk_score');
    fatal = true;
  } else if (risk_score === undefined) fatal = true;

  const interval = str('interval', false) ?? RULE_DEFAULTS.interval;
  if (parseDuration(interval) === null || parseDuration(interval) === 0) {
    report(RuleCodes.badInterval, `interval '${interval}' is not a duration such as 5m`, 'interval');
    fatal = true;
  }
  const from = str('from', false) ?? RULE_DEFAULTS.from;
  if (parseDateMath(from) === null) {
    report(RuleCodes.badDateMath, `'from' must be date math such as now-9m, found '${from}'`, 'from');
    fatal = true;
  }
  const to = str('to', false) ?? RULE_DEFAULTS.to;
  if (parseDateMath(to) === null) {
    report(RuleCodes.badDateMath, `'to' must be date math such as now, found '${to}'`, 'to');
    fatal = true;
  }
  const max_signals = int('max_signals') ?? RULE_DEFAULTS.max_signals;
  if (max_signals < 1) {
    report(RuleCodes.badMaxSignals, `max_signals must be at least 1, found ${max_signals}`, 'max_signals');
    fatal = true;
  }
  const version = int('version') ?? RULE_DEFAULTS.version;
  if (version < 1) report(RuleCodes.badVersion, `version must be at least 1, found ${version}`, 'version');
  const enabledRaw = record.enabled;
  let enabled: boolean = RULE_DEFAULTS.enabled;
  if (enabledRaw !== undefined) {
    if (typeof enabledRaw === 'boolean') enabled = enabledRaw;
    else report(RuleCodes.wrongType, `'enabled' must be true or false, found ${describe(enabledRaw)}`, 'enabled');
  }

  const language = str('language', false);
  const query = str('query', false);
  if (type === 'eql') {
    if (language !== undefined && language !== 'eql') {
      report(RuleCodes.languageMismatch, `an eql rule must have language 'eql', found '${language}'`, 'language');
    }
    if (query === undefined || query.trim() === '') {
      if (record.query === undefined || (typeof record.query === 'string' && record.query.trim() === '')) {
        report(RuleCodes.missingQuery, 'an eql rule needs a query', record.query === undefined ? 'type' : 'query');
      }
      fatal = true;
    } else {
      const parsed = parseQuery(query);
      for (const d of parsed.diagnostics) {
        if (d.severity === 'info') continue;
        const map = source.queryMap;
        const span = map ? { start: map(d.span.start), end: Math.max(map(d.span.end - 1) + 1, map(d.span.start) + 1) } : source.locate('query');
        diagnostics.push({ ...d, span, file: source.file });
      }
      if (!parsed.ok) fatal = true;
    }
  } else if (type !== undefined && isKqlRule({ type, language }) && (type !== 'query' || (query !== undefined && query.trim() !== ''))) {
    // a KQL rule runs in the EQL engine: its query must parse, and its tests translate (a threshold
    // rule's may be empty: every event); the aggregating types need their parameters
    if (query !== undefined && query.trim() !== '') {
      const parsed = parseKql(query);
      for (const d of parsed.diagnostics) {
        const map = source.queryMap;
        const span = map ? { start: map(d.span.start), end: Math.max(map(d.span.end - 1) + 1, map(d.span.start) + 1) } : source.locate('query');
        diagnostics.push({ ...d, span, file: source.file });
      }
      if (!parsed.ok) fatal = true;
      else {
        const t = kqlToEql(parsed.ast!, ecsFieldType, { fieldsMatching: ecsFieldsMatching });
        if (!t.ok) report(RuleCodes.notRunnable, `this KQL query is not runnable yet (${t.problem}); the rule is loaded but will not run`, 'query', 'info');
      }
    }
    const bad = typeParamsProblem({ type, extra: record });
    if (bad !== null) report(RuleCodes.badTypeParams, `${bad.problem}; the rule is loaded but will not run`, bad.key in record ? bad.key : 'type');
  } else if (type !== undefined) {
    report(RuleCodes.notRunnable, `rule type '${type}'${type === 'query' && language ? ` in ${language}` : ''} is not runnable yet; the rule is loaded but will not run`, 'type', 'info');
  }

  const threat = readThreat(record.threat, (msg) => report(RuleCodes.badThreat, msg, 'threat'));
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (!KNOWN.has(k) && v !== undefined) extra[k] = v;

  const index = strList('index');
  const rule: Rule | null =
    fatal || rule_id === undefined || name === undefined || description === undefined || type === undefined || severity === undefined
      ? null
      : compact({
          rule_id,
          name,
          description,
          type,
          language: language ?? (type === 'eql' ? 'eql' : undefined),
          query,
          index,
          severity,
          risk_score: risk_score!,
          interval,
          from,
          to,
          max_signals,
          enabled,
          tags: strList('tags') ?? [],
          references: strList('references') ?? [],
          author: strList('author') ?? [],
          license: str('license', false),
          version,
          note: str('note', false),
          setup: str('setup', false),
          false_positives: strList('false_positives') ?? [],
          threat,
          timestamp_override: str('timestamp_override', false),
          building_block_type: str('building_block_type', false),
          exceptions_list: list('exceptions_list'),
          alert_suppression: obj('alert_suppression'),
          severity_mapping: list('severity_mapping'),
          risk_score_mapping: list('risk_score_mapping'),
          rule_name_override: str('rule_name_override', false),
          event_category_override: str('event_category_override', false),
          investigation_fields: obj('investigation_fields'),
          required_fields: list('required_fields'),
          related_integrations: list('related_integrations'),
          extra: Object.keys(extra).length > 0 ? extra : undefined,
          metadata: metadata && Object.keys(metadata).length > 0 ? metadata : undefined,
        });
  return { rule, diagnostics };
}

function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a table';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function entry(v: unknown): ThreatEntry | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || typeof o.name !== 'string') return null;
  return { id: o.id, name: o.name, reference: typeof o.reference === 'string' ? o.reference : '' };
}

function readThreat(v: unknown, bad: (msg: string) => void): Threat[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    bad('threat must be a list of framework/tactic/technique entries');
    return [];
  }
  const out: Threat[] = [];
  for (const t of v) {
    const o = (t ?? {}) as Record<string, unknown>;
    const tactic = entry(o.tactic);
    if (typeof o.framework !== 'string' || !tactic) {
      bad('each threat entry needs a framework and a tactic with id and name');
      continue;
    }
    let technique: ThreatTechnique[] | undefined;
    if (o.technique !== undefined) {
      technique = [];
      for (const te of Array.isArray(o.technique) ? o.technique : []) {
        const base = entry(te);
        if (!base) {
          bad('each technique needs an id and a name');
          continue;
        }
        const subs = (te as Record<string, unknown>).subtechnique;
        if (subs !== undefined) {
          const list = (Array.isArray(subs) ? subs : []).map(entry).filter((x): x is ThreatEntry => x !== null);
          technique.push({ ...base, subtechnique: list });
        } else technique.push(base);
      }
    }
    out.push(technique ? { framework: o.framework, tactic, technique } : { framework: o.framework, tactic });
  }
  return out;
}
