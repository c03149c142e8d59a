import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileHuntRules } from '../../src/app/index.js';
import { generateEvents } from '../../src/gen/index.js';
import { compileGeneratedFilter, compileGeneratedPredicate, compilePredicate, parseQuery, type Expr, type FieldRef } from '../../src/eql/index.js';
import { loadRules } from '../../src/rules/index.js';
import { requireShared } from '../support/shared.js';

/**
 * Generated predicates must answer exactly as the closures do (true, false or null) on every value
 * shape: strings, one- and many-element arrays, empty arrays, null, numbers, numeric strings,
 * booleans, objects, dotted keys, arrays of objects, absent fields.
 */
const SHAPES: Array<Record<string, unknown>> = [
  {},
  { process: { name: 'cmd.exe', args: ['cmd.exe', '/c', 'whoami'], pid: 4, parent: { name: 'explorer.exe' } }, event: { type: ['start'], category: ['process'] } },
  { process: { name: 'CMD.EXE', args: [], pid: '4', parent: null }, event: { type: ['start', 'change'], category: 'process' } },
  { process: { name: ['cmd.exe', 'x'], pid: 4.0, parent: { name: ['a', null] } }, event: { type: [] } },
  { process: { name: null, pid: null }, event: { type: [null] } },
  { process: { name: 41, pid: [4, 5] }, event: { type: [['start']] } },
  { process: { name: true, pid: true }, event: { type: [{ x: 1 }] } },
  { process: { name: { nested: 'cmd.exe' } }, event: { type: 'START' } },
  { 'process.name': 'cmd.exe', 'process.parent.name': 'explorer.exe', 'event.type': 'start' },
  { process: { 'parent.name': 'explorer.exe', name: 'a"b\\c' } },
  { process: [{ name: 'cmd.exe' }, { name: 'b' }] },
  { process: 'cmd.exe', event: null },
  { process: { name: '\u202ecod.exe', pid: ' 4 ' } },
  { process: { name: 'İstanbul' } },
];

const CONDITIONS = [
  'process.name == "cmd.exe"',
  'process.name != "cmd.exe"',
  'process.name == null',
  'process.name != null',
  'null == process.name',
  '"cmd.exe" == process.name',
  'process.name in ("cmd.exe", "b", null)',
  'process.name not in ("cmd.exe", "b")',
  'process.name in~ ("CMD.exe")',
  'not process.name in~ ("CMD.exe")',
  'process.pid in (4, "5")',
  'process.pid == 4',
  'process.pid == "4"',
  'process.name : "cmd*"',
  'process.name : ("*.EXE", "b")',
  'process.name like "cmd*"',
  'process.name like~ ("CMD*", "x", "y", "z")',
  'process.name regex "cmd\\\\.exe"',
  'process.name regex~ ".*EXE"',
  'process.name : null',
  'process.name : 41',
  'process.name : process.parent.name',
  'process.parent.name : "explorer.exe" and event.type == "start"',
  'process.parent.name : "explorer.exe" or not event.type == "start"',
  'not (process.name == "a\\"b\\\\c" or process.pid > 3)',
  'process.name == "a\\"b\\\\c"',
  'process.name : "\u202e*"',
  'process.name : "istanbul"',
  'event.type : "start" and process.args : "/c"',
  'process.args == "whoami" and process.args != "x"',
  'length(process.name) > 3 and startsWith(process.name, "cmd")',
  '?process.missing == null and ?process.name == "cmd.exe"',
  'true and process.name == "cmd.exe"',
  'false or process.name == "b"',
];

const conditionOf = (text: string): Expr => {
  // the tree is used even where the checker objects to types: the compilers see more shapes
  const r = parseQuery(`any where ${text}`);
  assert.ok(r.ast, `${text}: ${JSON.stringify(r.diagnostics)}`);
  const q = r.ast.query;
  assert.equal(q.kind, 'event');
  return (q as { filter: { condition: Expr } }).filter.condition;
};

test('generated predicates answer as the closures do, on every value shape', () => {
  let compared = 0;
  for (const text of CONDITIONS) {
    const e = conditionOf(text);
    const closure = compilePredicate(e, { dialect: 'elasticsearch' });
    const generated = compileGeneratedPredicate(e, { dialect: 'elasticsearch' });
    for (const doc of SHAPES) {
      assert.equal(generated(doc), closure(doc), `${text} on ${JSON.stringify(doc)}`);
      compared++;
    }
  }
  // and endgame's case-insensitive dialect, which keeps the closures
  const e = conditionOf('process.name == "CMD.EXE"');
  assert.equal(compileGeneratedPredicate(e, { dialect: 'endgame', caseInsensitive: true })(SHAPES[1]), true);
  assert.equal(compared, CONDITIONS.length * SHAPES.length);
});

