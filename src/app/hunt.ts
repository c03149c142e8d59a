import { createReadStream, type ReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { buildAlerts, type BuiltAlert, type MatchedEvent, type RuleMatch } from '../alerts/index.js';
import { compileQuery, defaultParseTimestamp, RuleSet, type EventHit, type RuleSetHit, type SequenceHit } from '../engine/index.js';
import type { Rule } from '../rules/index.js';
import { NOT_AN_OBJECT, parseJsonObject } from '../core/index.js';
import { createIndexMatcher } from '../store/index.js';

/**
 * Offline hunt: every rule over every event in the given files, in one pass through a rule set.
 * Events get `_index` (the `--index` name, or `hunt`) and `_id` = `<file number>:<line>`, so alert
 * ids are stable across runs. Every match is reported unless `maxAlerts` caps it.
 */
export interface HuntOptions {
  readonly rules: readonly Rule[];
  readonly inputs: readonly string[];
  readonly stdin?: Readable;
  /** When given, events belong to this index and rule index patterns apply. */
  readonly index?: string;
  readonly maxAlerts?: number;
  /** Alert creation time (default now); fixed in tests for identical output. */
  readonly now?: number;
  readonly indexed?: boolean;
  /**
   * How far (ms) behind the newest event an event may come and still be put in order for sequences
   * (default one hour; files are expected roughly in time order). Infinity orders all input first.
   */
  readonly lateness?: number;
  readonly onProgress?: (p: HuntProgress) => void;
  /**
   * Worker threads (default: one per core). Each runs a share of the rules over every event, in
   * file order, so results do not depend on the count; 0 runs everything on this thread.
   */
  readonly workers?: number;
}

export interface HuntProgress {
  bytesTotal: number;
  bytesRead: number;
  events: number;
  badLines: number;
  files: number;
}

export interface BadLine {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface HuntResult {
  readonly alerts: BuiltAlert[];
  readonly events: number;
  readonly badLines: number;
  readonly badSamples: BadLine[];
  readonly rulesRun: number;
  readonly rulesSkipped: Array<{ rule_id: string; name: string; reason: string }>;
  readonly elapsedMs: number;
}

const EVENT_FILE = /\.(ndjson|jsonl|json)(\.gz)?$/i;

/** Expands folders (recursively, sorted) into event files; `-` is stdin. */
export async function expandInputs(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    const st = await stat(p);
    if (!st.isDirectory()) {
      out.push(p);
      continue;
    }
    const names = (await readdir(p)).sort();
    for (const n of names) {
      const full = join(p, n);
      const s = await stat(full);
      if (s.isDirectory()) out.push(...(await expandInputs([full])));
      else if (EVENT_FILE.test(n)) out.push(full);
    }
  }
  return out;
}

export function compileHuntRules(rules: readonly Rule[], index: string | undefined): { entries: Array<{ rule: Rule; query: NonNullable<ReturnType<typeof compileQuery> & { ok: true }>['query']; eventCategoryField?: string }>; skipped: HuntResult['rulesSkipped'] } {
  const entries = [];
  const skipped: HuntResult['rulesSkipped'] = [];
  for (const rule of rules) {
    if (rule.metadata?.maturity === 'deprecated') {
      skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: 'deprecated' });
      continue;
    }
    if (rule.type !== 'eql' || !rule.query) {
      skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: `type ${rule.type} is not run by hunt` });
      continue;
    }
    if (index !== undefined && rule.index && rule.index.length > 0 && !createIndexMatcher(rule.index)(index)) {
      skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: `its indices do not include ${index}` });
      continue;
    }
    const c = compileQuery(rule.query, { timestampField: rule.timestamp_override && rule.timestamp_override !== 'event.ingested' ? rule.timestamp_override : '@timestamp', eventCategoryField: rule.event_category_override ?? 'event.category' });
    if (!c.ok) {
      skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: c.diagnostics.find((d) => d.severity === 'error')?.message ?? 'does not compile' });
      continue;
    }
    entries.push({ rule, query: c.query, eventCategoryField: rule.event_category_override });
  }
  return { entries, skipped };
}

function matchOf(h: EventHit | SequenceHit): RuleMatch {
  const ev = (e: EventHit): MatchedEvent => {
    const t = defaultParseTimestamp(e._source['@timestamp']);
    return { index: e._index, id: e._id, version: 1, source: e._source, time: Number.isFinite(t) ? t : null };
  };
  if ('events' in h) return { kind: 'sequence', events: h.events.filter((e) => !e.missing).map(ev) };
  return { kind: 'event', event: ev(h) };
}

