import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vigil } from '../src/app/index.js';
import { ManualClock } from '../src/core/index.js';
import { applyExceptions } from '../src/detect/index.js';
import { loadRules, type ExceptionItem, type Rule, type ValueList } from '../src/rules/index.js';
import type { BenchResult } from './parse.js';
import { hunt, writeGenerated, type HuntRun } from './hunt.js';
import { median } from './stats.js';

/**
 * Tuning at scale: hunt and streaming ingest with the corpus rules, each rule given 1,000 exception
 * items (match, wildcard, match_any, exists, nested shapes on the fields endpoint rules read) and one
 * item on a 100,000-entry value list, beside the same runs without them. The items except none of the
 * generated events, so both runs raise the same alerts (checked): the figure is what evaluating
 * exceptions costs.
 */
const SHARED = process.env.VIGIL_SHARED ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');
export const BENCH_LIST = 'bench-tuning';

/** 1,000 items of a shared list, the last on the value list `bench-names`. */
export function benchItems(): { items: ExceptionItem[]; valueLists: Map<string, ValueList> } {
  const item = (i: number, entries: ExceptionItem['entries']): ExceptionItem => ({ item_id: `bench-${i}`, list_id: BENCH_LIST, name: `bench ${i}`, description: '', entries, os_types: [], expire_time: null, namespace_type: 'single', tags: [], stage: null });
  const items: ExceptionItem[] = [];
  for (let i = 0; i < 999; i++) {
    switch (i % 4) {
      case 0:
        items.push(item(i, [{ type: 'match', field: 'process.executable', operator: 'included', value: `C:\\Program Files\\Vendor${i}\\agent.exe` }]));
        break;
      case 1:
        items.push(item(i, [{ type: 'wildcard', field: 'process.command_line', operator: 'included', value: `*--vendor-${i} *` }]));
        break;
      case 2:
        items.push(item(i, [{ type: 'match_any', field: 'user.name', operator: 'included', value: [`svc_${i}`, `svc_${i}_b`] }, { type: 'match', field: 'host.name', operator: 'included', value: `build-${i}` }]));
        break;
      default:
        items.push(item(i, [{ type: 'nested', field: 'process.code_signature', entries: [{ type: 'match', field: 'subject_name', operator: 'included', value: `Vendor ${i} Ltd` }, { type: 'exists', field: 'trusted', operator: 'included' }] }]));
    }
  }
  items.push(item(999, [{ type: 'list', field: 'process.name', operator: 'included', list: { id: 'bench-names', type: 'keyword' } }]));
  const names: ValueList = { id: 'bench-names', type: 'keyword', values: Array.from({ length: 100_000 }, (_, k) => `tool-${k}.exe`) };
  return { items, valueLists: new Map([[names.id, names]]) };
}

/** The rules, each naming the bench list. */
export function withBenchExceptions(rules: readonly Rule[]): Rule[] {
  const { items, valueLists } = benchItems();
  const named = rules.map((r) => ({ ...r, exceptions_list: [...(r.exceptions_list ?? []), { id: BENCH_LIST, list_id: BENCH_LIST, type: 'detection', namespace_type: 'single' }] }));
  return applyExceptions(named, items, valueLists, Date.now()).rules;
}

