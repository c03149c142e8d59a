import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineMap } from '../../src/core/index.js';
import { whyNotRunnable } from '../../src/detect/index.js';
import { loadNdjsonRules, loadTomlRule, newTermsParams, thresholdParams } from '../../src/rules/index.js';

const toml = (table: string): string => `[metadata]
creation_date = "2026/01/01"

[rule]
author = ["Vigil"]
description = "d"
name = "A threshold rule"
risk_score = 21
rule_id = "t-1"
severity = "low"
type = "threshold"
language = "kuery"
query = "event.category:process"
${table}`;

test('threshold and new-terms parameters are read from the TOML tables and from Kibana\'s flat fields alike', () => {
  const t = loadTomlRule(toml('\n[rule.threshold]\nfield = ["host.id", "user.name"]\nvalue = 5\n[[rule.threshold.cardinality]]\nfield = "process.name"\nvalue = 2\n'), 'r.toml');
  assert.deepEqual(thresholdParams(t.rule!), { ok: true, params: { fields: ['host.id', 'user.name'], value: 5, cardinality: [{ field: 'process.name', value: 2 }] } });
  const flat = loadNdjsonRules(JSON.stringify({ rule_id: 'n', name: 'n', description: 'd', type: 'new_terms', language: 'kuery', query: 'host.id:*', severity: 'low', risk_score: 1, new_terms_fields: ['host.id'], history_window_start: 'now-14d' }), 'r.ndjson');
  assert.deepEqual(newTermsParams(flat.rules[0]!), { ok: true, params: { fields: ['host.id'], historyWindowStart: 'now-14d', historyMs: 14 * 86_400_000 } });
  // a single field name as a string, and no field: one group of every event
  assert.deepEqual(thresholdParams({ extra: { threshold: { field: 'host.id', value: 1 } } }), { ok: true, params: { fields: ['host.id'], value: 1, cardinality: [] } });
  assert.deepEqual(thresholdParams({ extra: { threshold: { field: [], value: 1 } } }), { ok: true, params: { fields: [], value: 1, cardinality: [] } });
});

test('bad parameters are a located error (RULE022); the rule loads, does not run, and says why; other rules of the file are untouched', () => {
  const text = toml('\n[rule.threshold]\nfield = ["a", "b", "c", "d"]\nvalue = 0\n');
  const t = loadTomlRule(text, 'r.toml');
  const d = t.diagnostics.find((x) => x.code === 'RULE022')!;
  assert.equal(d.severity, 'error');
  assert.match(d.message, /at most 3 fields, not 4/);
  assert.equal(new LineMap(text).lineCol(d.span.start).line, 15); // [rule.threshold]
  assert.ok(t.rule);
  assert.match(whyNotRunnable(t.rule)!, /at most 3 fields/);

  const base = { description: 'd', language: 'kuery', query: 'host.id:*', severity: 'low', risk_score: 1 };
  const lines = [
    { ...base, rule_id: 'a', name: 'no history', type: 'new_terms', new_terms_fields: ['host.id'] },
    { ...base, rule_id: 'b', name: 'history in the future', type: 'new_terms', new_terms_fields: ['host.id'], history_window_start: 'now+1d' },
    { ...base, rule_id: 'c', name: 'good', type: 'new_terms', new_terms_fields: ['host.id'], history_window_start: 'now-7d' },
    { ...base, rule_id: 'd', name: 'no mapping', type: 'threat_match', threat_index: ['logs-ti_*'] },
  ].map((r) => JSON.stringify(r));
  const set = loadNdjsonRules(lines.join('\n'), 'r.ndjson');
  const bad = set.diagnostics.filter((x) => x.code === 'RULE022');
  assert.deepEqual(bad.map((x) => new LineMap(lines.join('\n')).lineCol(x.span.start).line), [1, 2, 4]);
  assert.deepEqual(set.rules.map((r) => [r.rule_id, whyNotRunnable(r)?.replace(/,.*/, '') ?? null]), [
    ['a', 'a new-terms rule needs `history_window_start`'],
    ['b', '`history_window_start` must be a time before now'],
    ['c', null],
    ['d', 'an indicator match rule needs `threat_mapping`: groups of event field and indicator field'],
  ]);
});
