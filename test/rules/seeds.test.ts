import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { loadMarkdownRule, loadRules, writeMarkdownRule, type Rule } from '../../src/rules/index.js';
import { repoRoot, requireShared } from '../support/shared.js';

function load(name: string): Rule {
  const path = join(requireShared('seeds'), name);
  const r = loadMarkdownRule(readFileSync(path, 'utf8'), path);
  assert.deepEqual(r.diagnostics.filter((d) => d.severity !== 'warning'), []);
  assert.ok(r.rule);
  return r.rule;
}

const mssql = load('execution-via-mssql-xp-cmdshell-stored-procedure.md');
const mysql = load('linux-restricted-shell-breakout-via-the-mysql-command.md');

const ATTACK_EXECUTION = {
  framework: 'MITRE ATT&CK',
  tactic: { id: 'TA0002', name: 'Execution', reference: 'https://attack.mitre.org/tactics/TA0002/' },
  technique: [{ id: 'T1059', name: 'Command and Scripting Interpreter', reference: 'https://attack.mitre.org/techniques/T1059/' }],
};

const expectations: Array<[string, Rule, keyof Rule, unknown]> = [
  ['mssql', mssql, 'name', 'Execution via MSSQL xp_cmdshell Stored Procedure'],
  ['mssql', mssql, 'rule_id', 'execution-via-mssql-xp-cmdshell-stored-procedure'],
  ['mssql', mssql, 'type', 'eql'],
  ['mssql', mssql, 'language', 'eql'],
  ['mssql', mssql, 'index', ['winlogbeat-*', 'logs-endpoint.events.*', 'logs-windows.*']],
  ['mssql', mssql, 'severity', 'high'],
  ['mssql', mssql, 'risk_score', 73],
  ['mssql', mssql, 'interval', '5m'],
  ['mssql', mssql, 'from', 'now-9m'],
  ['mssql', mssql, 'max_signals', 100],
  ['mssql', mssql, 'references', []],
  ['mssql', mssql, 'tags', ['Elastic', 'Host', 'Windows', 'Threat Detection', 'Execution']],
  ['mssql', mssql, 'version', 100],
  ['mssql', mssql, 'author', ['Elastic']],
  ['mssql', mssql, 'license', 'Elastic License v2'],
  ['mssql', mssql, 'note', undefined],
  ['mssql', mssql, 'threat', [ATTACK_EXECUTION]],
  ['mysql', mysql, 'name', 'Linux Restricted Shell Breakout via the mysql command'],
  ['mysql', mysql, 'index', ['logs-endpoint.events.*']],
  ['mysql', mysql, 'severity', 'medium'],
  ['mysql', mysql, 'risk_score', 47],
  ['mysql', mysql, 'interval', '5m'],
  ['mysql', mysql, 'from', 'now-9m'],
  ['mysql', mysql, 'max_signals', 100],
  ['mysql', mysql, 'references', ['https://gtfobins.github.io/gtfobins/mysql/']],
  ['mysql', mysql, 'tags', ['Elastic', 'Host', 'Linux', 'Threat Detection', 'Execution', 'GTFOBins']],
  ['mysql', mysql, 'version', 1],
  ['mysql', mysql, 'author', ['Elastic']],
  ['mysql', mysql, 'license', 'Elastic License v2'],
  [
    'mysql',
    mysql,
    'threat',
    [
      {
        ...ATTACK_EXECUTION,
        technique: [
          {
            ...ATTACK_EXECUTION.technique[0]!,
            subtechnique: [{ id: 'T1059.004', name: 'Unix Shell', reference: 'https://attack.mitre.org/techniques/T1059/004/' }],
          },
        ],
      },
    ],
  ],
];

for (const [seed, rule, field, want] of expectations) {
  test(`seed ${seed}: ${field}`, () => assert.deepEqual(rule[field], want));
}

test('seed descriptions are the page paragraph', () => {
  assert.ok(mssql.description.startsWith('Identifies execution via MSSQL xp_cmdshell stored procedure.'));
  assert.ok(mssql.description.endsWith('review the context of it’s use.'));
  assert.ok(mysql.description.startsWith('Identifies MySQL server abuse'));
});

test('seed queries are the code block, verbatim', () => {
  assert.equal(
    mysql.query,
    'process where event.type == "start" and process.name in ("bash", "sh", "dash") and\n' +
      '  process.parent.name == "mysql" and process.parent.args == "-e" and\n' +
      '  process.parent.args : ("\\\\!*sh", "\\\\!*bash", "\\\\!*dash", "\\\\!*/bin/sh", "\\\\!*/bin/bash", "\\\\!*/bin/dash")',
  );
  assert.ok(mssql.query!.startsWith('process where event.type in ("start", "process_started") and\n'));
  assert.ok(mssql.query!.includes('"K:\\\\MSSQL\\\\Backup\\\\Logins")'));
});

test('the Markdown rule corpus loads: setup, guide, runs, sub-techniques, max alerts', () => {
  const path = join(requireShared('corpus/markdown-rules'), 'potential-internal-linux-ssh-brute-force-detected.md');
  const r = loadMarkdownRule(readFileSync(path, 'utf8'), path);
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  const rule = r.rule!;
  assert.equal(rule.max_signals, 5);
  assert.equal(rule.version, 12);
  assert.ok(rule.note!.startsWith('**Triage and analysis**'));
  assert.ok(rule.setup!.startsWith('**Setup**'));
  assert.ok(rule.query!.includes('with runs = 10'));
  assert.deepEqual(
    rule.threat[0]!.technique![0]!.subtechnique!.map((s) => s.id),
    ['T1110.001', 'T1110.003'],
  );
  const back = loadMarkdownRule(writeMarkdownRule(rule), 'x.md').rule;
  assert.ok(isDeepStrictEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(rule))));
});

test('the bundled rules/ folder holds both seeds, equal to the seed pages', async () => {
  const bundled = await loadRules([join(repoRoot, 'rules')]);
  assert.deepEqual(bundled.files.flatMap((f) => f.diagnostics.filter((d) => d.severity === 'error')), []);
  const byId = new Map(bundled.rules.map((r) => [r.rule_id, r]));
  assert.deepEqual(byId.get(mssql.rule_id), mssql);
  assert.deepEqual(byId.get(mysql.rule_id), mysql);
});
