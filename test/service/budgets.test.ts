/**
 * Time budgets, as a careless or hostile user would meet them: a search that would run for hours
 * (a regular expression that backtracks exponentially) is answered 504 at its budget while the
 * server keeps answering and taking events; a search whose client left is stopped, and the thread
 * it held takes the next search; a scheduled rule whose matcher runs past its CPU budget is
 * recorded failed with its window as a gap, and the rules of the same pass still run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { vigil } from '../support/cli.js';
import { api, startServer, type RunningServer } from '../support/server.js';

const dirs: string[] = [];
const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-budgets-'));
  dirs.push(d);
  return d;
};

interface SearchStats {
  threads: number;
  budget_ms: number;
  running: number;
  searches: number;
  timed_out: number;
  cancelled: number;
}
const searchStats = async (url: string): Promise<SearchStats> => (await api<{ search: SearchStats }>(url, '/api/health')).body.search;

/** 2^40 ways to split 40 a's: a backtracking engine would not finish this match within hours. */
const EVIL = { query: { regexp: { message: '(a+)+b' } } };

test('a search past --search-timeout is stopped and answered 504; meanwhile the server answers, takes events and other searches', async () => {
  const d = tmp();
  const s = await startServer(['--data', join(d, 'data'), '--no-bundled-rules', '--search-timeout', '3s']);
  servers.push(s);
  const put = await api(s.url, '/logs-x/_doc?refresh=true', { body: { '@timestamp': '2026-12-01T00:00:00Z', message: 'a'.repeat(40) } });
  assert.equal(put.status, 201);

  const t0 = performance.now();
  const slow = api<{ error: { type: string; reason: string } }>(s.url, '/logs-x/_search', { body: EVIL });
  // while it runs: health, ingest, and a search on the other thread answer
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await searchStats(s.url)).running, 1, 'the evil search is running');
  const health = await api(s.url, '/api/health');
  assert.equal(health.status, 200);
  const bulk = await api<{ errors: boolean }>(s.url, '/_bulk?refresh=true', { raw: '{"create":{"_index":"logs-x"}}\n{"@timestamp":"2026-12-01T00:00:01Z","message":"b"}\n' });
  assert.equal(bulk.status, 200);
  assert.equal(bulk.body.errors, false);
  const other = await api<{ hits: { total: { value: number } } }>(s.url, '/logs-x/_search', { body: { query: { match_all: {} } } });
  assert.equal(other.status, 200);
  assert.equal(other.body.hits.total.value, 2, 'the other search sees the event just taken');
  const eql = await api<{ hits: { total: { value: number } } }>(s.url, '/logs-x/_eql/search', { body: { query: 'any where message == "b"' } });
  assert.equal(eql.status, 200);
  assert.equal(eql.body.hits.total.value, 1);
  assert.ok(performance.now() - t0 < 3000, 'all of that came back before the evil search was stopped');

  const res = await slow;
  assert.equal(res.status, 504);
  assert.equal(res.body.error.type, 'search_timeout_exception');
  assert.match(res.body.error.reason, /--search-timeout/);
  const stats = await searchStats(s.url);
  assert.equal(stats.timed_out, 1);
  assert.equal(stats.running, 0);
  assert.equal(stats.budget_ms, 3000);

  // the same in EQL, through its query DSL filter (its own regex does not backtrack: that one answers)
  const eqlRegex = await api<{ hits: { total: { value: number } } }>(s.url, '/logs-x/_eql/search', { body: { query: 'any where message regex "(a+)+b"' } });
  assert.equal(eqlRegex.status, 200);
  assert.equal(eqlRegex.body.hits.total.value, 0);
  const eqlSlow = await api<{ error: { type: string } }>(s.url, '/logs-x/_eql/search', { body: { query: 'any where true', filter: EVIL.query } });
  assert.equal(eqlSlow.status, 504);
  assert.equal(eqlSlow.body.error.type, 'search_timeout_exception');
  const count = await api<{ count: number }>(s.url, '/logs-x/_count', { body: { query: { match_all: {} } } });
  assert.equal(count.body.count, 2, 'the thread that was stopped was started again');
});

