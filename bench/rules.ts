import { readFileSync } from 'node:fs';
import { loadRules } from '../src/rules/index.js';
import { requireShared, walkFiles } from '../test/support/shared.js';
import type { BenchResult } from './parse.js';

/** Loading the whole detection-rules corpus, beside a baseline of reading the same files. */
export async function benchRules(): Promise<BenchResult> {
  const root = requireShared('corpus/detection-rules');
  const t0 = performance.now();
  const files = walkFiles(root, (p) => p.endsWith('.toml'));
  let bytes = 0;
  for (const f of files) bytes += readFileSync(f, 'utf8').length;
  const read = performance.now() - t0;
  const t1 = performance.now();
  const set = await loadRules([root]);
  const load = performance.now() - t1;
  return {
    title: `Rules: ${set.files.length} detection-rules files, ${(bytes / 1048576).toFixed(1)} MiB`,
    lines: [
      `baseline read files     ${read.toFixed(0).padStart(8)} ms`,
      `load + validate         ${load.toFixed(0).padStart(8)} ms   ${((set.rules.length / load) * 1000).toFixed(0)} rules/s (EQL queries parsed and checked)`,
    ],
  };
}
