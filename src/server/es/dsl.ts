import { compileWildcard } from '../../ecs/index.js';
import { cidrContains, parseCidr, parseIp } from '../../eql/index.js';
import { parseDate } from './date-math.js';
import { badRequest, EsError, parsingError } from './errors.js';
import { analyze, dynamicKind, FieldRef, ipOf, type Doc, type Kind, type TypeOf } from './fields.js';
import { parseQueryString } from './query-string.js';

/**
 * Elasticsearch's query DSL over stored documents, typed by the index mappings (then ECS, then each
 * value's JSON type): match_all, match_none, bool, constant_score, term, terms, ids, match,
 * match_phrase, match_phrase_prefix, multi_match, range (numbers, dates with date math, ips,
 * strings), exists, prefix, wildcard, regexp, query_string and simple_query_string, nested.
 * Anything else is refused with Elasticsearch's parsing_exception, never ignored.
 */
export type DocTest = (doc: Doc) => boolean;

export interface DslContext {
  readonly now: number;
  readonly typeOf: TypeOf;
  /** The timestamp field whose top-level ranges bound the store's scan. */
  readonly timestampField?: string;
}

export interface CompiledQuery {
  readonly test: DocTest;
  /** Whether the query scores (false: filters only, every hit scores 0). */
  readonly scoring: boolean;
  /** Bounds on the timestamp field from top-level ranges: exclusive after, inclusive upTo. */
  readonly after?: number;
  readonly upTo?: number;
}

/** Elasticsearch's indices.query.bool.max_nested_depth: deeper queries are refused, not recursed into. */
export const MAX_QUERY_DEPTH = 30;

interface Compiler {
  depth: number;
  readonly ctx: DslContext;
  readonly fields: Map<string, FieldRef>;
  bounds: { after?: number; upTo?: number };
  scoring: boolean;
}

export function compileDsl(query: unknown, ctx: DslContext): CompiledQuery {
  const c: Compiler = { depth: 0, ctx, fields: new Map(), bounds: {}, scoring: false };
  const test = query === undefined || query === null ? () => true : node(c, query, true);
  if (query === undefined || query === null) c.scoring = true;
  return { test, scoring: c.scoring, ...c.bounds };
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

function field(c: Compiler, name: string): FieldRef {
  let f = c.fields.get(name);
  if (!f) {
    f = new FieldRef(name, c.ctx.typeOf);
    c.fields.set(name, f);
  }
  return f;
}

function only(body: unknown, kind: string): [string, unknown] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw parsingError(`[${kind}] query malformed, no start_object after query name`);
  const entries = Object.entries(body as Record<string, unknown>).filter(([k]) => k !== 'boost' && k !== '_name');
  if (entries.length !== 1) throw parsingError(`[${kind}] query doesn't support multiple fields, found [${entries.map(([k]) => k).join('] and [')}]`);
  return entries[0]!;
}

/** `{"field": v}` or `{"field": {"value"|"query": v, …options}}`. */
function fieldValue(body: unknown, kind: string, key = 'value'): { field: string; value: unknown; opts: Record<string, unknown> } {
  const [f, v] = only(body, kind);
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const value = o[key] ?? (key === 'value' ? o.query : o.value);
    if (value === undefined) throw parsingError(`[${kind}] query does not support [${Object.keys(o)[0] ?? ''}]`);
    return { field: f, value, opts: o };
  }
  return { field: f, value: v, opts: {} };
}

function numberOf(want: unknown, f: string): number {
  const n = typeof want === 'number' ? want : typeof want === 'string' && want.trim() !== '' ? Number(want) : NaN;
  if (Number.isNaN(n)) throw badRequest('query_shard_exception', `failed to create query: For input string: "${String(want)}" (field [${f}])`);
  return n;
}

