/**
 * The smaller ways `vigil serve` once differed from Elasticsearch, each answered as Elasticsearch
 * does: GET bodies, refresh by GET, pretty and filter_path, `_cat/indices?v`, an empty bulk, a
 * malformed action line, `_eql/search` fields, index and document deletes, `_xpack`, aliases.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startServer, type RunningServer } from '../support/server.js';

let dir: string;
let server: RunningServer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-es-gaps-'));
  server = await startServer(['--data', dir, '--no-bundled-rules']);
  const body = ['{"index":{"_index":"gaps","_id":"a"}}', '{"@timestamp":"2026-12-01T00:00:00Z","host":{"name":"h1"},"n":1}', '{"index":{"_index":"gaps","_id":"b"}}', '{"@timestamp":"2026-12-02T00:00:00Z","host":{"name":"h2"},"n":2}', ''].join('\n');
  const r = await fetch(`${server.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  assert.equal(r.status, 200);
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Answer = { status: number; text: string; json: () => Record<string, unknown> };

/** fetch() will not send a body with GET: node's http will, as curl and the clients do. */
const getWithBody = (path: string, body: unknown): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(`${server.url}${path}`, { method: 'GET', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(data);
  });

const call = async (method: string, path: string, body?: unknown, type = 'application/json'): Promise<Answer> => {
  if (method === 'GET' && body !== undefined) return getWithBody(path, body);
  const r = await fetch(`${server.url}${path}`, { method, headers: body !== undefined ? { 'content-type': type } : {}, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
};

test('a JSON body on GET is read (GET /_search, GET /_count, GET /_eql/search as the docs write them)', async () => {
  const s = await call('GET', '/gaps/_search', { query: { term: { 'host.name': 'h2' } } });
  assert.deepEqual((s.json().hits as { hits: Array<{ _id: string }> }).hits.map((h) => h._id), ['b']);
  const c = await call('GET', '/gaps/_count', { query: { range: { n: { gte: 2 } } } });
  assert.equal(c.json().count, 1);
  const e = await call('GET', '/gaps/_eql/search', { query: 'any where host.name == "h1"', fields: ['host.name'] });
  const ev = (e.json().hits as { events: Array<{ _id: string; fields: unknown }> }).events;
  assert.deepEqual(ev.map((x) => [x._id, x.fields]), [['a', { 'host.name': ['h1'] }]]);
});

test('refresh by GET and POST; pretty; filter_path; _cat/indices with v, h and format', async () => {
  assert.equal((await call('GET', '/gaps/_refresh')).status, 200);
  assert.equal((await call('POST', '/_refresh')).status, 200);
  const p = await call('GET', '/gaps/_count?pretty');
  assert.match(p.text, /^\{\n {2}"count" : 2|^\{\n {2}"count": 2/);
  const f = await call('POST', '/gaps/_search?filter_path=hits.hits._id', { sort: ['n'] });
  assert.deepEqual(f.json(), { hits: { hits: [{ _id: 'a' }, { _id: 'b' }] } });
  const cat = await call('GET', '/_cat/indices?v');
  const [head, row] = cat.text.split('\n');
  assert.match(head!, /^health\s+status\s+index\s+uuid\s+pri\s+rep\s+docs\.count/);
  assert.match(row!, /^green\s+open\s+gaps\s+/);
  const j = await call('GET', '/_cat/indices?format=json&h=index,docs.count');
  assert.deepEqual(j.json(), [{ index: 'gaps', 'docs.count': '2' }]);
});

test('bulk: an empty body is refused; a malformed action line fails its own item with no id, and the next item keeps its own', async () => {
  const empty = await call('POST', '/_bulk', '', 'application/x-ndjson');
  assert.equal(empty.status, 400);
  assert.equal((empty.json().error as { type: string }).type, 'parse_exception');
  const r = await call('POST', '/_bulk', '{"index":{"_index":"gaps2"}\n{"x":1}\n{"index":{"_index":"gaps2","_id":"next"}}\n{"y":2}\n', 'application/x-ndjson');
  const items = r.json().items as Array<{ index: { _id: string | null; status: number } }>;
  assert.deepEqual(items.map((i) => [i.index._id, i.index.status]), [[null, 400], ['next', 201]]);
  const meta = await call('POST', '/_bulk', '{"index":{"_index":"gaps2"}}\n{"_id":"inside","x":1}\n', 'application/x-ndjson');
  assert.match(((meta.json().items as Array<{ index: { error: { reason: string } } }>)[0]!.index.error.reason), /Field \[_id\] is a metadata field/);
});

test('deletes: a document, then the index; what is gone answers 404', async () => {
  await call('POST', '/_bulk', '{"index":{"_index":"gone","_id":"1"}}\n{"x":1}\n{"index":{"_index":"gone","_id":"2"}}\n{"x":2}\n', 'application/x-ndjson');
  const d = await call('DELETE', '/gone/_doc/1');
  assert.equal(d.status, 200);
  assert.equal(d.json().result, 'deleted');
  assert.equal((await call('DELETE', '/gone/_doc/1')).status, 404);
  assert.equal((await call('GET', '/gone/_doc/1')).status, 404);
  assert.equal((await call('DELETE', '/gone')).status, 200);
  assert.equal((await call('GET', '/gone/_count')).status, 404);
  assert.equal((await call('DELETE', '/gone')).status, 404);
  assert.equal((await call('DELETE', '/g*')).status, 400, 'wildcard deletes are refused (destructive_requires_name)');
});

test('_msearch: one answer per header and body pair, a bad one failing alone', async () => {
  const body = ['{"index":"gaps"}', '{"query":{"term":{"host.name":"h1"}},"size":0}', '{"index":"nope"}', '{}', '{"index":"gaps"}', '{"size":0}', ''].join('\n');
  const r = await call('POST', '/_msearch', body, 'application/x-ndjson');
  const answers = r.json().responses as Array<{ status: number; hits?: { total: { value: number } }; error?: { type: string } }>;
  assert.deepEqual(answers.map((a) => [a.status, a.hits?.total.value ?? a.error?.type]), [[200, 1], [404, 'index_not_found_exception'], [200, 2]]);
});

test('hostile input gets 400s, not 500s: a bool 20,000 deep, parentheses 5,000 deep, an _id of 600 bytes, an object _id', async () => {
  // written as text: JSON.stringify itself overflows on 20,000 levels
  const deep = await call('POST', '/gaps/_search', `{"query":${'{"bool":{"filter":['.repeat(20_000)}{"match_all":{}}${']}}'.repeat(20_000)}}`);
  assert.equal(deep.status, 400, deep.text.slice(0, 200));
  assert.match(deep.text, /nested too deeply/);
  const parens = await call('POST', '/gaps/_search', { query: { query_string: { query: `${'('.repeat(5000)}a${')'.repeat(5000)}` } } });
  assert.equal(parens.status, 400);
  const nots = await call('POST', '/gaps/_count', { query: { query_string: { query: `${'NOT '.repeat(10_000)}host.name:h1` } } });
  assert.equal(nots.json().count, 1, 'an even run of NOTs cancels');
  let aggs: Record<string, unknown> = { x: { terms: { field: 'n' } } };
  for (let i = 0; i < 50; i++) aggs = { x: { terms: { field: 'n' }, aggs } };
  assert.equal((await call('POST', '/gaps/_search', { size: 0, aggs })).status, 400);
  const long = 'i'.repeat(600);
  const r = await call('POST', '/_bulk', `{"index":{"_index":"gaps","_id":"${long}"}}\n{"x":1}\n{"index":{"_index":"gaps","_id":{"a":1}}}\n{"x":2}\n{"index":{"_index":"gaps","_id":"fine"}}\n{"x":3}\n`, 'application/x-ndjson');
  const items = r.json().items as Array<{ index: { status: number; error?: { type: string; reason: string } } }>;
  assert.deepEqual(items.map((i) => [i.index.status, i.index.error?.type ?? null]), [[400, 'action_request_validation_exception'], [400, 'illegal_argument_exception'], [201, null]]);
  assert.match(items[0]!.index.error!.reason, /must be no longer than 512 bytes but was: 600/);
  assert.equal((await call('PUT', `/gaps/_doc/${long}`, { x: 1 })).status, 400);
  await call('DELETE', '/gaps/_doc/fine');
});

test('_xpack names ilm; aliases; HEAD /', async () => {
  assert.equal(((await call('GET', '/_xpack')).json().features as { ilm: { available: boolean } }).ilm.available, true);
  assert.equal((await call('HEAD', '/')).status, 200);
  assert.equal((await call('HEAD', '/_alias/gaps-alias')).status, 404);
  assert.equal((await call('POST', '/_aliases', { actions: [{ add: { index: 'gaps', alias: 'gaps-alias' } }] })).status, 200);
  assert.deepEqual((await call('GET', '/_alias/gaps-alias')).json(), { gaps: { aliases: { 'gaps-alias': {} } } });
  assert.equal((await call('POST', '/gaps-alias/_count', {})).json().count, 2);
  // one index behind it: writes through the alias go there
  const w = await call('POST', '/gaps-alias/_doc/c', { n: 3 });
  assert.equal(w.json()._index, 'gaps');
});
