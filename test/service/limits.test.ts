/**
 * Rule limits, as a careless or hostile rule author would meet them: an imported rule running every
 * millisecond, looking back 100,000 years or writing 10^12 alerts is refused with its place in the
 * file; a rule file past the limits runs at the allowed values with a warning; after a day down, a
 * restart runs at most --max-catch-up windows per rule and leaves the older time on record as a gap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { planExecution } from '../../src/scheduler/plan.js';
import { api, startServer, type RunningServer } from '../support/server.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
const dirs: string[] = [];
const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
  dirs.push(d);
  return d;
};
const rule = (id: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({ rule_id: id, name: id, description: 'test', type: 'eql', language: 'eql', query: 'process where process.name == "x.exe"', severity: 'low', risk_score: 21, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1, ...over });

test('the planner caps catch-up windows: a day of downtime at a 1 ms look-back plans 101 windows, not 86 million', () => {
  const day = 86_400_000;
  const now = T0 + day;
  const capped = planExecution(T0, now, 1, 1, 100);
  assert.equal(capped.windows.length, 101);
  assert.deepEqual(capped.skipped, { from: T0, to: now - 1 - 100 });
  assert.deepEqual(capped.gap, { from: now - 1 - 100, to: now - 1 });
  const open = planExecution(T0, now, MIN, 2 * MIN);
  assert.equal(open.windows.length, 720);
  assert.equal(open.skipped, null);
  // the catch-up windows end where the scheduled one starts, capped or not
  const w = planExecution(T0, now, MIN, 2 * MIN, 5);
  assert.equal(w.windows.length, 6);
  assert.equal(w.windows[4]!.to, w.windows[5]!.from);
  assert.equal(w.windows[0]!.from, w.skipped!.to);
});

test('import: a rule past the limits is refused with its place (file:line:col); the others in the file are imported', async () => {
  const s = await startServer(['--data', tmp(), '--no-bundled-rules', '--clock', new Date(T0).toISOString()]);
  servers.push(s);
  const lines = [rule('ok-1'), rule('fast', { interval: '1ms' }), rule('far', { from: 'now-100000y' }), rule('loud', { max_signals: 1e12 }), rule('ok-2')];
  const res = await fetch(`${s.url}/api/rules/_import?filename=r.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.map((l) => JSON.stringify(l)).join('\n') });
  const body = (await res.json()) as { imported: string[]; errors: Array<{ rule_id: string; message: string; line: number; col: number; code: string }> };
  assert.deepEqual(body.imported, ['ok-1', 'ok-2']);
  const errs = body.errors.map((e) => [e.rule_id, e.line, e.code, e.message.split(':')[0]]);
  assert.deepEqual(errs, [
    ['fast', 2, 'VIGIL413', "interval 1ms is shorter than this server's minimum 1m (--min-rule-interval)"],
    ['far', 3, 'VIGIL413', "from now-100000y looks back further than this server's maximum 7d (--max-lookback)"],
    ['loud', 4, 'VIGIL413', "max_signals 1000000000000 is above this server's ceiling 1000 (--max-signals)"],
  ]);
  const line2 = JSON.stringify(lines[1]);
  assert.equal(body.errors[0]!.col, line2.indexOf('"interval"') + 1, 'the column of the field');
  assert.equal((await api(s.url, '/api/rules/fast')).status, 404);
  // a TOML file: the field's own line
  const toml = ['[metadata]', 'creation_date = "2024/01/01"', '', '[rule]', 'name = "Too fast"', 'rule_id = "fast-toml"', 'type = "eql"', 'language = "eql"', 'severity = "low"', 'risk_score = 21', 'description = "x"', 'interval = "10s"', 'query = """', 'process where true', '"""', ''].join('\n');
  const t = (await (await fetch(`${s.url}/api/rules/_import?filename=fast.toml`, { method: 'POST', headers: { 'content-type': 'application/toml' }, body: toml })).json()) as { errors: Array<{ line: number; col: number; code: string }> };
  assert.deepEqual(t.errors.map((e) => [e.line, e.col, e.code]), [[12, 1, 'VIGIL413']]);
  // the server's limits are settings
  const lax = await startServer(['--data', tmp(), '--no-bundled-rules', '--min-rule-interval', '1s', '--max-signals', '10000000', '--max-lookback', '100000000d']);
  servers.push(lax);
  const r2 = (await (await fetch(`${lax.url}/api/rules/_import?filename=r.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: [rule('fast', { interval: '1s' }), rule('loud', { max_signals: 1e7 })].map((l) => JSON.stringify(l)).join('\n') })).json()) as { imported: string[] };
  assert.deepEqual(r2.imported, ['fast', 'loud']);
  // an import of more than 10,000 rules is refused whole (200,000 once froze the rules page)
  const many = Array.from({ length: 10_001 }, (_, i) => JSON.stringify(rule(`m-${i}`))).join('\n');
  const m = (await (await fetch(`${s.url}/api/rules/_import?filename=many.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: many })).json()) as { imported: string[]; errors: Array<{ message: string }> };
  assert.equal(m.imported.length, 0);
  assert.match(m.errors[0]!.message, /at most 10,000 rules .* holds 10,001/);
  // the rules held are capped too (many imports cannot add up past --max-rules); replacing a rule counts nothing
  const capped = await startServer(['--data', tmp(), '--no-bundled-rules', '--max-rules', '3']);
  servers.push(capped);
  const imp = async (ids: string[]): Promise<{ imported: string[]; errors: Array<{ rule_id: string; code: string; message: string }> }> =>
    (await (await fetch(`${capped.url}/api/rules/_import?filename=r.ndjson&overwrite=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ids.map((id) => JSON.stringify(rule(id))).join('\n') })).json()) as never;
  assert.deepEqual((await imp(['c1', 'c2'])).imported, ['c1', 'c2']);
  const over = await imp(['c1', 'c3', 'c4']);
  assert.deepEqual(over.imported, ['c1', 'c3']);
  assert.deepEqual(over.errors.map((e) => [e.rule_id, e.code]), [['c4', 'VIGIL413']]);
  assert.match(over.errors[0]!.message, /at most 3 rules \(--max-rules\)/);
  assert.equal((await api<{ total: number }>(capped.url, '/api/rules?size=1')).body.total, 3);
  const bad = await startServer(['--data', tmp(), '--max-signals', '0']).catch((e: Error) => e.message);
  assert.match(String(bad), /--max-signals takes a whole number from 1/);
});

test('a rule file past the limits runs at the allowed values, with a warning at start and on its page', async () => {
  const d = tmp();
  const file = join(d, 'rules.ndjson');
  writeFileSync(file, `${JSON.stringify(rule('fast', { interval: '1s', from: 'now-2s', max_signals: 1e9 }))}\n`);
  const s = await startServer(['--data', join(d, 'data'), '--no-bundled-rules', '--rules', file, '--clock', new Date(T0).toISOString()]);
  servers.push(s);
  assert.match(s.output(), /warning: rule fast \(fast\): interval 1s is shorter than this server's minimum 1m \(--min-rule-interval\); it runs at the allowed value/);
  assert.match(s.output(), /max_signals 1000000000 is above this server's ceiling 1000/);
  const view = (await api<{ limits: { interval_ms: number; lookback_ms: number; max_signals: number; problems: string[] } }>(s.url, '/api/rules/fast')).body;
  assert.deepEqual([view.limits.interval_ms, view.limits.lookback_ms, view.limits.max_signals, view.limits.problems.length], [MIN, MIN, 1000, 2]);
  // two minutes of clock in 5-second steps: three executions (at 0, 1m, 2m), not 120
  for (let t = 5_000; t <= 2 * MIN; t += 5_000) await api(s.url, '/api/_clock', { body: { now: new Date(T0 + t).toISOString() } });
  const runs = (await api<{ total: number }>(s.url, '/api/rules/fast/runs')).body;
  assert.equal(runs.total, 3);
});

test('after a day down, a restart runs at most --max-catch-up windows and keeps the older time as an unfilled gap', async () => {
  const d = tmp();
  const file = join(d, 'rules.ndjson');
  writeFileSync(file, `${JSON.stringify(rule('r1', { interval: '1m', from: 'now-2m' }))}\n`);
  const args = ['--data', join(d, 'data'), '--no-bundled-rules', '--rules', file, '--max-catch-up', '5'];
  let s = await startServer([...args, '--clock', new Date(T0).toISOString()]);
  servers.push(s);
  await api(s.url, '/api/_clock', { body: { now: new Date(T0 + MIN).toISOString() } });
  await s.stop();
  s = await startServer([...args, '--clock', new Date(T0 + MIN + 86_400_000).toISOString()]);
  servers.push(s);
  await api(s.url, '/api/_clock', { body: { now: new Date(T0 + MIN + 86_400_000 + 1000).toISOString() } });
  const runs = (await api<{ runs: Array<{ kind: string }> }>(s.url, '/api/rules/r1/runs?size=100')).body.runs;
  assert.equal(runs.filter((r) => r.kind === 'catch-up').length, 5);
  const gaps = (await api<{ gaps: Array<{ from: number; to: number; filled: number | null }> }>(s.url, '/api/gaps?rule_id=r1')).body.gaps.sort((a, b) => a.from - b.from);
  assert.equal(gaps.length, 2, JSON.stringify(gaps));
  assert.equal(gaps[0]!.filled, null, 'the time beyond the cap stays a gap');
  assert.notEqual(gaps[1]!.filled, null, 'the newest stretch was caught up');
  assert.equal(gaps[0]!.to, gaps[1]!.from);
  assert.equal(gaps[1]!.to - gaps[1]!.from, 5 * 2 * MIN);
  const view = (await api<{ gaps: { total: number; unfilled: number } }>(s.url, '/api/rules/r1')).body;
  assert.deepEqual(view.gaps, { total: 2, unfilled: 1 });
});