/** One value of a field equals the term, as the field's kind compares. */
function termTest(c: Compiler, f: FieldRef, want: unknown, caseInsensitive = false): DocTest {
  const s = String(want);
  const lower = s.toLowerCase();
  const eqKeyword = caseInsensitive ? (x: unknown) => typeof x !== 'object' && String(x).toLowerCase() === lower : (x: unknown) => typeof x !== 'object' && String(x) === s;
  let num: number | null = null;
  let date: number | null = null;
  const cidr = typeof want === 'string' ? parseCidr(want.includes('/') ? want : `${want}/${want.includes(':') ? 128 : 32}`) : null;
  const byKind = (k: Kind): ((x: unknown) => boolean) => {
    switch (k) {
      case 'number':
        num ??= numberOf(want, f.name);
        return (x) => Number(x) === num;
      case 'date':
        date ??= parseDate(want, c.ctx.now);
        return (x) => {
          try {
            return parseDate(x, c.ctx.now) === date;
          } catch {
            return false;
          }
        };
      case 'ip':
        if (!cidr) throw badRequest('query_shard_exception', `failed to create query: '${s}' is not an IP string literal.`);
        return (x) => {
          const ip = ipOf(x);
          return ip !== null && cidrContains(cidr, ip);
        };
      case 'boolean':
        return (x) => String(x) === s;
      case 'text':
        return (x) => typeof x === 'string' && analyze(x).includes(caseInsensitive ? lower : s);
      case 'object':
        return () => false;
      case 'keyword':
        return eqKeyword;
      case 'dynamic':
        return (x) => {
          const dk = dynamicKind(x);
          if (dk === 'number') return typeof want === 'number' ? x === want : s.trim() !== '' && Number(s) === x;
          return dk === 'object' ? false : eqKeyword(x);
        };
    }
  };
  return perValue(f, byKind);
}

/** A test per index kind of the field, over each of the document's values. */
function perValue(f: FieldRef, byKind: (k: Kind) => (x: unknown) => boolean): DocTest {
  const cache = new Map<Kind, (x: unknown) => boolean>();
  return (doc) => {
    const vals = f.values(doc);
    if (vals.length === 0) return false;
    const k = f.kind(doc.index);
    let t = cache.get(k);
    if (!t) {
      t = byKind(k);
      cache.set(k, t);
    }
    for (const x of vals) if (t(x)) return true;
    return false;
  };
}

function textMatch(c: Compiler, f: FieldRef, query: unknown, opts: Record<string, unknown>, phrase: 'no' | 'phrase' | 'prefix'): DocTest {
  const q = String(query);
  const tokens = analyze(q);
  const and = String(opts.operator ?? 'or').toLowerCase() === 'and';
  const msm = opts.minimum_should_match;
  const exact = termTest(c, f, query);
  const analyzed = (x: unknown): boolean => {
    if (typeof x !== 'string') return false;
    const have = analyze(x);
    if (tokens.length === 0) return false;
    if (phrase !== 'no') {
      for (let i = 0; i + tokens.length <= have.length; i++) {
        let ok = true;
        for (let j = 0; j < tokens.length && ok; j++) {
          const last = j === tokens.length - 1;
          ok = phrase === 'prefix' && last ? have[i + j]!.startsWith(tokens[j]!) : have[i + j] === tokens[j];
        }
        if (ok) return true;
      }
      return false;
    }
    const set = new Set(have);
    const hits = tokens.filter((t) => set.has(t)).length;
    if (and) return hits === tokens.length;
    if (msm !== undefined) {
      const m = String(msm);
      const need = m.endsWith('%') ? Math.floor((tokens.length * Number(m.slice(0, -1))) / 100) : Number(m) < 0 ? tokens.length + Number(m) : Number(m);
      return hits >= Math.max(1, need);
    }
    return hits > 0;
  };
  const text = perValue(f, () => analyzed);
  return (doc) => {
    const k = f.kind(doc.index);
    if (k === 'text') return text(doc);
    if (phrase === 'prefix' && (k === 'keyword' || k === 'dynamic') && f.values(doc).some((x) => typeof x === 'string' && x.startsWith(q))) return true;
    if (k === 'dynamic') return exact(doc) || text(doc);
    return exact(doc);
  };
}

