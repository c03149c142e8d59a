/**
 * The parameters of Elastic's aggregating rule types, read from a rule in any of its formats: the
 * detection-rules TOML nests them (`[rule.threshold]`, `[rule.new_terms]` with `field`/`value`
 * pairs), Kibana's NDJSON and API keep them flat (`threshold`, `new_terms_fields`,
 * `history_window_start`, `threat_*`). Each reader answers the parameters or what is wrong.
 */
import { parseDateMath } from './date-math.js';
import type { Rule } from './model.js';

export interface ThresholdParams {
  /** Group-by fields, 0 to 3 (none: one group of every event). */
  readonly fields: readonly string[];
  /** A group alerts when it holds at least this many events. */
  readonly value: number;
  /** And when it holds at least `value` distinct values of `field` (Kibana allows one). */
  readonly cardinality: ReadonlyArray<{ readonly field: string; readonly value: number }>;
}

export interface NewTermsParams {
  /** The fields whose combination of values must be new, 1 to 3. */
  readonly fields: readonly string[];
  /** `history_window_start` as given, e.g. `now-14d`. */
  readonly historyWindowStart: string;
  /** How far back a combination counts as seen, ms. */
  readonly historyMs: number;
}

export interface ThreatMappingEntry {
  /** The event's field. */
  readonly field: string;
  /** The indicator document's field. */
  readonly value: string;
}

export interface ThreatMatchParams {
  readonly index: readonly string[];
  readonly query: string;
  readonly language: string;
  /** Groups of entries: an event matches an indicator when every entry of one group matches. */
  readonly mapping: ReadonlyArray<readonly ThreatMappingEntry[]>;
  /** Where in an indicator document the indicator lies (default `threat.indicator`). */
  readonly indicatorPath: string;
  /** Kibana filters on the indicators (`match_phrase` on a field), as field/value pairs that must all hold. */
  readonly filters: ReadonlyArray<{ readonly field: string; readonly value: unknown; readonly negate: boolean }>;
}

export type Params<T> = { readonly ok: true; readonly params: T } | { readonly ok: false; readonly problem: string; readonly key: string };

const extraOf = (rule: Pick<Rule, 'extra'>): Readonly<Record<string, unknown>> => rule.extra ?? {};
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (key: string, problem: string): { ok: false; problem: string; key: string } => ({ ok: false, problem, key });

function stringList(v: unknown): string[] | null {
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).filter((x) => x !== '');
  return null;
}

/** A threshold rule's `threshold`: `field` (a name or a list of 0 to 3), `value` ≥ 1, `cardinality` (at most one). */
export function thresholdParams(rule: Pick<Rule, 'extra'>): Params<ThresholdParams> {
  const t = extraOf(rule).threshold;
  if (!isRecord(t)) return bad('threshold', 'a threshold rule needs a `threshold` table with `field` and `value`');
  const fields = t.field === undefined ? [] : stringList(t.field);
  if (fields === null) return bad('threshold', '`threshold.field` must be a field name or a list of them');
  if (fields.length > 3) return bad('threshold', `\`threshold.field\` groups by at most 3 fields, not ${fields.length}`);
  const value = t.value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return bad('threshold', '`threshold.value` must be a whole number of at least 1');
  const cardinality: Array<{ field: string; value: number }> = [];
  const card = t.cardinality === undefined ? [] : Array.isArray(t.cardinality) ? t.cardinality : [t.cardinality];
  for (const c of card) {
    if (!isRecord(c) || typeof c.field !== 'string' || c.field === '' || typeof c.value !== 'number' || !Number.isInteger(c.value) || c.value < 1)
      return bad('threshold', 'each `threshold.cardinality` entry needs a `field` and a whole `value` of at least 1');
    cardinality.push({ field: c.field, value: c.value });
  }
  if (cardinality.length > 1) return bad('threshold', '`threshold.cardinality` takes one entry');
  return { ok: true, params: { fields, value, cardinality } };
}

/**
 * A new-terms rule's fields and history window: Kibana's `new_terms_fields` and
 * `history_window_start`, or the TOML's `new_terms` table (`value` the fields, and a
 * `history_window_start` entry).
 */
