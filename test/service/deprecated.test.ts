/**
 * Rules Elastic has deprecated (`maturity = "deprecated"`) are left out by `serve` and `hunt`
 * unless asked for: their replacements alert on the same activity, so both would double the alerts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runHunt, Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';
import { loadRules } from '../../src/rules/index.js';
import { vigil } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-deprecated-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rule = (id: string, maturity: string): string => `[metadata]
creation_date = "2024/01/01"
maturity = "${maturity}"
updated_date = "2024/01/01"

[rule]
author = ["Vigil"]
description = "Test rule ${id}."
from = "now-9m"
index = ["logs-*"]
language = "eql"
license = "Elastic License v2"
name = "Rule ${id}"
risk_score = 21
rule_id = "${id}"
severity = "low"
type = "eql"
query = '''
process where process.name == "whoami"
'''
`;

const rules = join(dir, 'rules');
mkdirSync(rules);
writeFileSync(join(rules, 'current.toml'), rule('current-rule', 'production'));
writeFileSync(join(rules, 'old.toml'), rule('old-rule', 'deprecated'));
const events = join(dir, 'events.ndjson');
writeFileSync(events, JSON.stringify({ '@timestamp': '2026-01-01T00:00:00Z', event: { category: 'process' }, process: { name: 'whoami' } }) + '\n');

test('serve leaves deprecated rules out unless asked, and forgets one an earlier start loaded', async () => {
  const data = join(dir, 'data');
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const open = async (includeDeprecated: boolean): Promise<string[]> => {
    const v = await Vigil.open({ dataDir: data, rulePaths: [rules], clock, scanThreads: 0, includeDeprecated });
    try {
      assert.equal(v.deprecatedLeftOut, includeDeprecated ? 0 : 1);
      return v.registry.rules.map((r) => `${r.rule.rule_id}${r.enabled ? '' : ' (disabled)'}`).sort();
    } finally {
      await v.close();
    }
  };
  assert.deepEqual(await open(false), ['current-rule']);
  // asked for, it loads as its file says (enabled)
  assert.deepEqual(await open(true), ['current-rule', 'old-rule']);
  assert.deepEqual(await open(false), ['current-rule']);
});

test('hunt skips deprecated rules unless asked', async () => {
  const set = (await loadRules([rules])).rules;
  const plain = await runHunt({ rules: set, inputs: [events], workers: 0 });
  assert.deepEqual(plain.rulesSkipped.map((s) => [s.rule_id, s.group]), [['old-rule', 'deprecated']]);
  assert.deepEqual(plain.alerts.map((a) => a.ruleId), ['current-rule']);
  const all = await runHunt({ rules: set, inputs: [events], workers: 0, includeDeprecated: true });
  assert.deepEqual(all.rulesSkipped, []);
  assert.deepEqual(all.alerts.map((a) => a.ruleId).sort(), ['current-rule', 'old-rule']);
  // the CLI flag
  const r = vigil(['hunt', '--events', events, '--rules', rules, '--include-deprecated', '--format', 'ndjson', '--workers', '0']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 2);
});