/** Field names with `*` wildcards (multi_match, query_string fields) against a document's fields. */
function fieldsOf(doc: Doc, pattern: string): string[] {
  const out: string[] = [];
  const m = compileWildcard(pattern.replace(/\^[\d.]+$/, ''), false);
  const walk = (o: unknown, prefix: string): void => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) {
      if (prefix && m(prefix)) out.push(prefix);
      return;
    }
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) walk(v, prefix ? `${prefix}.${k}` : k);
  };
  walk(doc.source, '');
  return out;
}

function rangeTest(c: Compiler, name: string, spec: Record<string, unknown>, top: boolean): DocTest {
  for (const k of Object.keys(spec)) if (!['gt', 'gte', 'lt', 'lte', 'from', 'to', 'include_lower', 'include_upper', 'format', 'time_zone', 'boost', 'relation', '_name'].includes(k)) throw parsingError(`[range] query does not support [${k}]`);
  let { gt, gte, lt, lte } = spec as Record<string, unknown>;
  if (spec.from !== undefined && spec.from !== null) {
    if (spec.include_lower === false) gt = spec.from;
    else gte = spec.from;
  }
  if (spec.to !== undefined && spec.to !== null) {
    if (spec.include_upper === false) lt = spec.to;
    else lte = spec.to;
  }
  const f = field(c, name);
  const now = c.ctx.now;
  const epochSeconds = typeof spec.format === 'string' && spec.format.includes('epoch_second');
  const asDate = (v: unknown, up: boolean): number => (epochSeconds && /^\d+$/.test(String(v)) ? Number(v) * 1000 : parseDate(typeof v === 'number' ? v : String(v), now, up));
  const numbers = (conv: (v: unknown, up: boolean) => number): ((x: number) => boolean) => {
    const a = gte !== undefined ? conv(gte, false) : undefined;
    const b = gt !== undefined ? conv(gt, true) : undefined;
    const d = lte !== undefined ? conv(lte, true) : undefined;
    const e = lt !== undefined ? conv(lt, false) : undefined;
    return (x) => (a === undefined || x >= a) && (b === undefined || x > b) && (d === undefined || x <= d) && (e === undefined || x < e);
  };
  if (top && name === (c.ctx.timestampField ?? '@timestamp')) {
    const lo = gt !== undefined ? asDate(gt, true) : gte !== undefined ? asDate(gte, false) - 1 : undefined;
    if (lo !== undefined) c.bounds.after = Math.max(c.bounds.after ?? -Infinity, lo);
    const hi = lte !== undefined ? asDate(lte, true) : lt !== undefined ? asDate(lt, false) : undefined;
    if (hi !== undefined) c.bounds.upTo = Math.min(c.bounds.upTo ?? Infinity, hi);
  }
  const byKind = (k: Kind): ((x: unknown) => boolean) => {
    switch (k) {
      case 'date': {
        const t = numbers(asDate);
        return (x) => {
          try {
            return t(parseDate(x, now));
          } catch {
            return false;
          }
        };
      }
      case 'number': {
        const t = numbers((v) => numberOf(v, name));
        return (x) => t(Number(x));
      }
      case 'ip': {
        const ipNum = (v: unknown): number => {
          const ip = parseIp(String(v));
          if (!ip) throw badRequest('query_shard_exception', `failed to create query: '${String(v)}' is not an IP string literal.`);
          return Number(ip.value);
        };
        const t = numbers(ipNum);
        return (x) => {
          const ip = ipOf(x);
          return ip !== null && t(Number(ip.value));
        };
      }
      case 'object':
        return () => false;
      case 'keyword':
      case 'text':
      case 'boolean':
      case 'dynamic': {
        // unmapped: a number compares as a number, a date-looking bound as a date, else as text
        const looksDate = [gt, gte, lt, lte].some((v) => typeof v === 'string' && /^now|^\d{4}-\d\d|\|\|/.test(v));
        const str = (x: string): boolean =>
          (gte === undefined || x >= String(gte)) && (gt === undefined || x > String(gt)) && (lte === undefined || x <= String(lte)) && (lt === undefined || x < String(lt));
        const dateT = looksDate ? numbers(asDate) : null;
        const numT = [gt, gte, lt, lte].every((v) => v === undefined || !Number.isNaN(Number(v))) ? numbers((v) => Number(v)) : null;
        return (x) => {
          if (typeof x === 'number') return numT !== null && numT(x);
          if (typeof x !== 'string') return false;
          if (dateT && k === 'dynamic') {
            const t = Date.parse(x);
            if (!Number.isNaN(t)) return dateT(t);
          }
          return str(x);
        };
      }
    }
  };
  return perValue(f, byKind);
}

