import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDiagnostics, parseQuery, printStatement, stripSpans } from '../../src/index.js';
import { corpusEqlQueries } from '../support/shared.js';

const corpus = corpusEqlQueries();

test('the corpus holds the 1,024 active EQL rules', () => {
  assert.equal(corpus.length, 1024);
});

test('every corpus query parses and checks with no error', () => {
  const failures: string[] = [];
  for (const { file, query } of corpus) {
    const r = parseQuery(query);
    if (!r.ok) failures.push(`${file}\n${formatDiagnostics(r.diagnostics.filter((d) => d.severity === 'error'), query)}`);
  }
  assert.deepEqual(failures, []);
});

test('print → parse gives the same tree for every corpus query', () => {
  let checked = 0;
  for (const { file, query } of corpus) {
    const first = parseQuery(query);
    assert.ok(first.ast, file);
    const printed = printStatement(first.ast);
    const second = parseQuery(printed);
    assert.ok(second.ok, `${file}: printed form does not parse:\n${printed}`);
    assert.deepEqual(stripSpans(second.ast), stripSpans(first.ast), `${file}: round trip changed the tree`);
    // printing is a fixed point
    assert.equal(printStatement(second.ast!), printed, file);
    checked++;
  }
  assert.equal(checked, 1024);
});
