import { createFieldGetter, parseFieldPath } from '../ecs/index.js';
import { defaultParseTimestamp } from '../engine/index.js';
import { parseDateMath } from '../rules/index.js';

/**
 * The part of Elasticsearch's query DSL that `_eql/search`'s `filter` is used with: match_all,
 * term, terms, match (as exact), prefix, wildcard, exists, range (numbers or dates, `now-…`),
 * bool (must, filter, should, must_not). Anything else is refused, never ignored.
 */
export type DocFilter = (source: Readonly<Record<string, unknown>>) => boolean;

export class DslError extends Error {}

export interface CompiledFilter {
  readonly test: DocFilter;
  /** Bounds on the timestamp field found in top-level/filter ranges, for the store scan. */
  readonly after?: number;
  readonly upTo?: number;
}

const values = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

function asTime(v: unknown, now: number): number {
  if (typeof v === 'string') {
    const dm = parseDateMath(v);
    if (dm !== null) return now + dm;
  }
  const t = defaultParseTimestamp(v);
  if (Number.isNaN(t)) throw new DslError(`failed to parse date field [${String(v)}]`);
  return t;
}

function one(body: unknown, what: string): [string, unknown] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new DslError(`[${what}] query malformed, expected an object`);
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length !== 1) throw new DslError(`[${what}] query malformed, expected exactly one field`);
  return entries[0]!;
}

function scalar(v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v) && 'value' in v) return (v as { value: unknown }).value;
  if (v && typeof v === 'object' && !Array.isArray(v) && 'query' in v) return (v as { query: unknown }).query;
  return v;
}

export function compileFilter(dsl: unknown, timestampField: string, now: number): CompiledFilter {
  const bounds: { after?: number; upTo?: number } = {};
  const test = compileNode(dsl, timestampField, now, bounds, true);
  return { test, ...bounds };
}

function compileNode(node: unknown, tsField: string, now: number, bounds: { after?: number; upTo?: number }, top: boolean): DocFilter {
  const [kind, body] = one(node, 'query');
  switch (kind) {
    case 'match_all':
      return () => true;
    case 'match_none':
      return () => false;
    case 'term':
    case 'match':
    case 'match_phrase': {
      const [field, v] = one(body, kind);
      const want = scalar(v);
      const get = createFieldGetter(parseFieldPath(field));
      return (s) => values(get(s)).some((x) => x === want || String(x) === String(want));
    }
    case 'terms': {
      const entries = Object.entries((body ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'boost');
      if (entries.length !== 1 || !Array.isArray(entries[0]![1])) throw new DslError('[terms] query malformed, expected one field with an array of values');
      const want = new Set((entries[0]![1] as unknown[]).map(String));
      const get = createFieldGetter(parseFieldPath(entries[0]![0]));
      return (s) => values(get(s)).some((x) => want.has(String(x)));
    }
    case 'prefix': {
      const [field, v] = one(body, kind);
      const p = String(scalar(v));
      const get = createFieldGetter(parseFieldPath(field));
      return (s) => values(get(s)).some((x) => typeof x === 'string' && x.startsWith(p));
    }
    case 'wildcard': {
      const [field, v] = one(body, kind);
      const pat = String(scalar(v));
      const re = new RegExp(`^${pat.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 's');
      const get = createFieldGetter(parseFieldPath(field));
      return (s) => values(get(s)).some((x) => typeof x === 'string' && re.test(x));
    }
    case 'exists': {
      const field = (body as { field?: unknown })?.field;
      if (typeof field !== 'string') throw new DslError('[exists] query malformed, [field] must be a string');
      const get = createFieldGetter(parseFieldPath(field));
      return (s) => values(get(s)).length > 0;
    }
    case 'range': {
      const [field, spec] = one(body, kind);
      const r = (spec ?? {}) as Record<string, unknown>;
      const isTime = field === tsField || field === '@timestamp' || r.format !== undefined || [r.gte, r.gt, r.lte, r.lt].some((x) => typeof x === 'string' && /^now|^\d{4}-/.test(x));
      const conv = (x: unknown): number => (isTime ? asTime(x, now) : Number(x));
      const gte = r.gte !== undefined ? conv(r.gte) : undefined;
      const gt = r.gt !== undefined ? conv(r.gt) : undefined;
      const lte = r.lte !== undefined ? conv(r.lte) : undefined;
      const lt = r.lt !== undefined ? conv(r.lt) : undefined;
      if (top && field === tsField) {
        const lo = gt ?? (gte !== undefined ? gte - 1 : undefined);
        if (lo !== undefined) bounds.after = Math.max(bounds.after ?? -Infinity, lo);
        const hi = lte ?? (lt !== undefined ? lt : undefined);
        if (hi !== undefined) bounds.upTo = Math.min(bounds.upTo ?? Infinity, hi);
      }
      const get = createFieldGetter(parseFieldPath(field));
      return (s) =>
        values(get(s)).some((x) => {
          const n = isTime ? defaultParseTimestamp(x) : Number(x);
          if (Number.isNaN(n)) return false;
          return (gte === undefined || n >= gte) && (gt === undefined || n > gt) && (lte === undefined || n <= lte) && (lt === undefined || n < lt);
        });
    }
    case 'bool': {
      const b = (body ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(b)) if (!['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost'].includes(k)) throw new DslError(`[bool] query does not support [${k}]`);
      const list = (k: string, isTop: boolean): DocFilter[] => values(b[k]).map((n) => compileNode(n, tsField, now, bounds, isTop));
      const must = [...list('must', top), ...list('filter', top)];
      const should = list('should', false);
      const not = list('must_not', false);
      const msm = typeof b.minimum_should_match === 'number' ? b.minimum_should_match : must.length > 0 ? 0 : should.length > 0 ? 1 : 0;
      return (s) => must.every((f) => f(s)) && !not.some((f) => f(s)) && (msm === 0 || should.filter((f) => f(s)).length >= msm);
    }
    default:
      throw new DslError(`unknown query [${kind}]`);
  }
}
