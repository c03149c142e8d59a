import { buildAlerts, type RuleMatch } from '../alerts/index.js';
import { matchTime, suppressionGroup, suppressionParams, type SuppressionParams, type SuppressionTerms } from '../detect/index.js';
import { parseDuration, type Rule } from '../rules/index.js';
import { groupText, type GroupText } from './alert-spool.js';

/** A hunt's alert group, with its suppression group when its rule suppresses (see detect/suppression). */
export type HuntGroup = GroupText & { readonly sup?: { readonly key: string; readonly terms: SuppressionTerms; readonly time: number } };

const paramsOf = new WeakMap<Rule, SuppressionParams | null>();

function params(rule: Rule): SuppressionParams | null {
  let p = paramsOf.get(rule);
  if (p === undefined) {
    const s = suppressionParams(rule, parseDuration(rule.interval) ?? 300_000);
    paramsOf.set(rule, (p = s.ok ? s.params : null));
  }
  return p;
}

/** A match's alerts as the spool takes them, marked with its suppression group when its rule has one. */
export function huntGroup(rule: Rule, m: RuleMatch, now: number): HuntGroup {
  const g = groupText(buildAlerts({ rule, now, executionId: 'hunt' }, m));
  const p = params(rule);
  if (!p) return g;
  const time = matchTime(m) ?? now;
  const s = suppressionGroup(rule.rule_id, p, m, time);
  return s ? { ...g, sup: { key: s.key, terms: s.terms, time } } : g;
}

/**
 * Alert suppression in a hunt: of each suppression group (rule, values, window of event time), the
 * earliest match's alerts are kept and the others counted into them, whatever worker found them and
 * in whatever order; the kept alerts go to the spool at the end with Kibana's
 * `kibana.alert.suppression.*` fields, as the service writes them.
 */
export class HuntSuppressor {
  private readonly groups = new Map<string, { g: HuntGroup; count: number; start: number; end: number }>();
  suppressed = 0;

  constructor(private readonly out: (g: GroupText) => void) {}

  add(g: HuntGroup): void {
    if (!g.sup) return this.out(g);
    const e = this.groups.get(g.sup.key);
    if (!e) {
      this.groups.set(g.sup.key, { g, count: 0, start: g.sup.time, end: g.sup.time });
      return;
    }
    e.count++;
    this.suppressed++;
    e.start = Math.min(e.start, g.sup.time);
    e.end = Math.max(e.end, g.sup.time);
    if (g.sup.time < e.g.sup!.time || (g.sup.time === e.g.sup!.time && g.id < e.g.id)) e.g = g;
  }

  /** The kept groups, their main alert (the last of the group) carrying the suppression fields. */
  flush(): void {
    for (const { g, count, start, end } of this.groups.values()) {
      const parts = g.json.split('\t');
      const last = parts.length - 1;
      const doc = JSON.parse(parts[last]!) as Record<string, unknown>;
      doc['kibana.alert.suppression.terms'] = g.sup!.terms;
      doc['kibana.alert.suppression.docs_count'] = count;
      doc['kibana.alert.suppression.start'] = new Date(start).toISOString();
      doc['kibana.alert.suppression.end'] = new Date(end).toISOString();
      parts[last] = JSON.stringify(doc);
      this.out({ t: g.t, id: g.id, n: g.n, json: parts.join('\t') });
    }
    this.groups.clear();
  }
}
