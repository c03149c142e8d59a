/**
 * Triage with Elastic's whole rule corpus loaded, in Chromium: `vigil serve` with every corpus rule
 * (deprecated ones left out) streaming where it can, 20,000 noisy generated events, its manual clock
 * moved past them. Each test is an analyst's step; each saves a screenshot.
 */
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, selectors, type Browser, type Page } from 'playwright-core';
import { startCorpusServer, type CorpusServer } from '../support/corpus-server.js';
import { api } from '../support/server.js';
import { repoRoot, requireShared } from '../support/shared.js';
import { loadRules } from '../../src/rules/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(repoRoot, 'artifacts', 'screenshots');

let dir = '';
let corpus: CorpusServer;
let url = '';
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

interface Counts {
  total: number;
  running: number;
  cannot_run: number;
  disabled: number;
}
interface RuleRow {
  rule_id: string;
  name: string;
  state: string;
  enabled: boolean;
  severity: string;
  alerts: number;
}

const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, `corpus-${name}.png`), fullPage: false });
const rowsText = async (subj: string): Promise<string[]> => page.getByTestId(subj).locator('tbody tr').allInnerTexts();

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: npm test installs Debian's chromium first (scripts/ensure-test-deps.mjs)`);
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'vigil-ui-corpus-'));
  corpus = await startCorpusServer(join(dir, 'data'), 20_000);
  url = corpus.server.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  selectors.setTestIdAttribute('data-test-subj');
  // the smallest common laptop screen
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await browser?.close();
  await corpus?.server.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('rules page: what runs and what cannot, filters and sort on the server, paging, bulk disable, state in the URL', async () => {
  const list = (await api<{ total: number; counts: Counts }>(url, '/api/rules?size=0')).body;
  const initiallyDisabled = new Set((await api<{ rules: RuleRow[] }>(url, '/api/rules?state=disabled&size=2000')).body.rules.map((r) => r.rule_id));
  // deprecated rules are not loaded: the corpus less its deprecated rules
  const files = await loadRules([requireShared('corpus/detection-rules')]);
  const deprecated = files.rules.filter((r) => r.metadata?.maturity === 'deprecated').length;
  assert.ok(deprecated > 50);
  assert.equal(list.counts.total, files.rules.length - deprecated);
  assert.match(corpus.server.output(), new RegExp(`${deprecated} deprecated left out`));
  assert.equal(list.counts.total, list.total);
  assert.ok(list.counts.cannot_run > 0 && list.counts.running > 1000, JSON.stringify(list.counts));

  await page.goto(`${url}/ui/#/rules`);
  await page.getByTestId('rulesTable').locator('tbody tr a').first().waitFor();
  const counts = await page.getByTestId('ruleCounts').innerText();
  assert.match(counts, new RegExp(`${list.counts.total.toLocaleString('en-US')} rules: ${list.counts.running.toLocaleString('en-US')} running`));
  assert.match(counts, new RegExp(`${list.counts.cannot_run} cannot run \\(\\d+: rule type 'esql'`));
  assert.equal((await rowsText('rulesTable')).length, 50, 'a page of 50 rows, not the whole corpus');
  await shot('rules');

  // the rules Vigil cannot run, in one click: each says so
  await page.getByTestId('cannotRunLink').click();
  await page.getByTestId('ruleTotal').filter({ hasText: `${list.counts.cannot_run} of ` }).waitFor();
  const states = await page.getByTestId('rulesTable').getByTestId('ruleState').allInnerTexts();
  assert.ok(states.length > 0 && states.every((s) => s === 'cannot run'), states.join(','));
  assert.match(page.url(), /state=cannot\+run|state=cannot%20run/);
  await shot('rules-cannot-run');

  // search, type by type: the server filters; the URL keeps it across a reload
  await page.goto(`${url}/ui/#/rules`);
  await page.getByTestId('rulesTable').locator('tbody tr a').first().waitFor();
  await page.getByTestId('ruleSearch').pressSequentially('mshta', { delay: 30 });
  const want = (await api<{ total: number }>(url, '/api/rules?q=mshta&size=0')).body.total;
  assert.ok(want > 0);
  await page.getByTestId('ruleTotal').filter({ hasText: new RegExp(`^${want} of `) }).waitFor();
  for (const row of await rowsText('rulesTable')) assert.match(row.toLowerCase(), /mshta/);
  // 'msht' finds the same rules: the total alone does not say the whole term reached the URL
  await page.waitForFunction(() => location.hash.includes('q=mshta'));
  await page.reload();
  await page.getByTestId('ruleTotal').filter({ hasText: new RegExp(`^${want} of `) }).waitFor();
  assert.equal(await page.getByTestId('ruleSearch').inputValue(), 'mshta');

  // sort by severity, most severe first; then the next page
  await page.goto(`${url}/ui/#/rules?sort=severity&order=desc`);
  await page.getByTestId('rulesTable').locator('tbody tr a').first().waitFor();
  const top = (await api<{ rules: RuleRow[] }>(url, '/api/rules?sort=severity&order=desc&size=50')).body.rules;
  assert.equal(top[0]!.severity, 'critical');
  assert.match((await rowsText('rulesTable'))[0]!, new RegExp(top[0]!.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await page.getByTestId('pagination-button-next').click();
  const second = (await api<{ rules: RuleRow[] }>(url, '/api/rules?sort=severity&order=desc&size=50&offset=50')).body.rules;
  await page.getByTestId('rulesTable').getByText(second[0]!.name, { exact: true }).first().waitFor();

  // select two running rules and disable them; the counts follow
  await page.goto(`${url}/ui/#/rules?state=streaming`);
  await page.getByTestId('rulesTable').locator('tbody tr a').first().waitFor();
  const rows = page.getByTestId('rulesTable').locator('tbody tr');
  await rows.nth(0).locator('input[type=checkbox]').check();
  await rows.nth(1).locator('input[type=checkbox]').check();
  await page.getByTestId('disableSelected').click();
  await page.getByTestId('ruleNotice').filter({ hasText: 'Disabled 2 of 2 rules' }).waitFor();
  const after = (await api<{ counts: Counts }>(url, '/api/rules?size=0')).body.counts;
  assert.equal(after.running, list.counts.running - 2);
  assert.equal(after.disabled, list.counts.disabled + 2);
  await page.getByTestId('ruleCounts').filter({ hasText: `${after.running.toLocaleString('en-US')} running` }).waitFor();
  // and back on, by id
  const two = (await api<{ rules: RuleRow[] }>(url, '/api/rules?state=disabled&size=2000')).body.rules.filter((r) => !initiallyDisabled.has(r.rule_id));
  assert.equal(two.length, 2);
  assert.deepEqual((await api<{ matched: number; updated: number }>(url, '/api/rules/_bulk_action', { body: { action: 'enable', ids: two.map((r) => r.rule_id) } })).body, { matched: 2, updated: 2 });
});

test('ATT&CK coverage counts running rules only, fits 1366 px, and a technique opens its rules', async () => {
  await page.goto(`${url}/ui/#/coverage`);
  await page.getByTestId('attackMatrix').waitFor();
  const summary = await page.getByTestId('coverageSummary').innerText();
  const cov = (await api<{ tactics: Array<{ techniques: Array<{ id: string; rules: Array<{ state: string; has_data: boolean }> }> }> }>(url, '/api/coverage')).body;
  const byId = new Map<string, Array<{ state: string; has_data: boolean }>>();
  for (const t of cov.tactics) for (const c of t.techniques) byId.set(c.id, [...(byId.get(c.id) ?? []), ...c.rules]);
  const running = (r: { state: string }): boolean => r.state === 'streaming' || r.state === 'scheduled';
  const white = [...byId.values()].filter((rs) => !rs.some(running)).length;
  assert.match(summary, new RegExp(`${byId.size} techniques named by the loaded rules: .* ${white} only by\\s+rules that are disabled or cannot run`));
  // no horizontal scrolling at 1366 px
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the matrix is ${overflow} px wider than the window`);
  await shot('coverage');

  // T1059's cell links to exactly the rules that name it
  const cell = page.getByTestId('technique-T1059').first();
  const named = (await api<{ total: number }>(url, '/api/rules?technique=T1059&size=0')).body.total;
  await cell.click();
  await page.getByTestId('techniqueFilter').waitFor();
  await page.getByTestId('ruleTotal').filter({ hasText: new RegExp(`^${named.toLocaleString('en-US')} of `) }).waitFor();
  await shot('coverage-technique-rules');
});

test('alerts: grouped by host, a group closed with a reason; filters survive a visit to an alert; ranges follow the server clock', async () => {
  const health = (await api<{ alerts: number }>(url, '/api/health')).body;
  const listed = (await api<{ total: number }>(url, '/api/alerts?size=0&status=')).body.total;
  assert.equal(health.alerts, listed, 'health counts the alerts the list shows');
  assert.ok(listed > 100, `only ${listed} alerts`);

  // the server's clock is days behind the browser's: "last 24 hours" counts back from the server's
  await page.goto(`${url}/ui/#/alerts?range=24h`);
  await page.getByTestId('alertTotal').filter({ hasText: /^[\d,]+ alerts?/ }).waitFor();
  const open = (await api<{ total: number }>(url, '/api/alerts?size=0&status=open,acknowledged')).body.total;
  assert.equal(await page.getByTestId('alertTotal').innerText(), `${open.toLocaleString('en-US')} alerts`);
  await shot('alerts');

  // group by host: the biggest group first, each with its count and span
  await page.getByTestId('groupBy').selectOption('host');
  await page.getByTestId('groupsTable').locator('tbody tr').first().waitFor();
  const groups = (await api<{ total: number; groups: Array<{ key: string; count: number; severity: string }> }>(url, '/api/alerts/_groups?by=host&status=open,acknowledged')).body;
  await page.getByTestId('alertTotal').filter({ hasText: `${groups.total} groups` }).waitFor();
  const firstGroup = (await page.getByTestId('groupsTable').locator('tbody tr').first().locator('td').allInnerTexts()).map((c) => c.split('\n')[0]!.replace(/^(Host|Alerts)\s*/, '').trim());
  assert.deepEqual(firstGroup.slice(0, 2), [groups.groups[0]!.key, String(groups.groups[0]!.count)]);
  await shot('alerts-by-host');
  // close the first group's alerts as benign, with a note
  const host = groups.groups[0]!.key;
  await page.getByTestId('groupsTable').locator('tbody tr').first().getByTestId('groupClose').click();
  await page.getByTestId('closeReason').selectOption('benign');
  await page.getByTestId('closeNote').fill('inventory script');
  await page.getByTestId('closeConfirm').click();
  await page.waitForFunction(async (h) => ((await (await fetch(`/api/alerts?host=${encodeURIComponent(h)}&status=open,acknowledged&size=0`)).json()) as { total: number }).total === 0, host);
  const closed = (await api<{ alerts: Array<{ doc: Record<string, unknown> }> }>(url, `/api/alerts?host=${encodeURIComponent(host)}&status=closed`)).body.alerts;
  assert.equal(closed.length, groups.groups[0]!.count);
  assert.ok(closed.every((a) => a.doc['kibana.alert.workflow_reason'] === 'benign'));

  // by rule, a group opens as a filter; to an alert and back keeps it
  await page.getByTestId('groupBy').selectOption('rule');
  const byRule = (await api<{ groups: Array<{ name: string | null }> }>(url, '/api/alerts/_groups?by=rule&status=open,acknowledged')).body;
  const ruleName = byRule.groups[0]!.name!;
  const firstRule = page.getByTestId('groupsTable').getByTestId('groupLink').first();
  await firstRule.filter({ hasText: ruleName }).waitFor();
  await firstRule.click();
  await page.getByTestId('alertsTable').locator('tbody tr a').first().waitFor();
  const filtered = page.url();
  assert.match(filtered, /rule_id=/);
  await page.getByTestId('alertLink').first().click();
  await page.getByTestId('alertTitle').filter({ hasText: ruleName }).waitFor();
  await page.goBack();
  await page.getByTestId('alertsTable').locator('tbody tr a').first().waitFor();
  assert.equal(page.url(), filtered);
  const names = await page.getByTestId('alertsTable').locator('tbody tr td:nth-child(5)').allInnerTexts();
  assert.ok(names.length > 0 && names.every((n) => n.includes(ruleName)), names.join(' | '));
});

test('an alert page: deciding fields first, other alerts around it, the host events around it', async () => {
  const a = (await api<{ alerts: Array<{ id: string; host: string; doc: Record<string, unknown> }> }>(url, '/api/alerts?size=200&status=')).body.alerts.find((x) => JSON.stringify(x.doc).includes('command_line'))!;
  assert.ok(a, 'an alert with a command line');
  await page.goto(`${url}/ui/#/alerts/${encodeURIComponent(a.id)}`);
  const deciding = page.getByTestId('decidingFields');
  await deciding.waitFor();
  const text = await deciding.innerText();
  assert.match(text, /process\.command_line/);
  assert.ok(text.indexOf('process.command_line') < text.indexOf('host.name'), text);
  await shot('alert');

  // filter in on the host name: the alerts list with that value, counted as the API counts it;
  // filter out from the same page: the rest
  const inLink = deciding.locator('a[title^="Alerts with host.name: "]');
  const hostName = (await inLink.getAttribute('title'))!.slice('Alerts with host.name: '.length);
  const count = async (f: string): Promise<string> => (await api<{ total: number }>(url, `/api/alerts?size=0&status=open,acknowledged&field=${encodeURIComponent(f)}`)).body.total.toLocaleString('en-US');
  const withHost = await count(`host.name:${hostName}`);
  await inLink.click();
  await page.getByTestId('fieldFilter').filter({ hasText: `host.name: ${hostName}` }).waitFor();
  await page.getByTestId('alertTotal').filter({ hasText: new RegExp(`^${withHost} alerts?`) }).waitFor();
  await shot('alerts-filter-in');
  await page.goBack();
  await deciding.waitFor();
  const withoutHost = await count(`-host.name:${hostName}`);
  await deciding.locator('a[title^="Alerts without host.name: "]').click();
  await page.getByTestId('fieldFilter').filter({ hasText: `NOT host.name: ${hostName}` }).waitFor();
  await page.getByTestId('alertTotal').filter({ hasText: new RegExp(`^${withoutHost} alerts?`) }).waitFor();
  await page.goto(`${url}/ui/#/alerts/${encodeURIComponent(a.id)}`);
  await deciding.waitFor();

  await page.getByRole('tab', { name: /Around it/ }).click();
  await page.getByTestId('aroundIt').waitFor();
  await page.getByTestId('hostEvents').click();
  await page.getByTestId('eqlResults').waitFor();
  assert.match(await page.getByTestId('eqlResults').innerText(), /[1-9]\d* events/);
  assert.match(await page.getByTestId('eqlQueryInput').inputValue(), new RegExp(`host.name == "${a.host}"`));
  await shot('alert-host-events');

  // a rule's alert count opens its alerts
  const rule = (await api<{ rules: RuleRow[] }>(url, '/api/rules?has_alerts=true&sort=alerts&order=desc&size=1')).body.rules[0]!;
  await page.goto(`${url}/ui/#/rules/${encodeURIComponent(rule.rule_id)}`);
  await page.getByTestId('ruleAlertsLink').click();
  await page.getByTestId('alertTotal').filter({ hasText: `${rule.alerts.toLocaleString('en-US')} alert` }).waitFor();
  assert.deepEqual(pageErrors, []);
});
