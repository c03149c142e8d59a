import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { vigil } from '../support/cli.js';

test('vigil --help lists the commands', () => {
  const r = vigil(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /check/);
});

test('vigil check prints the canonical form and exits 0', () => {
  const r = vigil(['check', 'process   where process.name:"cmd.exe"']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'process where process.name : "cmd.exe"\n');
});

test('vigil check prints located diagnostics and exits 1', () => {
  const r = vigil(['check', 'process where process.name == "cmd.exe']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^<query>:1:31: error EQL1002: unterminated string\n/);
  assert.match(r.stderr, /\n {32}\^{8}$/m);
});

test('vigil check --file names the file; --format json gives data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-check-'));
  const file = join(dir, 'q.eql');
  writeFileSync(file, 'process where\n  foo(1)\n');
  const text = vigil(['check', '--file', file]);
  assert.equal(text.status, 1);
  assert.ok(text.stderr.startsWith(`${file}:2:3: error EQL3001`), text.stderr);
  const json = vigil(['check', '--file', file, '--format', 'json']);
  assert.equal(json.status, 1);
  const data = JSON.parse(json.stdout) as { ok: boolean; diagnostics: Array<{ code: string; line: number; col: number }> };
  assert.equal(data.ok, false);
  assert.deepEqual(
    data.diagnostics.map((d) => [d.code, d.line, d.col]),
    [['EQL3001', 2, 3]],
  );
});

test('vigil check without a query is a usage error', () => {
  assert.equal(vigil(['check']).status, 2);
});

test('vigil check --language kuery: the canonical KQL, or located KQL diagnostics; an unknown language is a usage error', () => {
  const ok = vigil(['check', '--language', 'kuery', 'process.name : (cmd.exe OR "power shell.exe") and not user.name:root*']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'process.name: (cmd.exe or "power shell.exe") and not user.name: root*\n');
  const bad = vigil(['check', '--language', 'kuery', 'event.action:(exec or start']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^<query>:1:14: error KQL2003: expected '\)' to close the '\(' here, found the end of the query\n/);
  const json = vigil(['check', '--language', 'kuery', '--format', 'json', 'event.duration >= 10']);
  assert.deepEqual(JSON.parse(json.stdout), { ok: true, canonical: 'event.duration >= 10', diagnostics: [] });
  const usage = vigil(['check', '--language', 'lucene', 'x']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /unknown language 'lucene'/);
});
