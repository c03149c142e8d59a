import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadRules } from '../../src/rules/index.js';
import { vigil } from '../support/cli.js';
import { repoRoot } from '../support/shared.js';

test('vigil rules convert: Markdown → NDJSON → Markdown keeps the rules', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-convert-'));
  const nd = vigil(['rules', 'convert', join(repoRoot, 'rules'), '--to', 'ndjson']);
  assert.equal(nd.status, 0, nd.stderr);
  const lines = nd.stdout.trim().split('\n');
  assert.equal(lines.length, 3); // two rules and the export summary
  assert.equal((JSON.parse(lines[2]!) as { exported_count: number }).exported_count, 2);
  writeFileSync(join(tmp, 'export.ndjson'), nd.stdout);
  const md = vigil(['rules', 'convert', join(tmp, 'export.ndjson'), '--to', 'markdown', '-o', join(tmp, 'pages')]);
  assert.equal(md.status, 0, md.stderr);
  assert.equal(readdirSync(join(tmp, 'pages')).length, 2);
  const original = await loadRules([join(repoRoot, 'rules')]);
  const again = await loadRules([join(tmp, 'pages')]);
  assert.deepEqual(again.rules, original.rules);
});
