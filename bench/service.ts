import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { addNoise, generateEvents, namesInQueries } from '../src/gen/index.js';
import { loadRules } from '../src/rules/index.js';
import { startServer, type RunningServer } from '../test/support/server.js';
import type { BenchResult } from './parse.js';
import { percentile as pct } from './stats.js';

/**
 * `vigil serve` with every active EQL rule of Elastic's corpus: bulk ingest with all of them
 * streaming against ingest with no rule; one scheduled cycle of all of them over stored events
 * against `vigil hunt` with the same rules over the same events on one worker; the latency of the
 * API while that cycle runs. The events are generated with another seed than the hunt bench's, made
 * noisy where the rules look, and packed into five minutes, so that one look-back window holds them all.
 */
const SHARED = process.env.VIGIL_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');
const CORPUS = join(SHARED, 'corpus', 'detection-rules');
const INDEX = 'logs-endpoint.events.process-default';
const T0 = Date.parse('2026-11-23T00:00:00Z');
const SPAN = 5 * 60_000;

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function request(url: string, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const buf = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = buf ? { 'content-type': path === '/_bulk' ? 'application/x-ndjson' : 'application/json', 'content-length': buf.length } : {};
    const r = http.request({ host: u.hostname, port: u.port, path, method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    r.on('error', reject);
    r.end(buf);
  });
}

/**
 * Writes `n` generated events, their times packed into SPAN from T0, to a file; made noisy where the
 * corpus rules look (see addNoise), 10,000 at a time, so that broad rules fire on benign activity.
 */