export function newTermsParams(rule: Pick<Rule, 'extra'>): Params<NewTermsParams> {
  const x = extraOf(rule);
  let fieldsRaw: unknown = x.new_terms_fields;
  let start: unknown = x.history_window_start;
  if (isRecord(x.new_terms)) {
    const nt = x.new_terms;
    fieldsRaw ??= nt.value;
    const h = nt.history_window_start;
    if (start === undefined) start = Array.isArray(h) ? (h.find((e) => isRecord(e) && e.field === 'history_window_start') as Record<string, unknown> | undefined)?.value : isRecord(h) ? h.value : h;
  }
  const key = isRecord(x.new_terms) ? 'new_terms' : 'new_terms_fields';
  const fields = stringList(fieldsRaw);
  if (fields === null || fields.length === 0) return bad(key, 'a new-terms rule needs `new_terms_fields`: 1 to 3 field names');
  if (fields.length > 3) return bad(key, `a new-terms rule takes at most 3 fields, not ${fields.length}`);
  if (typeof start !== 'string') return bad(key, 'a new-terms rule needs `history_window_start`, such as now-14d');
  const offset = parseDateMath(start);
  if (offset === null || offset >= 0) return bad(key, `\`history_window_start\` must be a time before now, such as now-14d, not ${JSON.stringify(start)}`);
  return { ok: true, params: { fields, historyWindowStart: start, historyMs: -offset } };
}

/** An indicator-match rule's indicator indices, query, mapping and filters. */
export function threatMatchParams(rule: Pick<Rule, 'extra'>): Params<ThreatMatchParams> {
  const x = extraOf(rule);
  const index = stringList(x.threat_index);
  if (index === null || index.length === 0) return bad('threat_index', 'an indicator match rule needs `threat_index`, the indices of its indicators');
  const query = typeof x.threat_query === 'string' ? x.threat_query : '*:*';
  const language = typeof x.threat_language === 'string' ? x.threat_language : 'kuery';
  if (!Array.isArray(x.threat_mapping) || x.threat_mapping.length === 0) return bad('threat_mapping', 'an indicator match rule needs `threat_mapping`: groups of event field and indicator field');
  const mapping: ThreatMappingEntry[][] = [];
  for (const g of x.threat_mapping) {
    const entries = isRecord(g) && Array.isArray(g.entries) ? g.entries : null;
    if (!entries || entries.length === 0) return bad('threat_mapping', 'each `threat_mapping` group needs `entries`');
    const group: ThreatMappingEntry[] = [];
    for (const e of entries) {
      if (!isRecord(e) || typeof e.field !== 'string' || typeof e.value !== 'string' || (e.type !== undefined && e.type !== 'mapping'))
        return bad('threat_mapping', 'each `threat_mapping` entry needs `field`, `value` (both field names) and type `mapping`');
      group.push({ field: e.field, value: e.value });
    }
    mapping.push(group);
  }
  const filters: Array<{ field: string; value: unknown; negate: boolean }> = [];
  for (const f of Array.isArray(x.threat_filters) ? x.threat_filters : []) {
    if (!isRecord(f)) continue;
    const meta = isRecord(f.meta) ? f.meta : {};
    if (meta.disabled === true) continue;
    const q = isRecord(f.query) ? f.query : {};
    const phrase = isRecord(q.match_phrase) ? q.match_phrase : isRecord(q.term) ? q.term : null;
    const entry = phrase ? Object.entries(phrase)[0] : undefined;
    if (!entry) return bad('threat_filters', 'Vigil reads `threat_filters` of `match_phrase` or `term` on one field only');
    const v = isRecord(entry[1]) ? (entry[1].query ?? entry[1].value) : entry[1];
    filters.push({ field: entry[0], value: v, negate: meta.negate === true });
  }
  const path = typeof x.threat_indicator_path === 'string' && x.threat_indicator_path !== '' ? x.threat_indicator_path : 'threat.indicator';
  return { ok: true, params: { index, query, language, mapping, indicatorPath: path, filters } };
}

/** The parameters of a rule's type, or what is wrong with them (null: a type without any). */
export function typeParamsProblem(rule: Pick<Rule, 'type' | 'extra'>): { problem: string; key: string } | null {
  const p = rule.type === 'threshold' ? thresholdParams(rule) : rule.type === 'new_terms' ? newTermsParams(rule) : rule.type === 'threat_match' ? threatMatchParams(rule) : null;
  return p === null || p.ok ? null : { problem: p.problem, key: p.key };
}
