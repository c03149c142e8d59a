import { round } from './date-math.js';
import type { DocTest } from './dsl.js';
import { badRequest, parsingError } from './errors.js';
import { FieldRef, sortable, type Doc, type Kind, type TypeOf } from './fields.js';

/**
 * Aggregations, computed in the same pass as the hits: terms, date_histogram, histogram, filter,
 * filters, missing (buckets, with sub-aggregations), and min, max, avg, sum, value_count, stats,
 * cardinality (exact), top_hits. Results are shaped as Elasticsearch's.
 */
export interface Collector {
  add(doc: Doc): void;
  result(): Record<string, unknown>;
}

export interface AggContext {
  readonly now: number;
  readonly typeOf: TypeOf;
  compileQuery(q: unknown): DocTest;
  /** A collector of the best hits by the request's sort (top_hits). */
  topHits(spec: Record<string, unknown>): Collector;
}

export type AggSet = Map<string, () => Collector>;

const MAX_BUCKETS = 65_536;

/** Deeper trees of sub-aggregations are refused (Elasticsearch bounds them by its bucket limit). */
const MAX_AGG_DEPTH = 20;

export function compileAggs(spec: unknown, ctx: AggContext, depth = 0): AggSet {
  if (depth > MAX_AGG_DEPTH) throw parsingError(`aggregations are nested too deeply: more than ${MAX_AGG_DEPTH} levels`);
  const out: AggSet = new Map();
  if (spec === undefined || spec === null) return out;
  if (typeof spec !== 'object' || Array.isArray(spec)) throw parsingError('Expected [START_OBJECT] under [aggregations]');
  for (const [name, def] of Object.entries(spec as Record<string, unknown>)) {
    if (!def || typeof def !== 'object') throw parsingError(`Expected [START_OBJECT] under [${name}], but got a value`);
    const d = def as Record<string, unknown>;
    const subSpec = d.aggs ?? d.aggregations;
    const kinds = Object.keys(d).filter((k) => k !== 'aggs' && k !== 'aggregations' && k !== 'meta');
    if (kinds.length !== 1) throw parsingError(kinds.length === 0 ? `Missing definition for aggregation [${name}]` : `Found two aggregation type definitions in [${name}]: [${kinds[0]}] and [${kinds[1]}]`);
    const kind = kinds[0]!;
    const body = (d[kind] ?? {}) as Record<string, unknown>;
    const subs = compileAggs(subSpec, ctx, depth + 1);
    out.set(name, factory(name, kind, body, subs, ctx));
  }
  return out;
}

export function collectAll(set: AggSet): { add(doc: Doc): void; result(): Record<string, unknown>; collectors: Map<string, Collector> } {
  const collectors = new Map<string, Collector>();
  for (const [n, f] of set) collectors.set(n, f());
  const list = [...collectors.values()];
  return {
    collectors,
    add(doc) {
      for (const c of list) c.add(doc);
    },
    result() {
      const r: Record<string, unknown> = {};
      for (const [n, c] of collectors) r[n] = c.result();
      return r;
    },
  };
}

class Bucket {
  count = 0;
  readonly subs: ReturnType<typeof collectAll>;
  constructor(
    readonly key: unknown,
    set: AggSet,
  ) {
    this.subs = collectAll(set);
  }
  add(doc: Doc): void {
    this.count++;
    this.subs.add(doc);
  }
  shape(extra: Record<string, unknown>): Record<string, unknown> {
    return { ...extra, doc_count: this.count, ...this.subs.result() };
  }
}

function fieldOf(body: Record<string, unknown>, kind: string, ctx: AggContext): FieldRef {
  if (typeof body.field !== 'string') {
    if (body.script !== undefined) throw badRequest('illegal_argument_exception', `[${kind}] scripts are not supported by Vigil`);
    throw badRequest('illegal_argument_exception', `Required one of fields [field, script], but none were specified.`);
  }
  return new FieldRef(body.field, ctx.typeOf);
}