async function writeEvents(file: string, n: number): Promise<void> {
  const pools = namesInQueries((await loadRules([CORPUS])).rules.map((r) => r.query ?? ''));
  const fd = openSync(file, 'w');
  let buf: string[] = [];
  let i = 0;
  let chunk = 0;
  const flush = (): void => {
    writeSync(fd, addNoise(buf, pools, { seed: ++chunk }).join('\n') + '\n');
    buf = [];
  };
  for (const l of generateEvents({ events: n, seed: 3, start: T0 })) {
    const ts = new Date(T0 + Math.floor((i++ * SPAN) / n)).toISOString();
    buf.push(l.replace(/"@timestamp":"[^"]*"/, `"@timestamp":"${ts}"`));
    if (buf.length === 10_000) flush();
  }
  if (buf.length) flush();
  closeSync(fd);
}

/** Posts the file's first `limit` events through `_bulk`, 1,000 per request, 4 requests at a time; events/s. */
async function ingest(url: string, file: string, limit: number): Promise<{ rate: number; failed: number }> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let body = '';
  let n = 0;
  let inBody = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (b: string): Promise<void> => {
    const p = request(url, 'POST', '/_bulk', b).then((r) => {
      if (r.status !== 200 || r.text.includes('"errors":true')) {
        if (failed++ === 0) process.stderr.write(`bench: a _bulk request failed: HTTP ${r.status} ${r.text.slice(0, 600)}\n`);
      }
      inFlight.delete(p);
    });
    inFlight.add(p);
    return p;
  };
  const t0 = performance.now();
  for await (const line of lines) {
    if (!line) continue;
    body += `{"create":{"_index":"${INDEX}"}}\n${line}\n`;
    inBody++;
    if (++n >= limit) break;
    if (inBody === 1000) {
      void send(body);
      body = '';
      inBody = 0;
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
  }
  if (inBody > 0) void send(body);
  await Promise.all(inFlight);
  return { rate: (n / (performance.now() - t0)) * 1000, failed };
}


const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export async function benchService(events = Number(process.env.VIGIL_BENCH_SERVICE_EVENTS ?? 1_000_000), ingestEvents = 200_000): Promise<BenchResult> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-service-'));
  const file = join(dir, 'events.ndjson');
  const servers: RunningServer[] = [];
  const serve = async (name: string, args: string[]): Promise<RunningServer> => {
    const s = await startServer(['--data', join(dir, name), '--no-bundled-rules', ...args], { nodeArgs: (process.env.VIGIL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) });
    servers.push(s);
    return s;
  };
  try {
    await writeEvents(file, events);

    // ingest: no rules, then every corpus rule streaming
    const bare = await serve('bare', []);
    const none = await ingest(bare.url, file, ingestEvents);
    await bare.stop();
    const streaming = await serve('streaming', ['--rules', CORPUS, '--streaming']);
    const health = JSON.parse((await request(streaming.url, 'GET', '/api/health')).text) as { rules: { streaming: number } };
    const all = await ingest(streaming.url, file, ingestEvents);
    const alerts = JSON.parse((await request(streaming.url, 'GET', '/api/alerts?size=0&building_blocks=true')).text) as { total: number };
    await streaming.stop();
    lines.push(`baseline: POST /_bulk, no rules                      ${fmt(none.rate).padStart(9)} events/s (${fmt(ingestEvents)} events, ${none.failed} failed requests)`);
    lines.push(`POST /_bulk, ${health.rules.streaming} corpus rules streaming          ${fmt(all.rate).padStart(9)} events/s (${((all.rate / none.rate) * 100).toFixed(0)}% of baseline; floor 30%), ${fmt(alerts.total)} alerts, ${all.failed} failed requests`);

    // one scheduled cycle over the stored events, with the API probed meanwhile
    const sched = await serve('scheduled', ['--rules', CORPUS, '--clock', new Date(T0 + SPAN + 60_000).toISOString()]);
    const stored = await ingest(sched.url, file, events);
    const probes = { health: [] as number[], alerts: [] as number[] };
    let cycling = true;
    const probe = async (): Promise<void> => {
      while (cycling) {
        for (const [k, path] of [['health', '/api/health'], ['alerts', '/api/alerts?size=50']] as const) {
          const t0 = performance.now();
          await request(sched.url, 'GET', path);
          probes[k].push(performance.now() - t0);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const prober = probe();
    const t0 = performance.now();
    const moved = await request(sched.url, 'POST', '/api/_clock', JSON.stringify({ advance_ms: 1000 }));
    const cycleMs = performance.now() - t0;
    cycling = false;
    await prober;
    const runs = (JSON.parse(moved.text) as { executions: number }).executions;
    const cost = JSON.parse((await request(sched.url, 'GET', '/api/rules?sort=cpu&order=desc&size=3')).text) as { rules: Array<{ name: string; cost?: { cpu_ms: number } }> };
    const schedAlerts = JSON.parse((await request(sched.url, 'GET', '/api/alerts?size=0&building_blocks=true')).text) as { total: number };
    await sched.stop();

    const child = join(dirname(fileURLToPath(import.meta.url)), 'hunt-child.js');
    const h = spawnSync(process.execPath, [child, CORPUS, file, '1', INDEX], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (h.status !== 0) throw new Error(`hunt failed: ${h.stderr}`);
    const hunt = JSON.parse(h.stdout.trim().split('\n').pop()!) as { events: number; ms: number; alerts: number; rules: number };
    const huntRate = (hunt.events / hunt.ms) * 1000;
    const cycleRate = (events / cycleMs) * 1000;
    lines.push(`baseline: vigil hunt --index ${INDEX}, ${hunt.rules} rules, 1 worker   ${fmt(huntRate).padStart(9)} events/s (${fmt(hunt.events)} events, ${fmt(hunt.alerts)} alerts)`);
    lines.push(`one scheduled cycle, every corpus rule (${fmt(runs)} executions)   ${fmt(cycleRate).padStart(9)} events/s (${((cycleRate / huntRate) * 100).toFixed(0)}% of hunt; floor 50%), ${(cycleMs / 1000).toFixed(1)} s over ${fmt(events)} stored events (ingested at ${fmt(stored.rate)} events/s), ${fmt(schedAlerts.total)} alerts`);
    lines.push(`API during the cycle: GET /api/health p50 ${pct(probes.health, 50).toFixed(1)} ms, p99 ${pct(probes.health, 99).toFixed(1)} ms; GET /api/alerts p50 ${pct(probes.alerts, 50).toFixed(1)} ms, p99 ${pct(probes.alerts, 99).toFixed(1)} ms (${probes.health.length} probes each; floor p99 250 ms)`);
    lines.push(`most expensive rules in the cycle: ${cost.rules.map((r) => `${r.name} (${(r.cost?.cpu_ms ?? 0).toFixed(0)} ms)`).join('; ')}`);
    return { title: `Service: every corpus rule it runs (EQL and KQL), ${fmt(events)} generated events`, lines };
  } finally {
    for (const s of servers) await s.stop(true).catch(() => null);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchService();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
