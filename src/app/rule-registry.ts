import { compileQuery, type CompiledQuery } from '../engine/index.js';
import { parseDateMath, parseDuration, type Rule } from '../rules/index.js';
import { DEFAULT_INDEX_PATTERNS, type ActiveRule } from '../detect/index.js';
import type { StoredRule } from '../store/index.js';

/**
 * Turns stored rules into runnable ones. A compiled query is kept while the rule's body is unchanged
 * (so streaming state survives an enable/disable of another rule).
 */
export class RuleRegistry {
  private cache = new Map<string, { key: string; compiled: CompiledQuery | null; problem: string | null }>();
  private current: ActiveRule[] = [];

  get rules(): readonly ActiveRule[] {
    return this.current;
  }

  find(ruleId: string): ActiveRule | undefined {
    return this.current.find((r) => r.rule.rule_id === ruleId);
  }

  refresh(stored: readonly StoredRule[]): void {
    const next: ActiveRule[] = [];
    const cache = new Map<string, { key: string; compiled: CompiledQuery | null; problem: string | null }>();
    for (const s of stored) {
      const rule = s.body as unknown as Rule;
      const key = JSON.stringify([rule.type, rule.query, rule.timestamp_override, rule.event_category_override, rule.language]);
      let c = this.cache.get(s.ruleId);
      if (!c || c.key !== key) c = { key, ...compileRule(rule) };
      cache.set(s.ruleId, c);
      const intervalMs = parseDuration(rule.interval) ?? 300_000;
      const fromOffset = parseDateMath(rule.from);
      const lookbackMs = fromOffset !== null && fromOffset < 0 ? -fromOffset : intervalMs;
      next.push({
        rule,
        enabled: s.enabled,
        streaming: s.streaming,
        compiled: c.compiled,
        problem: c.problem,
        intervalMs,
        lookbackMs: Math.max(lookbackMs, intervalMs),
        indexPatterns: rule.index && rule.index.length > 0 ? rule.index : DEFAULT_INDEX_PATTERNS,
        timeField: rule.timestamp_override === 'event.ingested' ? 'ingested' : 'timestamp',
      });
    }
    this.cache = cache;
    this.current = next;
  }
}

function compileRule(rule: Rule): { compiled: CompiledQuery | null; problem: string | null } {
  if (rule.type !== 'eql') return { compiled: null, problem: `rule type '${rule.type}' is not run by Vigil yet (EQL rules are)` };
  if (!rule.query) return { compiled: null, problem: 'the rule has no query' };
  const r = compileQuery(rule.query, {
    timestampField: rule.timestamp_override && rule.timestamp_override !== 'event.ingested' ? rule.timestamp_override : '@timestamp',
    eventCategoryField: rule.event_category_override ?? 'event.category',
  });
  if (!r.ok) {
    const d = r.diagnostics.find((x) => x.severity === 'error');
    return { compiled: null, problem: `query does not compile: ${d?.message ?? 'unknown error'}` };
  }
  return { compiled: r.query, problem: null };
}