/** Each distinct value of the field in a document, typed as buckets key it. */
function keysOf(f: FieldRef, doc: Doc, now: number): Array<{ key: number | string; kind: Kind }> {
  const k = f.kind(doc.index);
  const seen = new Set<number | string>();
  const out: Array<{ key: number | string; kind: Kind }> = [];
  for (const v of f.values(doc)) {
    const key = sortable(v, k, now);
    if (key === null || seen.has(key)) continue;
    seen.add(key);
    out.push({ key, kind: k === 'dynamic' ? (typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'keyword') : k });
  }
  return out;
}

const iso = (t: number): string => new Date(t).toISOString();

function keyShape(key: number | string, kind: Kind): Record<string, unknown> {
  if (kind === 'date') return { key, key_as_string: iso(key as number) };
  if (kind === 'boolean') return { key, key_as_string: key === 1 ? 'true' : 'false' };
  return { key };
}

function metric(name: string, kind: string, body: Record<string, unknown>, ctx: AggContext): () => Collector {
  const f = fieldOf(body, kind, ctx);
  const missing = body.missing;
  return () => {
    let n = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    let dateField = false;
    const distinct = kind === 'cardinality' ? new Set<string | number>() : null;
    return {
      add(doc) {
        const k = f.kind(doc.index);
        let vals = f.values(doc);
        if (vals.length === 0 && missing !== undefined) vals = [missing];
        for (const v of vals) {
          if (distinct) {
            const key = sortable(v, k, ctx.now);
            if (key !== null) distinct.add(key);
            continue;
          }
          if (kind === 'value_count') {
            n++;
            continue;
          }
          const x = sortable(v, k === 'dynamic' || k === 'keyword' || k === 'text' ? (typeof v === 'number' ? 'number' : k) : k, ctx.now);
          if (typeof x !== 'number') {
            if (k === 'keyword' || k === 'text') throw badRequest('illegal_argument_exception', `Field [${f.name}] of type [keyword] is not supported for aggregation [${kind}]`);
            continue;
          }
          if (k === 'date') dateField = true;
          n++;
          sum += x;
          if (x < min) min = x;
          if (x > max) max = x;
        }
      },
      result() {
        if (distinct) return { value: distinct.size };
        if (kind === 'value_count') return { value: n };
        const withString = (v: number | null): Record<string, unknown> => (dateField && v !== null ? { value: v, value_as_string: iso(v) } : { value: v });
        switch (kind) {
          case 'min':
            return withString(n ? min : null);
          case 'max':
            return withString(n ? max : null);
          case 'sum':
            return { value: sum };
          case 'avg':
            return withString(n ? sum / n : null);
          default:
            return { count: n, min: n ? min : null, max: n ? max : null, avg: n ? sum / n : null, sum, ...(dateField && n ? { min_as_string: iso(min), max_as_string: iso(max), avg_as_string: iso(sum / n) } : {}) };
        }
      },
    };
  };
}

type OrderKey = { by: string; desc: boolean };

function orderOf(v: unknown, dflt: OrderKey[]): OrderKey[] {
  if (v === undefined) return dflt;
  const items = Array.isArray(v) ? v : [v];
  const out: OrderKey[] = [];
  for (const it of items) {
    for (const [by, dir] of Object.entries((it ?? {}) as Record<string, unknown>)) {
      if (dir !== 'asc' && dir !== 'desc') throw parsingError(`Unknown order direction [${String(dir)}]`);
      out.push({ by: by === '_term' ? '_key' : by, desc: dir === 'desc' });
    }
  }
  return out;
}

function compareBuckets(order: OrderKey[]): (a: Bucket, b: Bucket) => number {
  const valueOf = (b: Bucket, by: string): number | string => {
    if (by === '_count') return b.count;
    if (by === '_key') return b.key as number | string;
    const [agg, prop] = by.split('.');
    const c = b.subs.collectors.get(agg!);
    if (!c) throw badRequest('aggregation_execution_exception', `Invalid aggregation order path [${by}]. Unknown aggregation [${agg}]`);
    const r = c.result();
    const v = prop ? r[prop] : 'value' in r ? r.value : r.doc_count;
    return typeof v === 'number' ? v : -Infinity;
  };
  return (a, b) => {
    for (const o of order) {
      const x = valueOf(a, o.by);
      const y = valueOf(b, o.by);
      if (x === y) continue;
      const c = x < y ? -1 : 1;
      return o.desc ? -c : c;
    }
    return a.key! < b.key! ? -1 : a.key! > b.key! ? 1 : 0;
  };
}

