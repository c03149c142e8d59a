import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { whyNotRunnable } from '../../src/detect/index.js';
import { isKqlRule, loadMarkdownRule, loadNdjsonRules, loadRules, writeMarkdownRule, writeNdjsonRules, type Rule } from '../../src/rules/index.js';
import { requireShared } from '../support/shared.js';

const root = requireShared('corpus/detection-rules');
const set = await loadRules([root]);
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;

test('all 2,192 corpus files load into rules, with no error', () => {
  assert.equal(set.files.length, 2192);
  assert.equal(set.rules.length, 2192);
  const errors = set.files.flatMap((f) => f.diagnostics.filter((d) => d.severity === 'error').map((d) => `${f.path}: ${d.code} ${d.message}`));
  assert.deepEqual(errors, []);
});

test('counts by type, active and deprecated, match the corpus SOURCE.md', () => {
  const source = readFileSync(join(root, 'SOURCE.md'), 'utf8');
  const expected: Record<string, [number, number]> = {};
  for (const m of source.matchAll(/\b([a-z_]+) (\d+)\/(\d+)/g)) expected[m[1]!] = [Number(m[2]), Number(m[3])];
  assert.ok(Object.keys(expected).length >= 7, 'SOURCE.md table not found');
  const actual: Record<string, [number, number]> = {};
  for (const f of set.files) {
    for (const r of f.rules) {
      const slot = (actual[r.type] ??= [0, 0]);
      slot[f.path.includes('/_deprecated/') ? 1 : 0]++;
    }
  }
  assert.deepEqual(actual, expected);
});

test('every active EQL rule validates with no error; every active rule of the four KQL types runs; other types are marked not runnable', () => {
  let eql = 0;
  const kql = new Map<string, number>();
  const untranslated: string[] = [];
  for (const f of set.files) {
    if (f.path.includes('/_deprecated/')) continue;
    for (const r of f.rules) {
      if (r.type === 'eql') eql++;
      const notRunnable = f.diagnostics.some((d) => d.code === 'RULE015' || d.code === 'RULE022');
      if (isKqlRule(r)) {
        kql.set(r.type, (kql.get(r.type) ?? 0) + 1);
        if (notRunnable) untranslated.push(`${f.path}: ${f.diagnostics.find((d) => d.code === 'RULE015' || d.code === 'RULE022')!.message}`);
        // and the service compiles it, parameters included
        const why = whyNotRunnable(r);
        if (why !== null) untranslated.push(`${f.path}: ${why}`);
      } else assert.equal(notRunnable, r.type !== 'eql', f.path);
    }
  }
  assert.equal(eql, 1024);
  assert.deepEqual(Object.fromEntries(kql), { query: 454, new_terms: 241, threshold: 28, threat_match: 6 });
  // the list of KQL rules Vigil cannot run, which may only shrink, is empty: field-name patterns
  // (file.hash.*) are expanded against ECS
  assert.deepEqual(untranslated, []);
});

test('TOML → model → NDJSON → model keeps every field of every rule', () => {
  const back = loadNdjsonRules(writeNdjsonRules(set.rules), 'export.ndjson');
  assert.deepEqual(back.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(back.rules.length, set.rules.length);
  for (let i = 0; i < set.rules.length; i++) assert.deepEqual(plain(back.rules[i]), plain(set.rules[i]), set.rules[i]!.rule_id);
});

test('model → Markdown → model → Markdown is lossless and stable for every rule', () => {
  const differ: string[] = [];
  for (const r of set.rules) {
    const md = writeMarkdownRule(r);
    const back = loadMarkdownRule(md, `${r.rule_id}.md`);
    if (!back.rule || !isDeepStrictEqual(plain(back.rule), plain(r))) {
      differ.push(r.rule_id);
      continue;
    }
    if (writeMarkdownRule(back.rule as Rule) !== md) differ.push(`${r.rule_id} (not stable)`);
  }
  assert.deepEqual(differ, []);
});

test('loading a folder is deterministic', async () => {
  const again = await loadRules([root]);
  assert.deepEqual(
    again.rules.map((r) => r.rule_id),
    set.rules.map((r) => r.rule_id),
  );
});