test('a search whose client left is stopped: the only search thread is free for the next search at once', async () => {
  const d = tmp();
  const s = await startServer(['--data', join(d, 'data'), '--no-bundled-rules', '--search-threads', '1']);
  servers.push(s);
  await api(s.url, '/logs-x/_doc?refresh=true', { body: { '@timestamp': '2026-12-01T00:00:00Z', message: 'a'.repeat(40) } });
  const leaving = new AbortController();
  const gone = fetch(`${s.url}/logs-x/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(EVIL), signal: leaving.signal }).catch((e: Error) => e);
  for (let i = 0; i < 50 && (await searchStats(s.url)).running === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await searchStats(s.url)).running, 1);
  leaving.abort();
  assert.ok((await gone) instanceof Error);
  // with one thread and a 60 s budget, this search could only answer if the evil one was stopped
  const next = await api<{ hits: { total: { value: number } } }>(s.url, '/logs-x/_search', { body: { query: { match_all: {} } } });
  assert.equal(next.status, 200);
  assert.equal(next.body.hits.total.value, 1);
  const stats = await searchStats(s.url);
  assert.equal(stats.cancelled, 1);
  assert.equal(stats.timed_out, 0);
  assert.equal(stats.threads, 1);
});

test('scroll and point in time keep their state on the search threads', async () => {
  const d = tmp();
  const s = await startServer(['--data', join(d, 'data'), '--no-bundled-rules']);
  servers.push(s);
  const lines: string[] = [];
  for (let i = 0; i < 25; i++) lines.push('{"create":{"_index":"logs-y"}}', JSON.stringify({ '@timestamp': new Date(Date.UTC(2026, 11, 1, 0, 0, i)).toISOString(), n: i }));
  await api(s.url, '/_bulk?refresh=true', { raw: `${lines.join('\n')}\n` });
  // many searches at once spread over both threads; the scroll pages still come from one context
  const first = await api<{ _scroll_id: string; hits: { hits: Array<{ _source: { n: number } }> } }>(s.url, '/logs-y/_search?scroll=1m', { body: { size: 10, sort: [{ n: 'asc' }] } });
  const seen = first.body.hits.hits.map((h) => h._source.n);
  let id = first.body._scroll_id;
  for (;;) {
    const [page] = await Promise.all([
      api<{ _scroll_id: string; hits: { hits: Array<{ _source: { n: number } }> } }>(s.url, '/_search/scroll', { body: { scroll: '1m', scroll_id: id } }),
      ...Array.from({ length: 4 }, () => api(s.url, '/logs-y/_count')),
    ]);
    if (page.body.hits.hits.length === 0) break;
    seen.push(...page.body.hits.hits.map((h) => h._source.n));
    id = page.body._scroll_id;
  }
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i));
  const pit = await api<{ id: string }>(s.url, '/logs-y/_pit?keep_alive=1m', { body: {} });
  await api(s.url, '/_bulk?refresh=true', { raw: '{"create":{"_index":"logs-y"}}\n{"@timestamp":"2026-12-01T00:01:00Z","n":99}\n' });
  const inPit = await api<{ hits: { total: { value: number } } }>(s.url, '/_search', { body: { pit: { id: pit.body.id }, query: { match_all: {} } } });
  assert.equal(inPit.body.hits.total.value, 25, 'the point in time does not see the newer event');
  const now = await api<{ hits: { total: { value: number } } }>(s.url, '/logs-y/_search', { body: { query: { match_all: {} } } });
  assert.equal(now.body.hits.total.value, 26);
});

const T0 = Date.parse('2026-11-20T00:00:00Z');
const MIN = 60_000;

test('a rule execution past --rule-timeout is recorded failed with its window as a gap; the other rule of the pass runs', async () => {
  const d = tmp();
  const file = join(d, 'rules.ndjson');
  const base = { description: 'test', type: 'eql', language: 'eql', severity: 'low', risk_score: 21, interval: '5m', from: 'now-6m', max_signals: 100, enabled: true, version: 1, index: ['logs-*'] };
  writeFileSync(
    file,
    [
      // every event opens a sequence that never completes: its matcher holds and works on all of them
      { ...base, rule_id: 'heavy', name: 'heavy', query: 'sequence by host.id with maxspan=30d [process where true] [process where process.name == "never.exe"]' },
      { ...base, rule_id: 'light', name: 'light', query: 'process where process.name == "x.exe"' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const s = await startServer(['--data', join(d, 'data'), '--no-bundled-rules', '--rules', file, '--clock', new Date(T0).toISOString(), '--rule-timeout', '1ms']);
  servers.push(s);
  const lines: string[] = [];
  for (let i = 0; i < 4000; i++) {
    lines.push('{"create":{"_index":"logs-p"}}', JSON.stringify({ '@timestamp': new Date(T0 + 1000 + i * 10).toISOString(), event: { category: 'process', type: 'start' }, host: { id: `h${i % 50}` }, process: { name: i === 7 ? 'x.exe' : `p${i}.exe`, entity_id: `e${i}` } }));
  }
  assert.equal((await api(s.url, '/_bulk?refresh=true', { raw: `${lines.join('\n')}\n` })).status, 200);
  await api(s.url, '/api/_clock', { body: { now: new Date(T0 + 5 * MIN).toISOString() } });

  const runs = async (id: string): Promise<Array<{ status: string; error: string | null; window_from?: number }>> => (await api<{ runs: Array<{ status: string; error: string | null }> }>(s.url, `/api/rules/${id}/runs?size=100`)).body.runs;
  const heavy = await runs('heavy');
  assert.ok(heavy.length >= 1, 'the heavy rule ran');
  const failed = heavy.filter((r) => r.status === 'failed');
  assert.ok(failed.length >= 1, JSON.stringify(heavy));
  assert.match(failed[0]!.error ?? '', /past its budget of 1 ms \(--rule-timeout\)/);
  const light = await runs('light');
  assert.ok(light.some((r) => r.status === 'succeeded'), JSON.stringify(light));
  const alerts = (await api<{ total: number }>(s.url, '/api/alerts?rule_id=light')).body;
  assert.equal(alerts.total, 1, 'the light rule of the same pass found its event');
  const gaps = (await api<{ gaps: Array<{ from: number; to: number; filled: number | null }> }>(s.url, '/api/gaps?rule_id=heavy')).body.gaps;
  assert.ok(gaps.some((g) => g.filled === null && g.to === T0 + 5 * MIN), `the heavy rule's window stays a gap: ${JSON.stringify(gaps)}`);
  assert.equal((await api<{ gaps: unknown[] }>(s.url, '/api/gaps?rule_id=light')).body.gaps.length, 0);
});

test('bad budget and size options are refused at start, naming the option', () => {
  for (const [opt, value] of [
    ['--search-timeout', 'soon'],
    ['--rule-timeout', '0s'],
    ['--search-threads', '0'],
    ['--body-limit', 'lots'],
    ['--indexing-pressure', '-5mb'],
    ['--indexing-pressure', 'ten%'],
  ] as const) {
    const r = vigil(['serve', '--data', join(tmp(), 'data'), '--port', '0', '--insecure-no-auth', '--no-bundled-rules', opt, value]);
    assert.equal(r.status, 2, `${opt} ${value}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${opt} takes`), r.stderr);
  }
});