test('generated filters: the category test (case-sensitive, any element) and reads that take "not found" as absent', () => {
  const dotted = (v: unknown): boolean =>
    Array.isArray(v) ? v.some(dotted) : v !== null && typeof v === 'object' ? Object.entries(v).some(([k, x]) => k.includes('.') || dotted(x)) : false;
  const field: FieldRef = { kind: 'field', path: ['event', 'category'], optional: false, span: { start: 0, end: 0 } };
  const cats: unknown[] = [undefined, 'process', 'Process', ['file', 'process'], [['process']], [], null, 5, { a: 'process' }];
  let compared = 0;
  let trues = 0;
  for (const text of CONDITIONS) {
    const e = conditionOf(text);
    const closure = compilePredicate(e, { dialect: 'elasticsearch' });
    // the engine's promise: absent only when no object holds a dotted key
    const filter = compileGeneratedFilter(e, { dialect: 'elasticsearch', absent: (s) => !dotted(s) }, { field, value: 'process' });
    const any = compileGeneratedFilter(e, { dialect: 'elasticsearch', absent: (s) => !dotted(s) }, null);
    for (const doc of SHAPES) {
      for (const cat of cats) {
        const d = { ...doc, event: { ...(doc.event as object), category: cat } };
        const inCategory = cat === 'process' || (Array.isArray(cat) && JSON.stringify(cat).includes('"process"'));
        const want = inCategory && closure(d) === true;
        assert.equal(filter(d), want, `${text} on ${JSON.stringify(d)}`);
        compared++;
        if (want) trues++;
      }
      assert.equal(any(doc), closure(doc) === true, `${text} on ${JSON.stringify(doc)}`);
    }
  }
  assert.ok(trues > 50, `only ${trues} true answers`);
  assert.equal(compared, CONDITIONS.length * SHAPES.length * cats.length);
});

test('rule text never becomes code: quotes, backslashes and line breaks in literals are only compared', () => {
  const hostile = ['"; throw new Error("x"); "', '\\"; process.exit(1); //', '\u2028\u2029', '${1+1}', '`'];
  for (const h of hostile) {
    const e = conditionOf(`process.name == ${JSON.stringify(h)} or process.name : (${JSON.stringify(h + '*')})`);
    const p = compileGeneratedPredicate(e, { dialect: 'elasticsearch' });
    assert.equal(p({ process: { name: h } }), true);
    assert.equal(p({ process: { name: 'other' } }), false);
  }
});

test('every corpus filter gives the same answers generated and as closures, over generated events', async (t) => {
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules;
  const { entries } = compileHuntRules(rules, undefined);
  const conditions: Expr[] = [];
  for (const en of entries) {
    const q = en.query.ast.query;
    const filters = q.kind === 'event' ? [q.filter] : [...q.stages.map((s) => s.filter), ...('until' in q && q.until ? [q.until.filter] : [])];
    for (const f of filters) conditions.push(f.condition);
  }
  const docs = [...generateEvents({ events: 600, seed: 3, plantEvery: 50 })].map((l) => JSON.parse(l) as Record<string, unknown>);
  // and the same events with their process fields reshaped (arrays, dotted keys)
  const reshaped = docs.map((d) => {
    const p = d.process as Record<string, unknown> | undefined;
    if (!p) return d;
    const { name, executable, ...rest } = p;
    return { ...d, process: { ...rest, name: [name, 'x'] }, 'process.executable': executable };
  });
  let answers = 0;
  let trues = 0;
  for (const e of conditions) {
    const closure = compilePredicate(e, { dialect: 'elasticsearch' });
    const generated = compileGeneratedPredicate(e, { dialect: 'elasticsearch' });
    for (const doc of [...docs, ...reshaped]) {
      const want = closure(doc);
      assert.equal(generated(doc), want);
      answers++;
      if (want === true) trues++;
    }
  }
  assert.ok(trues > 1000, `only ${trues} true answers: the comparison would prove little`);
  t.diagnostic(`${conditions.length} filters × ${docs.length * 2} events: ${answers} answers identical (${trues} true)`);
});