/** Streaming ingest of `lines` in requests of 500 with the corpus rules streaming; events/s and alerts. */
async function ingest(rules: readonly Rule[], lines: readonly string[], exceptions: boolean): Promise<{ perSec: number; alerts: number; openMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-tuning-'));
  try {
    const t0 = performance.now();
    const v = await Vigil.open({ dataDir: dir, memory: true, rulePaths: [], clock: new ManualClock(Date.parse('2026-11-23T12:00:00Z')), scanThreads: 0, streamingDefault: true });
    v.store.transaction(() => {
      for (const r of rules) v.store.rules.upsert({ ruleId: r.rule_id, body: r as unknown as Record<string, unknown>, origin: 'file', updated: 0, streaming: true });
    });
    if (exceptions) {
      const { items, valueLists } = benchItems();
      v.store.exceptions.putList(BENCH_LIST, { list_id: BENCH_LIST, name: 'bench', description: '', type: 'detection', namespace_type: 'single' });
      v.store.transaction(() => {
        for (const i of items) v.store.exceptions.putItem(i.item_id, i.list_id, i as unknown as Record<string, unknown>);
        for (const r of rules) v.store.exceptions.attach(r.rule_id, BENCH_LIST);
      });
      for (const l of valueLists.values()) v.store.exceptions.putValueList(l.id, l.type, l.values);
    }
    v.refreshRules();
    const openMs = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < lines.length; i += 500) {
      await v.ingest(lines.slice(i, i + 500).map((json) => ({ op: 'create' as const, index: `logs-${/"dataset":"([^"]+)"/.exec(json)?.[1] ?? 'generic'}-default`, json })));
    }
    const perSec = (lines.length / (performance.now() - t1)) * 1000;
    const alerts = v.store.alerts.search({ size: 0 }).total;
    await v.close();
    return { perSec, alerts, openMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchExceptions(events = Number(process.env.VIGIL_BENCH_TUNING_EVENTS ?? 300_000)): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-ex-'));
  const file = join(dir, 'events.ndjson');
  try {
    const lines = writeGenerated(file, events, 3, 60_000);
    const mib = statSync(file).size / 1048576;
    const out: string[] = [];
    // interleaved rounds, each figure the median
    const plain: HuntRun[] = [];
    const tuned: HuntRun[] = [];
    for (let k = 0; k < 3; k++) {
      plain.push(hunt(file, 1));
      tuned.push(hunt(file, 1, '', 'exceptions'));
    }
    const rate = (h: HuntRun): number => (h.events / h.ms) * 1000;
    if (plain[0]!.alerts !== tuned[0]!.alerts) throw new Error(`exceptions changed the hunt's alerts: ${plain[0]!.alerts} → ${tuned[0]!.alerts}`);
    const p = median(plain.map(rate));
    const t = median(tuned.map(rate));
    out.push(`hunt, ${plain[0]!.rules} corpus rules, 1 worker, ${events.toLocaleString('en-US')} events (${mib.toFixed(0)} MiB): without exceptions ${Math.round(p).toLocaleString('en-US')} events/s, with 1,000 items + a 100,000-value list on every rule ${Math.round(t).toLocaleString('en-US')} events/s (${((t / p) * 100).toFixed(0)}%), ${plain[0]!.alerts.toLocaleString('en-US')} alerts both (median of 3 interleaved)`);
    const rules = (await loadRules([join(SHARED, 'corpus', 'detection-rules')])).rules.filter((r) => r.metadata?.maturity !== 'deprecated');
    const as: Array<Awaited<ReturnType<typeof ingest>>> = [];
    const bs: Array<Awaited<ReturnType<typeof ingest>>> = [];
    for (let k = 0; k < 3; k++) {
      as.push(await ingest(rules, lines, false));
      bs.push(await ingest(rules, lines, true));
    }
    if (as[0]!.alerts !== bs[0]!.alerts) throw new Error(`exceptions changed the streamed alerts: ${as[0]!.alerts} → ${bs[0]!.alerts}`);
    const a = median(as.map((x) => x.perSec));
    const b = median(bs.map((x) => x.perSec));
    out.push(`streaming ingest, corpus rules streaming, ${lines.length.toLocaleString('en-US')} events in _bulk-sized batches of 500 (in process): without ${Math.round(a).toLocaleString('en-US')} events/s, with ${Math.round(b).toLocaleString('en-US')} events/s (${((b / a) * 100).toFixed(0)}%), ${as[0]!.alerts.toLocaleString('en-US')} alerts both (median of 3 interleaved); rules loaded and compiled in ${(median(as.map((x) => x.openMs)) / 1000).toFixed(1)} s without, ${(median(bs.map((x) => x.openMs)) / 1000).toFixed(1)} s with`);
    return { title: 'Tuning: exceptions on every corpus rule (1,000 items and a 100,000-entry value list)', lines: out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchExceptions();
  process.stdout.write(`## ${r.title}\n${r.lines.join('\n')}\n`);
}
