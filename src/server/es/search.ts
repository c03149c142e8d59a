import { randomBytes } from 'node:crypto';
import { collectAll, compileAggs, type Collector } from './aggs.js';
import { compileDsl, type DocTest } from './dsl.js';
import { badRequest, EsError, parsingError } from './errors.js';
import { FieldRef, sortable, type Doc, type TypeOf } from './fields.js';
import { parseQueryString } from './query-string.js';
import { applySourceFilter, fieldsOption, optionFields, sourceFilterOf, type SourceFilter } from './source-filter.js';

/**
 * `_search`, `_count`, scroll and point in time over the documents a DocSource gives: the query
 * DSL, sort, from/size, search_after, `_source` filtering, `fields`, track_total_hits and
 * aggregations, answered in Elasticsearch's shapes.
 */
export interface DocSource {
  now(): number;
  readonly typeOf: TypeOf;
  /** Concrete index names of an index expression (comma list, wildcards, `-exclusions`, aliases). */
  resolve(expr: string, opts: { ignoreUnavailable: boolean; allowNoIndices: boolean }): string[];
  /** The indices' documents, in time order, the timestamp bounded (exclusive after, inclusive upTo). */
  scan(indices: readonly string[], bounds: { after?: number; upTo?: number }): Iterable<Doc>;
  get(index: string, id: string): Doc | null;
  /** The newest document's sequence number (a point in time sees nothing newer). */
  maxSeq(): number;
  /** As scan, the documents as stored JSON text, parsed only by the caller (see rawTerms). */
  scanRaw?(indices: readonly string[], bounds: { after?: number; upTo?: number }): Iterable<RawDoc>;
}

export interface RawDoc {
  readonly index: string;
  readonly id: string;
  readonly seq: number;
  readonly version: number;
  readonly json: string;
}

/**
 * The `term` clauses every hit must satisfy (the query's top-level conjunction), whose value is
 * plain text: a document whose JSON text lacks `"value"` cannot match one on a keyword field, so it
 * need not be parsed. Values that JSON encoders might escape are left out.
 */
/** Whether the JSON text holds the quoted string as a value (not only as a key: a key is followed by a colon). */
function hasValue(json: string, quoted: string): boolean {
  for (let at = json.indexOf(quoted); at >= 0; at = json.indexOf(quoted, at + 1)) {
    let k = at + quoted.length;
    while (k < json.length && (json.charCodeAt(k) === 32 || json.charCodeAt(k) === 10 || json.charCodeAt(k) === 13 || json.charCodeAt(k) === 9)) k++;
    if (json.charCodeAt(k) !== 58) return true;
  }
  return false;
}

function rawTerms(q: unknown): Array<{ field: string; value: string }> {
  if (!q || typeof q !== 'object' || Array.isArray(q)) return [];
  const [kind, body] = Object.entries(q as Record<string, unknown>)[0] ?? [];
  if (kind === 'term' && body && typeof body === 'object') {
    const e = Object.entries(body as Record<string, unknown>).filter(([k]) => k !== 'boost' && k !== '_name');
    if (e.length !== 1) return [];
    const [field, v] = e[0]!;
    const opts = v && typeof v === 'object' ? (v as Record<string, unknown>) : { value: v };
    const value = opts.value;
    if (typeof value !== 'string' || opts.case_insensitive === true || !/^[A-Za-z0-9 _.:@-]+$/.test(value) || !Number.isNaN(Number(value)) || value === 'true' || value === 'false') return [];
    return [{ field, value }];
  }
  if (kind === 'terms' && body && typeof body === 'object') {
    const e = Object.entries(body as Record<string, unknown>).filter(([k]) => k !== 'boost' && k !== '_name');
    return e.length === 1 && Array.isArray(e[0]![1]) && e[0]![1].length === 1 ? rawTerms({ term: { [e[0]![0]]: e[0]![1][0] } }) : [];
  }
  if (kind === 'constant_score') return rawTerms((body as { filter?: unknown } | undefined)?.filter);
  if (kind === 'bool' && body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const all = [...(Array.isArray(b.filter) ? b.filter : b.filter ? [b.filter] : []), ...(Array.isArray(b.must) ? b.must : b.must ? [b.must] : [])];
    return all.flatMap(rawTerms);
  }
  return [];
}

