import { createReadStream, type ReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { buildAlerts, type BuiltAlert, type MatchedEvent, type RuleMatch } from '../alerts/index.js';
import { compileQuery, defaultParseTimestamp, RuleSet, type EventHit, type RuleSetHit, type SequenceHit } from '../engine/index.js';
import type { Rule } from '../rules/index.js';
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

export async function runHunt(o: HuntOptions): Promise<HuntResult> {
  const t0 = performance.now();
  const files = await expandInputs(o.inputs.length ? o.inputs : ['-']);
  const progress: HuntProgress = { bytesTotal: 0, bytesRead: 0, events: 0, badLines: 0, files: files.length };
  for (const f of files) if (f !== '-') progress.bytesTotal += (await stat(f)).size;
  const { entries, skipped } = compileHuntRules(o.rules, o.index);
  const set = new RuleSet(entries, { indexed: o.indexed, lateness: o.lateness ?? 3_600_000 });
  const now = o.now ?? Date.now();
  const index = o.index ?? 'hunt';
  const alerts: BuiltAlert[] = [];
  const badSamples: BadLine[] = [];
  const max = o.maxAlerts ?? Infinity;
  let matches = 0;
  const take = (hits: Array<RuleSetHit<Rule>>): void => {
    for (const { rule, hit } of hits) {
      if (matches >= max) return;
      const m = matchOf(hit);
      if (m.kind === 'sequence' && m.events.length === 0) continue;
      matches++;
      alerts.push(...buildAlerts({ rule, now, executionId: 'hunt' }, m));
    }
  };
  const hits: Array<RuleSetHit<Rule>> = [];
  let lastReport = 0;
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi]!;
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
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch (e) {
        progress.badLines++;
        if (badSamples.length < 20) badSamples.push({ file, line: lineNo, message: (e as Error).message });
        continue;
      }
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
        progress.badLines++;
        if (badSamples.length < 20) badSamples.push({ file, line: lineNo, message: 'not a JSON object' });
        continue;
      }
      progress.events++;
      set.push({ _index: index, _id: `${fi}:${lineNo}`, _source: doc as Record<string, unknown> }, hits);
      if (hits.length) {
        take(hits);
        hits.length = 0;
      }
      if (o.onProgress && (progress.events & 0x3fff) === 0) {
        const t = performance.now();
        if (t - lastReport > 200) {
          lastReport = t;
          o.onProgress(progress);
        }
      }
    }
  }
  set.flush(hits);
  take(hits);
  o.onProgress?.(progress);
  return { alerts, events: progress.events, badLines: progress.badLines, badSamples, rulesRun: entries.length, rulesSkipped: skipped, elapsedMs: performance.now() - t0 };
}
