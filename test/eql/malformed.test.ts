import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseQuery } from '../../src/index.js';
import { repoRoot } from '../support/shared.js';

interface Case {
  readonly title: string;
  readonly query: string;
  readonly start: number;
  readonly end: number;
  readonly code: string;
}

/** Reads test/golden/malformed.txt: title, query line, caret line with the code. */
function loadCases(): Case[] {
  const text = readFileSync(join(repoRoot, 'test/golden/malformed.txt'), 'utf8');
  const cases: Case[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.length > 0);
    if (lines.length !== 3 || !lines[0]!.startsWith('# ') || lines[1]!.startsWith('#')) continue;
    const [title, query, carets] = lines as [string, string, string];
    const m = /^( *)(\^+) (EQL\d{4})$/.exec(carets);
    assert.ok(m, `bad caret line under: ${query}`);
    cases.push({ title: title.slice(2), query, start: m[1]!.length, end: m[1]!.length + m[2]!.length, code: m[3]! });
  }
  return cases;
}

const cases = loadCases();

test('the golden file holds at least 40 malformed queries', () => {
  assert.ok(cases.length >= 40, `only ${cases.length} cases`);
});

for (const c of cases) {
  test(`malformed: ${c.title}`, () => {
    const r = parseQuery(c.query);
    assert.equal(r.ok, false, 'query was accepted');
    const found = r.diagnostics.filter((d) => d.code === c.code);
    const shown = r.diagnostics.map((d) => `${d.code} ${d.span.start}-${d.span.end} ${d.message}`).join('\n');
    assert.ok(found.length > 0, `no ${c.code}; got:\n${shown}`);
    assert.ok(
      found.some((d) => d.span.start === c.start && d.span.end === c.end),
      `${c.code} at the wrong place: want ${c.start}-${c.end}, got:\n${shown}`,
    );
  });
}
