import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { diagnosticPosition, formatDiagnostics } from '../../src/core/index.js';
import { parseKql, printKql, type KqlQuery } from '../../src/kql/index.js';
import { loadRules } from '../../src/rules/index.js';
import { requireShared } from '../support/shared.js';

/** The tree without positions, to compare parses of different spellings. */
const shape = (q: KqlQuery | null): unknown => JSON.parse(JSON.stringify(q, (k, v: unknown) => (k === 'span' ? undefined : v)));

const parsed = (text: string): KqlQuery => {
  const r = parseKql(text);
  assert.ok(r.ok, `${text}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.ast!;
};

test('KQL: every active KQL query of the corpus parses with no error and prints to text that parses to the same tree', async () => {
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules.filter((r) => r.language === 'kuery' && r.metadata?.maturity !== 'deprecated');
  // 453 query, 240 new_terms, 28 threshold, 6 threat_match rules and more as the corpus grows
  assert.ok(rules.length >= 727, `${rules.length} KQL rules`);
  const failed: string[] = [];
  for (const r of rules) {
    const first = parseKql(r.query ?? '');
    if (!first.ok) {
      failed.push(`${r.name}: ${formatDiagnostics(first.diagnostics, r.query ?? '', { context: false })}`);
      continue;
    }
    const printed = printKql(first.ast!);
    const again = parseKql(printed);
    assert.ok(again.ok, `${r.name}: the printed query does not parse: ${printed}`);
    assert.deepEqual(shape(again.ast), shape(first.ast), `${r.name}: printed as ${printed}`);
    assert.equal(printKql(again.ast!), printed, `${r.name}: printing is not stable`);
  }
  assert.deepEqual(failed, []);
});

test('KQL: precedence, value lists, exists, ranges, nested queries and free text', () => {
  assert.deepEqual(shape(parsed('a:1 or b:2 and not c:3')), shape(parsed('a: 1 or (b: 2 and (not c: 3))')));
  const q = parsed('a:1 or b:2 and not c:3');
  assert.equal(q.kind, 'or');
  assert.equal(printKql(q), 'a: 1 or b: 2 and not c: 3');
  // keywords in any case, spaces around the colon
  assert.equal(printKql(parsed('event.action : (exec OR start) AND NOT user.name:root')), 'event.action: (exec or start) and not user.name: root');
  // `field: *` is an existence test; `*` inside a value is a wildcard, escaped it is a star
  assert.equal(parsed('process.name: *').kind, 'exists');
  const w = parsed('process.name: cmd*.exe');
  assert.ok(w.kind === 'match' && w.value.kind === 'literal' && w.value.parts.join('|') === 'cmd|.exe');
  const star = parsed('process.name: cmd\\*.exe');
  assert.ok(star.kind === 'match' && star.value.kind === 'literal' && star.value.parts.length === 1 && star.value.parts[0] === 'cmd*.exe');
  // a quoted value is a phrase: no wildcard, escapes resolved
  const phrase = parsed('message: "a *b\\" \\\\c"');
  assert.ok(phrase.kind === 'match' && phrase.value.kind === 'literal' && phrase.value.quoted && phrase.value.parts[0] === 'a *b" \\c');
  // value lists nest, with not inside
  const list = parsed('destination.domain:(* and not (github.com or *.github.com))');
  assert.ok(list.kind === 'match' && list.value.kind === 'and');
  assert.equal(printKql(list), 'destination.domain: (* and not (github.com or *.github.com))');
  // ranges, with dates and date math as values
  const r = parsed('@timestamp >= "now-1d" and event.duration<10');
  assert.ok(r.kind === 'and' && r.children[0]!.kind === 'range' && r.children[1]!.kind === 'range');
  assert.equal(printKql(r), '@timestamp >= "now-1d" and event.duration < 10');
  // nested fields
  const n = parsed('binding_deltas:{ action: "ADD" and role: (a or b) }');
  assert.ok(n.kind === 'nested' && n.query.kind === 'and');
  // free text, and words separated by spaces as one value (Kibana reads `S3 Browser` whole)
  assert.equal(parsed('mimikatz').kind, 'text');
  const spaced = parsed('user_agent.original: (*S3 Browser* or curl)');
  assert.ok(spaced.kind === 'match' && spaced.value.kind === 'or' && spaced.value.children[0]!.kind === 'literal');
  assert.deepEqual(spaced.value.kind === 'or' && spaced.value.children[0]!.kind === 'literal' ? spaced.value.children[0]!.parts : null, ['', 'S3 Browser', '']);
  // a keyword escaped is a value, and prints so that it stays one
  for (const v of ['\\and', '\\or', '\\u006eot']) {
    const k = parsed(`a: ${v}`);
    assert.ok(k.kind === 'match' && k.value.kind === 'literal', v);
    assert.deepEqual(shape(parsed(printKql(k))), shape(k));
  }
  // escapes in unquoted values: specials, \uXXXX
  const esc = parsed('user.id: *\\:i-* and path: C\\:\\\\Windows\\\\* and x: \\u0041');
  assert.ok(esc.kind === 'and');
  assert.equal(printKql(esc), 'user.id: *\\:i-* and path: C\\:\\\\Windows\\\\* and x: A');
  // the empty query matches everything
  assert.deepEqual(shape(parsed('  ')), { kind: 'and', children: [] });
});

test('KQL: a broken query gets a located diagnostic with a stable code, never an exception', () => {
  const cases: Array<[string, string, number, number]> = [
    ['process.name: "cmd.exe', 'KQL1001', 1, 15],
    ['process.name: cmd\\q.exe', 'KQL1002', 1, 18],
    ['a: 1 and (b: 2 or c: 3', 'KQL2003', 1, 10],
    ['a: 1 b: 2', 'KQL2001', 1, 7],
    ['a: (x or y', 'KQL2003', 1, 4],
    ['a >= (1 or 2)', 'KQL2006', 1, 6],
    ['n: { a: 1', 'KQL2004', 1, 4],
    ['a: 1 and ', 'KQL2002', 1, 10],
    ['a:', 'KQL2002', 1, 3],
    ['a: 1 or\n  ) and b:2', 'KQL2002', 2, 3],
  ];
  for (const [text, code, line, col] of cases) {
    const r = parseKql(text);
    assert.equal(r.ok, false, text);
    assert.equal(r.ast, null);
    const d = r.diagnostics[0]!;
    assert.equal(d.code, code, `${text}: ${d.code} ${d.message}`);
    assert.deepEqual(diagnosticPosition(d, text), { line, col }, `${text}: ${d.message}`);
  }
  const shown = formatDiagnostics(parseKql('process.name: "cmd.exe').diagnostics, 'process.name: "cmd.exe', { file: 'rule.toml' });
  assert.match(shown, /^rule\.toml:1:15: error KQL1001: this quoted value has no closing "\n {2}process\.name: "cmd\.exe\n {16}\^+$/);
  // hostile input: deep nesting and long texts end in a result, not a crash
  for (const text of ['('.repeat(5000), `a: ${'('.repeat(3000)}x${')'.repeat(3000)}`, `a: "${'x'.repeat(100_000)}`, '\\'.repeat(1001), 'not '.repeat(5000)]) {
    const r = parseKql(text);
    assert.equal(r.ok, false);
    assert.ok(r.diagnostics.length > 0 && r.diagnostics.length <= 1001, text.slice(0, 20));
  }
  assert.equal(parseKql('('.repeat(5000)).diagnostics[0]!.code, 'KQL2007');
  // nesting within the limit is fine
  assert.ok(parseKql(`${'('.repeat(100)}a: 1${')'.repeat(100)}`).ok);
});

