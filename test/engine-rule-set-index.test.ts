import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileQuery, coverOf, PieceAutomaton, RuleSet, type RuleSetEntry, type RuleSetHit } from '../src/engine/index.js';
import { ScanBothWays } from './support/scan-both.js';

/** A rule set entry for a query, its rule named `id` (the query itself by default). */
function entryOf(q: string, id = q): RuleSetEntry<string> {
  const c = compileQuery(q);
  assert.ok(c.ok, q);
  return { rule: id, query: c.query };
}

/** Runs events (given as documents, ids by position) through a rule set: its hits as `rule id`, sorted, and how many filters it tested. */
function hitsOf(entries: ReadonlyArray<RuleSetEntry<string>>, events: ReadonlyArray<Record<string, unknown>>, indexed: boolean): { hits: string[]; tests: number } {
  const set = new RuleSet(entries, { indexed });
  const out: Array<RuleSetHit<string>> = [];
  events.forEach((e, i) => set.push({ _index: 'i', _id: String(i), _source: e }, out));
  set.flush(out);
  return { hits: out.map((h) => `${h.rule} ${'_id' in h.hit ? h.hit._id : ''}`).sort(), tests: set.index.testsRun() };
}

test('the piece automaton finds exactly the pieces a text contains, overlapping ones included', () => {
  // a small alphabet makes overlaps and shared suffixes common
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const word = (min: number, max: number): string => Array.from({ length: min + rnd(max - min + 1) }, () => 'abé\u202e'[rnd(4)]).join('');
  for (let round = 0; round < 200; round++) {
    const pieces = [...new Set(Array.from({ length: 1 + rnd(12) }, () => word(1, 4)))];
    const ac = new PieceAutomaton(pieces, pieces.map((_, i) => [i]));
    for (let t = 0; t < 20; t++) {
      const text = word(0, 30);
      const found = new Set<number>();
      ac.scan(text, (i) => found.add(i));
      const expected = pieces.flatMap((p, i) => (text.includes(p) ? [i] : []));
      assert.deepEqual([...found].sort((a, b) => a - b), expected, `${JSON.stringify(pieces)} in ${JSON.stringify(text)}`);
    }
  }
});

const coverOfQuery = (q: string): ReturnType<typeof coverOf> => {
  const c = compileQuery(q);
  assert.ok(c.ok, q);
  const query = c.query.ast.query;
  assert.equal(query.kind, 'event');
  return coverOf((query as { filter: { condition: Parameters<typeof coverOf>[0] } }).filter.condition);
};

test('covers: exact values, wildcard pieces, presence, and the cheapest side of and', () => {
  assert.deepEqual(coverOfQuery('process where process.name == "cmd.exe"')?.keys, [{ field: 'process.name', kind: 'exact', values: ['cmd.exe'] }]);
  assert.deepEqual(coverOfQuery('process where process.name : ("a.exe", "*\\\\Temp\\\\*")')?.keys, [
    { field: 'process.name', kind: 'exact', values: ['a.exe'] },
    { field: 'process.name', kind: 'piece', values: ['\\temp\\'] },
  ]);
  // a low-cardinality key loses to any selective one
  assert.deepEqual(coverOfQuery('process where event.type == "start" and process.parent.name in ("winword.exe", "excel.exe")')?.keys, [
    { field: 'process.parent.name', kind: 'exact', values: ['winword.exe', 'excel.exe'] },
  ]);
  // a comparison or regex on a rarely set field needs the field
  assert.deepEqual(coverOfQuery('process where event.type == "start" and process.Ext.token.integrity_level_name regex "s.*"')?.keys, [
    { field: 'process.Ext.token.integrity_level_name', kind: 'present', values: [''] },
  ]);
  assert.deepEqual(coverOfQuery('process where process.pid == 4')?.keys, [{ field: 'process.pid', kind: 'exact', values: ['4'] }]);
  // one non-ASCII character is selective; one ASCII character is not: only the field's presence is left
  assert.deepEqual(coverOfQuery('file where file.name : "*\u202e*"')?.keys, [{ field: 'file.name', kind: 'piece', values: ['\u202e'] }]);
  assert.deepEqual(coverOfQuery('process where process.name : "* "'), { keys: [{ field: 'process.name', kind: 'present', values: [''] }], cost: 900 });
  // or needs both sides; not covers nothing; == null covers nothing
  assert.equal(coverOfQuery('process where process.name == "a" or not process.args == "b"'), null);
  assert.equal(coverOfQuery('process where process.parent.name == null'), null);
});

