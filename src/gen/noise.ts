import { rng } from './generate-events.js';

/** Process names rules look for, by the kind of host they run on (`.exe` names are Windows'). */
export interface NamePools {
  readonly windows: readonly string[];
  readonly other: readonly string[];
}

/**
 * The process names that rule queries compare `process.name` or `process.parent.name` with (`:`,
 * `==`, `in`, `like`, with their case-insensitive forms): what detection rules look for, and so what
 * benign activity that resembles it carries.
 */
export function namesInQueries(queries: Iterable<string>): NamePools {
  const windows = new Set<string>();
  const other = new Set<string>();
  for (const q of queries)
    for (const m of q.matchAll(/process\.(?:parent\.)?name\s*(?::|==|in~?|like~?)\s*\(?([^)\n]*)/g))
      for (const v of m[1]!.matchAll(/"([A-Za-z0-9_.+-]{2,40})"/g)) (v[1]!.toLowerCase().endsWith('.exe') ? windows : other).add(v[1]!);
  return { windows: [...windows].sort(), other: [...other].sort() };
}

interface Doc {
  host?: { os?: { type?: string } };
  process?: { name?: unknown; parent?: Record<string, unknown> };
}

/**
 * Generated events made noisy the way real telemetry is where rules look: each process event gets
 * the parent and the name of other processes of the data, and a share of them (`share`, default one
 * half) a name and a parent name from `pools` (of the host's kind), so that many rules are
 * candidates and the broad ones fire on what is, here, background activity. Deterministic for a
 * seed. Lines that are not JSON objects are kept as they are.
 */
export function addNoise(lines: readonly string[], pools: NamePools, options: { seed?: number; share?: number } = {}): string[] {
  const r = rng(options.seed ?? 5);
  const share = options.share ?? 0.5;
  const docs = lines.map((l) => {
    try {
      const d = JSON.parse(l) as unknown;
      return d !== null && typeof d === 'object' && !Array.isArray(d) ? (d as Doc) : null;
    } catch {
      return null;
    }
  });
  const procs = docs.filter((d): d is Doc => d !== null && d.process?.parent !== undefined);
  procs.forEach((d, i) => {
    d.process!.parent = procs[(i * 7919) % procs.length]!.process!.parent;
    d.process!.name = procs[(i * 104729) % procs.length]!.process!.name;
    if (r() >= share) return;
    const pool = d.host?.os?.type === 'windows' ? pools.windows : pools.other;
    if (pool.length === 0) return;
    d.process!.name = pool[Math.floor(r() * pool.length)];
    d.process!.parent = { ...d.process!.parent, name: pool[Math.floor(r() * pool.length)] };
  });
  return docs.map((d, i) => (d === null ? lines[i]! : JSON.stringify(d)));
}
