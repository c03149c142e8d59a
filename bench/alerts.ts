import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEvents } from '../src/gen/index.js';
import type { BenchResult } from './parse.js';

/**
 * What alerts cost: `vigil hunt` (the CLI, one worker, alerts written as NDJSON to a file) with every
 * corpus rule over generated events, without and with one more rule that matches one event in ten
 * (a label set on every tenth event). The difference in time is the cost of building and writing
 * that rule's alerts; alerts per second is their number over that difference.
 */
const SHARED = process.env.VIGIL_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');
const CORPUS = join(SHARED, 'corpus', 'detection-rules');
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

const ONE_IN_TEN = {
  rule_id: 'bench-one-in-ten',
  name: 'Matches one event in ten',
  description: 'bench: a rule that fires on every tenth generated event',
  type: 'eql',
  language: 'eql',
  query: 'any where labels.bench == "one-in-ten"',
  severity: 'low',
  risk_score: 21,
  interval: '5m',
  from: 'now-6m',
  max_signals: 100,
  enabled: true,
  index: ['logs-*'],
  version: 1,
};

function hunt(rules: string[], events: string, out: string): { ms: number; alerts: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [MAIN, 'hunt', '--rules', ...rules, '--events', events, '--workers', '1', '--format', 'ndjson', '-o', out, '--no-progress'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`hunt failed (${r.status}): ${r.stderr}`);
  const text = readFileSync(out, 'utf8');
  let alerts = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) alerts++;
  return { ms, alerts };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function benchAlerts(events = Number(process.env.VIGIL_BENCH_ALERTS_EVENTS ?? 200_000)): BenchResult {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-alerts-'));
  try {
    const file = join(dir, 'events.ndjson');
    const fd = openSync(file, 'w');
    let buf: string[] = [];
    let i = 0;
    for (const l of generateEvents({ events, seed: 4 })) {
      // every tenth event carries the label the extra rule looks for
      buf.push(i++ % 10 === 9 ? l.replace(/^\{/, '{"labels":{"bench":"one-in-ten"},') : l);
      if (buf.length === 10_000) {
        writeSync(fd, buf.join('\n') + '\n');
        buf = [];
      }
    }
    if (buf.length) writeSync(fd, buf.join('\n') + '\n');
    closeSync(fd);
    const extra = join(dir, 'one-in-ten.ndjson');
    writeFileSync(extra, `${JSON.stringify(ONE_IN_TEN)}\n`);
    // interleaved rounds; each figure is its best round (the machine is noisy)
    const rounds = Math.max(1, Number(process.env.VIGIL_BENCH_ALERTS_ROUNDS ?? 2));
    let base: { ms: number; alerts: number } | null = null;
    let more: { ms: number; alerts: number } | null = null;
    for (let k = 0; k < rounds; k++) {
      const b = hunt([CORPUS], file, join(dir, 'base.ndjson'));
      const m = hunt([CORPUS, extra], file, join(dir, 'more.ndjson'));
      if (base === null || b.ms < base.ms) base = b;
      if (more === null || m.ms < more.ms) more = m;
    }
    const added = more!.alerts - base!.alerts;
    const extraMs = Math.max(1, more!.ms - base!.ms);
    return {
      title: `Alerts: a hunt where one rule matches one event in ten, ${fmt(events)} generated events`,
      lines: [
        `baseline: vigil hunt, corpus rules, 1 worker, NDJSON to a file   ${fmt((events / base!.ms) * 1000).padStart(9)} events/s, ${fmt(base!.alerts)} alerts, ${(base!.ms / 1000).toFixed(2)} s (whole command)`,
        `the same + a rule matching one event in ten                      ${fmt((events / more!.ms) * 1000).padStart(9)} events/s (${((base!.ms / more!.ms) * 100).toFixed(0)}% of baseline), ${fmt(more!.alerts)} alerts, ${(more!.ms / 1000).toFixed(2)} s`,
        `alerts built and written: ${fmt(added)} more in ${(extraMs / 1000).toFixed(2)} s more = ${fmt((added / extraMs) * 1000)} alerts/s (best of ${rounds} interleaved rounds)`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = benchAlerts();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
