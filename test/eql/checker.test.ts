import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSchema, formatDiagnostics, parseQuery } from '../../src/index.js';

const codes = (text: string, opts: Parameters<typeof parseQuery>[1] = {}): string[] =>
  parseQuery(text, opts).diagnostics.map((d) => `${d.severity}:${d.code}`);

test('every Elasticsearch function accepts its documented arity', () => {
  const good = [
    'add(1, 2) == 3',
    'between(process.name, "a", "b") == "x"',
    'between(process.name, "a", "b", true) == "x"',
    'cidrMatch(source.ip, "10.0.0.0/8", "::1/128")',
    'concat(process.name, 1, null) == "x"',
    'divide(4, 2) == 2',
    'endsWith(process.name, "x")',
    'endsWith~(process.name, "X")',
    'indexOf(process.name, "x") == 0',
    'indexOf(process.name, "x", 2) == 2',
    'length(process.name) == 3',
    'modulo(5, 2) == 1',
    'multiply(2, 3) == 6',
    'number("12") == 12',
    'number("ff", 16) == 255',
    'startsWith(process.name, "x")',
    'string(process.pid) == "1"',
    'stringContains(process.name, "x")',
    'substring(process.name, 1) == "x"',
    'substring(process.name, 1, 2) == "x"',
    'subtract(2, 1) == 1',
  ];
  for (const g of good) assert.deepEqual(codes(`process where ${g}`), [], g);
});

test('function names resolve regardless of case, as in Elasticsearch', () => {
  assert.deepEqual(codes('network where cidrmatch(destination.ip, "10.0.0.0/8")'), []);
});

test('unknown fields warn by default and fail in strict mode; ?field never complains', () => {
  assert.deepEqual(codes('process where custom.field == 1'), ['warning:EQL3006']);
  assert.deepEqual(codes('process where custom.field == 1', { strict: true }), ['error:EQL3006']);
  assert.deepEqual(codes('process where ?custom.field == 1', { strict: true }), []);
});

test('a custom schema decides field types', () => {
  const schema = createSchema({ 'a.n': 'long', 'a.s': 'keyword' });
  assert.deepEqual(codes('any where a.n == 1 and a.s == "x"', { schema }), []);
  assert.deepEqual(codes('any where a.n == "x"', { schema }), ['error:EQL3007']);
  assert.deepEqual(codes('any where length(a.n) == 1', { schema }), ['error:EQL3003']);
});

test('endgame-only functions are accepted as extensions, with a note', () => {
  assert.deepEqual(codes('process where wildcard(process.name, "a*")'), ['info:EQL2013']);
  assert.deepEqual(codes('process where wildcard(process_name, "a*")', { dialect: 'endgame' }), []);
});

test('diagnostics render as line:col with the source line and a caret', () => {
  const text = 'process where\n  lenght(process.name) > 1';
  const r = parseQuery(text);
  assert.equal(
    formatDiagnostics(r.diagnostics, text, { file: 'q.eql' }),
    'q.eql:2:3: error EQL3001: unknown function [lenght], did you mean [length]?\n    lenght(process.name) > 1\n    ^^^^^^^^^^^^^^^^^^^^',
  );
});
