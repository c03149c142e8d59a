import { generateEvents, indicatorDocuments, MIN_PLANT_EVERY } from '../gen/index.js';
import type { Io } from './program.js';

/** `vigil gen`: deterministic ECS events with planted attacks, NDJSON on stdout. */
export async function runGen(io: Io, opts: { events: string; seed: string; plantEvery?: string; indicators?: boolean }, write: (s: string) => boolean, drain: () => Promise<void>): Promise<number> {
  if (opts.indicators) {
    // the threat-intel indicators of the generated events, for hunt --indicators or a logs-ti_* index
    write(`${indicatorDocuments().join('\n')}\n`);
    return 0;
  }
  const events = Number(opts.events);
  const seed = Number(opts.seed);
  const plantEvery = opts.plantEvery === undefined ? undefined : Number(opts.plantEvery);
  if (!Number.isInteger(events) || events < 0 || !Number.isInteger(seed)) {
    io.err('vigil gen: --events and --seed take integers\n');
    return 2;
  }
  if (plantEvery !== undefined && !(Number.isInteger(plantEvery) && plantEvery >= MIN_PLANT_EVERY)) {
    io.err(`vigil gen: --plant-every takes an integer of at least ${MIN_PLANT_EVERY} (a plant may be ${MIN_PLANT_EVERY - 1} events), not ${opts.plantEvery}\n`);
    return 2;
  }
  let buf = '';
  for (const line of generateEvents({ events, seed, plantEvery })) {
    buf += `${line}\n`;
    if (buf.length > 1 << 20) {
      if (!write(buf)) await drain();
      buf = '';
    }
  }
  if (buf) write(buf);
  return 0;
}