export const MAX_RESULT_WINDOW = 10_000;
const MAX_KEEP_ALIVE = 24 * 3_600_000;

type Params = Readonly<Record<string, string | undefined>>;

interface SortKey {
  readonly field: string;
  readonly desc: boolean;
  readonly missingFirst: boolean;
  readonly ref: FieldRef | null;
}

type SortValue = number | string | null;

interface Ranked {
  readonly doc: Doc;
  readonly sort: SortValue[];
}

export function keepAliveMs(v: unknown, what: string): number {
  const m = /^(\d+)(nanos|micros|ms|s|m|h|d)$/.exec(String(v ?? ''));
  if (!m) throw badRequest('illegal_argument_exception', `failed to parse setting [${what}] with value [${String(v)}] as a time value: unit is missing or unrecognized`);
  const ms = Number(m[1]) * ({ nanos: 1e-6, micros: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[m[2]!]!;
  if (ms > MAX_KEEP_ALIVE) throw badRequest('illegal_argument_exception', `Keep alive for request (${String(v)}) is too large. It must be less than (1d). This limit can be set by changing the [search.max_keep_alive] cluster level setting.`);
  return ms;
}

const SEARCH_KEYS = new Set([
  'query', 'from', 'size', 'sort', '_source', 'fields', 'docvalue_fields', 'stored_fields', 'aggs', 'aggregations', 'track_total_hits', 'search_after', 'pit', 'version', 'seq_no_primary_term',
  'highlight', 'timeout', 'terminate_after', 'track_scores', 'explain', 'min_score', 'indices_boost', 'profile', 'post_filter', 'runtime_mappings', 'script_fields', 'collapse', 'suggest', 'rescore', 'slice', 'stats', 'ext',
]);
const REFUSED = new Set(['runtime_mappings', 'script_fields', 'collapse', 'suggest', 'rescore', 'slice']);

interface PointInTime {
  readonly indices: readonly string[];
  readonly maxSeq: number;
  expires: number;
}

interface ScrollContext {
  readonly refs: ReadonlyArray<{ index: string; id: string; sort: SortValue[] }>;
  pos: number;
  readonly size: number;
  readonly total: number;
  readonly shape: (doc: Doc, sort: SortValue[] | null) => Record<string, unknown>;
  readonly sorted: boolean;
  expires: number;
  readonly restTotalInt: boolean;
}

export class SearchService {
  private readonly pits = new Map<string, PointInTime>();
  private readonly scrolls = new Map<string, ScrollContext>();

  constructor(private readonly source: DocSource) {}

  private sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.pits) if (v.expires < now) this.pits.delete(k);
    for (const [k, v] of this.scrolls) if (v.expires < now) this.scrolls.delete(k);
  }

  openPit(expr: string, params: Params): Record<string, unknown> {
    this.sweep();
    const keep = keepAliveMs(params.keep_alive, 'keep_alive');
    const indices = this.source.resolve(expr, { ignoreUnavailable: params.ignore_unavailable === 'true', allowNoIndices: params.allow_no_indices !== 'false' });
    const id = randomBytes(24).toString('base64url');
    this.pits.set(id, { indices, maxSeq: this.source.maxSeq(), expires: Date.now() + keep });
    return { id, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 }, creation_time: this.source.now() };
  }

  closePit(body: unknown): Record<string, unknown> {
    const id = (body as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') throw badRequest('action_request_validation_exception', 'Validation Failed: 1: point in time id is missing;');
    const found = this.pits.delete(id);
    return { succeeded: true, num_freed: found ? 1 : 0 };
  }

  /**
   * The documents a query may match: through scanRaw, leaving unparsed those whose text lacks a
   * term the query requires on a keyword field (in every index scanned), else through scan.
   */
  private *candidates(indices: readonly string[], bounds: { after?: number; upTo?: number }, query: unknown): Iterable<Doc> {
    const terms = this.source.scanRaw ? rawTerms(query) : [];
    const needles = terms.filter((t) => indices.every((ix) => new FieldRef(t.field, this.source.typeOf).kind(ix) === 'keyword')).map((t) => JSON.stringify(t.value));
    if (needles.length === 0) {
      yield* this.source.scan(indices, bounds);
      return;
    }
    outer: for (const r of this.source.scanRaw!(indices, bounds)) {
      for (const n of needles) if (!hasValue(r.json, n)) continue outer;
      yield { index: r.index, id: r.id, seq: r.seq, version: r.version, source: JSON.parse(r.json) as Record<string, unknown> };
    }
  }

  count(expr: string, body: unknown, params: Params): Record<string, unknown> {
    const b = (body ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'query') throw parsingError(`request does not support [${k}]`);
    const query = params.q !== undefined ? parseQueryString(params.q, { defaultOperator: params.default_operator?.toLowerCase() === 'and' ? 'and' : 'or', fields: params.df ? [params.df] : ['*'] }) : b.query;
    const indices = this.source.resolve(expr, { ignoreUnavailable: params.ignore_unavailable === 'true', allowNoIndices: params.allow_no_indices !== 'false' });
    const q = compileDsl(query, { now: this.source.now(), typeOf: this.source.typeOf });
    let n = 0;
    for (const d of this.candidates(indices, q, query)) if (q.test(d)) n++;
    return { count: n, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } };
  }

  search(expr: string | null, body: unknown, params: Params): Record<string, unknown> {
    const t0 = performance.now();
    this.sweep();
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw parsingError('request body must be an object');
    const b = (body ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (!SEARCH_KEYS.has(k)) throw parsingError(`Unknown key for a START_OBJECT in [${k}].`);
      if (REFUSED.has(k)) throw badRequest('illegal_argument_exception', `[${k}] is not supported by Vigil's search`);
    }
    const now = this.source.now();
    // where: a point in time, or the index expression
    let indices: readonly string[];
    let maxSeq = Infinity;
    let pitId: string | undefined;
    if (b.pit !== undefined) {
      const p = b.pit as { id?: unknown; keep_alive?: unknown };
      if (expr !== null && expr !== '') throw badRequest('action_request_validation_exception', 'Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;');
      const pit = typeof p.id === 'string' ? this.pits.get(p.id) : undefined;
      if (!pit) throw new EsError(404, 'search_context_missing_exception', `No search context found for id [${String(p.id)}]`);
      if (p.keep_alive !== undefined) pit.expires = Date.now() + keepAliveMs(p.keep_alive, 'keep_alive');
      indices = pit.indices;
      maxSeq = pit.maxSeq;
      pitId = p.id as string;
    } else indices = this.source.resolve(expr ?? '_all', { ignoreUnavailable: params.ignore_unavailable === 'true', allowNoIndices: params.allow_no_indices !== 'false' });

    const from = num(params.from ?? b.from, 'from', 0);
    const size = num(params.size ?? b.size, 'size', 10);
    const scroll = params.scroll;
    if (scroll === undefined && from + size > MAX_RESULT_WINDOW)
      throw badRequest('illegal_argument_exception', `Result window is too large, from + size must be less than or equal to: [${MAX_RESULT_WINDOW}] but was [${from + size}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.`);
    if (scroll !== undefined && size > MAX_RESULT_WINDOW) throw badRequest('illegal_argument_exception', `Batch size is too large, size must be less than or equal to: [${MAX_RESULT_WINDOW}] but was [${size}]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.`);
    if (scroll !== undefined && b.pit !== undefined) throw badRequest('action_request_validation_exception', 'Validation Failed: 1: using [point in time] is not allowed in a scroll context;');

    const query = params.q !== undefined ? parseQueryString(params.q, { defaultOperator: params.default_operator?.toLowerCase() === 'and' ? 'and' : 'or', fields: params.df ? [params.df] : ['*'] }) : b.query;
    const q = compileDsl(query, { now, typeOf: this.source.typeOf });
    const post: DocTest | null = b.post_filter !== undefined ? compileDsl(b.post_filter, { now, typeOf: this.source.typeOf }).test : null;

    const sortKeys = this.sortKeys(params.sort !== undefined ? params.sort.split(',') : b.sort, pitId !== undefined);
    const sorted = sortKeys.length > 0 && !(sortKeys.length === 1 && sortKeys[0]!.field === '_score');
    const after = b.search_after;
    if (after !== undefined) {
      if (!sorted) throw badRequest('illegal_argument_exception', 'Sort must contain at least one field.');
      if (!Array.isArray(after) || after.length !== sortKeys.length) throw badRequest('illegal_argument_exception', `search_after has ${Array.isArray(after) ? after.length : 0} value(s) but sort has ${sortKeys.length}.`);
      if (from > 0) throw badRequest('illegal_argument_exception', '[from] parameter must be set to 0 when [search_after] is used.');
    }
    const cmp = compareSort(sortKeys);
    const sortOf = (d: Doc): SortValue[] => sortKeys.map((k) => sortValue(d, k, now));
    const afterVals = Array.isArray(after) ? (after as SortValue[]) : null;

    const filter = sourceFilterOf(b._source ?? params._source, params._source_includes, params._source_excludes);
    const fieldPatterns = optionFields(b.fields, b.docvalue_fields);
    const score = sorted ? null : q.scoring ? 1 : 0;
    const shape = this.shaper(filter, fieldPatterns, score, b.version === true || params.version === 'true', b.seq_no_primary_term === true || params.seq_no_primary_term === 'true');

    const aggSet = compileAggs(b.aggs ?? b.aggregations, {
      now,
      typeOf: this.source.typeOf,
      compileQuery: (x) => compileDsl(x, { now, typeOf: this.source.typeOf }).test,
      topHits: (spec) => this.topHitsCollector(spec, now),
    });
    const aggs = aggSet.size > 0 ? collectAll(aggSet) : null;

    const tth = params.track_total_hits ?? b.track_total_hits;
    const totalCap = tth === undefined ? MAX_RESULT_WINDOW : tth === true || tth === 'true' ? Infinity : tth === false || tth === 'false' ? -1 : Number(tth);
    const restTotalInt = params.rest_total_hits_as_int === 'true';

    const want = from + size;
    const top: Ranked[] = [];
    const all: Array<{ index: string; id: string; sort: SortValue[] }> | null = scroll !== undefined ? [] : null;
    let total = 0;
    const terminateAfter = typeof b.terminate_after === 'number' && b.terminate_after > 0 ? b.terminate_after : Infinity;
    // `timeout`: past it the search stops and answers what it found, with timed_out (as Elasticsearch)
    const timeout = params.timeout ?? b.timeout;
    const deadline = timeout === undefined ? Infinity : performance.now() + keepAliveMs(timeout, 'timeout');
    let timedOut = false;
    let seen = 0;
    for (const d of this.candidates(indices, q, query)) {
      if ((++seen & 1023) === 0 && performance.now() > deadline) {
        timedOut = true;
        break;
      }
      if (d.seq > maxSeq || !q.test(d)) continue;
      if (aggs) aggs.add(d);
      if (post && !post(d)) continue;
      const sv = sorted || pitId ? sortOf(d) : [];
      if (afterVals && cmp(sv, afterVals) <= 0) continue;
      total++;
      if (all) all.push({ index: d.index, id: d.id, sort: sv });
      else if (want > 0) insertTop(top, { doc: d, sort: sv }, want, sorted ? cmp : null);
      if (total >= terminateAfter) break;
    }

    const res: Record<string, unknown> = { took: 0, timed_out: timedOut };
    if (terminateAfter !== Infinity) res.terminated_early = total >= terminateAfter;
    res._shards = { total: 1, successful: 1, skipped: 0, failed: 0 };
    let hits: Array<Record<string, unknown>>;
    if (all) {
      if (sorted) all.sort((x, y) => cmp(x.sort, y.sort));
      const id = randomBytes(24).toString('base64url');
      const ctx: ScrollContext = { refs: all, pos: 0, size, total: all.length, shape, sorted, expires: Date.now() + keepAliveMs(scroll, 'scroll'), restTotalInt };
      this.scrolls.set(id, ctx);
      hits = this.page(ctx);
      res._scroll_id = id;
    } else hits = top.slice(from).map((r) => shape(r.doc, sorted || pitId ? r.sort : null));
    const totalObj = totalCap < 0 ? undefined : total > totalCap ? { value: totalCap, relation: 'gte' } : { value: total, relation: 'eq' };
    res.hits = { ...(totalObj ? { total: restTotalInt ? totalObj.value : totalObj } : {}), max_score: hits.length > 0 && score !== null ? score : null, hits };
    if (aggs) res.aggregations = aggs.result();
    if (pitId) res.pit_id = pitId;
    res.took = Math.round(performance.now() - t0);
    return res;
  }

  scroll(body: unknown, params: Params): Record<string, unknown> {
    this.sweep();
    const b = (body ?? {}) as { scroll_id?: unknown; scroll?: unknown };
    const id = typeof b.scroll_id === 'string' ? b.scroll_id : params.scroll_id;
    const ctx = id ? this.scrolls.get(id) : undefined;
    if (!ctx) throw new EsError(404, 'search_phase_execution_exception', 'all shards failed', { phase: 'query', grouped: true, failed_shards: [{ shard: -1, index: null, reason: { type: 'search_context_missing_exception', reason: `No search context found for id [${String(id)}]` } }] });
    const keep = b.scroll ?? params.scroll;
    if (keep !== undefined) ctx.expires = Date.now() + keepAliveMs(keep, 'scroll');
    const hits = this.page(ctx);
    const total = ctx.restTotalInt || params.rest_total_hits_as_int === 'true' ? ctx.total : { value: ctx.total, relation: 'eq' };
    return { _scroll_id: id, took: 0, timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 }, hits: { total, max_score: null, hits } };
  }

  clearScroll(body: unknown, params: Params): Record<string, unknown> {
    const b = (body ?? {}) as { scroll_id?: unknown };
    const ids = b.scroll_id !== undefined ? (Array.isArray(b.scroll_id) ? b.scroll_id.map(String) : [String(b.scroll_id)]) : (params.scroll_id ?? '').split(',').filter(Boolean);
    let freed = 0;
    if (ids.includes('_all')) {
      freed = this.scrolls.size;
      this.scrolls.clear();
    } else for (const i of ids) if (this.scrolls.delete(i)) freed++;
    return { succeeded: true, num_freed: freed };
  }

  private page(ctx: ScrollContext): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    while (out.length < ctx.size && ctx.pos < ctx.refs.length) {
      const r = ctx.refs[ctx.pos++]!;
      const d = this.source.get(r.index, r.id);
      if (d) out.push(ctx.shape(d, ctx.sorted ? r.sort : null));
    }
    return out;
  }

  private shaper(filter: SourceFilter, fields: string[] | null, score: number | null, version: boolean, seqNo: boolean): (d: Doc, sort: SortValue[] | null) => Record<string, unknown> {
    return (d, sort) => {
      const h: Record<string, unknown> = { _index: d.index, _id: d.id };
      if (version) h._version = d.version;
      if (seqNo) {
        h._seq_no = d.seq;
        h._primary_term = 1;
      }
      h._score = score;
      const src = applySourceFilter(d.source, filter);
      if (src !== undefined) h._source = src;
      if (fields) h.fields = fieldsOption(d.source, fields);
      if (sort) h.sort = sort;
      return h;
    };
  }

  private sortKeys(spec: unknown, pit: boolean): SortKey[] {
    const items = spec === undefined ? [] : Array.isArray(spec) ? spec : [spec];
    const keys: SortKey[] = [];
    for (const it of items) {
      let field: string;
      let opts: Record<string, unknown> = {};
      if (typeof it === 'string') {
        const [f, dir] = it.split(':');
        field = f!;
        if (dir) opts = { order: dir };
      } else if (it && typeof it === 'object') {
        const e = Object.entries(it as Record<string, unknown>);
        if (e.length !== 1) throw parsingError('[sort] expected a single field per sort object');
        field = e[0]![0];
        opts = typeof e[0]![1] === 'string' ? { order: e[0]![1] } : ((e[0]![1] ?? {}) as Record<string, unknown>);
      } else throw parsingError('[sort] malformed');
      const order = opts.order ?? (field === '_score' ? 'desc' : 'asc');
      if (order !== 'asc' && order !== 'desc') throw badRequest('illegal_argument_exception', `Unknown SortOrder [${String(order)}]`);
      const special = field === '_score' || field === '_doc' || field === '_shard_doc';
      keys.push({ field, desc: order === 'desc', missingFirst: opts.missing === '_first', ref: special ? null : new FieldRef(field, this.source.typeOf) });
    }
    if (pit && !keys.some((k) => k.field === '_shard_doc' || k.field === '_doc')) keys.push({ field: '_shard_doc', desc: false, missingFirst: false, ref: null });
    return keys;
  }

  private topHitsCollector(spec: Record<string, unknown>, now: number): Collector {
    const size = num(spec.size, 'size', 3);
    const from = num(spec.from, 'from', 0);
    const keys = this.sortKeys(spec.sort, false);
    const sorted = keys.length > 0 && !(keys.length === 1 && keys[0]!.field === '_score');
    const cmp = compareSort(keys);
    const shape = this.shaper(sourceFilterOf(spec._source), optionFields(spec.fields, spec.docvalue_fields), sorted ? null : 1, spec.version === true, spec.seq_no_primary_term === true);
    const top: Ranked[] = [];
    let total = 0;
    return {
      add(d) {
        total++;
        insertTop(top, { doc: d, sort: keys.map((k) => sortValue(d, k, now)) }, from + size, sorted ? cmp : null);
      },
      result() {
        const hits = top.slice(from).map((r) => shape(r.doc, sorted ? r.sort : null));
        return { hits: { total: { value: total, relation: 'eq' }, max_score: sorted || hits.length === 0 ? null : 1, hits } };
      },
    };
  }
}

