/**
 * The Elasticsearch search module on its own: the query DSL typed by mappings, query strings, date
 * math, aggregations, sort and paging, `_source` filtering and `filter_path`, over documents held in
 * memory (the HTTP face is tested with real clients in clients.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDate } from '../../src/server/es/date-math.js';
import { compileDsl } from '../../src/server/es/dsl.js';
import { EsError } from '../../src/server/es/errors.js';
import type { Doc } from '../../src/server/es/fields.js';
import { filterPath } from '../../src/server/es/filter-path.js';
import { mappingProblem, resolveDateMath } from '../../src/server/es/indices.js';
import { SearchService, type DocSource } from '../../src/server/es/search.js';
import { applySourceFilter, sourceFilterOf } from '../../src/server/es/source-filter.js';

const NOW = Date.parse('2026-12-04T15:30:00Z');
const TYPES: Record<string, string> = { n: 'long', ip: 'ip', msg: 'text', tag: 'keyword', when: 'date' };
const typeOf = (_index: string, f: string): string | undefined => TYPES[f];

const doc = (id: string, source: Record<string, unknown>, seq = Number(id.replace(/\D/g, '') || 0)): Doc => ({ index: 'ix', id, seq, version: 1, source });
const test1 = (q: unknown, source: Record<string, unknown>): boolean => compileDsl(q, { now: NOW, typeOf }).test(doc('d1', source));

test('term is typed by the mapping: numbers as numbers, ips by CIDR, text by its tokens, keywords exactly', () => {
  assert.equal(test1({ term: { n: '5' } }, { n: 5 }), true);
  assert.equal(test1({ term: { n: 5 } }, { n: '5' }), true);
  assert.equal(test1({ term: { ip: '10.0.0.0/8' } }, { ip: '10.1.2.3' }), true);
  assert.equal(test1({ term: { ip: '10.0.0.0/8' } }, { ip: '11.1.2.3' }), false);
  assert.equal(test1({ term: { msg: 'hello' } }, { msg: 'Hello World' }), true);
  assert.equal(test1({ term: { msg: 'Hello' } }, { msg: 'Hello World' }), false);
  assert.equal(test1({ term: { tag: 'Hello' } }, { tag: 'Hello' }), true);
  assert.equal(test1({ term: { tag: 'hello' } }, { tag: 'Hello' }), false);
  assert.equal(test1({ term: { tag: { value: 'hello', case_insensitive: true } } }, { tag: 'Hello' }), true);
  assert.equal(test1({ term: { 'x.keyword': 'A b' } }, { x: 'A b' }), true, 'an unmapped field.keyword reads the field');
  assert.equal(test1({ terms: { tag: ['a', 'b'] } }, { tag: ['c', 'b'] }), true, 'any value of an array');
  assert.throws(() => test1({ term: { n: 'abc' } }, { n: 5 }), (e: EsError) => e.status === 400 && e.type === 'query_shard_exception');
});

test('match, match_phrase and multi_match analyze text; on keywords they are exact', () => {
  assert.equal(test1({ match: { msg: 'world peace' } }, { msg: 'Hello World' }), true);
  assert.equal(test1({ match: { msg: { query: 'world peace', operator: 'and' } } }, { msg: 'Hello World' }), false);
  assert.equal(test1({ match_phrase: { msg: 'hello world' } }, { msg: 'Hello, World!' }), true);
  assert.equal(test1({ match_phrase: { msg: 'world hello' } }, { msg: 'Hello, World!' }), false);
  assert.equal(test1({ match_phrase_prefix: { msg: 'hello wor' } }, { msg: 'Hello World' }), true);
  assert.equal(test1({ match: { tag: 'a b' } }, { tag: 'a b' }), true);
  assert.equal(test1({ match: { tag: 'a' } }, { tag: 'a b' }), false);
  assert.equal(test1({ multi_match: { query: 'world', fields: ['tag', 'm*'] } }, { msg: 'hello world' }), true);
});

test('range: dates with date math and rounding, numbers, ips; exists, prefix, wildcard, regexp, ids', () => {
  const src = { when: '2026-12-04T01:00:00Z', n: 10, ip: '192.168.1.9', tag: 'powershell.exe' };
  assert.equal(test1({ range: { when: { gte: 'now/d', lte: 'now' } } }, src), true);
  assert.equal(test1({ range: { when: { gt: 'now-1d/d', lt: 'now/d' } } }, src), false);
  assert.equal(test1({ range: { when: { lte: '2026-12-03||+1d/d' } } }, src), true, 'lte rounds up to the end of the day');
  assert.equal(test1({ range: { n: { gt: 9, lte: 10 } } }, src), true);
  assert.equal(test1({ range: { ip: { gte: '192.168.1.0', lte: '192.168.1.255' } } }, src), true);
  assert.equal(test1({ exists: { field: 'tag' } }, src), true);
  assert.equal(test1({ exists: { field: 'nope' } }, src), false);
  assert.equal(test1({ prefix: { tag: 'power' } }, src), true);
  assert.equal(test1({ wildcard: { tag: { value: 'POWER*.EXE', case_insensitive: true } } }, src), true);
  assert.equal(test1({ regexp: { tag: 'power[a-z]+\\.exe' } }, src), true);
  assert.equal(test1({ ids: { values: ['d1'] } }, src), true);
});

test('bool: must, filter, should with minimum_should_match, must_not; unknown queries refused', () => {
  const src = { tag: 'a', n: 1 };
  assert.equal(test1({ bool: { should: [{ term: { tag: 'b' } }, { term: { n: 1 } }] } }, src), true);
  assert.equal(test1({ bool: { should: [{ term: { tag: 'b' } }, { term: { n: 1 } }], minimum_should_match: 2 } }, src), false);
  assert.equal(test1({ bool: { filter: [{ term: { tag: 'a' } }], should: [{ term: { tag: 'z' } }] } }, src), true, 'should is optional beside filter');
  assert.equal(test1({ bool: { must_not: [{ term: { n: 1 } }] } }, src), false);
  assert.throws(() => test1({ fuzzy_thing: {} }, src), (e: EsError) => e.type === 'parsing_exception' && /unknown query \[fuzzy_thing\]/.test(e.message));
  assert.throws(() => test1({ bool: { must: [], bogus: 1 } }, src), (e: EsError) => e.type === 'parsing_exception');
});

test('query_string: fields, phrases, ranges, boolean operators, wildcards, _exists_', () => {
  const src = { tag: 'cmd.exe', msg: 'remote login from admin', n: 7 };
  const qs = (query: string, extra: Record<string, unknown> = {}): boolean => test1({ query_string: { query, ...extra } }, src);
  assert.equal(qs('tag:cmd.exe AND n:[5 TO 10]'), true);
  assert.equal(qs('tag:cmd.exe AND n:{7 TO 10]'), false);
  assert.equal(qs('tag:cmd* AND NOT msg:"login remote"'), true);
  assert.equal(qs('msg:"remote login"'), true);
  assert.equal(qs('n:>=8 OR tag:powershell.exe'), false);
  assert.equal(qs('_exists_:msg'), true);
  assert.equal(qs('admin'), true, 'a bare term searches every field');
  assert.equal(qs('admin nobody', { default_operator: 'AND' }), false);
  assert.throws(() => qs('tag:(a'), (e: EsError) => e.type === 'parsing_exception');
});

test('date math and date-math index names', () => {
  assert.equal(parseDate('now-1d/d', NOW), Date.parse('2026-12-03T00:00:00Z'));
  assert.equal(parseDate('now/M', NOW, true), Date.parse('2026-12-31T23:59:59.999Z'));
  assert.equal(parseDate('2026-01-31||+1M', NOW), Date.parse('2026-03-03T00:00:00Z'));
  assert.equal(resolveDateMath('<logs-{now/d}-000001>', NOW), 'logs-2026.12.04-000001');
  assert.equal(resolveDateMath('<logs-{now/M{yyyy.MM}}>', NOW), 'logs-2026.12');
});

test('mapping checks: a string in a long field, a bad date, an object in a keyword field', () => {
  const types = new Map([
    ['n', 'long'],
    ['when', 'date'],
    ['k', 'keyword'],
  ]);
  assert.equal(mappingProblem(types, { n: '12', when: '2026-01-01', k: 'x' }, 'a', NOW), null);
  assert.match(mappingProblem(types, { n: 'abc' }, 'a', NOW)!.message, /failed to parse field \[n\] of type \[long\]/);
  assert.match(mappingProblem(types, { when: 'yesterday-ish' }, 'a', NOW)!.message, /field \[when\] of type \[date\]/);
  assert.match(mappingProblem(types, { k: { a: 1 } }, 'a', NOW)!.message, /field \[k\] of type \[keyword\]/);
});

const DOCS: Doc[] = Array.from({ length: 30 }, (_, i) =>
  doc(`d${i}`, { '@timestamp': new Date(Date.parse('2026-12-01T00:00:00Z') + i * 6 * 3_600_000).toISOString(), host: { name: `h${i % 3}` }, n: i, tag: i % 2 === 0 ? 'even' : 'odd', ...(i % 5 === 0 ? {} : { user: `u${i % 4}` }) }, i + 1),
);

const memorySource = (docs: Doc[]): DocSource => ({
  now: () => NOW,
  typeOf: (_i, f) => (f === '@timestamp' ? 'date' : f === 'n' ? 'long' : f === 'tag' || f === 'host.name' || f === 'user' ? 'keyword' : undefined),
  resolve: () => ['ix'],
  scan: function* (_indices, b) {
    for (const d of docs) {
      const t = Date.parse(d.source['@timestamp'] as string);
      if ((b.after === undefined || t > b.after) && (b.upTo === undefined || t <= b.upTo)) yield d;
    }
  },
  get: (_i, id) => docs.find((d) => d.id === id) ?? null,
  maxSeq: () => docs.length,
});

test('documents without the text of a required keyword term are not parsed, and answers do not change', () => {
  const raw = { ...memorySource(DOCS), scanRaw: function* () {
    for (const d of DOCS) yield { index: d.index, id: d.id, seq: d.seq, version: d.version, json: JSON.stringify(d.source) };
  } };
  let rawRead = 0;
  const counting = { ...raw, scanRaw: function* () {
    for (const r of raw.scanRaw()) {
      rawRead++;
      yield r;
    }
  } };
  const queries = [
    { bool: { filter: [{ term: { tag: 'even' } }, { term: { 'host.name': 'h1' } }] } },
    { term: { tag: { value: 'EVEN', case_insensitive: true } } },
    { bool: { must: [{ terms: { user: ['u2'] } }], must_not: [{ term: { tag: 'odd' } }] } },
    { constant_score: { filter: { term: { 'host.name': 'h2' } } } },
    { bool: { should: [{ term: { tag: 'odd' } }, { term: { n: 4 } }] } },
  ];
  for (const q of queries) {
    const plain = new SearchService(memorySource(DOCS)).search('ix', { query: q, size: 100, aggs: { h: { terms: { field: 'host.name' } } } }, {});
    const fast = new SearchService(counting).search('ix', { query: q, size: 100, aggs: { h: { terms: { field: 'host.name' } } } }, {});
    delete plain.took;
    delete fast.took;
    assert.deepEqual(fast, plain, JSON.stringify(q));
  }
  // a value that is also a key name: the key does not count, the value does
  const keyed = [doc('k1', { host: { name: 'x' }, tag: 'host' }, 1), doc('k2', { host: { name: 'y' }, tag: 'other' }, 2)];
  const keyedRaw = { ...memorySource(keyed), scanRaw: function* () {
    for (const d of keyed) yield { index: d.index, id: d.id, seq: d.seq, version: d.version, json: JSON.stringify(d.source) };
  } };
  const hits = new SearchService(keyedRaw).search('ix', { query: { term: { tag: 'host' } } }, {}) as { hits: { hits: Array<{ _id: string }> } };
  assert.deepEqual(hits.hits.hits.map((h) => h._id), ['k1']);
  // the three queries that require a plain keyword term read the text first; the others (case
  // insensitive, only should) parse every document
  assert.equal(rawRead, DOCS.length * 3);
});

test('search: sort, from/size, search_after, total hits, _source filtering, fields', () => {
  const s = new SearchService(memorySource(DOCS));
  const r = s.search('ix', { query: { term: { tag: 'even' } }, sort: [{ n: 'desc' }], from: 2, size: 3, _source: ['n', 'host.*'], fields: ['tag'] }, {}) as { hits: { total: { value: number }; hits: Array<{ _id: string; _source: unknown; sort: unknown[]; fields: unknown }> } };
  assert.equal(r.hits.total.value, 15);
  assert.deepEqual(r.hits.hits.map((h) => h._id), ['d24', 'd22', 'd20']);
  assert.deepEqual(r.hits.hits[0]!._source, { host: { name: 'h0' }, n: 24 });
  assert.deepEqual(r.hits.hits[0]!.sort, [24]);
  assert.deepEqual(r.hits.hits[0]!.fields, { tag: ['even'] });
  const next = s.search('ix', { query: { term: { tag: 'even' } }, sort: [{ n: 'desc' }], size: 3, search_after: [20] }, {}) as { hits: { hits: Array<{ _id: string }> } };
  assert.deepEqual(next.hits.hits.map((h) => h._id), ['d18', 'd16', 'd14']);
  // missing values sort last either way
  const byUser = s.search('ix', { sort: [{ user: 'desc' }], size: 30, _source: false }, {}) as { hits: { hits: Array<{ _id: string; _source?: unknown }> } };
  assert.equal(byUser.hits.hits[29]!._id.match(/^d(\d+)$/)![1]! === '25', true);
  assert.equal('_source' in byUser.hits.hits[0]!, false);
  const capped = s.search('ix', { track_total_hits: 10, size: 0 }, {}) as { hits: { total: { value: number; relation: string } } };
  assert.deepEqual(capped.hits.total, { value: 10, relation: 'gte' });
  assert.throws(() => s.search('ix', { from: 9_999, size: 2 }, {}), (e: EsError) => /Result window is too large/.test(e.message));
  assert.throws(() => s.search('ix', { script_fields: {} }, {}), (e: EsError) => e.status === 400);
  assert.throws(() => s.search('ix', { bogus: 1 }, {}), (e: EsError) => e.type === 'parsing_exception');
});

test('aggregations: terms with order and sub-aggregations, date_histogram filling empty buckets, metrics, top_hits, filters', () => {
  const s = new SearchService(memorySource(DOCS));
  const r = s.search('ix', {
    size: 0,
    aggs: {
      hosts: { terms: { field: 'host.name', order: { _key: 'desc' }, size: 2 }, aggs: { top: { max: { field: 'n' } }, latest: { top_hits: { size: 1, sort: [{ n: 'desc' }], _source: ['n'] } } } },
      days: { date_histogram: { field: '@timestamp', fixed_interval: '1d', min_doc_count: 0 } },
      stats: { stats: { field: 'n' } },
      users: { cardinality: { field: 'user' } },
      nouser: { missing: { field: 'user' } },
      parity: { filters: { filters: { even: { term: { tag: 'even' } }, big: { range: { n: { gte: 25 } } } } } },
      first: { min: { field: '@timestamp' } },
    },
  }, {}) as { aggregations: Record<string, Record<string, unknown>> };
  const a = r.aggregations;
  const hosts = a.hosts!.buckets as Array<{ key: string; doc_count: number; top: { value: number }; latest: { hits: { hits: Array<{ _source: unknown }> } } }>;
  assert.deepEqual(hosts.map((b) => [b.key, b.doc_count, b.top.value]), [['h2', 10, 29], ['h1', 10, 28]]);
  assert.deepEqual(hosts[0]!.latest.hits.hits[0]!._source, { n: 29 });
  assert.equal(a.hosts!.sum_other_doc_count, 10);
  const days = a.days!.buckets as Array<{ key_as_string: string; doc_count: number }>;
  assert.deepEqual(days.map((d) => d.doc_count), [4, 4, 4, 4, 4, 4, 4, 2]);
  assert.equal(days[0]!.key_as_string, '2026-12-01T00:00:00.000Z');
  assert.deepEqual(a.stats, { count: 30, min: 0, max: 29, avg: 14.5, sum: 435 });
  assert.deepEqual(a.users, { value: 4 });
  assert.equal(a.nouser!.doc_count, 6);
  assert.deepEqual(Object.fromEntries(Object.entries(a.parity!.buckets as Record<string, { doc_count: number }>).map(([k, v]) => [k, v.doc_count])), { even: 15, big: 5 });
  assert.deepEqual(a.first, { value: Date.parse('2026-12-01T00:00:00Z'), value_as_string: '2026-12-01T00:00:00.000Z' });
  assert.throws(() => s.search('ix', { aggs: { x: { percentiles_bucket_thing: { field: 'n' } } } }, {}), (e: EsError) => e.type === 'parsing_exception');
});

test('scroll pages through a snapshot of the matches; a point in time does not see later documents', () => {
  const docs = [...DOCS];
  const s = new SearchService(memorySource(docs));
  const first = s.search('ix', { size: 7, sort: ['n'] }, { scroll: '1m' }) as { _scroll_id: string; hits: { hits: Array<{ _id: string }> } };
  const ids = first.hits.hits.map((h) => h._id);
  for (;;) {
    const page = s.scroll({ scroll_id: first._scroll_id, scroll: '1m' }, {}) as { hits: { hits: Array<{ _id: string }> } };
    if (page.hits.hits.length === 0) break;
    ids.push(...page.hits.hits.map((h) => h._id));
  }
  assert.deepEqual(ids, DOCS.map((d) => d.id));
  assert.deepEqual(s.clearScroll({ scroll_id: first._scroll_id }, {}), { succeeded: true, num_freed: 1 });
  assert.throws(() => s.scroll({ scroll_id: first._scroll_id }, {}), (e: EsError) => e.status === 404);
  const pit = s.openPit('ix', { keep_alive: '1m' }) as { id: string };
  docs.push(doc('late', { '@timestamp': '2026-12-02T00:00:00Z', n: 100 }, 99));
  const r = s.search(null, { pit: { id: pit.id }, size: 0 }, {}) as { hits: { total: { value: number } }; pit_id: string };
  assert.equal(r.hits.total.value, 30);
  assert.equal(r.pit_id, pit.id);
  assert.throws(() => s.search('ix', { pit: { id: pit.id } }, {}), (e: EsError) => e.status === 400);
});

test('timeout: past it a search answers what it found so far, with timed_out', () => {
  const many = Array.from({ length: 20_000 }, (_, i) => doc(`m${i}`, { '@timestamp': '2026-12-01T00:00:00Z', n: i }, i + 1));
  const slow: DocSource = {
    ...memorySource(many),
    scan: function* () {
      for (const d of many) {
        const until = performance.now() + 0.02;
        while (performance.now() < until);
        yield d;
      }
    },
  };
  const s = new SearchService(slow);
  const cut = s.search('ix', { timeout: '20ms', size: 0, track_total_hits: true }, {}) as { timed_out: boolean; hits: { total: { value: number } } };
  assert.equal(cut.timed_out, true);
  assert.ok(cut.hits.total.value > 0 && cut.hits.total.value < many.length, String(cut.hits.total.value));
  const whole = s.search('ix', { size: 0, track_total_hits: true }, {}) as { timed_out: boolean; hits: { total: { value: number } } };
  assert.deepEqual([whole.timed_out, whole.hits.total.value], [false, many.length]);
});

test('_source filtering and filter_path', () => {
  const src = { a: { b: 1, c: { d: 2 } }, e: [{ f: 1, g: 2 }], h: 3 };
  assert.deepEqual(applySourceFilter(src, sourceFilterOf({ includes: ['a.*'], excludes: ['a.c'] })), { a: { b: 1 } });
  assert.deepEqual(applySourceFilter(src, sourceFilterOf(['e.f', 'h'])), { e: [{ f: 1 }], h: 3 });
  const body = { took: 1, hits: { total: { value: 2 }, hits: [{ _id: 'x', _source: { a: 1 } }, { _id: 'y', _source: { a: 2 } }] } };
  assert.deepEqual(filterPath(body, 'hits.hits._id'), { hits: { hits: [{ _id: 'x' }, { _id: 'y' }] } });
  assert.deepEqual(filterPath(body, '**._id,took'), { took: 1, hits: { hits: [{ _id: 'x' }, { _id: 'y' }] } });
  assert.deepEqual(filterPath(body, '-hits.hits'), { took: 1, hits: { total: { value: 2 } } });
  assert.deepEqual(filterPath({ errors: false, items: [{ create: { status: 201, _id: 'q' } }] }, 'errors,items.*.error,items.*.status'), { errors: false, items: [{ create: { status: 201 } }] });
});

test('unmapped fields: term, terms, range with date math (bounds for the scan), bool, exists; unknown queries refused', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  const doc = { '@timestamp': '2026-11-23T09:30:00Z', host: { name: 'a' }, tags: ['x', 'y'], n: 5 };
  const t = (q: unknown): boolean => compileDsl(q, { now, typeOf: () => undefined, timestampField: '@timestamp' }).test({ index: 'i', id: 'x', seq: 1, version: 1, source: doc });
  assert.equal(t({ term: { 'host.name': 'a' } }), true);
  assert.equal(t({ term: { 'host.name': { value: 'b' } } }), false);
  assert.equal(t({ terms: { tags: ['z', 'y'] } }), true);
  assert.equal(t({ range: { '@timestamp': { gte: 'now-1h' } } }), true);
  assert.equal(t({ range: { '@timestamp': { gte: 'now-10m' } } }), false);
  assert.equal(t({ range: { n: { gt: 4, lte: 5 } } }), true);
  assert.equal(t({ bool: { filter: [{ exists: { field: 'host.name' } }], must_not: [{ term: { n: 5 } }] } }), false);
  assert.equal(t({ bool: { should: [{ term: { n: 1 } }, { prefix: { 'host.name': 'a' } }] } }), true);
  assert.equal(t({ wildcard: { 'host.name': { value: '?' } } }), true);
  const f = compileDsl({ bool: { filter: [{ range: { '@timestamp': { gt: 'now-1h', lte: 'now' } } }] } }, { now, typeOf: () => undefined, timestampField: '@timestamp' });
  assert.deepEqual([f.after, f.upTo], [now - 3_600_000, now]);
  assert.throws(() => compileDsl({ geo_shape: {} }, { now, typeOf: () => undefined }), EsError);
});
