/**
 * The UI's sign-in and cross-site request forgery, in Chromium against `vigil serve` with
 * authentication on. The analyst signs in (a wrong password first), then opens a page of another
 * origin on the same site (127.0.0.1, another port: the session cookie is sent to Vigil by such a
 * page) which tries every state-changing route: no-cors fetches with text/plain and no content type,
 * CORS fetches with JSON and PATCH/DELETE, and auto-submitted forms (text/plain, urlencoded,
 * multipart). Nothing may change; the signed-in UI itself still can.
 */
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, selectors, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../support/server.js';
import { repoRoot } from '../support/shared.js';
import { eqlRule } from '../support/rules.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(repoRoot, 'artifacts', 'screenshots');
const INDEX = 'logs-endpoint.events.process-default';

let dir = '';
let server: RunningServer;
let attacker: Server;
let attackerUrl = '';
let browser: Browser;
let page: Page;
let auth = '';

const call = async (path: string, init: { method?: string; body?: string; type?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(`${server.url}${path}`, { method: init.method ?? 'GET', headers: { authorization: auth, ...(init.body !== undefined ? { 'content-type': init.type ?? 'application/json' } : {}) }, body: init.body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
};

/** Everything an attacker would want changed, read through the API: it must be the same after the attack. */
async function state(): Promise<Record<string, unknown>> {
  const rule = (await call('/api/rules/csrf-evil')).body as { query?: string; enabled?: boolean };
  const alerts = (await call('/api/alerts?status=open')).body as { total: number; alerts: Array<{ assignee: unknown }> };
  return {
    rule: [rule.query, rule.enabled],
    openAlerts: alerts.total,
    assignees: alerts.alerts.map((a) => a.assignee),
    rules: ((await call('/api/rules')).body as { total: number }).total,
    users: Object.keys((await call('/_security/user')).body).sort(),
    keys: ((await call('/_security/api_key')).body as { api_keys: unknown[] }).api_keys.length,
    events: ((await call(`/${INDEX}/_count`)).body as { count: number }).count,
    exceptions: ((await call('/api/exception_lists')).body as { lists: unknown[] }).lists.length,
    valueLists: ((await call('/api/lists')).body as { lists: unknown[] }).lists.length,
    clock: ((await call('/api/_clock')).body as { now: string }).now,
  };
}

/** The attacker's page: every route, every way a page can send without Vigil's consent. */
function attackPage(target: string): string {
  const evilRule = eqlRule('csrf-evil', 'process where false');
  const json = (o: unknown): string => JSON.stringify(JSON.stringify(o));
  const attempts: Array<[string, string, string]> = [
    ['POST', '/api/rules/_import?overwrite=true', JSON.stringify(evilRule)],
    ['POST', '/api/rules/_bulk_action', json({ action: 'disable', query: {} })],
    ['PATCH', '/api/rules/csrf-evil', json({ enabled: false })],
    ['POST', '/api/alerts/_status', json({ query: {}, status: 'closed' })],
    ['POST', '/api/alerts/_assign', json({ query: {}, assignee: 'mallory' })],
    ['POST', '/api/exception_lists/items', json({ rule_id: 'csrf-evil', entries: [{ field: 'process.name', operator: 'included', type: 'match', value: 'evil.exe' }], close_alerts: true })],
    ['POST', '/api/exception_lists/_import', json({ list_id: 'x', type: 'detection', name: 'x', description: 'x' })],
    ['POST', '/api/lists/_import?list_id=l1&type=keyword', JSON.stringify('evil.exe\\n')],
    ['POST', '/_bulk', JSON.stringify(`{"index":{"_index":"${INDEX}"}}\n{"a":1}\n`)],
    ['POST', '/api/_clock', json({ advance_ms: 3600000 })],
    ['POST', '/_security/user/mallory', json({ password: 'mallory-password', roles: ['admin'] })],
    ['POST', '/_security/api_key', json({ name: 'stolen' })],
    ['DELETE', `/${INDEX}`, '""'],
    ['DELETE', '/_security/user/analyst', '""'],
  ];
  const forms = attempts
    .filter(([m]) => m === 'POST')
    .flatMap(([, path], i) =>
      ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'].map(
        (enc, j) => `<iframe name="f${i}_${j}"></iframe><form target="f${i}_${j}" method="POST" enctype="${enc}" action="${target}${path}"><input name='{"query":{},"status":"closed","x":"' value='"}'></form>`,
      ),
    )
    .join('\n');
  return `<!doctype html><html><body><h1>Totally harmless page</h1>
${forms}
<script>
const target = ${JSON.stringify(target)};
const attempts = [${attempts.map(([m, p, b]) => `[${JSON.stringify(m)}, ${JSON.stringify(p)}, ${b}]`).join(',\n')}];
(async () => {
  const tries = [];
  for (const [method, path, body] of attempts) {
    const simple = method === 'POST';
    if (simple) {
      tries.push(fetch(target + path, { method, body, mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' } }).catch(() => null));
      tries.push(fetch(target + path, { method, body: new Blob([body]), mode: 'no-cors', credentials: 'include' }).catch(() => null));
    }
    // a CORS request with JSON or another method asks first; Vigil never says yes
    tries.push(fetch(target + path, { method, body, mode: 'cors', credentials: 'include', headers: { 'content-type': 'application/json' } }).catch(() => null));
  }
  for (const f of document.forms) f.submit();
  await Promise.all(tries);
  await new Promise((r) => setTimeout(r, 1500));
  window.__done = true;
})();
</script></body></html>`;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: npm test installs Debian's chromium first (scripts/ensure-test-deps.mjs)`);
  assert.ok(existsSync(join(repoRoot, 'web', 'dist', 'index.html')), 'the UI is not built (npm run build:ui)');
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'vigil-ui-sec-'));
  const rules = join(dir, 'rules.ndjson');
  writeFileSync(rules, `${eqlRule('csrf-evil', 'process where process.name == "evil.exe"')}\n`);
  server = await startServer(['--data', join(dir, 'data'), '--rules', rules, '--no-bundled-rules', '--streaming', '--clock', new Date(Date.now()).toISOString()], { auth: true });
  auth = `Basic ${Buffer.from(`elastic:${server.password}`).toString('base64')}`;
  assert.equal((await call('/_security/user/analyst', { method: 'POST', body: JSON.stringify({ password: 'analyst-password', roles: ['analyst'] }) })).status, 200);
  const t = Date.now() - 60_000;
  const docs = [0, 1, 2].map((i) => `{"create":{"_index":"${INDEX}"}}\n${JSON.stringify({ '@timestamp': new Date(t + i).toISOString(), event: { category: 'process', type: 'start' }, host: { name: 'h1' }, process: { name: 'evil.exe', pid: i } })}\n`);
  assert.equal((await call('/_bulk?refresh=true', { method: 'POST', body: docs.join(''), type: 'application/x-ndjson' })).status, 200);
  attacker = createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(attackPage(server.url));
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  selectors.setTestIdAttribute('data-test-subj');
  page = await (await browser.newContext({ viewport: { width: 1366, height: 800 } })).newPage();
  page.setDefaultTimeout(20_000);
});

