import { createHash } from 'node:crypto';
import type { RuleMatch, TermValue } from '../alerts/index.js';
import { createFieldGetter, parseFieldPath, type FieldGetter } from '../ecs/index.js';
import type { Rule } from '../rules/index.js';

/**
 * Alert suppression (a rule's `alert_suppression`): one alert per group of `group_by` values per
 * window instead of one per match. The window is `duration` when given, else the rule's interval
 * (Kibana's "per rule execution"). Windows are fixed spans of event time (epoch-aligned), so the
 * groups, their counts and their time spans are the same whatever order the matches come in:
 * scheduled, streaming, after a restart, or with events late within the look-back.
 */
export interface SuppressionParams {
  readonly groupBy: readonly string[];
  readonly getters: readonly FieldGetter[];
  readonly windowMs: number;
  readonly perExecution: boolean;
  /** `suppress`: a missing field is a value of its own; `doNotSuppress`: such matches alert one by one. */
  readonly missing: 'suppress' | 'doNotSuppress';
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The rule's suppression, null when it has none, or what is wrong with it. */
export function suppressionParams(rule: Rule, intervalMs: number): { ok: true; params: SuppressionParams | null } | { ok: false; problem: string } {
  const a = rule.alert_suppression as Record<string, unknown> | undefined;
  if (!a) return { ok: true, params: null };
  const by = a.group_by;
  if (!Array.isArray(by) || by.length < 1 || by.length > 3 || by.some((f) => typeof f !== 'string' || f === '')) return { ok: false, problem: 'alert_suppression.group_by must name 1 to 3 fields' };
  const missing = a.missing_fields_strategy ?? 'suppress';
  if (missing !== 'suppress' && missing !== 'doNotSuppress') return { ok: false, problem: `alert_suppression.missing_fields_strategy must be suppress or doNotSuppress (got ${JSON.stringify(missing)})` };
  let windowMs = intervalMs;
  let perExecution = true;
  if (a.duration !== undefined && a.duration !== null) {
    const d = a.duration as { value?: unknown; unit?: unknown };
    const unit = typeof d.unit === 'string' ? UNIT_MS[d.unit] : undefined;
    if (typeof d.value !== 'number' || !(d.value > 0) || unit === undefined) return { ok: false, problem: 'alert_suppression.duration needs a positive value and a unit (s, m, h)' };
    windowMs = d.value * unit;
    perExecution = false;
  }
  const groupBy = by as string[];
  return { ok: true, params: { groupBy, getters: groupBy.map((f) => createFieldGetter(parseFieldPath(f))), windowMs, perExecution, missing } };
}

/** A group's field values, as Kibana's `kibana.alert.suppression.terms`. */
export type SuppressionTerms = Array<{ field: string; value: TermValue[] | null }>;

function values(v: unknown): TermValue[] | null {
  const list = (Array.isArray(v) ? v : [v]).filter((x): x is TermValue => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean');
  return list.length ? [...new Set(list)].sort((a, b) => String(a).localeCompare(String(b))) : null;
}

/** The sources a match's fields are read from, in order (a sequence: its events, the first that has a field). */
function sourcesOf(m: RuleMatch): ReadonlyArray<Readonly<Record<string, unknown>>> {
  switch (m.kind) {
    case 'sequence':
      return m.events.map((e) => e.source);
    case 'threshold':
      return [Object.fromEntries(m.result.terms.map((t) => [t.field, t.value]))];
    default:
      return [m.event.source];
  }
}

/**
 * The match's group: its key (rule, values and window) and terms; null when a group_by field is
 * missing and the rule does not suppress such matches.
 */
export function suppressionGroup(ruleId: string, p: SuppressionParams, m: RuleMatch, time: number): { key: string; terms: SuppressionTerms } | null {
  const sources = sourcesOf(m);
  const terms: SuppressionTerms = p.groupBy.map((field, i) => {
    for (const s of sources) {
      const v = values(p.getters[i]!(s) ?? (s as Record<string, unknown>)[field]);
      if (v) return { field, value: v };
    }
    return { field, value: null };
  });
  if (p.missing === 'doNotSuppress' && terms.some((t) => t.value === null)) return null;
  const window = Math.floor(time / p.windowMs);
  const key = createHash('sha256').update(JSON.stringify([ruleId, terms, p.windowMs, window])).digest('hex');
  return { key, terms };
}
