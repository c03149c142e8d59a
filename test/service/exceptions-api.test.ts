/**
 * Exceptions in the service over real HTTP: Kibana's exception list import (located errors, the
 * rest kept), value lists, an exception added to a rule from an alert's fields with its preview
 * count and the open alerts it matches closed; excepted events then raise no alert in streaming and
 * in scheduled runs, a sequence is broken by an excepted event, and all of it holds after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';
import { createServer, NO_SECURITY } from '../../src/server/index.js';
import { parseExceptionNdjson } from '../../src/rules/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-exceptions-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 0, 1, 10);
const MIN = 60_000;
const rule = (id: string, extra: Record<string, unknown>): string =>
  JSON.stringify({ rule_id: id, name: `Rule ${id}`, description: 'test', type: 'eql', language: 'eql', index: ['logs-*'], severity: 'high', risk_score: 73, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1, ...extra });

async function serve(clock: ManualClock, rules: string): Promise<{ v: Vigil; app: FastifyInstance; url: string; call: <T = Record<string, unknown>>(path: string, body?: unknown, method?: string, raw?: string) => Promise<{ status: number; body: T }> }> {
  const v = await Vigil.open({ dataDir: join(dir, 'data'), rulePaths: [rules], clock, scanThreads: 0, streamingDefault: true });
  const app = await createServer(v, { security: NO_SECURITY });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const call = async <T,>(path: string, body?: unknown, method?: string, raw?: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${path}`, { method: method ?? (body === undefined && raw === undefined ? 'GET' : 'POST'), headers: { 'content-type': raw === undefined ? 'application/json' : 'application/x-ndjson' }, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  };
  return { v, app, url, call };
}

const ev = (name: string, host: string, at: number, more: Record<string, unknown> = {}): string =>
  JSON.stringify({ '@timestamp': new Date(at).toISOString(), event: { category: ['process'], type: ['start'] }, host: { name: host, os: { type: 'windows' } }, process: { name, parent: { name: 'explorer.exe' } }, ...more });

test('exceptions through the API: import, value lists, add from an alert with preview and close, applied in streaming, scheduled and sequence rules, kept over a restart', async () => {
  const rules = join(dir, 'rules.ndjson');
  writeFileSync(
    rules,
    [
      rule('starts', { query: 'process where event.type == "start"', exceptions_list: [{ id: 'x', list_id: 'shared', type: 'detection', namespace_type: 'single' }] }),
      rule('seq', { query: 'sequence by host.name with maxspan=5m [process where process.name == "a.exe"] [process where process.name == "b.exe"]' }),
      rule('sched', { query: 'process where process.name : "*.exe"' }),
    ].join('\n') + '\n',
  );
  const clock = new ManualClock(T0);
  let s = await serve(clock, rules);
  try {
    const bulk = async (lines: string[]): Promise<void> => {
      const r = await s.call<{ errors: boolean }>('/_bulk', undefined, 'POST', lines.map((l) => `{"create":{"_index":"logs-x"}}\n${l}\n`).join(''));
      assert.equal(r.body.errors, false);
    };
    const count = async (ruleId: string, status = 'open,acknowledged,closed'): Promise<number> => (await s.call<{ total: number }>(`/api/alerts?rule_id=${ruleId}&status=${status}&size=0&building_blocks=true`)).body.total;
    assert.equal((await s.call(`/api/rules/sched`, { streaming: false }, 'PATCH')).status, 200);

    // a shared list with one good item and one of an unknown entry type, and a value list with a bad line
    const imported = await s.call<{ success_count_items: number; success_count_exception_lists: number; errors: Array<{ line: number; col: number; message: string; file: string }> }>(
      '/api/exception_lists/_import?filename=shared.ndjson',
      undefined,
      'POST',
      [
        JSON.stringify({ list_id: 'shared', name: 'Shared', type: 'detection', namespace_type: 'single' }),
        JSON.stringify({ item_id: 'by-list', list_id: 'shared', name: 'updaters', entries: [{ field: 'process.name', operator: 'included', type: 'list', list: { id: 'updaters', type: 'keyword' } }] }),
        JSON.stringify({ item_id: 'bad', list_id: 'shared', name: 'bad', entries: [{ field: 'process.name', operator: 'included', type: 'fuzzy', value: 'x' }] }),
      ].join('\n'),
    );
    assert.equal(imported.status, 200);
    assert.equal(imported.body.success_count_exception_lists, 1);
    assert.equal(imported.body.success_count_items, 1);
    assert.equal(imported.body.errors.length, 1);
    assert.equal(imported.body.errors[0]!.line, 3);
    assert.equal(imported.body.errors[0]!.file, 'shared.ndjson');
    assert.match(imported.body.errors[0]!.message, /unknown entry type "fuzzy"/);
    const vl = await s.call<{ values: number; errors: Array<{ line: number }> }>('/api/lists/_import?list_id=updaters&type=keyword', undefined, 'POST', 'updater.exe\n\ngupdate.exe\n');
    assert.equal(vl.body.values, 2);
    const badIp = await s.call<{ values: number; errors: Array<{ line: number; message: string }> }>('/api/lists/_import?list_id=nets&type=ip', undefined, 'POST', '10.0.0.1\n10.0.0.300\n');
    assert.deepEqual([badIp.body.values, badIp.body.errors[0]!.line], [1, 2]);

    await bulk([ev('updater.exe', 'h1', T0 - 5 * MIN), ev('backup.exe', 'h1', T0 - 4 * MIN, { user: { name: 'svc_backup' } }), ev('backup.exe', 'h2', T0 - 3 * MIN, { user: { name: 'svc_backup' } }), ev('cmd.exe', 'h3', T0 - 2 * MIN)]);
    assert.equal(await count('starts'), 3, 'updater.exe is on the value list the shared item names');

    // from an alert: prefilled with its user and process, previewed, then saved closing what it matches
    const one = (await s.call<{ alerts: Array<{ id: string; doc: Record<string, unknown> }> }>('/api/alerts?rule_id=starts&host=h1')).body.alerts[0]!;
    const item = { rule_id: 'starts', name: 'backup service', entries: [{ field: 'user.name', operator: 'included', type: 'match', value: 'svc_backup' }, { field: 'process.name', operator: 'included', type: 'match', value: 'backup.exe' }] };
    assert.ok(JSON.stringify(one.doc).includes('svc_backup'));
    const preview = await s.call<{ alerts: number; examined: number; rules: number }>('/api/exception_lists/items/_preview', item);
    assert.deepEqual([preview.body.alerts, preview.body.examined, preview.body.rules], [2, 3, 1]);
    const saved = await s.call<{ closed: number; item: { list_id: string } }>('/api/exception_lists/items', { ...item, close_alerts: true, user: 'ana' });
    assert.equal(saved.status, 200);
    assert.equal(saved.body.closed, 2);
    assert.equal(saved.body.item.list_id, 'rule_default-starts');
    assert.equal(await count('starts', 'open'), 1);
    const view = (await s.call<{ exceptions: { lists: string[]; items: unknown[]; condition: string; note: string } }>('/api/rules/starts')).body.exceptions;
    assert.deepEqual(view.lists.sort(), ['rule_default-starts', 'shared']);
    assert.equal(view.items.length, 2);
    assert.match(view.condition, /svc_backup/);
    assert.match(view.note, /breaks the sequence/);

    // the next matching event raises no alert (streaming); a bad item is refused with why
    await bulk([ev('backup.exe', 'h4', T0 - MIN, { user: { name: 'svc_backup' } }), ev('backup.exe', 'h4', T0 - MIN + 1, { user: { name: 'someone' } })]);
    assert.equal(await count('starts'), 4);
    assert.equal((await s.call('/api/exception_lists/items', { rule_id: 'starts', entries: [{ field: 'a', type: 'match' }] })).status, 400);

    // sequences: an excepted event breaks the sequence (a list shared with the sequence rule by a new list)
    await s.call('/api/exception_lists/_import', undefined, 'POST', [JSON.stringify({ list_id: 'seq-list', name: 'seq', type: 'detection' }), JSON.stringify({ item_id: 'p', list_id: 'seq-list', name: 'p', entries: [{ field: 'host.name', operator: 'included', type: 'match', value: 'h6' }] })].join('\n'));
    await s.call('/api/exception_lists/items', { rule_id: 'seq', list_id: 'seq-list', item_id: 'p2', entries: [{ field: 'process.parent.name', operator: 'included', type: 'wildcard', value: 'upd*' }] });
    await bulk([ev('a.exe', 'h5', T0), ev('b.exe', 'h5', T0 + 1000), ev('a.exe', 'h6', T0 + 2000), ev('b.exe', 'h6', T0 + 3000), ev('a.exe', 'h7', T0 + 4000, { process: { name: 'a.exe', parent: { name: 'updater.exe' } } }), ev('b.exe', 'h7', T0 + 5000)]);
    await s.v.advanceTo(T0 + 10 * MIN);
    const seqAlerts = (await s.call<{ alerts: Array<{ host: string }> }>('/api/alerts?rule_id=seq&size=50')).body.alerts;
    assert.deepEqual([...new Set(seqAlerts.map((a) => a.host))], ['h5'], 'h6 excepted by the list, h7 by its first event');

    // scheduled: the rule has no exceptions of its own; attach one and the next run leaves its events out
    const schedBefore = await count('sched');
    assert.ok(schedBefore > 0);
    await s.call('/api/exception_lists/items', { rule_id: 'sched', entries: [{ field: 'process.name', operator: 'included', type: 'match_any', value: ['a.exe', 'b.exe', 'zz.exe'] }] });
    await bulk([ev('zz.exe', 'h8', T0 + 11 * MIN), ev('yy.exe', 'h8', T0 + 11 * MIN + 1)]);
    await s.v.advanceTo(T0 + 20 * MIN);
    assert.equal(await count('sched'), schedBefore + 1, 'zz.exe excepted, yy.exe alerts');
  } finally {
    await s.app.close();
    await s.v.close();
  }

  // after a restart the lists, value lists and attachments are still there
  s = await serve(clock, rules);
  try {
    const lists = (await s.call<{ lists: Array<{ list_id: string; items: unknown[] }>; value_lists: Array<{ id: string; values: number }> }>('/api/exception_lists')).body;
    assert.deepEqual(lists.lists.map((l) => l.list_id).sort(), ['rule_default-sched', 'rule_default-seq', 'rule_default-starts', 'seq-list', 'shared'].filter((x) => x !== 'rule_default-seq'));
    assert.deepEqual(lists.value_lists.map((l) => [l.id, l.values]), [['nets', 1], ['updaters', 2]]);
    const before = (await s.call<{ total: number }>('/api/alerts?rule_id=starts&status=open,closed&size=0')).body.total;
    await s.call('/_bulk', undefined, 'POST', `{"create":{"_index":"logs-x"}}\n${ev('gupdate.exe', 'h9', T0 + 21 * MIN)}\n{"create":{"_index":"logs-x"}}\n${ev('backup.exe', 'h9', T0 + 21 * MIN, { user: { name: 'svc_backup' } })}\n`);
    assert.equal((await s.call<{ total: number }>('/api/alerts?rule_id=starts&status=open,closed&size=0')).body.total, before);
    // exported as Kibana does, the export reads back to the same lists and items
    const exported = await fetch(`${s.url}/api/exception_lists/_export`).then((r) => r.text());
    const lines = exported.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.at(-1), { exported_exception_list_count: 4, exported_exception_list_item_count: 5, missing_exception_list_item_count: 0, missing_exception_lists_count: 0 });
    const back = parseExceptionNdjson(exported, 'export.ndjson');
    assert.deepEqual(back.diagnostics, []);
    assert.deepEqual(back.items.map((i) => i.item_id).sort(), lists.lists.flatMap((l) => l.items.map((i) => (i as { item_id: string }).item_id)).sort());
    assert.equal((await s.call('/api/exception_lists/items/by-list', undefined, 'DELETE')).status, 200);
    await s.call('/_bulk', undefined, 'POST', `{"create":{"_index":"logs-x"}}\n${ev('gupdate.exe', 'h9', T0 + 22 * MIN)}\n`);
    assert.equal((await s.call<{ total: number }>('/api/alerts?rule_id=starts&status=open,closed&size=0')).body.total, before + 1, 'the item removed, the event alerts');
  } finally {
    await s.app.close();
    await s.v.close();
  }
});