function num(v: unknown, what: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw badRequest('illegal_argument_exception', `[${what}] parameter cannot be negative, found [${String(v)}]`);
  return n;
}


function sortValue(d: Doc, k: SortKey, now: number): SortValue {
  if (k.field === '_doc' || k.field === '_shard_doc') return d.seq;
  if (k.field === '_score') return 1;
  const ref = k.ref!;
  const kind = ref.kind(d.index);
  let best: SortValue = null;
  for (const v of ref.values(d)) {
    const s = sortable(v, kind, now);
    if (s === null) continue;
    if (best === null || (k.desc ? s > best : s < best)) best = s;
  }
  return best;
}

/** Compares two rows of sort values by the keys; missing values sort last (or first with `missing: _first`). */
function compareSort(keys: readonly SortKey[]): (a: readonly SortValue[], b: readonly SortValue[]) => number {
  return (a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const x = a[i] ?? null;
      const y = b[i] ?? null;
      if (x === y) continue;
      if (x === null) return k.missingFirst ? -1 : 1;
      if (y === null) return k.missingFirst ? 1 : -1;
      let c: number;
      if (typeof x === typeof y) c = x < y ? -1 : 1;
      else c = typeof x === 'number' ? -1 : 1;
      return k.desc ? -c : c;
    }
    return 0;
  };
}

/** Keeps the best `cap` rows: in arrival order without a comparator, else sorted (stable). */
function insertTop(top: Ranked[], r: Ranked, cap: number, cmp: ((a: readonly SortValue[], b: readonly SortValue[]) => number) | null): void {
  if (!cmp) {
    if (top.length < cap) top.push(r);
    return;
  }
  if (top.length >= cap && cmp(r.sort, top[top.length - 1]!.sort) >= 0) return;
  let lo = 0;
  let hi = top.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(top[mid]!.sort, r.sort) <= 0) lo = mid + 1;
    else hi = mid;
  }
  top.splice(lo, 0, r);
  if (top.length > cap) top.pop();
}
