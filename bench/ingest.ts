import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { BenchResult } from './parse.js';
import { percentile as pct } from './stats.js';
import { startServer, type RunningServer } from '../test/support/server.js';

/**
 * Bulk ingest into `vigil serve` (child process, SQLite store, seed rules streaming) from this
 * process over HTTP, beside the baseline of raw SQLite inserts of the same documents; then
 * ingest-to-alert latency under load.
 */
const INDEX = 'logs-endpoint.events.process-default';
const hosts = Array.from({ length: 200 }, (_, i) => `host-${i}`);
const procs = ['sshd', 'bash', 'python3', 'curl', 'systemd', 'cron', 'nginx', 'node', 'java', 'sh'];

function doc(i: number, t: number): Record<string, unknown> {
  const p = procs[i % procs.length]!;
  return {
    '@timestamp': new Date(t).toISOString(),
    event: { category: ['process'], type: ['start'], kind: 'event', module: 'endpoint', dataset: 'endpoint.events.process' },
    host: { name: hosts[i % hosts.length], os: { type: 'linux', family: 'debian' } },
    user: { name: i % 7 === 0 ? 'root' : 'app', id: String(1000 + (i % 50)) },
    process: { name: p, pid: 1000 + (i % 30000), executable: `/usr/bin/${p}`, args: [`/usr/bin/${p}`, '-c', `job-${i % 1000}`], entity_id: `e-${i}`, parent: { name: 'bash', pid: 999, args: ['bash'] } },
    agent: { type: 'endpoint', version: '8.17.0' },
  };
}

function bulkBody(from: number, n: number, t: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += `{"create":{"_index":"${INDEX}"}}\n${JSON.stringify(doc(i, t))}\n`;
  return s;
}

function baselineSqlite(bodies: string[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sqlite-'));
  const db = new Database(join(dir, 'b.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE events(seq INTEGER PRIMARY KEY, idx INTEGER, id TEXT, ts INTEGER, source TEXT)');
  const ins = db.prepare('INSERT INTO events(idx, id, ts, source) VALUES (?, ?, ?, ?)');
  const docs = bodies.map((b) => b.split('\n').filter((_, i) => i % 2 === 1 && _.length > 0));
  const t0 = performance.now();
  let n = 0;
  for (const batch of docs) {
    db.transaction(() => {
      for (const d of batch) ins.run(1, `id${n}`, n++, d);
    })();
  }
  const ms = performance.now() - t0;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return (n / ms) * 1000;
}

/** `vigil serve` with streaming on, its data in `dir`. */
const startServe = (dir: string, extraArgs: string[] = [], auth = false): Promise<RunningServer> =>
  startServer(['--data', dir, '--streaming', ...extraArgs], { auth, nodeArgs: (process.env.VIGIL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) });

// node:http with keep-alive: a light client, so that the server gets the machine's cores
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
export function post(url: string, path: string, body: string, authorization?: string): Promise<string> {
  const u = new URL(url);
  const buf = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, path, method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': buf.length, ...(authorization ? { authorization } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    r.on('error', reject);
    r.end(buf);
  });
}


