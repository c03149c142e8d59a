import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import pg from 'pg';
import { STREAM } from '../src/cluster/index.js';
import { addNoise, generateEvents, namesInQueries } from '../src/gen/index.js';
import { loadRules } from '../src/rules/index.js';
import { startNatsCluster, type NatsServer } from '../test/support/nats.js';
import { startServer, type RunningServer } from '../test/support/server.js';
import { post } from './ingest.js';
import type { BenchResult } from './parse.js';
import { percentile as pct } from './stats.js';

/**
 * Cluster mode on this machine: bulk ingest and ingest-to-alert latency with the seed rules
 * streaming, embedded (one process, SQLite) beside one and three cluster nodes (a 3-server NATS
 * cluster, stream replicated 3 times, PostgreSQL), with the CPU each process used. Two cores
 * cannot show a speed-up; the CPU per event says what more machines would give.
 */
const INDEX = 'logs-endpoint.events.process-default';
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SHARED = process.env.VIGIL_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');
/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** Sends the bodies through the urls in turn, 4 requests at a time; events/s. */
async function ingest(urls: readonly string[], bodies: readonly string[], events: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      const text = await post(urls[(i + w) % urls.length]!, '/_bulk', bodies[i]!);
      if (text.includes('"errors":true')) throw new Error(`bulk failed: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return (events / (performance.now() - t0)) * 1000;
}

/** Starts `n` cluster nodes over the NATS servers and a PostgreSQL schema of their own (`extra`: more arguments, as rule files). */
async function startNodes(dir: string, nats: readonly NatsServer[], schema: string, name: string, n: number, extra: readonly string[], startTimeoutMs: number, procs: RunningServer[]): Promise<RunningServer[]> {
  const nodes: RunningServer[] = [];
  for (let k = 0; k < n; k++) {
    const s = await startServer(['--data', join(dir, `${name}-${k}`), '--streaming', ...extra, '--cluster', nats.map((x) => x.url).join(','), '--state', `${PG_URL}?schema=${schema}`, '--node-name', `${name}-${k}`, '--replicas', '3', '--partitions', '64'], { startTimeoutMs });
    procs.push(s);
    nodes.push(s);
  }
  return nodes;
}

/**
 * Sends the bodies through the nodes and waits until the cluster has taken them in (see `drain`):
 * the acknowledged and the end-to-end rate, the events sent on to key partitions, and the CPU
 * each node and then each NATS server used meanwhile.
 */
async function measure(nodes: readonly RunningServer[], nats: readonly NatsServer[], bodies: readonly string[], events: number, timeoutMs: number): Promise<{ rate: number; drained: number; forwarded: number; cpu: number[] }> {
  const pids = [...nodes.map((s) => s.proc.pid!), ...nats.map((s) => s.proc.pid!)];
  const before = pids.map(cpuSeconds);
  const t0 = performance.now();
  const rate = await ingest(nodes.map((s) => s.url), bodies, events);
  const forwarded = await drain(nodes, events, t0, timeoutMs);
  const drained = (events / (performance.now() - t0)) * 1000;
  return { rate, drained, forwarded, cpu: pids.map((p, i) => cpuSeconds(p) - before[i]!) };
}

/**
 * Waits until the nodes have stored and matched `events` read from their host partitions, matched
 * every event sent on to a key partition, and written their alerts to PostgreSQL; the events sent on.
 */
async function drain(nodes: readonly RunningServer[], events: number, t0: number, timeoutMs: number): Promise<number> {
  type View = { consumed: number; pending_alerts: number; forwarded: number; forwarded_in: number; forwarded_repeats: number };
  for (;;) {
    const views = await Promise.all(nodes.map(async (s) => (await (await fetch(`${s.url}/api/cluster`)).json()) as View));
    const sum = (f: (v: View) => number): number => views.reduce((a, v) => a + f(v), 0);
    if (sum((v) => v.consumed) >= events && sum((v) => v.forwarded_in + v.forwarded_repeats) >= sum((v) => v.forwarded) && views.every((v) => v.pending_alerts === 0)) return sum((v) => v.forwarded);
    if (performance.now() - t0 > timeoutMs) throw new Error(`the cluster did not take in the events within ${timeoutMs / 60_000} minutes: ${JSON.stringify(views)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A planted event of the mysql shell breakout seed rule, with its own entity id. */
function planted(i: number): string {
  const doc = {
    '@timestamp': new Date().toISOString(),
    event: { category: ['process'], type: ['start'], kind: 'event' },
    host: { name: `lat-${i % 5}`, id: `lat-${i % 5}`, os: { type: 'linux' } },
    process: { name: 'bash', executable: '/bin/bash', entity_id: `lat-${i}`, args: ['bash'], parent: { name: 'mysql', args: ['mysql', '-e', '\\!/bin/bash'] } },
  };
  return `{"create":{"_index":"${INDEX}"}}\n${JSON.stringify(doc)}\n`;
}

/** Ingest-to-alert: one planted event at a time, the time from the bulk's answer until `seen(i)` says its alert is there. */
async function latency(url: (i: number) => string, seen: (i: number) => Promise<boolean>, n = 20): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await post(url(i), '/_bulk', planted(i));
    while (!(await seen(i))) {
      if (performance.now() - t0 > 30_000) throw new Error(`ingest-to-alert: the alert of planted event ${i} did not come within 30 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  return out;
}

export async function benchCluster(events = 100_000): Promise<BenchResult> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-'));
  const all = [...generateEvents({ events, seed: 41, plantEvery: 5000 })];
  const bodies: string[] = [];
  for (let i = 0; i < all.length; i += 1000) bodies.push(all.slice(i, i + 1000).map((l) => `{"create":{"_index":"${INDEX}"}}\n${l}\n`).join(''));
  const procs: RunningServer[] = [];
  let nats: NatsServer[] = [];
  const db = new pg.Pool({ connectionString: PG_URL, max: 2 });
  db.on('error', () => undefined);
  const schemas: string[] = [];
  const row = (what: string, rate: number, cpu: number[], lat: number[], base: number): string =>
    `${what.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(7)} events/s (${((rate / base) * 100).toFixed(0)}% of embedded); CPU ${cpu.map((c) => `${c.toFixed(1)} s`).join(' + ')} = ${((cpu.reduce((a, b) => a + b, 0) / events) * 1e6).toFixed(0)} µs per event; ingest→alert p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`;
  try {
    // embedded: one process, SQLite
    const emb = await startServer(['--data', join(dir, 'embedded'), '--streaming']);
    procs.push(emb);
    const c0 = cpuSeconds(emb.proc.pid!);
    const embRate = await ingest([emb.url], bodies, events);
    const embCpu = [cpuSeconds(emb.proc.pid!) - c0];
    const embLat = await latency(
      () => emb.url,
      async (i) => {
        const r = await fetch(`${emb.url}/api/alerts?q=lat-${i}&size=1&building_blocks=true`);
        return ((await r.json()) as { total: number }).total > 0;
      },
    );
    await emb.stop();
    lines.push(row('embedded (vigil serve, SQLite)', embRate, embCpu, embLat, embRate));

    nats = await startNatsCluster(join(dir, 'nats'));
    // the third: the same three nodes with a sequence joined on the user whose first stage takes every
    // process start, so that most events are sent on to key partitions (what re-keying costs at most)
    const crossRules = join(dir, 'cross-host.ndjson');
    writeFileSync(crossRules, `${JSON.stringify({ rule_id: 'bench-cross-host', name: 'a user on two hosts', description: 'bench', type: 'eql', language: 'eql', query: 'sequence by user.name with maxspan=1m [process where event.type == "start"] [process where process.name == "never-seen.exe"]', severity: 'low', risk_score: 21, interval: '5m', from: 'now-6m', enabled: true, version: 1, index: ['logs-*'] })}\n`);
    for (const [n, cross] of [[1, false], [3, false], [3, true]] as const) {
      const schema = `vigil_bench_${process.pid}_${n}${cross ? 'x' : ''}`;
      schemas.push(schema);
      const nodes = await startNodes(dir, nats, schema, `b${n}${cross ? 'x' : ''}`, n, cross ? ['--rules', crossRules] : [], 60_000, procs);
      // let the partitions settle over the nodes
      await new Promise((r) => setTimeout(r, 3000));
      // until every event is stored and matched by its partition's owner
      const { rate, drained, forwarded, cpu } = await measure(nodes, nats, bodies, events, 600_000);
      const lat = await latency(
        (i) => nodes[i % nodes.length]!.url,
        async (i) => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.vigil_alerts WHERE doc->'process'->>'entity_id' = $1`, [`lat-${i}`])).rows[0]!.n) > 0,
      );
      lines.push(row(`cluster, ${n} node${n > 1 ? 's' : ''}${cross ? ' + a user-joined sequence' : ''} (acknowledged by JetStream)`, rate, cpu.slice(0, n), lat, embRate));
      lines.push(`  stored and matched by the owners: ${Math.round(drained).toLocaleString('en-US')} events/s end to end; NATS servers' CPU ${cpu.slice(n).map((c) => `${c.toFixed(1)} s`).join(' + ')}${cross ? `; ${forwarded.toLocaleString('en-US')} events (${((forwarded / events) * 100).toFixed(0)}%) sent on to key partitions and matched there` : ''}`);
      for (const s of nodes) await s.stop();
      // the next cluster starts with an empty event log
      const nc = await connect({ servers: nats.map((x) => x.url) });
      await (await nc.jetstreamManager()).streams.delete(STREAM).catch(() => null);
      await nc.close();
    }
    lines.push('(each Vigil node stores and matches only its partitions: with N machines, each takes about 1/N of the matching and storing; publishing and the NATS servers cost the rest)');
    lines.push(...(await corpusRun(dir, nats, db, schemas, procs)));
    return { title: `Cluster: ${events.toLocaleString('en-US')} generated events, seed rules streaming, on this 2-core machine`, lines };
  } finally {
    for (const s of procs) await s.stop(true).catch(() => null);
    for (const s of nats) await s.kill().catch(() => null);
    for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => null);
    await db.end().catch(() => null);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The whole corpus streaming over noisy events (broad rules fire on benign activity), embedded and
 * on three nodes: the rate, each node's CPU, the events sent on to key partitions (sequences whose
 * joins cross hosts), and the alerts each wrote.
 */
