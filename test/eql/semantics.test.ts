import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { compileExpr, compilePredicate, parseExpression } from '../../src/eql/index.js';
import { repoRoot } from '../support/shared.js';

interface Row {
  readonly rule: string;
  readonly expr: string;
  readonly event?: Record<string, unknown>;
  readonly want: unknown;
}

const table = parseToml(readFileSync(join(repoRoot, 'test/tables/semantics.toml'), 'utf8')) as unknown as { predicate: Row[]; value: Row[] };
const ctx = { dialect: 'elasticsearch' as const };

function ast(text: string) {
  const r = parseExpression(text);
  assert.deepEqual(r.diagnostics, [], text);
  return r.ast!;
}

const want = (w: unknown): unknown => (w === 'null' ? null : w);

test('the semantics table has rows of both kinds', () => {
  assert.ok(table.predicate.length >= 50);
  assert.ok(table.value.length >= 30);
});

for (const row of table.predicate) {
  test(`semantics: ${row.rule}`, () => {
    assert.equal(compilePredicate(ast(row.expr), ctx)(row.event ?? {}), want(row.want), row.expr);
  });
}

for (const row of table.value) {
  test(`function: ${row.rule}`, () => {
    assert.deepEqual(compileExpr(ast(row.expr), ctx)(row.event ?? {}), want(row.want), row.expr);
  });
}

test('an explicit JSON null is null, like a missing field', () => {
  const event = JSON.parse('{"process":{"name":null}}') as unknown;
  assert.equal(compilePredicate(ast('process.name == null'), ctx)(event), true);
  assert.equal(compilePredicate(ast('process.name == "x"'), ctx)(event), null);
});