test('the index meets every event a filter can match: numbers as text, arrays, dotted keys, case', () => {
  const rules = [
    'process where process.pid == 4',
    'process where process.args : "*-enc*"',
    'process where process.parent.name : "WINWORD.EXE"',
    'file where stringContains(file.path, "\\\\Startup\\\\")',
    'process where process.Ext.token.integrity_level_name != null',
  ];
  const entries = rules.map((q) => entryOf(q));
  const events: Array<Record<string, unknown>> = [
    { event: { category: 'process' }, process: { pid: '4' } },
    { event: { category: ['process'] }, process: { pid: 4.0, args: ['powershell', '-EncodedCommand', 'x'] } },
    { event: { category: 'process' }, 'process.parent.name': 'winword.exe' },
    { event: { category: 'process' }, process: { parent: { name: 'WinWord.exe' } } },
    { event: { category: 'file' }, file: { path: 'C:\\Users\\a\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\x.lnk' } },
    { event: { category: 'process' }, process: { Ext: { token: { integrity_level_name: 'high' } } } },
    { event: { category: 'file' }, process: { pid: 4 } },
  ];
  const plain = hitsOf(entries, events, false).hits;
  assert.deepEqual(plain, [
    'file where stringContains(file.path, "\\\\Startup\\\\") 4',
    'process where process.Ext.token.integrity_level_name != null 5',
    'process where process.args : "*-enc*" 1',
    'process where process.parent.name : "WINWORD.EXE" 2',
    'process where process.parent.name : "WINWORD.EXE" 3',
    'process where process.pid == 4 0',
    'process where process.pid == 4 1',
  ]);
  assert.deepEqual(hitsOf(entries, events, true).hits, plain);
});

test('remembered answers (per field value in the index, per value in costly matches) stay right past their bounds', () => {
  const set = new RuleSet([
    entryOf('process where process.name : ("*abc*", "x*", "*.EXE", "y")', 'patterns'),
    entryOf('process where process.command_line regex ".*evil[0-9]+"', 'regex'),
    entryOf('process where process.name == "cmd.exe"', 'exact'),
  ]);
  const names = ['cmd.exe', 'CMD.EXE', 'xabc', 'y', 'Y', 'zz', 'notepad.exe', 'bash'];
  const want = { patterns: 0, regex: 0, exact: 0 };
  const got = { patterns: 0, regex: 0, exact: 0 };
  const out: Array<RuleSetHit<string>> = [];
  // more distinct values than any memo holds or tries (some repeat, command lines never do)
  for (let i = 0; i < 60_000; i++) {
    const name = i % 3 === 0 ? `n${i}${i % 2 ? '.exe' : '.bin'}` : names[i % names.length]!;
    const cmd = `${name} ${i % 5 === 0 ? `evil${i}` : `good${i}`}`;
    const lower = name.toLowerCase();
    if (lower.includes('abc') || lower.startsWith('x') || lower.endsWith('.exe') || lower === 'y') want.patterns++;
    if (i % 5 === 0) want.regex++;
    if (name === 'cmd.exe') want.exact++;
    out.length = 0;
    set.push({ _index: 'i', _id: String(i), _source: { event: { category: 'process' }, process: { name, command_line: cmd } } }, out);
    for (const h of out) got[h.rule as keyof typeof got]++;
  }
  assert.ok(want.patterns > 20_000 && want.exact > 1000, JSON.stringify(want));
  assert.deepEqual(got, want);
});

