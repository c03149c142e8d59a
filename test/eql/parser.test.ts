import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse, parseExpression, printStatement, stripSpans, type Expr, type Statement } from '../../src/eql/index.js';

function ok(text: string, dialect: 'elasticsearch' | 'endgame' = 'elasticsearch'): Statement {
  const r = parse(text, { dialect });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], text);
  assert.ok(r.ast);
  return r.ast;
}

function expr(text: string): unknown {
  const r = parseExpression(text);
  assert.deepEqual(r.diagnostics, [], text);
  return stripSpans(r.ast);
}

const f = (...path: Array<string | number>): unknown => ({ kind: 'field', path, optional: false });
const s = (value: string): unknown => ({ kind: 'string', value });
const n = (value: number, integer = true): unknown => ({ kind: 'number', value, integer });

/** Canonical text for a query: how the printer writes it. */
const canonical = (text: string, dialect: 'elasticsearch' | 'endgame' = 'elasticsearch'): string => printStatement(ok(text, dialect));

test('precedence: not binds tighter than and, and tighter than or', () => {
  assert.deepEqual(expr('not a or b and c'), {
    kind: 'logical',
    op: 'or',
    left: { kind: 'not', operand: f('a') },
    right: { kind: 'logical', op: 'and', left: f('b'), right: f('c') },
  });
});

test('not applies to a whole comparison', () => {
  assert.deepEqual(expr('not a == 1'), { kind: 'not', operand: { kind: 'compare', op: '==', left: f('a'), right: n(1) } });
});

test('arithmetic: * before +, left associative', () => {
  assert.deepEqual(expr('a - b - c * 2'), {
    kind: 'arith',
    op: '-',
    left: { kind: 'arith', op: '-', left: f('a'), right: f('b') },
    right: { kind: 'arith', op: '*', left: f('c'), right: n(2) },
  });
});

test('a sign against a number folds into the literal; against a field it negates', () => {
  assert.deepEqual(expr('-1'), n(-1));
  assert.deepEqual(expr('-a'), { kind: 'negate', operand: f('a') });
  assert.deepEqual(expr('a > - 1'), { kind: 'compare', op: '>', left: f('a'), right: { kind: 'negate', operand: n(1) } });
});

test('numbers: integers, decimals, exponents, leading dot', () => {
  assert.deepEqual(expr('12'), n(12));
  assert.deepEqual(expr('1.5'), n(1.5, false));
  assert.deepEqual(expr('1e3'), n(1000, false));
  assert.deepEqual(expr('.5'), n(0.5, false));
});

test('strings: escapes, unicode, raw and triple-quoted', () => {
  assert.deepEqual(expr('"a\\\\b\\"c\\n\\t"'), s('a\\b"c\n\t'));
  assert.deepEqual(expr('"\\u{41}\\u{1F600}"'), s('A\u{1F600}'));
  assert.deepEqual(expr('?"C:\\Windows\\*"'), s('C:\\Windows\\*'));
  assert.deepEqual(expr('"""C:\\temp\\"x"""'), s('C:\\temp\\"x'));
});

test('fields: dotted, backquoted, optional, indexed, @timestamp', () => {
  assert.deepEqual(expr('process.parent.name'), f('process', 'parent', 'name'));
  assert.deepEqual(expr('`odd name`.x'), f('odd name', 'x'));
  assert.deepEqual(expr('?process.Ext.token'), { kind: 'field', path: ['process', 'Ext', 'token'], optional: true });
  assert.deepEqual(expr('process.args[1]'), f('process', 'args', 1));
  assert.deepEqual(expr('@timestamp'), f('@timestamp'));
  assert.deepEqual(expr('`a``b`'), f('a`b'));
});

test('membership and matching operators', () => {
  assert.deepEqual(expr('a in ("x", 1)'), { kind: 'in', value: f('a'), list: [s('x'), n(1)], negated: false, insensitive: false });
  assert.deepEqual(expr('a not in ("x")'), { kind: 'in', value: f('a'), list: [s('x')], negated: true, insensitive: false });
  assert.deepEqual(expr('a in~ ("x")'), { kind: 'in', value: f('a'), list: [s('x')], negated: false, insensitive: true });
  assert.deepEqual(expr('a : "x*"'), { kind: 'match', op: ':', value: f('a'), patterns: [s('x*')], list: false });
  assert.deepEqual(expr('a : ("x", "y")'), { kind: 'match', op: ':', value: f('a'), patterns: [s('x'), s('y')], list: true });
  for (const op of ['like', 'like~', 'regex', 'regex~']) {
    assert.deepEqual(expr(`a ${op} "x"`), { kind: 'match', op, value: f('a'), patterns: [s('x')], list: false });
  }
});

