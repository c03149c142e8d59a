import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEvents } from '../src/gen/index.js';
import { startServer, type RunningServer } from '../test/support/server.js';
import type { BenchResult } from './parse.js';
import { percentile as pct } from './stats.js';

/**
 * Whether heavy work holds the server: the latency of `GET /api/health` and of a 2-event `_bulk`
 * while (a) a scheduled rule runs a 30-day sequence over every stored event, (b) a search that
 * would backtrack for hours runs until its budget stops it; beside the same probes on the idle
 * server (the baseline). Issue 29's floor: no API call holds ingest more than 50 ms.
 */
const T0 = Date.parse('2026-11-23T00:00:00Z');
const json = { 'content-type': 'application/json' };

interface Probes {
  health: number[];
  bulk: number[];
}

/** Probes health and a small bulk, in turn, every 20 ms, until `busy` settles; the latencies. */
async function probeWhile(url: string, busy: Promise<unknown>): Promise<Probes> {
  const out: Probes = { health: [], bulk: [] };
  let done = false;
  void busy.finally(() => (done = true));
  let i = 0;
  while (!done) {
    let t = performance.now();
    await fetch(`${url}/api/health`).then((r) => r.arrayBuffer());
    out.health.push(performance.now() - t);
    t = performance.now();
    const ts = new Date(T0 + 3_600_000 + i++).toISOString();
    await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `{"create":{"_index":"logs-probe"}}\n{"@timestamp":"${ts}","n":1}\n{"create":{"_index":"logs-probe"}}\n{"@timestamp":"${ts}","n":2}\n` }).then((r) => r.arrayBuffer());
    out.bulk.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

const line = (what: string, p: Probes): string =>
  `${what.padEnd(68)} health p50 ${pct(p.health, 50).toFixed(1).padStart(6)} ms, max ${Math.max(...p.health).toFixed(1).padStart(7)} ms; 2-event _bulk p50 ${pct(p.bulk, 50).toFixed(1).padStart(6)} ms, max ${Math.max(...p.bulk).toFixed(1).padStart(7)} ms (${p.health.length} probes)`;

export async function benchBudgets(events = 200_000): Promise<BenchResult> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-budgets-'));
  let s: RunningServer | null = null;
  try {
    const rules = join(dir, 'rules.ndjson');
    writeFileSync(
      rules,
      `${JSON.stringify({ rule_id: 'heavy-30d', name: 'A 30-day sequence that never completes', description: 'bench', type: 'eql', language: 'eql', query: 'sequence by user.name with maxspan=30d [process where true] [any where true] [file where process.name == "never.exe"]', severity: 'low', risk_score: 21, interval: '5m', from: 'now-2h', max_signals: 100, enabled: true, version: 1, index: ['logs-*'] })}\n`,
    );
    s = await startServer(['--data', join(dir, 'data'), '--no-bundled-rules', '--rules', rules, '--clock', new Date(T0 + 3_600_000).toISOString(), '--search-timeout', '5s']);
    const all = [...generateEvents({ events, seed: 21, start: T0 })];
    for (let i = 0; i < all.length; i += 5000) {
      const body = all.slice(i, i + 5000).map((l) => `{"create":{"_index":"logs-endpoint.events.bench"}}\n${l}\n`).join('');
      const r = await fetch(`${s.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      if (r.status !== 200) throw new Error(`bulk: ${r.status}`);
    }
    const idle = await probeWhile(s.url, new Promise((r) => setTimeout(r, 2000)));
    lines.push(line('baseline: idle server', idle));
    const t0 = performance.now();
    const run = fetch(`${s.url}/api/_clock`, { method: 'POST', headers: json, body: JSON.stringify({ now: new Date(T0 + 3_600_000 + 5 * 60_000).toISOString() }) }).then((r) => r.arrayBuffer());
    const during = await probeWhile(s.url, run);
    const runMs = performance.now() - t0;
    lines.push(line(`a 30-day sequence over ${events.toLocaleString('en-US')} events (${(runMs / 1000).toFixed(1)} s)`, during));
    await fetch(`${s.url}/logs-evil/_doc?refresh=true`, { method: 'POST', headers: json, body: JSON.stringify({ '@timestamp': new Date(T0).toISOString(), message: 'a'.repeat(40) }) });
    let status = 0;
    const evil = fetch(`${s.url}/logs-evil/_search`, { method: 'POST', headers: json, body: JSON.stringify({ query: { regexp: { message: '(a+)+b' } } }) }).then((r) => {
      status = r.status;
      return r.arrayBuffer();
    });
    const searching = await probeWhile(s.url, evil);
    lines.push(line(`a backtracking regexp search, stopped by --search-timeout 5s (${status})`, searching));
    return { title: `Budgets: the API while heavy work runs (${events.toLocaleString('en-US')} generated events)`, lines };
  } finally {
    await s?.stop(true).catch(() => null);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchBudgets();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
