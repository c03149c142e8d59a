import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LineMap } from '../../src/core/index.js';
import { loadRules } from '../../src/rules/index.js';
import { vigil } from '../support/cli.js';
import { repoRoot } from '../support/shared.js';

const dir = join(repoRoot, 'test/fixtures/broken-rules');
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Array<[string, number, number]>>;
const set = await loadRules([dir]);

test('the fixture folder holds at least 25 broken rule files', () => {
  assert.ok(Object.keys(expected).length >= 25);
  assert.equal(set.files.length, Object.keys(expected).length + 1); // + duplicate-a, the valid first copy
});

for (const [name, wants] of Object.entries(expected)) {
  test(`broken rule ${name}`, () => {
    const file = set.files.find((f) => f.path.endsWith(`/${name}`));
    assert.ok(file, `${name} not loaded`);
    const map = new LineMap(file.text);
    const got = file.diagnostics.map((d) => {
      const { line, col } = map.lineCol(d.span.start);
      return `${d.code} ${line}:${col}`;
    });
    for (const [code, line, col] of wants) assert.ok(got.includes(`${code} ${line}:${col}`), `want ${code} ${line}:${col}, got ${got.join(', ')}`);
  });
}

test('one bad rule never stops the others: good rules beside broken ones load', () => {
  const ids = set.rules.map((r) => r.rule_id);
  assert.ok(ids.includes('ndjson-good'), 'the good line of a broken export');
  assert.ok(ids.includes('00000000-0000-0000-0000-00000000DUPE'), 'the first copy of a duplicate');
  assert.ok(!ids.includes('ndjson-bad'));
});

test('vigil rules validate: located text diagnostics, summary, exit 1', () => {
  const r = vigil(['rules', 'validate', dir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad-date-math\.toml:8:1: error RULE008: 'from' must be date math/);
  assert.match(r.stderr, /query-unknown-function\.toml:20:15: error EQL3001: unknown function \[lenght\]/);
  assert.match(r.stdout, /^31 files, \d+ rules loaded, \d+ errors$/m);
  assert.match(r.stdout, /^by type: +eql \d+/m);
});

test('vigil rules validate on good rules exits 0', () => {
  const r = vigil(['rules', 'validate', join(repoRoot, 'rules')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^2 files, 2 rules loaded, 0 errors$/m);
});
