import type { Expr } from '../eql/index.js';
import { ecsDateMapping } from './mapping.js';

/**
 * The literal-cover analysis of a filter condition, shared by the two places that skip events a
 * rule cannot match: the raw-text gate (`raw-filter.ts`, strings to look for in the JSON text) and
 * the rule set's field index (`rule-set.ts`, values to look up per field). A cover is a list of
 * tests such that any event the condition holds for passes at least one. The analysis walks the
 * condition once: `and` takes the cheaper cover of its sides, `or` needs both sides covered and
 * unites them, and each leaf is recognised as a literal test on one field (`LeafTest`). The two
 * users differ only in what they make of a leaf (the gate can look for strings, not for numbers or
 * for a field's presence) and in what they call cheap.
 */

/** A field as the AST names it: its path. */
export type FieldPathLike = readonly (string | number)[];

/** A leaf of a condition as a literal test on one field. */
export type LeafTest =
  /**
   * The field equals one of `list` (`==` with a literal, `in`, `in~`) or matches one of its
   * patterns (`:`, `like`, `like~`, `regex`, `regex~`). The list holds the AST's expressions as
   * written: users take the literals they can use and give up on the rest.
   */
  | {
      readonly kind: 'values';
      readonly field: FieldPathLike;
      readonly list: readonly Expr[];
      /** Case-insensitive (`in~`, `:`, `like~`, `regex~`). */
      readonly insensitive: boolean;
      /** How the values compare: equality, wildcard patterns (`:`, `like`), regular expressions. */
      readonly compare: 'equals' | 'wildcard' | 'regex';
    }
  /** The field's string starts with, ends with or contains `text` (startsWith, endsWith, stringContains). */
  | { readonly kind: 'contains'; readonly field: FieldPathLike; readonly text: string; readonly at: 'start' | 'end' | 'any'; readonly insensitive: boolean }
  /** The field must be present (not null) for the leaf to hold (another comparison, `!= null`). */
  | { readonly kind: 'present'; readonly field: FieldPathLike };

/** Fields with few distinct values: a test on them lets nearly every event through. */
export const LOW_CARDINALITY: ReadonlySet<string> = new Set([
  'event.type', 'event.category', 'event.kind', 'event.outcome', 'event.action', 'event.module', 'event.dataset', 'event.provider', 'event.code',
  'data_stream.dataset', 'data_stream.namespace', 'agent.type', 'host.os.type', 'host.os.family', 'host.os.name', 'host.os.platform', 'host.os.kernel',
  'network.direction', 'network.transport', 'network.protocol', 'network.type', 'process.pe.original_file_name_missing', 'user.domain', 'winlog.channel',
]);

const fieldOf = (e: Expr): FieldPathLike | null => (e.kind === 'field' ? e.path : null);
const isLiteralValue = (e: Expr): boolean => e.kind === 'string' || e.kind === 'number';
/** An ECS date field (its literals are no text to look for: they compare as dates). */
const isDateField = (f: FieldPathLike): boolean => ecsDateMapping(f.join('.')) !== undefined;

/** A leaf of a condition as a literal test, or null when it holds none (a negation, a function, a comparison of two fields' values…). */
export function leafTest(e: Expr): LeafTest | null {
  switch (e.kind) {
    case 'compare': {
      // a comparison with null on either side holds for no null operand, except `== null`
      const isNull = (x: Expr): boolean => x.kind === 'null';
      if (isNull(e.left) || isNull(e.right)) {
        const f = fieldOf(isNull(e.left) ? e.right : e.left);
        return e.op === '!=' && f ? { kind: 'present', field: f } : null;
      }
      const l = fieldOf(e.left);
      const r = fieldOf(e.right);
      // a date compares as a date: "2026-01-01T00:00:00Z" finds "2026-01-01T00:00:00.000Z"
      if ((l && isDateField(l)) || (r && isDateField(r))) return { kind: 'present', field: (l ?? r)! };
      if (e.op === '==' && l && isLiteralValue(e.right)) return { kind: 'values', field: l, list: [e.right], insensitive: false, compare: 'equals' };
      if (e.op === '==' && r && isLiteralValue(e.left)) return { kind: 'values', field: r, list: [e.left], insensitive: false, compare: 'equals' };
      // any other comparison of a field holds only where the field has a value
      const f = l ?? r;
      return f ? { kind: 'present', field: f } : null;
    }
    case 'in': {
      const f = e.negated ? null : fieldOf(e.value);
      if (f && isDateField(f)) return { kind: 'present', field: f };
      return f ? { kind: 'values', field: f, list: e.list, insensitive: e.insensitive, compare: 'equals' } : null;
    }
    case 'match': {
      const f = fieldOf(e.value);
      if (!f || e.patterns.some((x) => x.kind === 'null')) return null;
      const compare = e.op === ':' || e.op === 'like' || e.op === 'like~' ? 'wildcard' : 'regex';
      return { kind: 'values', field: f, list: e.patterns, insensitive: e.op !== 'like' && e.op !== 'regex', compare };
    }
    case 'call': {
      const name = e.name.toLowerCase();
      const at = name === 'startswith' ? 'start' : name === 'endswith' ? 'end' : name === 'stringcontains' ? 'any' : null;
      const f = e.args[0] ? fieldOf(e.args[0]) : null;
      const lit = e.args[1];
      if (!at || !f || e.args.length !== 2 || !lit || lit.kind !== 'string') return null;
      return { kind: 'contains', field: f, text: lit.value, at, insensitive: e.insensitive };
    }
    default:
      return null;
  }
}

/**
 * The cover of a condition, in the user's terms: `leaf` turns a leaf's literal test into the user's
 * tests (null: it cannot cover that leaf), `cost` says which of two covers is cheaper (on a tie, the
 * left side's).
 */
export function literalCover<T>(e: Expr, leaf: (t: LeafTest) => T[] | null, cost: (c: readonly T[]) => number): T[] | null {
  if (e.kind === 'logical') {
    const l = literalCover(e.left, leaf, cost);
    const r = literalCover(e.right, leaf, cost);
    if (e.op === 'or') return l && r ? [...l, ...r] : null;
    if (!l) return r;
    if (!r) return l;
    return cost(r) < cost(l) ? r : l;
  }
  const t = leafTest(e);
  return t ? leaf(t) : null;
}