/** The alerts of one match; the unit that `maxAlerts` counts and that output is ordered by. */
export type AlertGroup = BuiltAlert[];

function groupKey(g: AlertGroup): [number, string] {
  const head = g[g.length - 1]!; // the sequence's own alert comes last, after its building blocks
  return [head.originalTime ?? 0, head.id];
}

/** Matches in a canonical order (time, then alert id), whatever thread found them; at most `max`. */
function finish(groups: AlertGroup[], max: number): BuiltAlert[] {
  const keyed = groups.map((g) => ({ g, k: groupKey(g) }));
  keyed.sort((a, b) => a.k[0] - b.k[0] || (a.k[1] < b.k[1] ? -1 : a.k[1] > b.k[1] ? 1 : 0));
  return keyed.slice(0, Number.isFinite(max) ? max : keyed.length).flatMap((x) => x.g);
}

/** Turns rule-set hits into alert groups. */
function huntAlerts(hits: ReadonlyArray<RuleSetHit<Rule>>, now: number, out: AlertGroup[]): void {
  for (const { rule, hit } of hits) {
    const m = matchOf(hit);
    if (m.kind === 'sequence' && m.events.length === 0) continue;
    out.push(buildAlerts({ rule, now, executionId: 'hunt' }, m));
  }
}

/** Lines of one input, in order, with their line numbers; bad lines are the caller's to report. */
async function* inputLines(file: string, o: HuntOptions, progress: HuntProgress): AsyncGenerator<{ line: string; lineNo: number }> {
  let raw: Readable;
  if (file === '-') raw = o.stdin ?? process.stdin;
  else {
    const rs: ReadStream = createReadStream(file);
    rs.on('data', (b) => (progress.bytesRead += b.length));
    raw = file.endsWith('.gz') ? rs.pipe(createGunzip()) : rs;
  }
  const lines = createInterface({ input: raw, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.length === 0 || line.trim() === '') continue;
    yield { line, lineNo };
  }
}

/**
 * A rule set fed event lines, one at a time and in order: what the main thread runs, and what each
 * worker thread runs with its share of the rules. Completed matches go out as alert groups.
 */
export class HuntFeed {
  private readonly hits: Array<RuleSetHit<Rule>> = [];

  constructor(
    private readonly set: RuleSet<Rule>,
    private readonly index: string,
    private readonly now: number,
  ) {}

  /** Line `lineNo` of input `fi`; null when it was an event, else why it is not one. */
  line(fi: number, line: string, lineNo: number, groups: AlertGroup[]): string | null {
    const p = parseJsonObject(line);
    if (!p.ok) return p.reason === NOT_AN_OBJECT ? 'not a JSON object' : p.reason;
    this.set.push({ _index: this.index, _id: `${fi}:${lineNo}`, _source: p.value }, this.hits);
    this.drain(groups);
    return null;
  }

  /** The end of the input: stateful rules report what they hold. */
  flush(groups: AlertGroup[]): void {
    this.set.flush(this.hits);
    this.drain(groups);
  }

  private drain(groups: AlertGroup[]): void {
    if (this.hits.length === 0) return;
    huntAlerts(this.hits, this.now, groups);
    this.hits.length = 0;
  }
}

