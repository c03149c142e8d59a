/**
 * One sequence flood in a process of its own, so that its memory is its own:
 * `node dist/bench/flood.js KEYS CAP` prints one JSON line.
 */
import { compileQuery } from '../src/engine/index.js';

const n = Number(process.argv[2]);
const cap = Number(process.argv[3]);
// no maxspan: nothing expires, so only the cap bounds the state
const q = compileQuery('sequence by user.name [authentication where true] [process where true]', { maxOpenSequences: cap });
if (!q.ok) throw new Error('bench query does not compile');
const m = q.query.createMatcher();
const t0 = performance.now();
for (let i = 0; i < n; i++) m.push({ '@timestamp': 1_700_000_000_000 + i, event: { category: 'authentication' }, user: { name: `user-${i}` } });
const ms = performance.now() - t0;
(globalThis as { gc?: () => void }).gc?.();
process.stdout.write(
  `${JSON.stringify({ n, cap, ms, heapMiB: process.memoryUsage().heapUsed / 1048576, maxRssMiB: process.resourceUsage().maxRSS / 1024, open: m.openSequences(), dropped: m.counters.sequence!.droppedByCap })}\n`,
);
