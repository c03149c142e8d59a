import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileQuery } from '../src/engine/index.js';
import { loadRules } from '../src/rules/index.js';
import { repoRoot } from './support/shared.js';

const set = await loadRules([join(repoRoot, 'rules')]);
const byName = new Map(set.rules.map((r) => [r.name, r]));

function matcher(name: string): (event: Record<string, unknown>) => boolean {
  const rule = byName.get(name);
  assert.ok(rule?.query, name);
  const c = compileQuery(rule.query);
  assert.ok(c.ok, JSON.stringify(c.diagnostics));
  return (event) => (c.query.run([event]).events ?? []).length === 1;
}

const mysql = matcher('Linux Restricted Shell Breakout via the mysql command');
const mssql = matcher('Execution via MSSQL xp_cmdshell Stored Procedure');

const shellFromMysql = (over: { name?: string; parentName?: string; args?: string[]; type?: string } = {}): Record<string, unknown> => ({
  '@timestamp': '2026-11-23T10:00:00Z',
  event: { category: ['process'], type: [over.type ?? 'start'] },
  host: { os: { type: 'linux' } },
  process: {
    name: over.name ?? 'bash',
    parent: { name: over.parentName ?? 'mysql', args: over.args ?? ['mysql', '-e', '\\!/bin/bash'] },
  },
});

test('mysql breakout: fires on mysql -e "\\!/bin/bash" spawning bash', () => assert.equal(mysql(shellFromMysql()), true));
test('mysql breakout: fires for sh and dash too', () => {
  assert.equal(mysql(shellFromMysql({ name: 'sh', args: ['mysql', '-e', '\\!sh'] })), true);
  assert.equal(mysql(shellFromMysql({ name: 'dash', args: ['mysql', '-e', '\\!/bin/dash'] })), true);
});
test('mysql breakout: silent when the shell name differs in case (in is case-sensitive)', () => assert.equal(mysql(shellFromMysql({ name: 'BASH' })), false));
test('mysql breakout: silent when the parent is not exactly "mysql"', () => assert.equal(mysql(shellFromMysql({ parentName: 'MySQL' })), false));
test('mysql breakout: silent without -e among the parent args', () => assert.equal(mysql(shellFromMysql({ args: ['mysql', '\\!/bin/bash'] })), false));
test('mysql breakout: silent without the \\! shell escape', () => assert.equal(mysql(shellFromMysql({ args: ['mysql', '-e', 'select 1'] })), false));
test('mysql breakout: silent without the backslash before !', () => assert.equal(mysql(shellFromMysql({ args: ['mysql', '-e', '!/bin/bash'] })), false));
test('mysql breakout: silent on process end events', () => assert.equal(mysql(shellFromMysql({ type: 'end' })), false));

const cmdFromSql = (over: { args?: string[]; parentName?: string; type?: string; name?: string } = {}): Record<string, unknown> => ({
  '@timestamp': '2026-11-23T10:00:00Z',
  event: { category: ['process'], type: [over.type ?? 'start'] },
  process: {
    name: over.name ?? 'cmd.exe',
    args: over.args ?? ['cmd.exe', '/c', 'whoami'],
    parent: { name: over.parentName ?? 'sqlservr.exe' },
  },
});

test('xp_cmdshell: fires on sqlservr.exe spawning cmd.exe /c whoami', () => assert.equal(mssql(cmdFromSql()), true));
test('xp_cmdshell: ":" ignores case of the process names', () => assert.equal(mssql(cmdFromSql({ name: 'CMD.EXE', parentName: 'SQLSERVR.EXE' })), true));
test('xp_cmdshell: fires on the legacy process_started type', () => assert.equal(mssql(cmdFromSql({ type: 'process_started' })), true));
test('xp_cmdshell: silent for an excluded "dir"', () => assert.equal(mssql(cmdFromSql({ args: ['cmd.exe', '/c', 'dir'] })), false));
test('xp_cmdshell: silent for an excluded "DIR" (":" ignores case)', () => assert.equal(mssql(cmdFromSql({ args: ['cmd.exe', '/c', 'DIR'] })), false));
test('xp_cmdshell: silent for a \\\\server UNC argument', () => assert.equal(mssql(cmdFromSql({ args: ['cmd.exe', '/c', '\\\\server\\share\\x.bat'] })), false));
test('xp_cmdshell: fires for a single-backslash path (only \\\\ is excluded)', () => assert.equal(mssql(cmdFromSql({ args: ['cmd.exe', '/c', '\\temp\\x.bat'] })), true));
test('xp_cmdshell: silent for the backup job script on any drive', () =>
  assert.equal(mssql(cmdFromSql({ args: ['cmd.exe', '/c', 'D:\\MSSQL\\Backup\\Jobs\\sql_agent_backup_job.ps1'] })), false));
test('xp_cmdshell: silent when the parent is another process', () => assert.equal(mssql(cmdFromSql({ parentName: 'sqlagent.exe' })), false));
test('xp_cmdshell: silent when process.args is missing (not null is null)', () => {
  const ev = cmdFromSql();
  delete (ev.process as Record<string, unknown>).args;
  assert.equal(mssql(ev), false);
});
