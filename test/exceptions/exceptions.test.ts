import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyExceptions, compileRule } from '../../src/detect/index.js';
import { runHunt } from '../../src/hunt/index.js';
import { parseExceptionNdjson, parseValueList, type ExceptionEntry, type ExceptionItem, type Rule, type ValueList } from '../../src/rules/index.js';
import { vigil } from '../support/cli.js';
import { Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');

const baseRule = {
  rule_id: 'r-ex',
  name: 'process starts',
  description: 'd',
  type: 'eql',
  language: 'eql',
  query: 'process where event.type == "start"',
  severity: 'high',
  risk_score: 73,
  interval: '5m',
  from: 'now-9m',
  to: 'now',
  max_signals: 100,
  enabled: true,
  index: ['logs-*'],
  references: [],
  tags: [],
  author: ['t'],
  version: 1,
  false_positives: [],
  threat: [],
  exceptions_list: [{ id: 'l1', list_id: 'shared', type: 'detection', namespace_type: 'single' }],
} as unknown as Rule;

/** Process start events, one per spec, ids e0, e1, … */
function events(specs: ReadonlyArray<Record<string, unknown>>): Array<{ _index: string; _id: string; _source: Record<string, unknown> }> {
  return specs.map((s, i) => ({
    _index: 'logs-x',
    _id: `e${i}`,
    _source: { '@timestamp': new Date(T0 + i * 1000).toISOString(), event: { category: ['process'], type: ['start'] }, host: { name: `h${i}`, os: { type: 'windows' } }, ...s },
  }));
}

const item = (entries: ExceptionEntry[], more: Partial<ExceptionItem> = {}): ExceptionItem => ({ item_id: 'i1', list_id: 'shared', name: 'i1', description: '', entries, os_types: [], expire_time: null, namespace_type: 'single', tags: [], stage: null, ...more });

/** The ids of the events the rule, with the items applied, still matches. */
function matched(rule: Rule, items: ExceptionItem[], evs: ReturnType<typeof events>, lists: Map<string, ValueList> = new Map(), now = T0): string[] {
  const applied = applyExceptions([rule], items, lists, now);
  assert.deepEqual(applied.problems, []);
  const c = compileRule(applied.rules[0]!);
  assert.ok(c.compiled, c.problem ?? '');
  const hits = c.compiled.run(evs);
  if (hits.sequences) return hits.sequences.map((s) => s.events.map((e) => e._id).join('+'));
  return (hits.events ?? []).map((e) => e._id);
}

const evs = events([
  { process: { name: 'svchost.exe', executable: 'C:\\Windows\\System32\\svchost.exe', pid: 4, args: ['-k', 'netsvcs'] }, source: { ip: '10.1.2.3' } },
  { process: { name: 'SVCHOST.EXE', executable: 'C:\\Temp\\svchost.exe', pid: 77 }, source: { ip: '192.168.0.9' } },
  { process: { name: 'cmd.exe', executable: 'C:\\Windows\\System32\\cmd.exe', pid: 5 }, host: { name: 'h2', os: { type: 'linux' } } },
  { process: { name: 'powershell.exe', executable: 'C:\\Windows\\powershell.exe' }, user: { name: 'svc_backup' } },
]);
const ALL = ['e0', 'e1', 'e2', 'e3'];

// each case: the item's entries (and options), the events left
const CASES: ReadonlyArray<{ name: string; entries: ExceptionEntry[]; more?: Partial<ExceptionItem>; left: string[] }> = [
  { name: 'match (case-sensitive, as a keyword term)', entries: [{ type: 'match', field: 'process.name', operator: 'included', value: 'svchost.exe' }], left: ['e1', 'e2', 'e3'] },
  { name: 'match excluded (everything but the value, missing fields too)', entries: [{ type: 'match', field: 'process.name', operator: 'excluded', value: 'svchost.exe' }], left: ['e0'] },
  { name: 'match on a number field given as text', entries: [{ type: 'match', field: 'process.pid', operator: 'included', value: '77' }], left: ['e0', 'e2', 'e3'] },
  { name: 'match on one value of an array', entries: [{ type: 'match', field: 'process.args', operator: 'included', value: 'netsvcs' }], left: ['e1', 'e2', 'e3'] },
  { name: 'match_any', entries: [{ type: 'match_any', field: 'process.name', operator: 'included', value: ['cmd.exe', 'powershell.exe'] }], left: ['e0', 'e1'] },
  { name: 'match_any excluded', entries: [{ type: 'match_any', field: 'process.name', operator: 'excluded', value: ['cmd.exe', 'powershell.exe'] }], left: ['e2', 'e3'] },
  { name: 'wildcard with escaped backslashes', entries: [{ type: 'wildcard', field: 'process.executable', operator: 'included', value: 'C:\\\\Windows\\\\*' }], left: ['e1'] },
  { name: 'wildcard ? and excluded', entries: [{ type: 'wildcard', field: 'process.executable', operator: 'excluded', value: 'C:\\\\Temp\\\\svchos?.exe' }], left: ['e1'] },
  { name: 'exists', entries: [{ type: 'exists', field: 'user.name', operator: 'included' }], left: ['e0', 'e1', 'e2'] },
  { name: 'exists excluded', entries: [{ type: 'exists', field: 'user.name', operator: 'excluded' }], left: ['e3'] },
  { name: 'entries all hold (AND)', entries: [{ type: 'match', field: 'process.name', operator: 'included', value: 'cmd.exe' }, { type: 'match', field: 'host.name', operator: 'included', value: 'h9' }], left: ALL },
  { name: 'nested', entries: [{ type: 'nested', field: 'process', entries: [{ type: 'match', field: 'name', operator: 'included', value: 'cmd.exe' }, { type: 'exists', field: 'pid', operator: 'included' }] }], left: ['e0', 'e1', 'e3'] },
  { name: 'os_types limit the item', entries: [{ type: 'exists', field: 'process.name', operator: 'included' }], more: { os_types: ['linux'] }, left: ['e0', 'e1', 'e3'] },
  { name: 'an expired item does not apply', entries: [{ type: 'exists', field: 'process.name', operator: 'included' }], more: { expire_time: T0 - 1 }, left: ALL },
  { name: 'an item not yet expired applies', entries: [{ type: 'exists', field: 'process.name', operator: 'included' }], more: { expire_time: T0 + 60_000 }, left: [] },
];

test('exception entries: each type, included and excluded, nested, os_types and expiry, as the event filter Elastic builds', () => {
  for (const c of CASES) assert.deepEqual(matched(baseRule, [item(c.entries, c.more)], evs), c.left, c.name);
  // items are alternatives (OR)
  assert.deepEqual(matched(baseRule, [item(CASES[0]!.entries), item(CASES[4]!.entries, { item_id: 'i2' })], evs), ['e1']);
  // a rule whose exceptions_list does not name the list is not affected
  assert.deepEqual(matched({ ...baseRule, exceptions_list: [] } as Rule, [item(CASES[0]!.entries)], evs), ALL);
});

test('the same table through the service (streaming and scheduled) and the hunt: each case a rule of its own list', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ex-modes-'));
  try {
    const rules = CASES.map((c, k) => ({ ...baseRule, rule_id: `case-${k}`, name: c.name, exceptions_list: [{ id: `l${k}`, list_id: `list-${k}`, type: 'detection', namespace_type: 'single' }] }));
    // the unexpired case expires a year on here: the service's runs come minutes after the events
    const items = CASES.map((c, k) => item(c.entries, { ...c.more, ...((c.more?.expire_time ?? 0) > T0 ? { expire_time: T0 + 365 * 86_400_000 } : {}), item_id: `item-${k}`, list_id: `list-${k}` }));
    const applied = applyExceptions(rules as Rule[], items, new Map(), T0);
    // events carry their case ids in the document, as the alerts report them
    const docs = evs.map((e) => ({ ...e._source, labels: { ev: e._id } }));
    const want = (k: number): string[] => CASES[k]!.left;
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const byRule = (alerts: ReadonlyArray<Record<string, unknown>>): Map<string, string[]> => {
      const out = new Map<string, string[]>();
      for (const a of alerts) {
        const id = String(a['kibana.alert.rule.rule_id']);
        out.set(id, [...(out.get(id) ?? []), String((a.labels as { ev: string }).ev)].sort());
      }
      return out;
    };
    const hunted = byRule((await runHunt({ rules: applied.rules, inputs: [file], workers: 0, now: T0 })).alerts.map((a) => a.doc));
    for (const streaming of [true, false]) {
      const rulesFile = join(dir, `rules-${streaming}.ndjson`);
      writeFileSync(rulesFile, rules.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const v = await Vigil.open({ dataDir: join(dir, `data-${streaming}`), rulePaths: [rulesFile], clock: new ManualClock(T0 + 60_000), scanThreads: 0, streamingDefault: streaming });
      // as Kibana exports them: expire_time an ISO date
      const imported = v.importExceptions(items.map((i) => JSON.stringify({ list_id: i.list_id, type: 'detection' }) + '\n' + JSON.stringify({ ...i, expire_time: i.expire_time === null ? undefined : new Date(i.expire_time).toISOString() })).join('\n'), 'cases.ndjson');
      assert.deepEqual([imported.items, imported.errors], [CASES.length, []]);
      await v.ingest(docs.map((d) => ({ op: 'create' as const, index: 'logs-x', json: JSON.stringify(d) })));
      await v.advanceTo(T0 + 30 * 60_000);
      const got = byRule(v.store.alerts.search({ size: 1000 }).alerts.map((a) => a.doc));
      await v.close();
      CASES.forEach((c, k) => assert.deepEqual(got.get(`case-${k}`) ?? [], want(k), `${streaming ? 'streaming' : 'scheduled'}: ${c.name}`));
    }
    CASES.forEach((c, k) => assert.deepEqual(hunted.get(`case-${k}`) ?? [], want(k), `hunt: ${c.name}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('value lists: keyword, ip and ip_range entries, excluded too, and 100,000 values', () => {
  const kw = parseValueList('names', 'keyword', 'cmd.exe\n\npowershell.exe\n').list;
  const ips = parseValueList('ips', 'ip', '10.1.2.3\n').list;
  const ranges = parseValueList('nets', 'ip_range', '192.168.0.0/16\n172.16.0.1\n').list;
  const lists = new Map([kw, ips, ranges].map((l) => [l.id, l]));
  const list = (f: string, id: string, type: string, operator: 'included' | 'excluded' = 'included'): ExceptionEntry => ({ type: 'list', field: f, operator, list: { id, type } });
  assert.deepEqual(matched(baseRule, [item([list('process.name', 'names', 'keyword')])], evs, lists), ['e0', 'e1']);
  assert.deepEqual(matched(baseRule, [item([list('process.name', 'names', 'keyword', 'excluded')])], evs, lists), ['e2', 'e3']);
  assert.deepEqual(matched(baseRule, [item([list('source.ip', 'ips', 'ip')])], evs, lists), ['e1', 'e2', 'e3']);
  assert.deepEqual(matched(baseRule, [item([list('source.ip', 'nets', 'ip_range')])], evs, lists), ['e0', 'e2', 'e3']);
  const big = parseValueList('big', 'keyword', Array.from({ length: 100_000 }, (_, i) => `p${i}.exe`).join('\n') + '\ncmd.exe\n').list;
  assert.equal(big.values.length, 100_001);
  assert.deepEqual(matched(baseRule, [item([list('process.name', 'big', 'keyword')])], evs, new Map([['big', big]])), ['e0', 'e1', 'e3']);
  // a missing value list: the item is left out and said, the rule runs
  const applied = applyExceptions([baseRule], [item([list('process.name', 'nope', 'keyword')])], new Map(), T0);
  assert.match(applied.problems.join('\n'), /no value list 'nope'/);
  assert.equal(applied.rules[0]!.vigil_exceptions, undefined);
});

test('ip_range value lists: CIDR blocks, from-to ranges, IPv6; many blocks tested by halves, with the answers of cidrMatch block by block', () => {
  // the same addresses against the same blocks, through the builtin (a few blocks at a time) and the many-block path
  const blocks = ['10.0.0.0/8', '192.168.1.0/24', '172.16.5.4/32', '2001:db8::/32', '100.64.0.0/10', '8.8.8.8', '1.1.1.0/30', '203.0.113.0/25', '198.51.100.128/25', 'not-a-block'];
  const addrs = ['10.1.2.3', '11.0.0.1', '192.168.1.255', '192.168.2.1', '172.16.5.4', '172.16.5.5', '2001:db8::1', '2001:db9::1', '100.127.255.255', '100.128.0.0', '1.1.1.3', '1.1.1.4', '203.0.113.127', '203.0.113.128', '198.51.100.200', 'x'];
  const evsIp = events(addrs.map((a) => ({ source: { ip: a } })));
  const oneByOne = compileRule({ ...baseRule, query: `process where ${blocks.map((b) => `cidrMatch(source.ip, "${b}")`).join(' or ')}` } as Rule);
  const expected = (oneByOne.compiled!.run(evsIp).events ?? []).map((e) => e._id);
  assert.deepEqual(expected, ['e0', 'e2', 'e4', 'e6', 'e8', 'e10', 'e12', 'e14']);
  const many = compileRule({ ...baseRule, query: `process where cidrMatch(source.ip, ${blocks.map((b) => `"${b}"`).join(', ')})` } as Rule);
  assert.deepEqual((many.compiled!.run(evsIp).events ?? []).map((e) => e._id), expected);
  // a list with from-to ranges: 10.0.0.5-10.0.0.9 covers .5 to .9 only
  const ranges = parseValueList('r', 'ip_range', '10.0.0.5-10.0.0.9\n2001:db8::/48\n').list;
  const probe = events(['10.0.0.4', '10.0.0.5', '10.0.0.9', '10.0.0.10', '2001:db8:0:1::1', '2001:db8:1::1'].map((a) => ({ source: { ip: a } })));
  const entry: ExceptionEntry = { type: 'list', field: 'source.ip', operator: 'included', list: { id: 'r', type: 'ip_range' } };
  assert.deepEqual(matched(baseRule, [item([entry])], probe, new Map([['r', ranges]])), ['e0', 'e3', 'e5']);
  // 100,000 blocks (their speed is in npm run bench's tuning section)
  const big = parseValueList('big', 'ip_range', Array.from({ length: 100_000 }, (_, k) => `10.${(k >> 8) & 255}.${k & 255}.0/24`).join('\n')).list;
  assert.deepEqual(matched(baseRule, [item([{ ...entry, list: { id: 'big', type: 'ip_range' } }])], evs, new Map([['big', big]])), ['e1', 'e2', 'e3']);
});

test('sequences: an excepted event is dropped before matching, so it breaks the sequence (and a KQL rule is excepted alike)', () => {
  const seq = { ...baseRule, query: 'sequence by host.name with maxspan=1m [process where process.name == "a.exe"] [process where process.name == "b.exe"]' } as Rule;
  const s = events([
    { host: { name: 'x' }, process: { name: 'a.exe', parent: { name: 'good.exe' } } },
    { host: { name: 'x' }, process: { name: 'b.exe' } },
    { host: { name: 'y' }, process: { name: 'a.exe', parent: { name: 'updater.exe' } } },
    { host: { name: 'y' }, process: { name: 'b.exe' } },
  ]);
  assert.deepEqual(matched(seq, [], s), ['e0+e1', 'e2+e3']);
  assert.deepEqual(matched(seq, [item([{ type: 'match', field: 'process.parent.name', operator: 'included', value: 'updater.exe' }])], s), ['e0+e1']);
  const kql = { ...baseRule, type: 'query', language: 'kuery', query: 'event.type:start and process.name:*' } as Rule;
  assert.deepEqual(matched(kql, [item([{ type: 'wildcard', field: 'process.name', operator: 'included', value: '*.EXE' }])], evs), ['e0', 'e2', 'e3']);
});

test('per-stage exceptions (vigil_stage, which Elastic lacks): an item limited to one stage of a sequence leaves the others alone', () => {
  const seq = { ...baseRule, query: 'sequence by host.name with maxspan=1m [process where process.name : "*.exe"] [process where process.name == "b.exe"]' } as Rule;
  const ab = events([{ host: { name: 'x' }, process: { name: 'a.exe' } }, { host: { name: 'x' }, process: { name: 'b.exe' } }]);
  const bb = events([{ host: { name: 'x' }, process: { name: 'b.exe' } }, { host: { name: 'x' }, process: { name: 'b.exe' } }]);
  const on = (name: string, stage: number | null): ExceptionItem => item([{ type: 'match', field: 'process.name', operator: 'included', value: name }], { stage });
  assert.deepEqual(matched(seq, [], ab), ['e0+e1']);
  assert.deepEqual(matched(seq, [on('a.exe', 2)], ab), ['e0+e1'], 'a.exe excepted from stage 2 only still starts the sequence');
  assert.deepEqual(matched(seq, [on('a.exe', null)], ab), [], 'excepted from every stage (as Elastic), it breaks it');
  assert.deepEqual(matched(seq, [], bb), ['e0+e1']);
  assert.deepEqual(matched(seq, [on('b.exe', 1)], bb), [], 'b.exe cannot start the sequence');
  const applied = applyExceptions([seq], [on('a.exe', 2)], new Map(), T0);
  assert.equal(applied.rules[0]!.vigil_exceptions!.condition, null);
  assert.equal(applied.rules[0]!.vigil_exceptions!.stages[0]!.stage, 2);
  const bad = parseExceptionNdjson(`${JSON.stringify({ list_id: 'shared', type: 'detection' })}\n${JSON.stringify({ item_id: 's', list_id: 'shared', vigil_stage: 0, entries: [{ field: 'a', type: 'exists', operator: 'included' }] })}`);
  assert.match(bad.diagnostics[0]!.message, /vigil_stage must be a stage number from 1/);
});

test("exception list files: Kibana's export NDJSON read; an unknown entry type, a missing list and a bad value-list line are located, the rest loads", () => {
  const text = [
    JSON.stringify({ list_id: 'shared', name: 'Shared', type: 'detection', namespace_type: 'single', description: 'd' }),
    JSON.stringify({ item_id: 'ok', list_id: 'shared', name: 'ok', type: 'simple', entries: [{ field: 'process.name', operator: 'included', type: 'match', value: 'cmd.exe' }], os_types: [], namespace_type: 'single' }),
    JSON.stringify({ item_id: 'weird', list_id: 'shared', name: 'weird', type: 'simple', entries: [{ field: 'process.name', operator: 'included', type: 'regexp', value: 'x' }] }),
    JSON.stringify({ item_id: 'orphan', list_id: 'nowhere', name: 'orphan', type: 'simple', entries: [{ field: 'a', operator: 'included', type: 'exists' }] }),
    '{not json',
    JSON.stringify({ exported_exception_list_count: 1, exported_exception_list_item_count: 3 }),
  ].join('\n');
  const r = parseExceptionNdjson(text, 'ex.ndjson');
  assert.deepEqual(r.lists.map((l) => l.list_id), ['shared']);
  assert.deepEqual(r.items.map((i) => i.item_id), ['ok']);
  const where = r.diagnostics.map((d) => [text.slice(0, d.span.start).split('\n').length, d.message]);
  assert.equal(where.length, 3);
  assert.deepEqual(where.map((w) => w[0]), [3, 5, 4]);
  assert.match(String(where[0]![1]), /unknown entry type "regexp"/);
  assert.match(String(where[2]![1]), /no exception list 'nowhere'/);
  const v = parseValueList('ips', 'ip', '10.0.0.1\nnot-an-ip\n10.0.0.2\n', 'ips.txt');
  assert.deepEqual(v.list.values, ['10.0.0.1', '10.0.0.2']);
  assert.equal(v.diagnostics.length, 1);
  assert.equal(text.length > 0 && v.diagnostics[0]!.span.start, '10.0.0.1\n'.length);
});

test('vigil hunt --exceptions --value-list: the excepted events raise no alert, problems are said with file:line, other rules run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ex-'));
  try {
    const rules = join(dir, 'rules.ndjson');
    const other = { ...baseRule, rule_id: 'r-other', name: 'cmd starts', query: 'process where process.name == "cmd.exe"', exceptions_list: [] };
    writeFileSync(rules, `${JSON.stringify(baseRule)}\n${JSON.stringify(other)}\n`);
    const ev = join(dir, 'events.ndjson');
    writeFileSync(ev, evs.map((e) => JSON.stringify(e._source)).join('\n') + '\n');
    const ex = join(dir, 'ex.ndjson');
    writeFileSync(
      ex,
      [
        JSON.stringify({ list_id: 'shared', name: 'Shared', type: 'detection' }),
        JSON.stringify({ item_id: 'a', list_id: 'shared', name: 'a', entries: [{ field: 'process.name', operator: 'included', type: 'list', list: { id: 'names', type: 'keyword' } }] }),
        JSON.stringify({ item_id: 'b', list_id: 'shared', name: 'b', entries: [{ field: 'process.name', operator: 'included', type: 'bogus' }] }),
      ].join('\n'),
    );
    const names = join(dir, 'names.txt');
    writeFileSync(names, 'cmd.exe\nsvchost.exe\n');
    const r = vigil(['hunt', '--rules', rules, '--events', ev, '--format', 'ndjson', '--exceptions', ex, '--value-list', `names:keyword:${names}`, '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    const alerts = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const by = (id: string): number => alerts.filter((a) => a['kibana.alert.rule.rule_id'] === id).length;
    assert.equal(by('r-ex'), 2, 'svchost.exe and cmd.exe excepted: SVCHOST.EXE and powershell.exe alert');
    assert.equal(by('r-other'), 1, 'a rule without exceptions is not affected');
    assert.match(r.stderr, /ex\.ndjson:3:\d+: error VX004: .*unknown entry type "bogus"/);
    assert.match(r.stderr, /exceptions: 1 items in 1 lists; 1 of the 2 rules have some/);
    // the same through the library, without the value list: item a is left out and said
    const lib = await runHunt({ rules: applyExceptions([baseRule], parseExceptionNdjson(`${JSON.stringify({ list_id: 'shared', type: 'detection' })}\n${JSON.stringify({ item_id: 'c', list_id: 'shared', entries: [{ field: 'process.name', operator: 'included', type: 'match', value: 'cmd.exe' }] })}`).items, new Map(), Date.now()).rules, inputs: [ev], workers: 0 });
    assert.equal(lib.alerts.length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
