import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, selectors, type Page } from 'playwright-core';
import { corpusEvents, startCorpusServer, type CorpusServer } from '../test/support/corpus-server.js';
import type { BenchResult } from './parse.js';
import { median, percentile as pct } from './stats.js';

/**
 * The triage pages with Elastic's whole corpus loaded, in Chromium, while events stream in: `vigil
 * serve` with every corpus rule (streaming where it can), 36,000 noisy generated events stored, and
 * a shipper posting 500 more per `_bulk` request, back to back, for the whole measurement. Each page
 * is opened RUNS times; the figures are the median and the slowest. The same page timings on the
 * idle server are the baseline. Each API call the pages make is timed idle (its answer time is how
 * long it holds the server's one thread, so how long it can hold up a `_bulk`) and while ingesting.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RUNS = 5;
const EVENTS = 36_000;

const max = (xs: number[]): number => Math.max(...xs);

interface Timings {
  alerts: number[];
  alert: number[];
  rules: number[];
  keystroke: number[];
  toggle: number[];
  coverage: number[];
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

async function json<T>(url: string, path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url + path, init);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** Each page, from navigation to usable (its first rows, or its matrix, drawn), RUNS times. */
async function measurePages(page: Page, url: string): Promise<Timings> {
  const t: Timings = { alerts: [], alert: [], rules: [], keystroke: [], toggle: [], coverage: [] };
  const blank = (): Promise<unknown> => page.goto('about:blank');
  const firstAlert = (await json<{ alerts: Array<{ id: string }> }>(url, '/api/alerts?size=1')).alerts[0]!.id;
  const term = 'powershell';
  const expected = (await json<{ total: number }>(url, `/api/rules?q=${term}&size=0`)).total.toLocaleString('en-US');
  for (let i = 0; i < RUNS; i++) {
    await blank();
    t.alerts.push(await timed(async () => {
      await page.goto(`${url}/ui/#/alerts`);
      await page.getByTestId('alertsTable').locator('tbody tr a').first().waitFor();
    }));
    await blank();
    t.alert.push(await timed(async () => {
      await page.goto(`${url}/ui/#/alerts/${encodeURIComponent(firstAlert)}`);
      await page.getByTestId('alertTitle').waitFor();
    }));
    await blank();
    t.coverage.push(await timed(async () => {
      await page.goto(`${url}/ui/#/coverage`);
      await page.getByTestId('attackMatrix').waitFor();
    }));
    await blank();
    t.rules.push(await timed(async () => {
      await page.goto(`${url}/ui/#/rules`);
      await page.getByTestId('rulesTable').locator('tbody tr a').first().waitFor();
    }));
    // a keystroke that completes a search term, to the filtered total shown (25 ms debounce included)
    const search = page.getByTestId('ruleSearch');
    await search.fill(term.slice(0, -1));
    await page.getByTestId('ruleTotal').filter({ hasNotText: 'Loading' }).waitFor();
    await page.waitForTimeout(400);
    t.keystroke.push(await timed(async () => {
      // the list asked for with the whole term (the term less a letter may find as many rules)
      const listed = page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).searchParams.get('q') === term);
      await search.press(term.slice(-1));
      await listed;
      await page.getByTestId('ruleTotal').filter({ hasText: new RegExp(`^${expected} of `) }).waitFor();
    }));
    // a toggle, to the server's answer shown (the switch, the row's state and the counts)
    const sw = page.getByTestId('rulesTable').locator('tbody tr').first().getByRole('switch');
    t.toggle.push(await timed(async () => {
      const answered = page.waitForResponse((r) => r.url().includes('/api/rules/') && r.request().method() === 'PATCH');
      await sw.click();
      const counts = ((await (await answered).json()) as { counts: { running: number; disabled: number } }).counts;
      await page.getByTestId('ruleCounts').filter({ hasText: `${counts.running.toLocaleString('en-US')} running` }).filter({ hasText: ` ${counts.disabled} disabled` }).waitFor();
    }));
    await page.waitForTimeout(200);
    await sw.click(); // back as it was
    await page.waitForTimeout(300);
  }
  return t;
}

