import type { CompiledQuery } from '../engine/index.js';
import type { Rule } from '../rules/index.js';
import { activeRule, compileKey, compileRule, type ActiveRule } from '../detect/index.js';
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
      const key = compileKey(rule);
      let c = this.cache.get(s.ruleId);
      if (!c || c.key !== key) c = { key, ...compileRule(rule) };
      cache.set(s.ruleId, c);
      next.push(activeRule(rule, s.enabled, s.streaming, c));
    }
    this.cache = cache;
    this.current = next;
  }
}