test('function calls, with the ~ variant', () => {
  assert.deepEqual(expr('startsWith~(a, "x")'), { kind: 'call', name: 'startsWith', insensitive: true, args: [f('a'), s('x')] });
  assert.deepEqual(expr('concat()'), { kind: 'call', name: 'concat', insensitive: false, args: [] });
});

test('comments are ignored', () => {
  assert.equal(canonical('process where /* block */ true // line\n and false'), 'process where true and false');
});

test('event categories: identifier, string, any', () => {
  assert.equal(ok('"process" where true').query.kind, 'event');
  const q = ok('any where true').query;
  assert.ok(q.kind === 'event' && q.filter.category === null);
  assert.equal(canonical('"my category" where true'), '"my category" where true');
});

test('sequence: shared by, maxspan on either side, per-stage by, runs, until, missing events', () => {
  const a = canonical('sequence with maxspan=5m by host.id [process where true] by process.pid [file where true] by process.pid');
  assert.equal(a, 'sequence by host.id with maxspan=5m\n  [process where true] by process.pid\n  [file where true] by process.pid');
  const b = ok('sequence by host.id with maxspan=1h [process where true] with runs=3 ![file where true] [network where true] until [process where false]');
  assert.ok(b.query.kind === 'sequence');
  assert.deepEqual(
    b.query.stages.map((st) => [st.runs, st.missing]),
    [
      [3, false],
      [null, true],
      [null, false],
    ],
  );
  assert.equal(b.query.maxspan?.unit, 'h');
  assert.ok(b.query.until);
});

test('a single stage repeated with runs is a valid sequence', () => {
  ok('sequence by user.name with maxspan=1m [authentication where true] with runs=5');
});

test('sample by with several stages', () => {
  assert.equal(canonical('sample by host.id [process where true] [file where true]'), 'sample by host.id\n  [process where true]\n  [file where true]');
});

test('pipes: head and tail in Elasticsearch; endgame pipes parse as extensions', () => {
  assert.equal(canonical('process where true | head 5 | tail 2'), 'process where true\n| head 5\n| tail 2');
  const r = parse('process where true | unique process.name, host.name | count | sort host.name');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(r.diagnostics.some((d) => d.code === 'EQL2013' && d.severity === 'info'));
});

test('endgame dialect: =, single quotes, bare pipe args, joins, relationships, fork', () => {
  assert.equal(canonical("process where name = 'cmd.exe' | unique a b", 'endgame'), 'process where name == "cmd.exe"\n| unique a, b');
  assert.equal(
    canonical('join by pid [process where true] [file where true] until [process where false]', 'endgame'),
    'join by pid\n  [process where true]\n  [file where true]\nuntil\n  [process where false]',
  );
  assert.equal(canonical('process where descendant of [process where name == "x"]', 'endgame'), 'process where descendant of [process where name == "x"]');
  assert.equal(canonical('sequence [process where true] [file where true] fork=true by pid', 'endgame'), 'sequence\n  [process where true]\n  [file where true] by pid fork=true');
});

test('printer keeps the tree: parentheses only where the shape needs them', () => {
  const cases: Array<[string, string]> = [
    ['process where (a or b) and c', 'process where (a or b) and c'],
    ['process where a or (b or c)', 'process where a or (b or c)'],
    ['process where ((a)) == 1', 'process where a == 1'],
    ['process where a - (b - c) == 1', 'process where a - (b - c) == 1'],
    ['process where not (a and b)', 'process where not (a and b)'],
    ['process where (a == 1) == true', 'process where (a == 1) == true'],
    ['process where -(1) == a', 'process where -(1) == a'],
    ['process where a == "quote\\" and \\\\ back"', 'process where a == "quote\\" and \\\\ back"'],
    ['process where a == 1.0', 'process where a == 1.0'],
    ['process where `where` == 1', 'process where `where` == 1'],
  ];
  for (const [input, want] of cases) {
    assert.equal(canonical(input), want, input);
    assert.equal(canonical(want), want, `not a fixed point: ${want}`);
  }
});

test('spans point at the source text', () => {
  const text = 'process where process.name == "cmd.exe"';
  const r = parse(text);
  const q = r.ast!.query;
  assert.ok(q.kind === 'event');
  const cond = q.filter.condition as Extract<Expr, { kind: 'compare' }>;
  assert.equal(text.slice(cond.left.span.start, cond.left.span.end), 'process.name');
  assert.equal(text.slice(cond.right.span.start, cond.right.span.end), '"cmd.exe"');
  assert.equal(text.slice(r.ast!.span.start, r.ast!.span.end), text);
});

test('several errors are all reported', () => {
  const r = parse('sequence [process where "a] [file where b ==] | bogus');
  const codes = r.diagnostics.map((d) => d.code);
  assert.ok(codes.includes('EQL1002'), codes.join());
  assert.ok(codes.includes('EQL2007') || codes.includes('EQL2001'), codes.join());
  assert.ok(r.diagnostics.length >= 2);
});