/** Posts `lines`, 500 per request, back to back until `stop()`; each request's latency. */
function shipper(corpus: CorpusServer, lines: readonly string[]): { stop: () => Promise<{ latencies: number[]; events: number; ms: number }> } {
  let running = true;
  const latencies: number[] = [];
  let events = 0;
  const t0 = performance.now();
  const loop = (async () => {
    for (let i = 0; running; i = (i + 500) % lines.length) {
      const batch = lines.slice(i, i + 500);
      latencies.push(await timed(() => corpus.bulk(batch)));
      events += batch.length;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { latencies, events, ms: performance.now() - t0 };
    },
  };
}

const API_CALLS: ReadonlyArray<readonly [string, string]> = [
  ['GET /api/rules (one page of 50)', '/api/rules?size=50'],
  ['GET /api/rules (every rule)', '/api/rules?size=5000'],
  ['GET /api/rules?q= (search)', '/api/rules?q=powershell&size=50'],
  ['GET /api/health', '/api/health'],
  ['GET /api/coverage', '/api/coverage'],
  ['GET /api/alerts (50)', '/api/alerts?size=50'],
  ['GET /api/alerts/_stats', '/api/alerts/_stats?bucket=auto'],
  ['GET /api/alerts/_groups?by=rule', '/api/alerts/_groups?by=rule'],
  ['GET /api/alerts/_groups?by=host', '/api/alerts/_groups?by=host'],
];

export async function benchUi(): Promise<BenchResult> {
  const title = `UI with the whole corpus: page timings in Chromium while events stream in (${EVENTS.toLocaleString('en-US')} events stored)`;
  if (!existsSync(CHROMIUM)) return { title, lines: [`skipped: no browser at ${CHROMIUM} (node scripts/ensure-test-deps.mjs installs it)`] };
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-ui-'));
  let corpus: CorpusServer | null = null;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  selectors.setTestIdAttribute('data-test-subj');
  try {
    corpus = await startCorpusServer(join(dir, 'data'), EVENTS);
    const url = corpus.server.url;
    const more = await corpusEvents(20_000, 12, 500);
    const health = await json<{ rules: { total: number; streaming: number; scheduled: number; cannot_run: number }; alerts: number }>(url, '/api/health');
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.setDefaultTimeout(60_000);

    // each call's answer time, and the longest a probe (GET /, back to back beside the call) waited
    // meanwhile: how long the call held the server's thread, so how long it could hold up a _bulk
    const apiTimes = async (): Promise<Map<string, { ms: number[]; held: number[] }>> => {
      const api = new Map<string, { ms: number[]; held: number[] }>();
      for (let i = 0; i < RUNS * 2; i++) {
        for (const [name, path] of API_CALLS) {
          let done = false;
          let held = 0;
          const probe = (async () => {
            while (!done) held = Math.max(held, await timed(() => fetch(`${url}/`).then((r) => r.arrayBuffer())));
          })();
          const ms = await timed(() => fetch(url + path).then((r) => r.arrayBuffer()));
          done = true;
          await probe;
          const seen = api.get(name) ?? { ms: [], held: [] };
          seen.ms.push(ms);
          seen.held.push(held);
          api.set(name, seen);
        }
      }
      return api;
    };
    const idle = await measurePages(page, url);
    const idleApi = await apiTimes();
    const ship = shipper(corpus, more);
    const busy = await measurePages(page, url);
    const busyApi = await apiTimes();
    const shipped = await ship.stop();

    const lines: string[] = [];
    lines.push(`server: ${health.rules.total.toLocaleString('en-US')} rules (${health.rules.streaming} streaming, ${health.rules.scheduled} scheduled, ${health.rules.cannot_run} cannot run), ${health.alerts.toLocaleString('en-US')} alerts; each figure the median and slowest of ${RUNS} in Chromium at 1366×900`);
    const row = (name: string, floor: number, b: number[], x: number[]): string =>
      `${name.padEnd(44)} idle ${median(b).toFixed(0).padStart(5)} ms (max ${max(b).toFixed(0)})   ingesting ${median(x).toFixed(0).padStart(5)} ms (max ${max(x).toFixed(0)}; floor ${floor} ms)`;
    lines.push(row('Alerts page, to its first rows', 2000, idle.alerts, busy.alerts));
    lines.push(row('an alert page, to its title', 2000, idle.alert, busy.alert));
    lines.push(row('Rules page, to its first rows', 2000, idle.rules, busy.rules));
    lines.push(row('ATT&CK coverage, to the matrix', 2000, idle.coverage, busy.coverage));
    lines.push(row('rules search keystroke, to the new total', 200, idle.keystroke, busy.keystroke));
    lines.push(row('rule toggle, to the server\'s answer shown', 300, idle.toggle, busy.toggle));
    lines.push(`ingest meanwhile: ${((shipped.events / shipped.ms) * 1000).toFixed(0)} events/s in requests of 500; _bulk latency p50 ${pct(shipped.latencies, 50).toFixed(0)} ms, p99 ${pct(shipped.latencies, 99).toFixed(0)} ms, max ${max(shipped.latencies).toFixed(0)} ms (${shipped.latencies.length} requests)`);
    lines.push(`API calls, ${RUNS * 2} each: the answer's time, and the longest a probe request (GET /, sent back to back beside it) waited: how long the call held the server's one thread (floor 50 ms); while ingesting both also wait for slices of _bulk`);
    for (const [name, a] of idleApi) {
      const b = busyApi.get(name)!;
      lines.push(`  ${name.padEnd(36)} idle answer ${median(a.ms).toFixed(1).padStart(6)} ms (max ${max(a.ms).toFixed(1).padStart(6)}), probe held max ${max(a.held).toFixed(1).padStart(6)} ms   ingesting answer ${median(b.ms).toFixed(1).padStart(6)} ms (max ${max(b.ms).toFixed(1).padStart(6)}), probe held max ${max(b.held).toFixed(1).padStart(6)} ms`);
    }
    return { title, lines };
  } finally {
    await browser.close();
    await corpus?.server.stop(true).catch(() => null);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchUi();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
