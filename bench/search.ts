import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vigil, type IngestItem } from '../src/app/index.js';
import { systemClock, peekEventTimes } from '../src/core/index.js';
import { generateEvents } from '../src/gen/index.js';
import { createServer, NO_SECURITY } from '../src/server/index.js';
import type { BenchResult } from './parse.js';

/**
 * `_search` over stored events (the Elasticsearch API, through the HTTP layer by inject): a `bool`
 * filter with a `terms` aggregation over every event, and the same over the last hour (the time
 * range bounds the store's scan), against a plain scan of the same rows in the same run (read and
 * JSON-parse each, nothing else). Best of a few rounds each, interleaved.
 */
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export async function benchSearch(events = Number(process.env.VIGIL_BENCH_SEARCH_EVENTS ?? 1_000_000)): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-search-'));
  const v = await Vigil.open({ dataDir: dir, rulePaths: [], clock: systemClock, scanThreads: 0 });
  const app = await createServer(v, { security: NO_SECURITY });
  try {
    const index = 'logs-endpoint.events-default';
    let batch: IngestItem[] = [];
    let last = '';
    for (const json of generateEvents({ events, seed: 11 })) {
      batch.push({ op: 'create', index, json, times: peekEventTimes(json) ?? undefined });
      if (batch.length === 5000) {
        await v.ingest(batch);
        batch = [];
      }
      last = json;
    }
    if (batch.length) await v.ingest(batch);
    const end = Date.parse((JSON.parse(last) as { '@timestamp': string })['@timestamp']);

    const plainScan = (): { ms: number; rows: number } => {
      const t0 = performance.now();
      let rows = 0;
      for (const e of v.documents.scan([index])) {
        JSON.parse(e.json);
        rows++;
      }
      return { ms: performance.now() - t0, rows };
    };
    const body = (gte?: string): unknown => ({
      size: 10,
      track_total_hits: true,
      query: { bool: { filter: [{ term: { 'event.category': 'process' } }, ...(gte ? [{ range: { '@timestamp': { gte } } }] : []), { exists: { field: 'process.name' } }], must_not: [{ term: { 'user.name': 'root' } }] } },
      aggs: { hosts: { terms: { field: 'host.name', size: 10 } } },
    });
    const search = async (q: unknown): Promise<{ ms: number; total: number }> => {
      const t0 = performance.now();
      const r = await app.inject({ method: 'POST', url: '/logs-*/_search', payload: q as object });
      const ms = performance.now() - t0;
      if (r.statusCode !== 200) throw new Error(`search failed: ${r.body}`);
      return { ms, total: (r.json() as { hits: { total: { value: number } } }).hits.total.value };
    };
    const rounds = Math.max(1, Number(process.env.VIGIL_BENCH_SEARCH_ROUNDS ?? 3));
    let scan = { ms: Infinity, rows: 0 };
    let all = { ms: Infinity, total: 0 };
    let hour = { ms: Infinity, total: 0 };
    const hourAgo = new Date(end - 3_600_000).toISOString();
    for (let k = 0; k < rounds; k++) {
      const s = plainScan();
      if (s.ms < scan.ms) scan = s;
      const a = await search(body());
      if (a.ms < all.ms) all = a;
      const h = await search(body(hourAgo));
      if (h.ms < hour.ms) hour = h;
    }
    return {
      title: `_search over ${fmt(events)} stored events (SQLite store, one thread; best of ${rounds})`,
      lines: [
        `plain scan of the same rows (read + JSON.parse): ${fmt(scan.ms)} ms, ${fmt(scan.rows / (scan.ms / 1000))} rows/s`,
        `bool filter (term, exists, must_not) + terms aggregation, all time: ${fmt(all.ms)} ms (${(all.ms / scan.ms).toFixed(2)}× the scan), ${fmt(all.total)} hits`,
        `the same over the last hour (range on @timestamp bounds the scan): ${fmt(hour.ms)} ms, ${fmt(hour.total)} hits`,
      ],
    };
  } finally {
    await app.close();
    await v.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