function factory(name: string, kind: string, body: Record<string, unknown>, subs: AggSet, ctx: AggContext): () => Collector {
  switch (kind) {
    case 'min':
    case 'max':
    case 'avg':
    case 'sum':
    case 'value_count':
    case 'stats':
    case 'cardinality':
      return metric(name, kind, body, ctx);
    case 'top_hits':
      return () => ctx.topHits(body);
    case 'terms': {
      const f = fieldOf(body, kind, ctx);
      const size = body.size === undefined ? 10 : Number(body.size);
      const minCount = body.min_doc_count === undefined ? 1 : Number(body.min_doc_count);
      const order = orderOf(body.order, [
        { by: '_count', desc: true },
        { by: '_key', desc: false },
      ]);
      const include = body.include;
      const exclude = body.exclude;
      const pass = (key: string): boolean => {
        if (Array.isArray(include) && !include.map(String).includes(key)) return false;
        if (typeof include === 'string' && !new RegExp(`^(?:${include})$`).test(key)) return false;
        if (Array.isArray(exclude) && exclude.map(String).includes(key)) return false;
        if (typeof exclude === 'string' && new RegExp(`^(?:${exclude})$`).test(key)) return false;
        return true;
      };
      return () => {
        const buckets = new Map<number | string, Bucket>();
        let kindSeen: Kind = 'keyword';
        return {
          add(doc) {
            let keys = keysOf(f, doc, ctx.now);
            if (keys.length === 0 && body.missing !== undefined) keys = [{ key: body.missing as string | number, kind: typeof body.missing === 'number' ? 'number' : 'keyword' }];
            for (const { key, kind: k } of keys) {
              if ((include !== undefined || exclude !== undefined) && !pass(String(key))) continue;
              kindSeen = k;
              let b = buckets.get(key);
              if (!b) {
                if (buckets.size >= MAX_BUCKETS * 16) throw badRequest('too_many_buckets_exception', `Trying to create too many buckets. Must be less than or equal to: [${MAX_BUCKETS}].`);
                buckets.set(key, (b = new Bucket(key, subs)));
              }
              b.add(doc);
            }
          },
          result() {
            const all = [...buckets.values()].filter((b) => b.count >= minCount).sort(compareBuckets(order));
            const shown = all.slice(0, size);
            const other = all.slice(size).reduce((a, b) => a + b.count, 0);
            return { doc_count_error_upper_bound: 0, sum_other_doc_count: other, buckets: shown.map((b) => b.shape(keyShape(b.key as number | string, kindSeen))) };
          },
        };
      };
    }
    case 'date_histogram':
    case 'histogram': {
      const f = fieldOf(body, kind, ctx);
      const minCount = body.min_doc_count === undefined ? 0 : Number(body.min_doc_count);
      const keyOf = bucketing(kind, body);
      const order = orderOf(body.order, [{ by: '_key', desc: false }]);
      const bounds = body.extended_bounds as { min?: unknown; max?: unknown } | undefined;
      return () => {
        const buckets = new Map<number, Bucket>();
        return {
          add(doc) {
            const k = kind === 'date_histogram' ? 'date' : 'number';
            const seen = new Set<number>();
            for (const v of f.values(doc)) {
              const x = sortable(v, f.kind(doc.index) === 'dynamic' ? k : f.kind(doc.index), ctx.now);
              if (typeof x !== 'number') continue;
              const key = keyOf.floor(x);
              if (seen.has(key)) continue;
              seen.add(key);
              let b = buckets.get(key);
              if (!b) buckets.set(key, (b = new Bucket(key, subs)));
              b.add(doc);
            }
          },
          result() {
            let list = [...buckets.values()];
            if (minCount === 0 && (list.length > 0 || bounds)) {
              const keys = list.map((b) => b.key as number);
              if (bounds?.min !== undefined) keys.push(keyOf.floor(keyOf.bound(bounds.min, ctx.now)));
              if (bounds?.max !== undefined) keys.push(keyOf.floor(keyOf.bound(bounds.max, ctx.now)));
              const lo = Math.min(...keys);
              const hi = Math.max(...keys);
              for (let k = lo, n = 0; k <= hi; k = keyOf.next(k), n++) {
                if (n > MAX_BUCKETS) throw badRequest('too_many_buckets_exception', `Trying to create too many buckets. Must be less than or equal to: [${MAX_BUCKETS}] but was [${n}].`);
                if (!buckets.has(k)) buckets.set(k, new Bucket(k, subs));
              }
              list = [...buckets.values()];
            }
            list = list.filter((b) => b.count >= minCount).sort(compareBuckets(order));
            return { buckets: list.map((b) => b.shape(kind === 'date_histogram' ? { key_as_string: iso(b.key as number), key: b.key } : { key: b.key })) };
          },
        };
      };
    }
    case 'filter': {
      const test = ctx.compileQuery(body);
      return () => {
        const b = new Bucket(null, subs);
        return { add: (doc) => test(doc) && b.add(doc), result: () => b.shape({}) };
      };
    }
    case 'filters': {
      const defs = body.filters;
      if (!defs || typeof defs !== 'object') throw parsingError('[filters] requires a [filters] object or array');
      const named = Array.isArray(defs) ? defs.map((q, i) => [String(i), q] as const) : Object.entries(defs as Record<string, unknown>);
      const tests = named.map(([n, q]) => [n, ctx.compileQuery(q)] as const);
      return () => {
        const buckets = tests.map(([n, t]) => ({ n, t, b: new Bucket(n, subs) }));
        return {
          add: (doc) => buckets.forEach((x) => x.t(doc) && x.b.add(doc)),
          result: () =>
            Array.isArray(defs) ? { buckets: buckets.map((x) => x.b.shape({})) } : { buckets: Object.fromEntries(buckets.map((x) => [x.n, x.b.shape({})])) },
        };
      };
    }
    case 'missing': {
      const f = fieldOf(body, kind, ctx);
      return () => {
        const b = new Bucket(null, subs);
        return { add: (doc) => f.values(doc).length === 0 && b.add(doc), result: () => b.shape({}) };
      };
    }
    default:
      throw parsingError(`Unknown aggregation type [${kind}] for [${name}]`);
  }
}