export async function runHunt(o: HuntOptions): Promise<HuntResult> {
  const t0 = performance.now();
  const files = await expandInputs(o.inputs.length ? o.inputs : ['-']);
  const progress: HuntProgress = { bytesTotal: 0, bytesRead: 0, events: 0, badLines: 0, files: files.length };
  for (const f of files) if (f !== '-') progress.bytesTotal += (await stat(f)).size;
  const { entries, skipped } = compileHuntRules(o.rules, o.index);
  const now = o.now ?? Date.now();
  const index = o.index ?? 'hunt';
  const groups: AlertGroup[] = [];
  const badSamples: BadLine[] = [];
  const bad = (file: string, line: number, message: string): void => {
    progress.badLines++;
    if (badSamples.length < 20) badSamples.push({ file, line, message });
  };
  let lastReport = 0;
  const report = (): void => {
    if (!o.onProgress) return;
    const t = performance.now();
    if (t - lastReport > 200) {
      lastReport = t;
      o.onProgress(progress);
    }
  };
  const workers = Math.max(0, Math.min(o.workers ?? availableParallelism(), 64, entries.length));
  if (workers === 0) {
    const feed = new HuntFeed(new RuleSet(entries, { indexed: o.indexed, lateness: o.lateness ?? 3_600_000 }), index, now);
    for (let fi = 0; fi < files.length; fi++) {
      const file = files[fi]!;
      for await (const { line, lineNo } of inputLines(file, o, progress)) {
        const problem = feed.line(fi, line, lineNo, groups);
        if (problem !== null) {
          bad(file, lineNo, problem);
          continue;
        }
        progress.events++;
        if ((progress.events & 0x3fff) === 0) report();
      }
    }
    feed.flush(groups);
  } else {
    const pool = startHuntWorkers(workers, { rules: o.rules, index: o.index, now, lateness: o.lateness ?? 3_600_000, indexed: o.indexed !== false });
    try {
      const BATCH = 2000;
      // a few batches in flight so that no worker waits for the reader; their tallies in order
      const queue: Array<Promise<BatchTally>> = [];
      const settle = (t: BatchTally): void => {
        for (const b of t.bad) bad(files[t.fi]!, b.lineNo, b.message);
        progress.events += t.events;
        report();
      };
      for (let fi = 0; fi < files.length; fi++) {
        let lines: string[] = [];
        let lineNos: number[] = [];
        const send = async (): Promise<void> => {
          if (lines.length === 0) return;
          queue.push(pool.send({ fi, lines, lineNos }));
          lines = [];
          lineNos = [];
          if (queue.length >= 4) settle(await queue.shift()!);
        };
        for await (const { line, lineNo } of inputLines(files[fi]!, o, progress)) {
          lines.push(line);
          lineNos.push(lineNo);
          if (lines.length >= BATCH) await send();
        }
        await send();
      }
      while (queue.length) settle(await queue.shift()!);
      groups.push(...(await pool.flush()));
    } finally {
      await pool.close();
    }
  }
  o.onProgress?.(progress);
  const alerts = finish(groups, o.maxAlerts ?? Infinity);
  return { alerts, events: progress.events, badLines: progress.badLines, badSamples, rulesRun: entries.length, rulesSkipped: skipped, elapsedMs: performance.now() - t0 };
}

export interface HuntWorkerSetup {
  readonly rules: readonly Rule[];
  readonly index: string | undefined;
  readonly now: number;
  readonly lateness: number;
  readonly indexed: boolean;
}

/** What one batch came to: events parsed, and the lines that were not events. */
export interface BatchTally {
  readonly fi: number;
  events: number;
  readonly bad: Array<{ lineNo: number; message: string }>;
}

/** A worker's answer to a batch or to the final flush; alert groups come with either. */
export interface HuntWorkerReply {
  readonly id: number;
  readonly tally?: BatchTally;
  readonly groups?: AlertGroup[];
  readonly error?: string;
}

/**
 * N worker threads, each with every N-th rule; every batch of lines goes to all of them (parsing
 * is cheap beside the rules), so each rule sees every event in file order, as on one thread.
 */
function startHuntWorkers(n: number, setup: HuntWorkerSetup): {
  send(batch: { fi: number; lines: string[]; lineNos: number[] }): Promise<BatchTally>;
  flush(): Promise<AlertGroup[]>;
  close(): Promise<void>;
} {
  const url = new URL('./hunt-worker.js', import.meta.url);
  const workers = Array.from({ length: n }, (_, part) => new Worker(url, { workerData: { ...setup, part, parts: n } }));
  const groups: AlertGroup[] = [];
  const waiting = workers.map(() => new Map<number, (m: HuntWorkerReply) => void>());
  let seq = 0;
  workers.forEach((w, k) => {
    w.on('message', (m: HuntWorkerReply) => {
      if (m.groups) for (const g of m.groups) groups.push(g);
      const done = waiting[k]!.get(m.id);
      waiting[k]!.delete(m.id);
      done?.(m);
    });
    const fail = (e: Error): void => {
      for (const f of waiting[k]!.values()) f({ id: -1, error: e.message });
      waiting[k]!.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  });
  const ask = (k: number, msg: Record<string, unknown>): Promise<HuntWorkerReply> =>
    new Promise((resolve) => {
      const id = seq++;
      waiting[k]!.set(id, resolve);
      workers[k]!.postMessage({ ...msg, id });
    });
  const check = (r: HuntWorkerReply[]): void => {
    const err = r.find((x) => x.error);
    if (err) throw new Error(`a hunt worker failed: ${err.error}`);
  };
  return {
    async send(batch) {
      const r = await Promise.all(workers.map((_, k) => ask(k, { batch })));
      check(r);
      // every worker parses every line: the first one's tally stands for all
      return r[0]!.tally!;
    },
    async flush() {
      check(await Promise.all(workers.map((_, k) => ask(k, { flush: true }))));
      return groups;
    },
    async close() {
      for (const w of workers) w.removeAllListeners('exit');
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
