import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateEvents, plantedCounts } from '../src/gen/index.js';
import type { BenchResult } from './parse.js';

/**
 * Hunt with every rule of Elastic's corpus Vigil runs (active EQL rules, and KQL query, threshold and
 * new-terms rules) over one
 * generated file, beside the parse-only baseline (read + JSON.parse + touch five fields) of the same
 * file, on one worker and on all, and with the EQL rules alone on one worker; each hunt in its own
 * process, with its peak memory.
 */
const SHARED = process.env.VIGIL_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');

async function baseline(file: string): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  let touched = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const d = JSON.parse(line) as Record<string, Record<string, unknown> | undefined>;
    if (d['@timestamp'] !== undefined) touched++;
    if (d.event?.category !== undefined) touched++;
    if (d.host?.name !== undefined) touched++;
    if (d.process?.name !== undefined) touched++;
    if (d.user?.name !== undefined) touched++;
    n++;
  }
  if (touched === 0) throw new Error('no fields touched');
  return (n / (performance.now() - t0)) * 1000;
}

export interface HuntRun {
  events: number;
  ms: number;
  alerts: number;
  byRule: Record<string, number>;
  ran: string[];
  rules: number;
  maxRssKb: number;
}

/**
 * A hunt must find exactly the planted attacks of the rules it ran, or its figures mean nothing.
 * Other rules may fire too (on the planted activity, as new-terms rules on a first kill, or on
 * everything, as the onboarding sample rule): they are counted, not checked.
 */
function checkPlanted(h: HuntRun, events: number, workers: number): void {
  const ran = new Set(h.ran);
  const planted = plantedCounts({ events, seed: 1 });
  const expected = Object.fromEntries(Object.entries(planted).filter(([name]) => ran.has(name)));
  const found = JSON.stringify(Object.entries(h.byRule).filter(([name]) => name in planted).sort());
  if (found !== JSON.stringify(Object.entries(expected).sort())) throw new Error(`hunt on ${workers} workers found ${found}, planted ${JSON.stringify(expected)}`);
}

/**
 * A hunt with the corpus rules Vigil runs (EQL and KQL), or those of some types only (`eql`), in a
 * process of its own (see hunt-child.ts; `tuning` gives every rule the tuning bench's exceptions).
 */
export function hunt(file: string, workers: number, types = '', tuning = ''): HuntRun {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'hunt-child.js');
  const r = spawnSync(process.execPath, [child, join(SHARED, 'corpus', 'detection-rules'), file, String(workers), '', types, tuning], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`hunt failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as HuntRun;
}

/** Writes `events` generated events (seed `seed`) to `file`, 10,000 lines at a time; returns the first `keep` lines. */
export function writeGenerated(file: string, events: number, seed: number, keep = 0): string[] {
  const fd = openSync(file, 'w');
  const kept: string[] = [];
  let buf: string[] = [];
  for (const l of generateEvents({ events, seed })) {
    buf.push(l);
    if (kept.length < keep) kept.push(l);
    if (buf.length === 10_000) {
      writeSync(fd, buf.join('\n') + '\n');
      buf = [];
    }
  }
  if (buf.length) writeSync(fd, buf.join('\n') + '\n');
  closeSync(fd);
  return kept;
}

/** Alerts of rules that have no plant (they fire on the plants' activity or on background). */
function othersOf(h: HuntRun, events: number): number {
  const planted = plantedCounts({ events, seed: 1 });
  return Object.entries(h.byRule).reduce((n, [name, k]) => (name in planted ? n : n + k), 0);
}

export async function benchHunt(events = Number(process.env.VIGIL_BENCH_HUNT_EVENTS ?? 1_000_000)): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-hunt-'));
  const file = join(dir, 'events.ndjson');
  const lines: string[] = [];
  try {
    writeGenerated(file, events, 1);
    const mib = statSync(file).size / 1048576;
    const all = availableParallelism();
    // rounds of baseline, one worker, all workers, interleaved; each figure is its best round, since
    // a slow spell of the machine (runs of the same build here differ by 20%) hits one run, not a round
    const rounds = Math.max(1, Number(process.env.VIGIL_BENCH_HUNT_ROUNDS ?? 3));
    let base = 0;
    let one: HuntRun | null = null;
    let eqlOnly: HuntRun | null = null;
    let many: HuntRun | null = null;
    const rate = (h: HuntRun): number => (h.events / h.ms) * 1000;
    const rounds1: number[] = [];
    const roundsN: number[] = [];
    for (let k = 0; k < rounds; k++) {
      base = Math.max(base, await baseline(file));
      const h1 = hunt(file, 1);
      const hN = hunt(file, all);
      const hE = hunt(file, 1, 'eql');
      checkPlanted(h1, events, 1);
      checkPlanted(hE, events, 1);
      if (eqlOnly === null || rate(hE) > rate(eqlOnly)) eqlOnly = hE;
      checkPlanted(hN, events, all);
      rounds1.push(rate(h1));
      roundsN.push(rate(hN));
      if (one === null || rate(h1) > rate(one)) one = h1;
      if (many === null || rate(hN) > rate(many)) many = hN;
    }
    const rate1 = rate(one!);
    const rateN = rate(many!);
    const list = (xs: number[]): string => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(', ');
    lines.push(`best of ${rounds} interleaved rounds (1 worker: ${list(rounds1)}; ${all} workers: ${list(roundsN)} events/s)`);
    lines.push(`baseline: read + JSON.parse + touch 5 fields      ${Math.round(base).toLocaleString('en-US').padStart(9)} events/s`);
    lines.push(`vigil hunt, ${one!.rules} corpus rules (EQL and KQL), 1 worker ${Math.round(rate1).toLocaleString('en-US').padStart(9)} events/s (${((rate1 / base) * 100).toFixed(1)}% of baseline; floor 50%), ${one!.alerts.toLocaleString('en-US')} alerts (the planted ones and ${othersOf(one!, events).toLocaleString('en-US')} of other rules), peak RSS ${Math.round(one!.maxRssKb / 1024)} MiB`);
    lines.push(`vigil hunt, ${eqlOnly!.rules} corpus EQL rules alone, 1 worker ${Math.round(rate(eqlOnly!)).toLocaleString('en-US').padStart(9)} events/s (${((rate(eqlOnly!) / base) * 100).toFixed(1)}% of baseline), ${eqlOnly!.alerts.toLocaleString('en-US')} alerts: the KQL rules (query, threshold, new terms) cost ${((1 - rate1 / rate(eqlOnly!)) * 100).toFixed(0)}% of its speed`);
    lines.push(`vigil hunt, ${many!.rules} corpus rules, ${all} workers     ${Math.round(rateN).toLocaleString('en-US').padStart(9)} events/s (${(rateN / rate1).toFixed(2)}× one worker; floor 1.7×), ${many!.alerts.toLocaleString('en-US')} alerts, peak RSS ${Math.round(many!.maxRssKb / 1024)} MiB (floor 1 GiB)`);
    return { title: `Hunt: ${events.toLocaleString('en-US')} generated events (${mib.toFixed(0)} MiB)`, lines };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchHunt();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
