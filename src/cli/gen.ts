import { generateEvents } from '../gen/index.js';
import type { Io } from './program.js';

/** `vigil gen`: deterministic ECS events with planted attacks, NDJSON on stdout. */
export async function runGen(io: Io, opts: { events: string; seed: string; plantEvery?: string }, write: (s: string) => boolean, drain: () => Promise<void>): Promise<number> {
  const events = Number(opts.events);
  const seed = Number(opts.seed);
  if (!Number.isInteger(events) || events < 0 || !Number.isInteger(seed)) {
    io.err('vigil gen: --events and --seed take integers\n');
    return 2;
  }
  let buf = '';
  for (const line of generateEvents({ events, seed, plantEvery: opts.plantEvery ? Number(opts.plantEvery) : undefined })) {
    buf += `${line}\n`;
    if (buf.length > 1 << 20) {
      if (!write(buf)) await drain();
      buf = '';
    }
  }
  if (buf) write(buf);
  return 0;
}