test('an event given as its fields (from the projector) gets what its document gets: top-level, nested, positional, absent, array fields', () => {
  const rules = [
    'any where message : "*evil*"',
    'any where tags == "x"',
    'process where process.args[1] == "-enc"',
    'process where process.name == "cmd.exe" and ?process.parent.name == null',
    'process where process.name == "cmd.exe" and process.parent.name != null',
    'file where file.size > 100 and file.name : "*.exe"',
    'Process where true',
    'sequence by host.id [process where process.name == "a"] [file where true]',
  ];
  const entries = rules.map((q) => entryOf(q));
  const docs: Array<Record<string, unknown>> = [
    { message: 'an evil thing', event: { category: 'network' } },
    { message: ['fine', 'EVIL too'], tags: ['y', 'x'], event: { category: ['process'] } },
    { event: { category: 'process' }, process: { name: 'cmd.exe', args: ['cmd.exe', '-enc', 'x'] }, host: { id: 'h1' } },
    { event: { category: 'process' }, process: { name: 'cmd.exe', parent: { name: 'explorer.exe' } } },
    { event: { category: 'process' }, process: { name: 'a', parent: null }, host: { id: 'h1' } },
    { event: { category: ['file'] }, file: { size: 1000, name: 'X.EXE' }, host: { id: 'h1' } },
    { event: { category: 'Process' }, process: { name: 'cmd.exe' } },
    { event: { category: 'file' }, file: { size: '5', name: 'a.exe' } },
  ];
  const both = new ScanBothWays(entries, (r) => r);
  for (const d of docs) assert.ok(both.compare(d), JSON.stringify(d));
  assert.ok(both.hits + both.codes >= 9, `only ${both.hits} hits and ${both.codes} codes`);
});

test('gates: a candidate is tested only when it passes the covers of its other conjuncts, and results do not change', () => {
  const entries = [
    // found by process.name; the operating system is the gate
    entryOf('process where host.os.type == "linux" and process.name == "bash"', 'linux bash'),
    // found by process.name (the left side wins a tie); the number is the gate
    entryOf('process where process.name : "B.EXE" and process.pid == 4', 'pid 4'),
    // presence of a rare field
    entryOf('process where process.parent.name == "x" and process.Ext.token.integrity_level_name != null', 'token'),
  ];
  const events: Array<Record<string, unknown>> = [
    { event: { category: 'process' }, host: { os: { type: 'windows' } }, process: { name: 'bash' } }, // gate shut
    { event: { category: 'process' }, host: { os: { type: 'Linux' } }, process: { name: 'bash' } }, // gate open (folded), test fails (== is exact)
    { event: { category: 'process' }, host: { os: { type: ['macos', 'linux'] } }, process: { name: 'bash' } }, // open: any element
    { event: { category: 'process' }, 'host.os.type': 'linux', process: { name: 'bash' } }, // open: dotted key
    { event: { category: 'process' }, process: { name: 'b.exe', pid: '4' } }, // open: number as text
    { event: { category: 'process' }, process: { name: 'b.exe', pid: 5 } }, // shut
    { event: { category: 'process' }, process: { name: 'b.exe' } }, // shut: no pid
    { event: { category: 'process' }, process: { parent: { name: 'x' } } }, // shut: no token
    { event: { category: 'process' }, process: { parent: { name: 'x' }, Ext: { token: { integrity_level_name: 'high' } } } }, // open
  ];
  const indexed = hitsOf(entries, events, true);
  assert.deepEqual(indexed.hits, ['linux bash 2', 'linux bash 3', 'pid 4 4', 'token 8']);
  assert.deepEqual(hitsOf(entries, events, false).hits, indexed.hits);
  // five events open a gate (1, 2, 3, 4, 8); without gates the index would have tested nine
  assert.equal(indexed.tests, 5);
});

test('number values meet the exact keys they print as (looked up by number), as the plain path finds them', () => {
  const entries = [
    entryOf('process where process.pid == 4', 'pid 4'),
    entryOf('process where process.pid in (0, 5)', 'pid 0 or 5'),
    entryOf('process where process.parent.pid == 1000000000000000000000', 'big'),
    entryOf('process where process.parent.pid : "12*"', 'piece'),
  ];
  const pids: unknown[] = [4, 4.0, -0, 0.5, [7, 5], '4', '0', 1e21, 123, [12.5], -4];
  const events = pids.map((pid) => ({ event: { category: 'process' }, process: { pid, parent: { pid } } }));
  const plain = hitsOf(entries, events, false).hits;
  assert.deepEqual(plain, ['big 7', 'pid 0 or 5 2', 'pid 0 or 5 4', 'pid 0 or 5 6', 'pid 4 0', 'pid 4 1', 'pid 4 5', 'piece 8', 'piece 9']);
  assert.deepEqual(hitsOf(entries, events, true).hits, plain);
});
