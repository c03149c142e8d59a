import { addNoise, generateEvents, namesInQueries } from '../../src/gen/index.js';
import { loadRules } from '../../src/rules/index.js';
import { startServer, type RunningServer } from './server.js';
import { requireShared } from './shared.js';

/** When the generated events begin; the server's manual clock starts just after them. */
export const CORPUS_T0 = Date.parse('2026-11-23T00:00:00Z');

export interface CorpusServer {
  readonly server: RunningServer;
  /** The events' time span, epoch ms. */
  readonly first: number;
  readonly last: number;
  /** Posts NDJSON events through `_bulk`, each to `logs-<event.dataset>-default`. */
  bulk(lines: readonly string[]): Promise<void>;
}

/** Generated events made noisy where the corpus rules look (broad rules fire on benign activity). */
export async function corpusEvents(n: number, seed: number, plantEvery: number): Promise<string[]> {
  const pools = namesInQueries((await loadRules([requireShared('corpus/detection-rules')])).rules.map((r) => r.query ?? ''));
  const out: string[] = [];
  let buf: string[] = [];
  let chunk = 0;
  for (const l of generateEvents({ events: n, seed, start: CORPUS_T0, plantEvery })) {
    buf.push(l);
    if (buf.length === 5000) {
      out.push(...addNoise(buf, pools, { seed: seed * 100 + ++chunk }));
      buf = [];
    }
  }
  out.push(...addNoise(buf, pools, { seed: seed * 100 + ++chunk }));
  return out;
}

/**
 * `vigil serve` with Elastic's whole rule corpus (deprecated rules left out, as by default), rules
 * streaming where they can, on a manual clock; `events` generated noisy events ingested, then the
 * clock moved past them so that every scheduled rule ran over them once.
 */
export async function startCorpusServer(dataDir: string, events: number, { seed = 11, plantEvery = 500, extraArgs = [] as string[], nodeArgs = [] as string[] } = {}): Promise<CorpusServer> {
  const lines = await corpusEvents(events, seed, plantEvery);
  const times = lines.map((l) => Date.parse(/"@timestamp":"([^"]+)"/.exec(l)?.[1] ?? '')).filter(Number.isFinite);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const server = await startServer(['--data', dataDir, '--rules', requireShared('corpus/detection-rules'), '--no-bundled-rules', '--streaming', '--clock', new Date(first).toISOString(), ...extraArgs], { startTimeoutMs: 120_000, nodeArgs });
  const bulk = async (batch: readonly string[]): Promise<void> => {
    for (let i = 0; i < batch.length; i += 2000) {
      const body = batch
        .slice(i, i + 2000)
        .map((l) => `{"create":{"_index":"logs-${/"dataset":"([^"]+)"/.exec(l)?.[1] ?? 'generic'}-default"}}\n${l}\n`)
        .join('');
      const r = await fetch(`${server.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const answer = (await r.json()) as { errors: boolean };
      if (answer.errors) throw new Error('bulk: some items failed');
    }
  };
  await bulk(lines);
  const moved = await fetch(`${server.url}/api/_clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ now: new Date(last + 10 * 60_000).toISOString() }) });
  if (!moved.ok) throw new Error(`clock: ${await moved.text()}`);
  return { server, first, last, bulk };
}
