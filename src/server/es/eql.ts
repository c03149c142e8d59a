import type { Documents } from '../../app/index.js';
import { diagnosticPosition } from '../../core/index.js';
import { compileQuery, IndexMapping, type EventHit, type SequenceHit } from '../../engine/index.js';
import { compileDsl } from './dsl.js';
import { badRequest, EsError } from './errors.js';
import type { IndexCatalog } from './indices.js';
import { fieldsOption, optionFields } from './source-filter.js';

/**
 * `_eql/search` as Elasticsearch answers it: the query compiled by Vigil's EQL engine (the one the
 * rules run on), typed by the indices' mappings (templates included), over the stored documents
 * that pass the request's `filter`; `size`, `result_position`, `fields`.
 */
const KEYS = new Set([
  'query', 'filter', 'size', 'fetch_size', 'timestamp_field', 'event_category_field', 'tiebreaker_field', 'result_position', 'wait_for_completion_timeout', 'keep_alive', 'keep_on_completion',
  'runtime_mappings', 'fields', 'allow_partial_search_results', 'allow_partial_sequence_results', 'max_samples_per_key',
]);

/** The most results one EQL search answers (Elasticsearch's index.max_result_window). */
const MAX_EQL_SIZE = 10_000;

export function eqlSearch(docs: Documents, catalog: IndexCatalog, expr: string, body: unknown, now: number): Record<string, unknown> {
  const t0 = performance.now();
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('parsing_exception', 'request body is required and must be an object');
  const b = body as Record<string, unknown>;
  if (typeof b.query !== 'string') throw badRequest('parsing_exception', '[query] is required and must be a string');
  for (const k of Object.keys(b)) if (!KEYS.has(k)) throw badRequest('x_content_parse_exception', `[eql/search] unknown field [${k}]`);
  const names = catalog.resolve(expr, { ignoreUnavailable: false, allowNoIndices: true });
  const size = b.size === undefined ? 10 : Number(b.size);
  if (!Number.isInteger(size) || size < 0) throw badRequest('illegal_argument_exception', 'size must be greater than or equal to 0');
  if (size > MAX_EQL_SIZE) throw badRequest('illegal_argument_exception', `size must be less than or equal to [${MAX_EQL_SIZE}] (index.max_result_window): asked for [${size}]`);
  if (b.max_samples_per_key !== undefined && !(Number.isInteger(b.max_samples_per_key) && (b.max_samples_per_key as number) > 0)) throw badRequest('illegal_argument_exception', 'max_samples_per_key must be greater than 0');
  const timestampField = typeof b.timestamp_field === 'string' ? b.timestamp_field : '@timestamp';
  const mappings = new Map<string, IndexMapping>();
  for (const n of names) {
    const m = catalog.mapping(n);
    if (Object.keys(m.properties as object).length > 0) mappings.set(n, IndexMapping.fromJson(m));
  }
  const compiled = compileQuery(b.query, {
    timestampField,
    eventCategoryField: typeof b.event_category_field === 'string' ? b.event_category_field : 'event.category',
    tiebreakerField: typeof b.tiebreaker_field === 'string' ? b.tiebreaker_field : undefined,
    mappings: mappings.size ? mappings : undefined,
    maxSamplesPerKey: typeof b.max_samples_per_key === 'number' ? b.max_samples_per_key : undefined,
  });
  if (!compiled.ok) {
    const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
    const lines = errors.map((d) => {
      const p = diagnosticPosition(d, b.query as string);
      return `line ${p.line}:${p.col - 1}: ${d.message}`;
    });
    const syntax = errors.some((d) => d.code < 'EQL3000');
    throw new EsError(400, syntax ? 'parsing_exception' : 'verification_exception', syntax ? lines.join('\n') : `Found ${lines.length} problem${lines.length === 1 ? '' : 's'}\n${lines.join('\n')}`);
  }
  const filter = b.filter === undefined ? null : compileDsl(b.filter, { now, typeOf: catalog.typeOf, timestampField });
  const bounds = filter && timestampField === '@timestamp' ? { after: filter.after, upTo: filter.upTo } : {};
  const scan = names.length > 0 ? docs.scan(names, bounds) : [];
  const test = filter?.test;
  const inputs = (function* () {
    for (const e of scan) {
      const source = JSON.parse(e.json) as Record<string, unknown>;
      if (test && !test({ index: e.index, id: e.id, seq: e.seq, version: e.version, source })) continue;
      yield { _index: e.index, _id: e.id, _source: source };
    }
  })();
  const hits = compiled.query.run(inputs);
  const tail = b.result_position === 'tail' || (b.result_position === undefined && compiled.query.kind === 'sequence');
  const cut = <T>(list: T[]): T[] => (list.length <= size ? list : tail ? list.slice(list.length - size) : list.slice(0, size));
  const fields = optionFields(b.fields, undefined);
  const hit = (h: EventHit): Record<string, unknown> => {
    if (h.missing) return { _index: '', _id: '', missing: true };
    const out: Record<string, unknown> = { _index: h._index, _id: h._id, _source: h._source };
    if (fields) out.fields = fieldsOption(h._source as Record<string, unknown>, fields);
    return out;
  };
  const shaped: Record<string, unknown> = { total: { value: hits.total.value, relation: 'eq' } };
  if (hits.events) shaped.events = cut(hits.events).map(hit);
  if (hits.sequences) shaped.sequences = cut(hits.sequences).map((s: SequenceHit) => ({ join_keys: s.join_keys, events: s.events.map(hit) }));
  return { is_partial: false, is_running: false, took: Math.round(performance.now() - t0), timed_out: false, hits: shaped };
}