const CALENDAR: Record<string, string> = { minute: 'm', '1m': 'm', hour: 'h', '1h': 'h', day: 'd', '1d': 'd', week: 'w', '1w': 'w', month: 'M', '1M': 'M', quarter: 'q', '1q': 'q', year: 'y', '1y': 'y' };
const FIXED_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function bucketing(kind: string, body: Record<string, unknown>): { floor(x: number): number; next(k: number): number; bound(v: unknown, now: number): number } {
  if (kind === 'histogram') {
    const interval = Number(body.interval);
    if (!(interval > 0)) throw badRequest('illegal_argument_exception', '[interval] must be >0 for histogram aggregation [histogram]');
    const offset = Number(body.offset ?? 0);
    return { floor: (x) => Math.floor((x - offset) / interval) * interval + offset, next: (k) => k + interval, bound: (v) => Number(v) };
  }
  const cal = body.calendar_interval ?? (typeof body.interval === 'string' && CALENDAR[body.interval] ? body.interval : undefined);
  const bound = (v: unknown): number => (typeof v === 'number' ? v : Date.parse(String(v)));
  if (cal !== undefined) {
    const unit = CALENDAR[String(cal)];
    if (!unit) throw badRequest('illegal_argument_exception', `The supplied interval [${String(cal)}] could not be parsed as a calendar interval.`);
    if (unit === 'q') {
      const floor = (x: number): number => {
        const d = new Date(x);
        return Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3, 1);
      };
      return { floor, next: (k) => floor(k + 93 * 86_400_000), bound };
    }
    const floor = (x: number): number => round(x, unit, false);
    return { floor, next: (k) => round(k, unit, true) + 1, bound };
  }
  const fixed = body.fixed_interval ?? body.interval;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(String(fixed ?? ''));
  if (!m) throw badRequest('illegal_argument_exception', fixed === undefined ? 'Invalid interval specified, must be non-null and non-empty' : `failed to parse setting [date_histogram.fixedInterval] with value [${String(fixed)}] as a time value`);
  const ms = Number(m[1]) * FIXED_UNITS[m[2]!]!;
  return { floor: (x) => Math.floor(x / ms) * ms, next: (k) => k + ms, bound };
}
