import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileQuery } from '../src/engine/index.js';
import type { BenchResult } from './parse.js';

/** Attacker-sized input: a long command line against many wildcard patterns, and a flood of keys. */
export function benchAdversarial(): BenchResult {
  const lines: string[] = [];
  // 1,000 multi-star patterns whose ends match and whose middle piece never does: each one scans
  // the whole value, the worst case for a wildcard matcher
  const patterns = Array.from({ length: 1000 }, (_, i) => `"*b c a*${i}q*zz"`);
  const c = compileQuery(`process where process.command_line : (${patterns.join(', ')})`);
  const re = compileQuery('process where process.command_line regex ".*(a|b)*c[0-9]{3}x.*"');
  if (!c.ok || !re.ok) throw new Error('bench query does not compile');
  const unit = 'a b c '.repeat(1 << 16); // 384 KiB
  lines.push('1,000 wildcard patterns vs one command line (no pattern matches: worst case):');
  for (const copies of [1, 2, 4]) {
    const cmd = `${unit.repeat(copies * 3).slice(0, (copies * 1048576) / 4 - 2)}zz`;
    const ev = { event: { category: 'process' }, process: { command_line: cmd } };
    const t0 = performance.now();
    const n = (c.query.run([ev]).events ?? []).length;
    const t = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < 1000; i++) cmd.indexOf(`${i}q`);
    const base = performance.now() - t1;
    const t2 = performance.now();
    re.query.run([ev]);
    const r = performance.now() - t2;
    lines.push(
      `  ${(cmd.length / 1024).toFixed(0).padStart(5)} KiB: wildcards ${t.toFixed(0).padStart(6)} ms (baseline 1,000 × indexOf ${base.toFixed(0)} ms), regex ${r.toFixed(0)} ms, hits ${n}`,
    );
  }
  lines.push('sequence flood, distinct keys, no sequence completes (each run in its own process):');
  const flood = join(dirname(fileURLToPath(import.meta.url)), 'flood.js');
  for (const [n, cap] of [
    [250_000, 1_000_000],
    [500_000, 1_000_000],
    [1_000_000, 1_000_000],
    [1_000_000, 100_000],
  ] as const) {
    const out = execFileSync(process.execPath, ['--expose-gc', flood, String(n), String(cap)], { encoding: 'utf8' });
    const r = JSON.parse(out) as { ms: number; heapMiB: number; maxRssMiB: number; open: number; dropped: number };
    lines.push(
      `  ${String(n).padStart(9)} keys, cap ${String(cap).padStart(9)}: ${r.ms.toFixed(0).padStart(6)} ms (${((n / r.ms) * 1000).toFixed(0)} events/s), heap ${r.heapMiB.toFixed(0)} MiB, peak RSS ${r.maxRssMiB.toFixed(0)} MiB, open ${r.open}, dropped by cap ${r.dropped}`,
    );
  }
  return { title: 'Adversarial input (time and memory should grow linearly; caps must hold)', lines };
}