export async function benchIngest(total = 200_000, batch = 1000, concurrency = 4): Promise<BenchResult> {
  const lines: string[] = [];
  const now = Date.now();
  const bodies: string[] = [];
  for (let i = 0; i < total; i += batch) bodies.push(bulkBody(i, batch, now - 60_000));
  const bytes = bodies.reduce((a, b) => a + b.length, 0);
  const base = baselineSqlite(bodies);
  lines.push(`baseline: raw SQLite inserts (WAL, one transaction per ${batch})   ${Math.round(base).toLocaleString('en-US').padStart(9)} events/s`);

  const throughput = async (url: string, label: string, authorization?: string): Promise<number> => {
    let next = 0;
    let errors = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const text = await post(url, '/_bulk', body, authorization);
        if (!text.startsWith('{"took"') || text.includes('"errors":true')) errors++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const ms = performance.now() - t0;
    const rate = (total / ms) * 1000;
    lines.push(
      `vigil serve: POST /_bulk, ${batch}/request, ${concurrency} clients, ${label}  ${Math.round(rate).toLocaleString('en-US').padStart(9)} events/s (${((bytes / ms) * 1000 / 1048576).toFixed(1)} MiB/s, ${(rate / base * 100).toFixed(0)}% of baseline, ${total.toLocaleString('en-US')} events, ${errors} failed requests)`,
    );
    return rate;
  };

  // worst case first: a streaming rule whose literals every event has, so every document is parsed
  const worstDir = mkdtempSync(join(tmpdir(), 'vigil-bench-serve-'));
  const ruleFile = join(worstDir, 'every-process.ndjson');
  writeFileSync(ruleFile, `${JSON.stringify({ rule_id: 'bench-every-process', name: 'reads every process start, matches none', description: 'bench', type: 'eql', language: 'eql', query: 'process where event.type == "start" and process.pid < 0', severity: 'low', risk_score: 1, interval: '5m', from: 'now-6m', max_signals: 100, enabled: true, index: ['logs-*'], version: 1 })}\n`);
  const worst = await startServe(join(worstDir, 'data'), ['--rules', ruleFile]);
  try {
    await throughput(worst.url, 'seed rules + a rule that must parse every event, streaming');
  } finally {
    await worst.stop();
    rmSync(worstDir, { recursive: true, force: true });
  }

  // authentication on: every request carries basic auth, or an API key (the check is cached a minute, as in Elasticsearch)
  const authDir = mkdtempSync(join(tmpdir(), 'vigil-bench-serve-'));
  const secured = await startServe(authDir, [], true);
  try {
    const basic = `Basic ${Buffer.from(`elastic:${secured.password}`).toString('base64')}`;
    const key = JSON.parse(await new Promise<string>((resolve, reject) => {
      const u = new URL(secured.url);
      const r = http.request({ host: u.hostname, port: u.port, path: '/_security/api_key', method: 'POST', headers: { 'content-type': 'application/json', authorization: basic } }, (res) => {
        let t = '';
        res.on('data', (d: Buffer) => (t += d.toString()));
        res.on('end', () => resolve(t));
      });
      r.on('error', reject);
      r.end(JSON.stringify({ name: 'bench', role_descriptors: { ingest: {} } }));
    })) as { encoded: string };
    await throughput(secured.url, '2 seed rules streaming, authentication on (basic auth)', basic);
    await throughput(secured.url, '2 seed rules streaming, authentication on (API key)', `ApiKey ${key.encoded}`);
  } finally {
    await secured.stop();
    rmSync(authDir, { recursive: true, force: true });
  }

  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-serve-'));
  const s = await startServe(dir);
  try {
    await throughput(s.url, '2 seed rules streaming, authentication off (--insecure-no-auth)');

    // latency: one matching event per request while two clients keep bulk load going
    let load = true;
    let loadEvents = 0;
    const loader = async (): Promise<void> => {
      let k = 0;
      while (load) {
        const body = bodies[k++ % bodies.length]!;
        await post(s.url, '/_bulk', body);
        loadEvents += batch;
      }
    };
    const loaders = [loader(), loader()];
    const lat: number[] = [];
    const tl = performance.now();
    // 90 samples: the seed rule writes at most max_signals (100) alerts per 5-minute interval
    for (let i = 0; i < 90; i++) {
      const host = `lat-${i}-${now}`;
      const ev = {
        '@timestamp': new Date().toISOString(),
        event: { category: ['process'], type: ['start'] },
        host: { name: host },
        process: { name: 'bash', parent: { name: 'mysql', args: ['mysql', '-e', '\\!bash'] } },
      };
      const t = performance.now();
      await post(s.url, '/_bulk', `{"create":{"_index":"${INDEX}"}}\n${JSON.stringify(ev)}\n`);
      for (const deadline = t + 10_000; ; ) {
        if (performance.now() > deadline) throw new Error(`no alert for ${host} after 10 s`);
        const r = (await (await fetch(`${s.url}/api/alerts?size=1&host=${host}`)).json()) as { total: number };
        if (r.total > 0) break;
        await new Promise((res) => setTimeout(res, 2));
      }
      lat.push(performance.now() - t);
      await new Promise((res) => setTimeout(res, 10));
    }
    load = false;
    await Promise.all(loaders);
    const loadRate = (loadEvents / (performance.now() - tl)) * 1000;
    lines.push(
      `ingest-to-alert latency (streaming, 90 alerts, under ${Math.round(loadRate).toLocaleString('en-US')} events/s of bulk load): p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`,
    );
  } finally {
    agent.destroy();
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { title: `Ingest: vigil serve, SQLite store, ${(bytes / 1048576).toFixed(0)} MiB of ECS process events`, lines };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchIngest();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