function node(c: Compiler, q: unknown, top: boolean): DocTest {
  if (c.depth >= MAX_QUERY_DEPTH) throw parsingError(`query is nested too deeply: more than ${MAX_QUERY_DEPTH} levels (indices.query.bool.max_nested_depth)`);
  c.depth++;
  try {
    return nodeAt(c, q, top);
  } finally {
    c.depth--;
  }
}

function nodeAt(c: Compiler, q: unknown, top: boolean): DocTest {
  if (!q || typeof q !== 'object' || Array.isArray(q)) throw parsingError('query malformed, must start with start_object');
  const entries = Object.entries(q as Record<string, unknown>);
  if (entries.length !== 1) throw parsingError(entries.length === 0 ? 'query malformed, empty clause found' : `[${entries[0]![0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]`);
  const [kind, body] = entries[0]!;
  switch (kind) {
    case 'match_all':
      c.scoring = true;
      return () => true;
    case 'match_none':
      return () => false;
    case 'bool': {
      const b = (body ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(b)) if (!['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost', '_name', 'adjust_pure_negative'].includes(k)) throw parsingError(`[bool] query does not support [${k}]`);
      const must = list(b.must).map((n) => node(c, n, top));
      const filter = list(b.filter).map((n) => node(c, n, top));
      const should = list(b.should).map((n) => node(c, n, false));
      const not = list(b.must_not).map((n) => node(c, n, false));
      if (must.length > 0 || should.length > 0) c.scoring = true;
      const all = [...must, ...filter];
      const m = b.minimum_should_match;
      const msm = m === undefined ? (all.length > 0 ? 0 : should.length > 0 ? 1 : 0) : String(m).endsWith('%') ? Math.floor((should.length * Number(String(m).slice(0, -1))) / 100) : Number(m) < 0 ? should.length + Number(m) : Number(m);
      return (d) => {
        for (const t of all) if (!t(d)) return false;
        for (const t of not) if (t(d)) return false;
        if (msm <= 0) return true;
        let n = 0;
        for (const t of should) if (t(d) && ++n >= msm) return true;
        return false;
      };
    }
    case 'constant_score': {
      const inner = (body as { filter?: unknown })?.filter;
      if (inner === undefined) throw parsingError('[constant_score] requires a \'filter\' element');
      const t = node(c, inner, top);
      c.scoring = true;
      return t;
    }
    case 'term': {
      const { field: f, value, opts } = fieldValue(body, kind);
      c.scoring = true;
      return termTest(c, field(c, f), value, opts.case_insensitive === true);
    }
    case 'terms': {
      const entries2 = Object.entries((body ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'boost' && k !== '_name');
      if (entries2.length !== 1) throw parsingError('[terms] query does not support multiple fields');
      const [f, vals] = entries2[0]!;
      if (!Array.isArray(vals)) throw parsingError(`[terms] query does not support [${f}]`);
      const tests = vals.map((v) => termTest(c, field(c, f), v));
      c.scoring = true;
      return (d) => tests.some((t) => t(d));
    }
    case 'ids': {
      const ids = new Set(list((body as { values?: unknown })?.values).map(String));
      c.scoring = true;
      return (d) => ids.has(d.id);
    }
    case 'match':
    case 'match_phrase':
    case 'match_phrase_prefix': {
      const { field: f, value, opts } = fieldValue(body, kind, 'query');
      c.scoring = true;
      return textMatch(c, field(c, f), value, opts, kind === 'match' ? 'no' : kind === 'match_phrase' ? 'phrase' : 'prefix');
    }
    case 'multi_match': {
      const b = (body ?? {}) as Record<string, unknown>;
      if (b.query === undefined) throw parsingError('[multi_match] requires query value');
      const names = list(b.fields).map(String);
      const type = String(b.type ?? 'best_fields');
      const phrase = type === 'phrase' ? 'phrase' : type === 'phrase_prefix' || type === 'bool_prefix' ? 'prefix' : 'no';
      c.scoring = true;
      const cache = new Map<string, DocTest>();
      const lenient = b.lenient === true;
      const testFor = (name: string): DocTest => {
        let t = cache.get(name);
        if (!t) {
          const inner = textMatch(c, field(c, name), b.query, b, phrase);
          // lenient: a query text a field cannot take (a word for a number field) does not match there
          t = lenient
            ? (d) => {
                try {
                  return inner(d);
                } catch (e) {
                  if (e instanceof EsError) return false;
                  throw e;
                }
              }
            : inner;
          cache.set(name, t);
        }
        return t;
      };
      const all = names.length === 0 || names.includes('*');
      return (d) => {
        const fs = all ? fieldsOf(d, '*') : names.flatMap((n) => (n.includes('*') ? fieldsOf(d, n) : [n.replace(/\^[\d.]+$/, '')]));
        return fs.some((n) => testFor(n)(d));
      };
    }
    case 'range': {
      const [f, spec] = only(body, kind);
      if (!spec || typeof spec !== 'object') throw parsingError('[range] query malformed, no start_object after field name');
      c.scoring = true;
      return rangeTest(c, f, spec as Record<string, unknown>, top);
    }
    case 'exists': {
      const f = (body as { field?: unknown })?.field;
      if (typeof f !== 'string') throw parsingError('[exists] must be provided with a [field]');
      c.scoring = true;
      if (f.includes('*')) return (d) => fieldsOf(d, f).some((n) => field(c, n).values(d).length > 0);
      const ref = field(c, f);
      return (d) => ref.values(d).length > 0;
    }
    case 'prefix':
    case 'wildcard':
    case 'regexp': {
      const { field: f, value, opts } = fieldValue(body, kind);
      const ci = opts.case_insensitive === true;
      const p = String(value ?? opts.wildcard);
      let m: (s: string) => boolean;
      if (kind === 'prefix') m = ci ? (s) => s.toLowerCase().startsWith(p.toLowerCase()) : (s) => s.startsWith(p);
      else if (kind === 'wildcard') m = compileWildcard(p, ci);
      else {
        let re: RegExp;
        try {
          re = new RegExp(`^(?:${p})$`, ci ? 'isu' : 'su');
        } catch (e) {
          throw badRequest('query_shard_exception', `failed to create query: ${(e as Error).message}`);
        }
        m = (s) => re.test(s);
      }
      c.scoring = true;
      const byKind = (k: Kind) => (k === 'text' ? (x: unknown) => typeof x === 'string' && analyze(x).some(m) : (x: unknown) => typeof x !== 'object' && m(String(x)));
      if (!f.includes('*')) return perValue(field(c, f), byKind);
      const tests = new Map<string, DocTest>();
      return (d) =>
        fieldsOf(d, f).some((n) => {
          let t = tests.get(n);
          if (!t) tests.set(n, (t = perValue(field(c, n), byKind)));
          return t(d);
        });
    }
    case 'query_string':
    case 'simple_query_string': {
      const b = (body ?? {}) as Record<string, unknown>;
      if (typeof b.query !== 'string') throw parsingError(`[${kind}] must be provided with a [query]`);
      const dsl = parseQueryString(b.query, {
        defaultOperator: String(b.default_operator ?? 'or').toLowerCase() === 'and' ? 'and' : 'or',
        fields: b.fields !== undefined ? list(b.fields).map(String) : b.default_field !== undefined ? [String(b.default_field)] : ['*'],
      });
      return node(c, dsl, top);
    }
    case 'nested': {
      const inner = (body as { query?: unknown })?.query;
      if (inner === undefined) throw parsingError('[nested] requires \'query\' field');
      return node(c, inner, false);
    }
    default:
      throw parsingError(`unknown query [${kind}]`);
  }
}