async function corpusRun(dir: string, nats: readonly NatsServer[], db: pg.Pool, schemas: string[], procs: RunningServer[], events = 30_000): Promise<string[]> {
  const corpus = join(SHARED, 'corpus', 'detection-rules');
  const pools = namesInQueries((await loadRules([corpus])).rules.map((r) => r.query ?? ''));
  const start = Date.now() - 3_600_000;
  const raw = [...generateEvents({ events, seed: 43, start })];
  const noisy: string[] = [];
  for (let i = 0; i < raw.length; i += 10_000) noisy.push(...addNoise(raw.slice(i, i + 10_000), pools, { seed: 43 + i }));
  const bodies: string[] = [];
  for (let i = 0; i < noisy.length; i += 1000) bodies.push(noisy.slice(i, i + 1000).map((l) => `{"create":{"_index":"${INDEX}"}}\n${l}\n`).join(''));
  const out: string[] = [`whole corpus (${corpus.split('/').slice(-2).join('/')}), streaming, ${events.toLocaleString('en-US')} noisy events, 4 clients:`];
  const emb = await startServer(['--data', join(dir, 'corpus-embedded'), '--streaming', '--rules', corpus], { startTimeoutMs: 120_000 });
  procs.push(emb);
  const c0 = cpuSeconds(emb.proc.pid!);
  const embRate = await ingest([emb.url], bodies, events);
  const embCpu = cpuSeconds(emb.proc.pid!) - c0;
  const embAlerts = ((await (await fetch(`${emb.url}/api/alerts?building_blocks=true&size=1`)).json()) as { total: number }).total;
  await emb.stop();
  out.push(`  embedded                                   ${Math.round(embRate).toLocaleString('en-US').padStart(7)} events/s; CPU ${embCpu.toFixed(1)} s = ${((embCpu / events) * 1e6).toFixed(0)} µs per event; ${embAlerts} alerts`);
  const schema = `vigil_bench_${process.pid}_corpus`;
  schemas.push(schema);
  const nodes = await startNodes(dir, nats, schema, 'corpus', 3, ['--rules', corpus], 120_000, procs);
  await new Promise((r) => setTimeout(r, 5000));
  const { rate, drained, forwarded, cpu } = await measure(nodes, nats, bodies, events, 900_000);
  // a sequence's last events wait out its lateness: the alerts counted once they stop coming
  let alerts = -1;
  for (let same = 0; same < 5; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const n = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.vigil_alerts`)).rows[0]!.n);
    same = n === alerts ? same + 1 : 0;
    alerts = n;
  }
  const nodeCpu = cpu.slice(0, 3);
  out.push(
    `  cluster, 3 nodes                           ${Math.round(rate).toLocaleString('en-US').padStart(7)} events/s acknowledged, ${Math.round(drained).toLocaleString('en-US')} events/s stored and matched; CPU ${nodeCpu.map((c) => `${c.toFixed(1)} s`).join(' + ')} = ${((nodeCpu.reduce((a, b) => a + b, 0) / events) * 1e6).toFixed(0)} µs per event (NATS ${cpu.slice(3).map((c) => `${c.toFixed(1)} s`).join(' + ')}); ${alerts} alerts`,
  );
  out.push(`  sent on to key partitions: ${forwarded.toLocaleString('en-US')} events (${((forwarded / events) * 100).toFixed(1)}% of the events), each matched once at its key's node`);
  for (const s of nodes) await s.stop();
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchCluster();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