test('KQL in a rule file: a broken query is a located diagnostic in its file, and the other rules still load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-kql-rules-'));
  try {
    const rule = (id: string, query: string): string =>
      ['[metadata]', 'creation_date = "2026/12/03"', 'maturity = "production"', '', '[rule]', 'author = ["Vigil"]', 'description = "d"', 'language = "kuery"', 'license = "Elastic License v2"', `name = "${id}"`, 'risk_score = 21', `rule_id = "${id}"`, 'severity = "low"', 'type = "query"', '', 'query = \'\'\'', query, "'''", ''].join('\n');
    writeFileSync(join(dir, 'bad.toml'), rule('bad', 'event.category:process and\n  process.name:(cmd.exe or "powershell.exe'));
    writeFileSync(join(dir, 'good.toml'), rule('good', 'event.category:process and process.name:(cmd.exe or powershell.exe)'));
    const set = await loadRules([dir]);
    assert.deepEqual(set.rules.map((r) => r.rule_id), ['good']);
    const bad = set.files.find((f) => f.path.endsWith('bad.toml'))!;
    const d = bad.diagnostics.find((x) => x.severity === 'error')!;
    assert.equal(d.code, 'KQL1001');
    const shown = formatDiagnostics([d], bad.text, { file: bad.path, context: false });
    // the query's second line is the file's 18th; the quote opens at column 28
    assert.match(shown, /bad\.toml:18:28: error KQL1001: this quoted value has no closing "/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