after(async () => {
  await browser?.close();
  await new Promise((r) => attacker?.close(r));
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('sign-in: the UI asks for a password, refuses a wrong one, and shows the alerts after the right one', async () => {
  await page.goto(`${server.url}/ui/`);
  await page.getByTestId('login-password').waitFor();
  await page.screenshot({ path: join(SHOTS, 'login.png') });
  await page.getByTestId('login-password').fill('not-the-password');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').filter({ hasText: 'Wrong user name or password' }).waitFor();
  await page.getByTestId('login-username').fill('analyst');
  await page.getByTestId('login-password').fill('analyst-password');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('signed-in-user').filter({ hasText: 'analyst (analyst)' }).waitFor();
  await page.getByText('Csrf-evil', { exact: false }).first().waitFor().catch(() => undefined);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'vigil_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session!.httpOnly, true);
  assert.equal(session!.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
});

test('CSRF: a page of another origin tries every state-changing route while the analyst is signed in, and changes nothing', async () => {
  const before = await state();
  assert.ok((before.openAlerts as number) >= 1);
  const attack = await page.context().newPage();
  await attack.goto(attackerUrl);
  await attack.waitForFunction(() => (window as unknown as { __done?: boolean }).__done === true, undefined, { timeout: 60_000 });
  await attack.close();
  assert.deepEqual(await state(), before);
  // the same session still works from Vigil's own page, through the UI (its CSRF token)
  await page.goto(`${server.url}/ui/#/alerts`);
  const row = page.getByTestId('alertsTable').locator('tbody tr').first();
  await row.waitFor();
  assert.equal(await page.evaluate(async () => (await fetch('/api/alerts/_status', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: {}, status: 'closed' }) })).status), 403, 'without the token, even from its own origin');
  const first = ((await call('/api/alerts?status=open')).body as { alerts: Array<{ id: string }> }).alerts[0]!;
  await page.goto(`${server.url}/ui/#/alerts/${encodeURIComponent(first.id)}`);
  await page.getByTestId('detailMark-closed').click();
  await page.getByTestId('closeReason').selectOption('benign');
  await page.getByTestId('closeConfirm').click();
  await page.getByTestId('alertStatus').filter({ hasText: 'closed: benign' }).waitFor();
  assert.equal(((await call(`/api/alerts/${encodeURIComponent(first.id)}`)).body as { status: string }).status, 'closed');
  await page.screenshot({ path: join(SHOTS, 'signed-in-alert.png') });
  await page.getByTestId('sign-out').click();
  await page.getByTestId('login-password').waitFor();
  assert.equal((await page.context().cookies()).find((c) => c.name === 'vigil_session')?.value ?? '', '');
});
