import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type BuiltAlert, type MatchedEvent, type RuleMatch, type TermValue } from '../alerts/index.js';
import { compileStatement, defaultParseTimestamp, FIELDS_ONLY, IndicatorIndex, NewTermsTracker, RuleIndex, StatefulRules, TermsReader, ThresholdCounter, type IndicatorDoc, type CompiledQuery, type EventHit, type QueryOptions, type EventText, type Verdict, type RuleSetHit, type SequenceHit, type StatefulCode } from '../engine/index.js';
import { parseQuery, type Statement } from '../eql/index.js';
import { isAggregating, isKqlRule, newTermsParams, queryTimestampField, thresholdParams, threatMatchParams, typeParamsProblem, type Rule, type ThreatMatchParams } from '../rules/index.js';
import { enrichmentOf, indicatorTest, ruleStatement } from '../detect/index.js';
import { createFieldGetter, parseFieldPath } from '../ecs/index.js';
import { ruleKqlStatement } from '../kql/index.js';
import { createIndexMatcher, eventDocument, JsonProjector, NOT_AN_OBJECT, ownString, parseJsonObject, peekTimestamp, projection } from '../core/index.js';
import { AlertSpool, type GroupText } from './alert-spool.js';
import { ChunkPool, inputChunks, InputError, type HuntChunk } from './hunt-input.js';
import { huntGroup, HuntSuppressor } from './hunt-suppression.js';

/**
 * Offline hunt: every rule over every event in the given files, in one pass through a rule set.
 * Events get `_index` (the `--index` name, or `hunt`) and `_id` = `<file number>:<line>`, so alert
 * ids are stable across runs. Every match is reported unless `maxAlerts` caps it.
 */
export interface HuntOptions {
  readonly rules: readonly Rule[];
  readonly inputs: readonly string[];
  /**
   * Files of indicator documents (NDJSON; Elasticsearch hits too) for indicator-match rules: those
   * of them the rule's indicator query and filters take are its indicators. Without any, such rules
   * are skipped.
   */
  readonly indicators?: readonly string[];
  /** Run the rules Elastic has deprecated too (skipped by default, as by the service). */
  readonly includeDeprecated?: boolean;
  readonly stdin?: Readable;
  /** When given, events belong to this index and rule index patterns apply. */
  readonly index?: string;
  readonly maxAlerts?: number;
  /**
   * Alerts held in memory before they are written, sorted, to a temporary file (default 50,000; see
   * AlertSpool), and the folder that file goes in (default: the system's).
   */
  readonly holdAlerts?: number;
  readonly spillDir?: string;
  /** Alert creation time (default now); fixed in tests for identical output. */
  readonly now?: number;
  readonly indexed?: boolean;
  /**
   * How far (ms) behind the newest event an event may come and still be put in order for sequences
   * (default 0: inputs are taken to be in time order, and events that are not are counted in
   * `outOfOrder`). Infinity orders all input first, holding the candidates of stateful rules.
   */
  readonly lateness?: number;
  readonly onProgress?: (p: HuntProgress) => void;
  /**
   * Worker threads. Each parses and scans every N-th chunk of input with all rules; stateful rules
   * then run on this thread over their events in input order, so results do not depend on the
   * count. 0 does everything on this thread. Default: see `defaultWorkers`.
   */
  readonly workers?: number;
  /**
   * Whether the workers work out the verdicts of stateful rules on the events they take (see
   * Verdict), so that this thread feeds them without parsing them. Default: with VERDICT_WORKERS
   * workers or more, where this thread would otherwise set the pace.
   */
  readonly verdicts?: boolean;
  /**
   * The longest line read, in bytes (default 64 MiB: no shipper sends an event that long). A line of
   * this length or more is a bad line, skipped without being held: a binary file among the logs must
   * not fill the memory.
   */
  readonly maxLineBytes?: number;
  /**
   * Partial sequences, and join keys holding a partial sample, kept per rule (default 1,000,000);
   * beyond it the oldest are given up and counted in `droppedByCap`.
   */
  readonly maxOpenPerRule?: number;
  /**
   * Only the events whose `@timestamp` lies in [from, to] (epoch ms, both ends in) are hunted; the
   * others, and events without a readable timestamp, are counted in `outsideWindow`. Default: all.
   */
  readonly from?: number;
  readonly to?: number;
}

export interface HuntProgress {
  bytesTotal: number;
  bytesRead: number;
  events: number;
  badLines: number;
  files: number;
  /** Matches so far (a sequence is one; samples are found only at the end of the input). */
  matches: number;
}

export interface BadLine {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/**
 * An input that could not be read to its end (a truncated or corrupt gzip file, a file that vanished
 * or cannot be opened): its lines up to `line` were hunted, and the hunt went on with the others.
 */
export interface ReadError {
  readonly file: string;
  /** The last whole line read before the error (0: none). */
  readonly line: number;
  readonly message: string;
}

export interface HuntResult {
  /** Every match's alerts (a sequence's building blocks, then its own), matches in time order, then id; at most `maxAlerts` matches. */
  readonly alerts: BuiltAlert[];
  readonly events: number;
  readonly badLines: number;
  readonly badSamples: BadLine[];
  /** Inputs not read to their end; the rest of the input was still hunted. */
  readonly readErrors: ReadError[];
  /** Files in the folders given that were not read: their names are not those of event files. */
  readonly passedOver: string[];
  /** Folders that could not be listed and files that are not regular files, with why. */
  readonly skipped: SkippedInput[];
  readonly rulesRun: number;
  /**
   * The rules not run, with why; `group` files the reason ('deprecated', the rule's type when it is
   * not EQL, 'other indices'), and is null for a query that does not compile.
   */
  readonly rulesSkipped: Array<{ rule_id: string; name: string; reason: string; group: string | null }>;
  /** Events that reached a sequence (or sample) after a later event: input not in time order. */
  readonly outOfOrder: number;
  /**
   * Partial sequences and samples given up because a rule held the most open ones it keeps
   * (`maxOpenPerRule`; the oldest go first).
   */
  readonly droppedByCap: number;
  /** Events outside the time window asked for (`from`, `to`), not hunted. */
  readonly outsideWindow: number;
  readonly elapsedMs: number;
  /** The worker threads that scanned (0: the main thread did). */
  readonly workers: number;
}

/**
 * A hunt's result with its alerts in a spool, to be walked in order (`alerts.ordered(maxAlerts)`)
 * and closed: what `vigil hunt` writes out, without holding millions of alerts in memory.
 */
export interface SpooledHuntResult extends Omit<HuntResult, 'alerts'> {
  readonly alerts: AlertSpool;
}

const EVENT_FILE = /\.(ndjson|jsonl|json)(\.gz)?$/i;

/** A folder or file found in the folders given that was not read, and why. */
export interface SkippedInput {
  readonly path: string;
  readonly reason: string;
}

/**
 * Expands folders (depth first, sorted) into event files; `-` is stdin. A file named is read
 * whatever it is; in a folder, only regular files (or links to them) named .ndjson, .jsonl or .json
 * (or those .gz) are, the other names go to `passedOver`, and what cannot be listed or is not a
 * regular file (a FIFO, a socket, a device) to `skipped`, with why. The walk keeps its own stack
 * (no recursion, so no depth limit) and enters each real folder once, so a link loop ends.
 */
export async function expandInputs(paths: readonly string[], passedOver: string[] = [], skipped: SkippedInput[] = []): Promise<string[]> {
  const out: string[] = [];
  const entered = new Set<string>();
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
    // folders still to list, the next one last
    const stack: string[] = [p];
    while (stack.length > 0) {
      const folder = stack.pop()!;
      let real: string;
      let entries: Dirent[];
      try {
        real = await realpath(folder);
        if (entered.has(real)) continue;
        entered.add(real);
        entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } catch (e) {
        if (folder === p) throw e;
        skipped.push({ path: folder, reason: `folder not read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
        continue;
      }
      const subfolders: string[] = [];
      for (const d of entries) {
        const full = join(folder, d.name);
        // entry types come with the listing: only a symbolic link needs a stat (to see where it
        // leads; a link that leads nowhere is a file that will not open, reported as it is read)
        let kind: 'dir' | 'file' | 'other' = d.isDirectory() ? 'dir' : d.isFile() ? 'file' : 'other';
        if (d.isSymbolicLink()) kind = await stat(full).then((x) => (x.isDirectory() ? 'dir' : x.isFile() ? 'file' : 'other'), () => 'file' as const);
        if (kind === 'dir') subfolders.push(full);
        else if (!EVENT_FILE.test(d.name)) passedOver.push(full);
        else if (kind === 'file') out.push(full);
        else skipped.push({ path: full, reason: 'not a regular file (a FIFO, socket or device is read only when named)' });
      }
      for (let i = subfolders.length - 1; i >= 0; i--) stack.push(subfolders[i]!);
    }
  }
  return out;
}

/** Why a hunt does not run a rule (before compiling its query), filed under a group; null when it does. */
function whyNotHunted(rule: Rule, index: string | undefined, indicators: boolean, deprecated: boolean): { reason: string; group: string } | null {
  if (rule.metadata?.maturity === 'deprecated' && !deprecated) return { reason: 'deprecated', group: 'deprecated' };
  // as the service: a rule its file disables (Elastic's onboarding sample, which alerts on every
  // event; rules that promote Elastic Defend's own alerts) is not run
  if (!rule.enabled) return { reason: 'disabled in its file', group: 'disabled' };
  if (rule.type === 'threat_match' && !indicators) return { reason: 'indicator match needs indicator documents (--indicators FILE…)', group: rule.type };
  if (rule.type !== 'eql' && !isKqlRule(rule)) return { reason: `type ${rule.type} is not run by hunt`, group: rule.type };
  if (!rule.query && !isAggregating(rule)) return { reason: 'the rule has no query', group: rule.type };
  if (index !== undefined && rule.index && rule.index.length > 0 && !createIndexMatcher(rule.index)(index)) return { reason: `its indices do not include ${index}`, group: 'other indices' };
  return null;
}

/**
 * The rules a hunt runs, compiled, and the ones it skips with why. A query's own pipeline is built
 * only when a rule set makes a matcher of it (stateful rules, on the thread that feeds them): the
 * rule set scans with filters of its own, so building the pipelines of 800 event queries took a
 * 5,000-event hunt from 370 to 465 ms.
 */
export function compileHuntRules(rules: readonly Rule[], index: string | undefined, maxOpen?: number, indicators = false, deprecated = false): { entries: HuntEntry[]; skipped: HuntResult['rulesSkipped'] } {
  const entries: HuntEntry[] = [];
  const skipped: HuntResult['rulesSkipped'] = [];
  for (const rule of rules) {
    const why = whyNotHunted(rule, index, indicators, deprecated);
    if (why !== null) {
      skipped.push({ rule_id: rule.rule_id, name: rule.name, ...why });
      continue;
    }
    if (isKqlRule(rule)) {
      // a KQL rule: its query compiled into the same engine, as an event query (a threshold or
      // new-terms rule's matches are then aggregated on the main thread, see HuntAggregates)
      const t = ruleKqlStatement(rule.query);
      const bad = typeParamsProblem(rule);
      if (bad !== null) skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: bad.problem, group: null });
      else if (!t.ok) skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: t.problem, group: null });
      else entries.push({ rule, query: compileStatement(ruleStatement(rule, t.statement), huntQueryOptions(rule, maxOpen)), eventCategoryField: rule.event_category_override });
      continue;
    }
    // a rule without a query has a reason not to run
    const c = parseQuery(rule.query!);
    if (!c.ok || !c.ast) {
      skipped.push({ rule_id: rule.rule_id, name: rule.name, reason: c.diagnostics.find((d) => d.severity === 'error')?.message ?? 'does not compile', group: null });
      continue;
    }
    entries.push({ rule, query: compileStatement(ruleStatement(rule, c.ast), huntQueryOptions(rule, maxOpen)), eventCategoryField: rule.event_category_override });
  }
  return { entries, skipped };
}

/** A rule a hunt runs, with its compiled query. */
export interface HuntEntry {
  readonly rule: Rule;
  readonly query: CompiledQuery;
  readonly eventCategoryField?: string;
}

/** How a hunt compiles a rule's query (the rule's own timestamp and category fields). */
function huntQueryOptions(rule: Rule, maxOpen?: number): QueryOptions {
  return { eager: false, maxOpenSequences: maxOpen, maxOpenSamples: maxOpen, timestampField: queryTimestampField(rule), eventCategoryField: rule.event_category_override ?? 'event.category' };
}

/** A rule as a worker thread gets it: its query parsed and checked on the main thread, to compile. */
export interface CheckedRule {
  readonly rule: Rule;
  readonly ast: Statement;
}

/** The entries of rules parsed and checked elsewhere (see CheckedRule), compiled as compileHuntRules does. */
export function compileCheckedRules(rules: readonly CheckedRule[]): HuntEntry[] {
  // the statement is the compiled one, exceptions folded in already
  return rules.map(({ rule, ast }) => ({ rule, query: compileStatement(ast, huntQueryOptions(rule)), eventCategoryField: rule.event_category_override }));
}

function matchOf(h: EventHit | SequenceHit): RuleMatch {
  const ev = (e: EventHit): MatchedEvent => {
    const t = defaultParseTimestamp(e._source['@timestamp']);
    return { index: e._index, id: e._id, version: 1, source: e._source, time: Number.isFinite(t) ? t : null };
  };
  if ('events' in h) return { kind: 'sequence', events: h.events.filter((e) => !e.missing).map(ev) };
  return { kind: 'event', event: ev(h) };
}

/** Turns rule-set hits into alert groups, as the spool takes them, each handed to `out`. */
function huntAlerts(hits: ReadonlyArray<RuleSetHit<Rule>>, now: number, out: (g: GroupText) => void): void {
  for (const { rule, hit } of hits) {
    const m = matchOf(hit);
    if (m.kind === 'sequence' && m.events.length === 0) continue;
    out(huntGroup(rule, m, now));
  }
}

/**
 * The events that stateful rules (sequences, samples, pipes) take, for the thread that runs them,
 * packed flat (one transferable buffer, not an object per event): per event its line number, its
 * place (the byte offsets of an ASCII line in the chunk, which is handed back whole; for any other
 * line, the bitwise not of the index of its text in `lines`, and 0), the number of codes, then per
 * code the code and its verdict's mask (-1: no verdict). A verdict's time goes to `times` and its
 * keys, one per bit of the mask from the lowest, to `keys` (see Verdict).
 */
class CandidateWriter {
  private buf = new Int32Array(1 << 14);
  private n = 0;
  private times: number[] = [];
  private keys: string[] = [];

  /** An event's line, place, and its codes `codes[from..to)` with their verdicts. */
  add(lineNo: number, start: number, end: number, codes: readonly StatefulCode[], verdicts: ReadonlyArray<Verdict | null> | undefined, from: number, to: number): void {
    const need = this.n + 4 + 2 * (to - from);
    if (need > this.buf.length) {
      const bigger = new Int32Array(Math.max(need, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.n));
      this.buf = bigger;
    }
    const b = this.buf;
    let n = this.n;
    b[n++] = lineNo;
    b[n++] = start;
    b[n++] = end;
    b[n++] = to - from;
    for (let i = from; i < to; i++) {
      b[n++] = codes[i]!;
      const v = verdicts?.[i];
      if (!v) {
        b[n++] = -1;
        continue;
      }
      b[n++] = v.mask;
      this.times.push(v.ts);
      for (let k = 0; k < v.keys.length; k++) if ((v.mask >> k) & 1) this.keys.push(v.keys[k]!);
    }
    this.n = n;
  }

  /** The packed candidates so far (copies of their own), and a fresh start. */
  take(): { stateful: Int32Array; times: Float64Array; keys: string[] } {
    const out = { stateful: this.buf.slice(0, this.n), times: Float64Array.from(this.times), keys: this.keys };
    this.n = 0;
    this.times.length = 0;
    this.keys = [];
    return out;
  }
}

/** What one chunk came to. */
export interface ChunkResult {
  readonly fi: number;
  events: number;
  /** Events outside the time window, not scanned. */
  outside: number;
  readonly bad: Array<{ lineNo: number; message: string }>;
  /** Alerts of event queries, complete, as text (see GroupText). */
  readonly groups: GroupText[];
  /** Events for the stateful rules, in line order, packed (see `CandidateWriter`), with their verdicts' times and keys. */
  stateful: Int32Array;
  times: Float64Array;
  keys: string[];
  /** The texts of candidates on lines that are not ASCII. */
  readonly lines: string[];
  /** The chunk's bytes, handed back (for reuse, see ChunkPool). */
  bytes?: Uint8Array;
  /** Matches of aggregating rules (threshold, new terms), in line order, for the main thread (see AggregatedMatch). */
  readonly aggregated: AggregatedMatch[];
}

/**
 * A match of an aggregating rule as the main thread takes it: the keys of the event's combinations
 * of the rule's fields (and of its cardinality field's values), its time, and where its line is (the
 * byte offsets of an ASCII line in the chunk, as for stateful candidates; or its text): the line is
 * parsed again only for an alert.
 */
export interface AggregatedMatch {
  readonly rule: string;
  readonly lineNo: number;
  readonly time: number;
  readonly keys: string[];
  readonly distinct: string[] | null;
  readonly start: number;
  readonly end: number;
  readonly text: string | null;
}

/** What a hunt's scanner reads of a document for an aggregating rule (see AggregatedMatch). */
interface AggregateReader {
  readonly time: (s: unknown) => unknown;
  readonly keys: { keys(source: unknown): string[] };
  readonly distinct: TermsReader | null;
  /** Whether the main thread may need the line (a new term alerts with its event). */
  readonly needsLine: boolean;
}

function aggregateReader(rule: Rule): AggregateReader | null {
  const time = createFieldGetter(parseFieldPath(queryTimestampField(rule)));
  if (rule.type === 'threshold') {
    const p = thresholdParams(rule);
    if (!p.ok) return null;
    const c = p.params.cardinality[0];
    return { time, keys: new TermsReader(p.params.fields), distinct: c ? new TermsReader([c.field]) : null, needsLine: false };
  }
  if (rule.type === 'threat_match') {
    const p = threatMatchParams(rule);
    if (!p.ok) return null;
    // per mapping group, the keys of the event's values of its fields, as `<group>\0<key>`
    const groups = p.params.mapping.map((g) => new TermsReader(g.map((e) => e.field)));
    const keys = (source: unknown): string[] => groups.flatMap((g, i) => (g.fields.length === 0 ? [] : g.keys(source).map((k) => `${i}\u0000${k}`)));
    return { time, keys: { keys }, distinct: null, needsLine: true };
  }
  const p = newTermsParams(rule);
  return p.ok ? { time, keys: new TermsReader(p.params.fields), distinct: null, needsLine: true } : null;
}

const utf8 = new TextDecoder('utf-8');

/** Epoch ms, both ends in. */
export interface TimeWindow {
  readonly from: number;
  readonly to: number;
}

/**
 * Whether the event on a line lies in the window, by its `@timestamp` (read without a parse where a
 * shipper put it first, as they do). A line that is no JSON object is let through, for the scan to
 * report it as a bad line (unless its timestamp is read first and lies outside: such a line is not
 * read further); an event without a readable timestamp is outside.
 */
function inWindow(line: string, w: TimeWindow): boolean {
  let ts: unknown;
  const peek = peekTimestamp(line);
  // no timestamp seen: parsed, to tell an event without one from a line that is no event
  if (peek !== null && peek.timestamp !== undefined) ts = peek.timestamp;
  else {
    const p = parseJsonObject(line);
    if (!p.ok) return true;
    ts = eventDocument(p.value)['@timestamp'];
  }
  const t = defaultParseTimestamp(ts);
  return t >= w.from && t <= w.to;
}

/** The document on a line of input (an event, or the one in an Elasticsearch hit). */
const documentOfLine = (line: string): Record<string, unknown> => eventDocument(JSON.parse(line) as Record<string, unknown>);

/** An event's id in a hunt (its alerts' ids depend on it): the input's number and the line's. */
const eventId = (fi: number, lineNo: number): string => `${fi}:${lineNo}`;
const NO_CANDIDATES = new Int32Array(0);
const NO_TIMES = new Float64Array(0);
/** The most of a chunk made into one string at a time (see HuntScanner.chunk). */
const PIECE_BYTES = 1 << 16;

/**
 * Runs every rule's filters over chunks of event lines: event queries answer at once, and the events
 * that stateful rules take are set aside, with their text, for `HuntSequencer` to feed in input order.
 * What each worker thread runs over its chunks, and the main thread over all of them with no workers.
 */
export class HuntScanner {
  private readonly hits: Array<RuleSetHit<Rule>> = [];
  private readonly codes: StatefulCode[] = [];
  /** With each of `codes`, its verdict (null: none); not kept when the rule set makes none. */
  private readonly verdicts: Array<Verdict | null> = [];
  private readonly verdictsOut: Array<Verdict | null> | undefined;
  private readonly candidates = new CandidateWriter();
  /** Whether the chunk being scanned has candidates so far. */
  private any = false;
  /** Builds of each line only the fields the rule set scans (see RuleSet.fieldsScanned). */
  private readonly projector: JsonProjector;
  /** What every event scanned as its fields is handed as (its hits get the id and the document). */
  private readonly fieldsOnly: { readonly _index: string };
  /** Builds of a line the fields the verdicts of stateful rules read beyond those (RuleSet.fieldsJudged), when asked. */
  private readonly judgedProjector: JsonProjector;
  /** The line being scanned: its piece's bytes and text, and where it lies in them. */
  private line: { bytes: Uint8Array; text: string; start: number; stop: number } = { bytes: new Uint8Array(0), text: '', start: 0, stop: 0 };
  /** The judged fields of the line being scanned (see RuleIndex.scanFields). */
  private readonly judgedFields = (): JsonProjector | null => {
    const l = this.line;
    return this.judgedProjector.project(l.bytes, l.text, l.start, l.stop) ? this.judgedProjector : null;
  };

  private readonly readers = new Map<Rule, AggregateReader | null>();

  private readerOf(rule: Rule): AggregateReader | null {
    let a = this.readers.get(rule);
    if (a === undefined) this.readers.set(rule, (a = aggregateReader(rule)));
    return a;
  }

  constructor(
    private readonly set: RuleIndex<Rule>,
    private readonly index: string,
    private readonly now: number,
    /** The time window of the events scanned (see HuntOptions.from), or null for all. */
    private readonly window: TimeWindow | null = null,
  ) {
    // a line that holds an Elasticsearch hit (`_source`) is parsed in full, to read the document in it
    this.projector = new JsonProjector(projection(set.fieldsScanned(), ['_source']));
    this.judgedProjector = new JsonProjector(projection(set.fieldsJudged(), ['_source']));
    this.verdictsOut = set.judging ? this.verdicts : undefined;
    this.fieldsOnly = { _index: index };
  }

  chunk(c: HuntChunk): ChunkResult {
    const r: ChunkResult = { fi: c.fi, events: 0, outside: 0, bad: c.skipped ? [...c.skipped] : [], groups: [], stateful: NO_CANDIDATES, times: NO_TIMES, keys: [], lines: [], bytes: c.bytes, aggregated: [] };
    const bytes = c.bytes;
    let lineNo = c.firstLine;
    // text is made a piece at a time: a piece of up to PIECE_BYTES (whole lines) is a young string that
    // dies young, where the whole chunk's text went straight to the old generation, for a full
    // collection to take back
    for (let from = 0; from < bytes.length; ) {
      let to = from + PIECE_BYTES;
      if (to >= bytes.length) to = bytes.length;
      else {
        const nl = bytes.lastIndexOf(10, to - 1);
        to = nl >= from ? nl + 1 : bytes.indexOf(10, to) + 1 || bytes.length;
      }
      lineNo = this.piece(bytes.subarray(from, to), from, lineNo, r);
      from = to;
    }
    this.codes.length = 0;
    this.verdicts.length = 0;
    if (this.any) ({ stateful: r.stateful, times: r.times, keys: r.keys } = this.candidates.take());
    this.any = false;
    return r;
  }

  /** Scans the lines of one piece of a chunk, which begins at byte `offset` of it; returns the next line's number. */
  private piece(bytes: Uint8Array, offset: number, lineNo: number, r: ChunkResult): number {
    const text = utf8.decode(bytes);
    // in an ASCII piece a character is a byte: candidates can point into the chunk's bytes
    const ascii = text.length === bytes.length;
    const cands = this.candidates;
    for (let at = 0; at < text.length; lineNo++) {
      let end = text.indexOf('\n', at);
      if (end < 0) end = text.length;
      const start = at;
      const stop = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      at = end + 1;
      if (start === stop) continue;
      if (this.window !== null && !inWindow(text.slice(start, stop), this.window)) {
        r.outside++;
        continue;
      }
      // the codes of a chunk's events pile up, each event's after the last (emptied once per chunk)
      const codes = this.codes;
      const from = codes.length;
      // in an ASCII piece, only the fields the rules read are taken from the line; any other line
      // (and one that is not a JSON object, or needs a full parse to read right) is parsed in full,
      // which also says what is wrong with it. An event's id is made only for its hits.
      const projected = ascii && this.projector.project(bytes, text, start, stop);
      let source = FIELDS_ONLY;
      if (projected) {
        r.events++;
        const l = this.line;
        l.bytes = bytes;
        l.text = text;
        l.start = start;
        l.stop = stop;
        this.set.scanFields(this.projector.values, this.projector.filled, this.projector.filledCount, this.fieldsOnly, this.hits, codes, this.verdictsOut, this.judgedFields);
      } else {
        const line = text.slice(start, stop);
        if (line.trim() === '') continue;
        const p = parseJsonObject(line);
        if (!p.ok) {
          r.bad.push({ lineNo, message: p.reason === NOT_AN_OBJECT ? 'not a JSON object' : p.reason });
          continue;
        }
        r.events++;
        source = eventDocument(p.value);
        this.set.scan({ _index: this.index, _source: source }, this.hits, codes, this.verdictsOut);
      }
      if (codes.length > from) {
        this.any = true;
        if (ascii) cands.add(lineNo, offset + start, offset + stop, codes, this.verdictsOut, from, codes.length);
        else cands.add(lineNo, ~(r.lines.push(text.slice(start, stop)) - 1), 0, codes, this.verdictsOut, from, codes.length);
      }
      if (this.hits.length) {
        // the matches of aggregating rules go to the main thread as keys, in input order
        let n = 0;
        let doc: Record<string, unknown> | null = null;
        for (const h of this.hits) {
          if (!isAggregating(h.rule)) {
            this.hits[n++] = h;
            continue;
          }
          const a = this.readerOf(h.rule);
          if (a === null) continue;
          doc ??= projected ? documentOfLine(text.slice(start, stop)) : source;
          const t = defaultParseTimestamp(a.time(doc));
          // an event without a time is in no window, as in the service
          if (!Number.isFinite(t)) continue;
          const keys = a.keys.keys(doc);
          if (keys.length === 0) continue;
          const inChunk = ascii && a.needsLine;
          r.aggregated.push({ rule: h.rule.rule_id, lineNo, time: t, keys, distinct: a.distinct ? a.distinct.keys(doc) : null, start: inChunk ? offset + start : 0, end: inChunk ? offset + stop : 0, text: a.needsLine && !ascii ? text.slice(start, stop) : null });
        }
        this.hits.length = n;
      }
      if (this.hits.length) {
        // an alert carries the whole event, and its id
        const whole = projected ? (JSON.parse(text.slice(start, stop)) as Record<string, unknown>) : source;
        const id = eventId(r.fi, lineNo);
        for (let k = 0; k < this.hits.length; k++) {
          const h = this.hits[k]!;
          this.hits[k] = { rule: h.rule, hit: { ...(h.hit as EventHit), _id: id, _source: whole } };
        }
        huntAlerts(this.hits, this.now, (g) => r.groups.push(g));
        this.hits.length = 0;
      }
    }
    return lineNo;
  }
}

/**
 * The stateful rules, fed the candidates of each chunk in input order (so results do not depend on
 * how many threads scanned). A candidate is parsed again only when some rule still wants it (a
 * sequence holding nothing skips the events that could only advance or disprove a partial), and
 * one that comes with a verdict only when it is reported.
 */
export class HuntSequencer {
  private readonly hits: Array<RuleSetHit<Rule>> = [];

  constructor(
    private readonly set: StatefulRules<Rule>,
    private readonly index: string,
    private readonly now: number,
  ) {}

  feed(r: ChunkResult, out: (g: GroupText) => void): void {
    const bytes = r.bytes ? Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) : null;
    const p = r.stateful;
    let t = 0;
    let k = 0;
    for (let i = 0; i < p.length; ) {
      const lineNo = p[i]!;
      const start = p[i + 1]!;
      const end = p[i + 2]!;
      const n = p[i + 3]!;
      i += 4;
      let event: EventText | null = null;
      for (const stop = i + 2 * n; i < stop; i += 2) {
        const code = p[i]!;
        const mask = p[i + 1]!;
        let verdict: Verdict | undefined;
        if (mask >= 0) {
          const keys: string[] = [];
          for (let b = 0; mask >> b !== 0; b++) if ((mask >> b) & 1) keys[b] = r.keys[k++]!;
          verdict = { ts: r.times[t++]!, mask, keys };
        }
        if (!this.set.wants(code)) continue;
        // the line's own text (a string of its own, not a slice of a larger one it would keep alive):
        // what a sequence or sample holds of the event
        event ??= { _index: this.index, _id: eventId(r.fi, lineNo), _text: start < 0 ? ownString(r.lines[~start]!) : bytes!.toString('latin1', start, end), decode: documentOfLine };
        this.set.feed(code, event, this.hits, verdict);
      }
    }
    this.drain(out);
  }

  flush(out: (g: GroupText) => void): void {
    this.set.flush(this.hits);
    this.drain(out);
  }

  /** Events that reached a stateful rule after a later one (input not in time order). */
  get outOfOrder(): number {
    return this.set.lateEvents();
  }

  /** Partial sequences and samples given up at the caps on open state. */
  get droppedByCap(): number {
    return this.set.droppedByCap();
  }

  private drain(out: (g: GroupText) => void): void {
    if (this.hits.length === 0) return;
    huntAlerts(this.hits, this.now, out);
    this.hits.length = 0;
  }
}

/**
 * The threshold and new-terms rules of a hunt, fed their matches in input order on the main thread.
 * A hunt is one execution over the whole input: a threshold rule counts its groups over all of it
 * and alerts at the end; a new-terms rule alerts on each combination of values that was not seen
 * within its history window before the event (the input being the only history: the first
 * sighting of each combination is new).
 */
export class HuntAggregates {
  private readonly rules = new Map<string, { rule: Rule; threshold: ThresholdCounter | null; newTerms: NewTermsTracker | null; threat: { params: ThreatMatchParams; index: IndicatorIndex } | null }>();

  constructor(
    entries: readonly HuntEntry[],
    private readonly index: string,
    private readonly now: number,
    /** The indicator documents given (see HuntOptions.indicators). */
    indicators: readonly IndicatorDoc[] = [],
  ) {
    for (const { rule } of entries) {
      if (!isAggregating(rule)) continue;
      const th = rule.type === 'threshold' ? thresholdParams(rule) : null;
      const nt = rule.type === 'new_terms' ? newTermsParams(rule) : null;
      const tm = rule.type === 'threat_match' ? threatMatchParams(rule) : null;
      let threat: { params: ThreatMatchParams; index: IndicatorIndex } | null = null;
      if (tm?.ok) {
        // its indicators: those of the documents given that its indicator query (at the hunt's time) and filters take
        const idx = new IndicatorIndex(tm.params);
        const test = indicatorTest(tm.params, now);
        if (test) for (const d of indicators) if (test(d)) idx.add(d);
        threat = { params: tm.params, index: idx };
      }
      this.rules.set(rule.rule_id, { rule, threshold: th?.ok ? new ThresholdCounter(th.params) : null, newTerms: nt?.ok ? new NewTermsTracker(nt.params) : null, threat });
    }
  }

  /** A chunk's matches of aggregating rules; new terms alert at once. */
  feed(r: ChunkResult, out: (g: GroupText) => void): void {
    const bytes = r.bytes ? Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) : null;
    for (const m of r.aggregated) {
      const a = this.rules.get(m.rule);
      if (!a) continue;
      if (a.threshold) a.threshold.addKeys(m.keys, m.time, m.distinct);
      else if (a.threat) {
        const perGroup: string[][] = a.threat.params.mapping.map(() => []);
        for (const k of m.keys) {
          const cut = k.indexOf('\u0000');
          perGroup[Number(k.slice(0, cut))]!.push(k.slice(cut + 1));
        }
        const found = a.threat.index.matchKeys(perGroup);
        if (found.length === 0) continue;
        const source = documentOfLine(m.text ?? bytes!.toString('latin1', m.start, m.end));
        const event: MatchedEvent = { index: this.index, id: eventId(r.fi, m.lineNo), version: 1, source, time: m.time };
        out(huntGroup(a.rule, { kind: 'threat', event, enrichments: found.map((f) => enrichmentOf(f, a.threat!.params)) }, this.now));
      } else if (a.newTerms) {
        const fresh = a.newTerms.observeKeys(m.keys, m.time);
        if (fresh.length === 0) continue;
        const source = documentOfLine(m.text ?? bytes!.toString('latin1', m.start, m.end));
        const event: MatchedEvent = { index: this.index, id: eventId(r.fi, m.lineNo), version: 1, source, time: m.time };
        for (const key of fresh) out(huntGroup(a.rule, { kind: 'new_terms', event, terms: JSON.parse(key) as TermValue[] }, this.now));
      }
    }
  }

  /** The end of the input: threshold groups that reached their threshold alert. */
  flush(out: (g: GroupText) => void): void {
    for (const a of this.rules.values())
      if (a.threshold) for (const b of a.threshold.reached()) out(huntGroup(a.rule, { kind: 'threshold', result: b }, this.now));
  }
}

/**
 * The indicator documents of a hunt's indicator files: each line's document (that of an
 * Elasticsearch hit, with its `_index` and `_id`), or `indicators` and `<file>:<line>` for a bare one.
 * Lines that are not JSON objects are left out.
 */
async function readIndicators(files: readonly string[]): Promise<IndicatorDoc[]> {
  const out: IndicatorDoc[] = [];
  for (const [fi, f] of files.entries()) {
    const text = (await readFile(f)).toString('utf8');
    text.split('\n').forEach((line, i) => {
      const p = line.trim() === '' ? null : parseJsonObject(line);
      if (!p?.ok) return;
      const hit = p.value;
      const inHit = hit._source !== null && typeof hit._source === 'object';
      out.push({ index: inHit && typeof hit._index === 'string' ? hit._index : 'indicators', id: inHit && typeof hit._id === 'string' ? hit._id : `${fi}:${i + 1}`, source: eventDocument(hit) });
    });
  }
  return out;
}

/**
 * Workers from which they work out verdicts by default (see HuntOptions.verdicts). Per million
 * generated events with the corpus rules (2 workers, on 2 cores), this thread spends 1.2-1.3 s of CPU,
 * 0.8 s with verdicts; the workers' scans 5.1-5.4 s, 0.35-0.45 s more with verdicts. With a core per
 * thread, N workers take about 5.1 / N s and this thread 1.2 s, which sets the pace from 4 workers
 * on; with verdicts, 5.5 / N s and 0.8 s: faster from 5 workers on. Below that verdicts only move
 * work to the workers (one worker is 6% slower with them).
 */
const VERDICT_WORKERS = 5;

/** Chunks handed to each worker before the oldest answer is awaited (and buffers pooled for them). */
const IN_FLIGHT = 3;

/**
 * Input (bytes of NDJSON over all cores) below which a hunt does better on the main thread alone:
 * each worker compiles every rule and runs slowly until its code is optimized. On 2 cores with the
 * 1,024 corpus rules, 300,000 generated events (172 MiB) took 2.1-2.8 s on the main thread and
 * 2.3-2.5 s on two workers; 400,000 (229 MiB) 2.7-3.2 s and 2.6-2.9 s; 600,000 3.6-5.0 s and
 * 3.3-3.7 s (three runs each).
 */
const SMALL_INPUT_BYTES = 512 * 1048576;
/** What a gzip file is taken to hold per byte, to weigh it against SMALL_INPUT_BYTES. */
const GZIP_RATIO = 8;

/**
 * The default worker count: one per core, or none (the main thread alone) on one core or when the
 * input is too small to pay for starting them (under SMALL_INPUT_BYTES / cores; standard input
 * counts as large).
 */
export function defaultWorkers(inputBytes: number, cores: number): number {
  return cores < 2 || inputBytes < SMALL_INPUT_BYTES / cores ? 0 : cores;
}

export async function runHunt(o: HuntOptions): Promise<HuntResult> {
  const r = await runHuntSpooled(o);
  try {
    return { ...r, alerts: [...r.alerts.ordered(o.maxAlerts)].flat() };
  } finally {
    r.alerts.close();
  }
}

/** A hunt whose alerts are left in a spool (see SpooledHuntResult); the caller closes it. */
export async function runHuntSpooled(o: HuntOptions): Promise<SpooledHuntResult> {
  const t0 = performance.now();
  const passedOver: string[] = [];
  const skipped: SkippedInput[] = [];
  const files = await expandInputs(o.inputs.length ? o.inputs : ['-'], passedOver, skipped);
  const progress: HuntProgress = { bytesTotal: 0, bytesRead: 0, events: 0, badLines: 0, files: files.length, matches: 0 };
  let inputBytes = 0;
  for (const f of files) {
    // a file that cannot be stat'ed will not open either: reading it reports it
    const size = f === '-' ? Infinity : await stat(f).then((x) => x.size, () => 0);
    if (f !== '-') progress.bytesTotal += size;
    inputBytes += f.endsWith('.gz') ? size * GZIP_RATIO : size;
  }
  // one creation time for the alerts of every thread
  const now = o.now ?? Date.now();
  const lateness = o.lateness ?? 0;
  const workers = Math.max(0, Math.min(o.workers ?? defaultWorkers(inputBytes, availableParallelism()), 64));
  // the rules are parsed and checked once, here; each worker compiles their checked queries (compiled
  // code cannot be shared between threads). A worker that parsed them itself took 110-130 ms more of
  // its own CPU, and 110-150 ms more of V8's compiler threads, to start
  const compiled = compileHuntRules(o.rules, o.index, o.maxOpenPerRule, (o.indicators?.length ?? 0) > 0, o.includeDeprecated === true);
  const window = o.from !== undefined || o.to !== undefined ? { from: o.from ?? -Infinity, to: o.to ?? Infinity } : null;
  const verdicts = o.verdicts ?? workers >= VERDICT_WORKERS;
  const pool = workers > 0 ? startHuntWorkers(workers, { rules: compiled.entries.map((e) => ({ rule: e.rule, ast: e.query.ast })), index: o.index, now, lateness, indexed: o.indexed !== false, window, verdicts }) : null;
  try {
    return { ...(await huntWith(o, compiled, { files, progress, pool, workers, now, lateness, window, t0 })), passedOver, skipped };
  } finally {
    await pool?.close();
  }
}

async function huntWith(
  o: HuntOptions,
  { entries, skipped }: ReturnType<typeof compileHuntRules>,
  { files, progress, pool, workers, now, lateness, window, t0 }: { files: readonly string[]; progress: HuntProgress; pool: HuntWorkerPool | null; workers: number; now: number; lateness: number; window: TimeWindow | null; t0: number },
): Promise<Omit<SpooledHuntResult, 'passedOver' | 'skipped'>> {
  const index = o.index ?? 'hunt';
  const spool = new AlertSpool(o.holdAlerts, o.spillDir);
  // groups of rules with alert suppression wait here until the end (see HuntSuppressor)
  const suppressor = new HuntSuppressor((g) => spool.add(g));
  const toSpool = (g: GroupText): void => suppressor.add(g);
  const badSamples: BadLine[] = [];
  let outsideWindow = 0;
  let lastReport = 0;
  const report = (): void => {
    if (!o.onProgress) return;
    const t = performance.now();
    if (t - lastReport > 200) {
      lastReport = t;
      o.onProgress(progress);
    }
  };
  // chunk buffers: those in flight to workers (see below), the one being read, the one being settled
  const buffers = new ChunkPool(IN_FLIGHT * workers + 2);
  // the stateful rules run here, in input order, whatever thread scanned the chunk
  const sequencer = new HuntSequencer(new StatefulRules(entries, { indexed: o.indexed, lateness }), index, now);
  const aggregates = new HuntAggregates(entries, index, now, await readIndicators(o.indicators ?? []));
  const settle = (r: ChunkResult): void => {
    for (const b of r.bad) {
      progress.badLines++;
      if (badSamples.length < 20) badSamples.push({ file: files[r.fi]!, line: b.lineNo, message: b.message });
    }
    progress.events += r.events;
    outsideWindow += r.outside;
    for (const g of r.groups) suppressor.add(g);
    sequencer.feed(r, toSpool);
    aggregates.feed(r, toSpool);
    progress.matches = spool.groups;
    buffers.give(r.bytes?.buffer as ArrayBuffer | undefined);
    report();
  };
  const readErrors: ReadError[] = [];
  /** Every chunk of every input to `take`; an input that fails is reported, and the next one read. */
  const eachChunk = async (take: (c: HuntChunk) => Promise<void> | void): Promise<void> => {
    for (let fi = 0; fi < files.length; fi++) {
      try {
        for await (const c of inputChunks(files[fi]!, fi, o, progress, buffers)) await take(c);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        readErrors.push({ file: files[fi]!, line: e.lines, message: e.message });
      }
    }
  };
  try {
    if (pool === null) {
      const scanner = new HuntScanner(new RuleIndex(entries, { indexed: o.indexed, judge: o.verdicts === true }), index, now, window);
      await eachChunk((c) => settle(scanner.chunk(c)));
    } else {
      // chunks go round the workers; results are settled in chunk order, a few in flight per worker
      const queue: Array<Promise<ChunkResult>> = [];
      await eachChunk(async (c) => {
        queue.push(pool.submit(c));
        if (queue.length >= IN_FLIGHT * workers) settle(await queue.shift()!);
      });
      while (queue.length) settle(await queue.shift()!);
    }
    sequencer.flush(toSpool);
    aggregates.flush(toSpool);
    suppressor.flush();
  } catch (e) {
    // a hunt that fails leaves no files behind
    spool.close();
    throw e;
  }
  progress.matches = spool.groups;
  o.onProgress?.(progress);
  return { alerts: spool, events: progress.events, badLines: progress.badLines, badSamples, readErrors, rulesRun: entries.length, rulesSkipped: skipped, outOfOrder: sequencer.outOfOrder, droppedByCap: sequencer.droppedByCap, outsideWindow, elapsedMs: performance.now() - t0, workers };
}

export interface HuntWorkerSetup {
  readonly rules: readonly CheckedRule[];
  readonly index: string | undefined;
  readonly now: number;
  readonly lateness: number;
  readonly indexed: boolean;
  readonly window: TimeWindow | null;
  readonly verdicts: boolean;
}

/** A worker's answer to a chunk. */
export interface HuntWorkerReply {
  readonly id: number;
  readonly result?: ChunkResult;
  readonly error?: string;
}

/**
 * N worker threads, each with every rule; each chunk goes to one of them (in turn), so parsing and
 * the event queries split N ways, and the stateful rules get their events back in input order.
 */
interface HuntWorkerPool {
  submit(chunk: HuntChunk): Promise<ChunkResult>;
  close(): Promise<void>;
}

function startHuntWorkers(n: number, setup: HuntWorkerSetup): HuntWorkerPool {
  const url = new URL('./hunt-worker.js', import.meta.url);
  // no heap limit of their own: with one of 384 MiB (what a worker keeps is about 60 MiB), a hunt took
  // 10% longer, whatever the young generation's size
  const workers = Array.from({ length: n }, () => new Worker(url, { workerData: setup }));
  const waiting = workers.map(() => new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>());
  let seq = 0;
  workers.forEach((w, k) => {
    w.on('message', (m: HuntWorkerReply) => {
      const p = waiting[k]!.get(m.id);
      waiting[k]!.delete(m.id);
      if (!p) return;
      if (m.result) p.resolve(m.result);
      else p.reject(new Error(`a hunt worker failed: ${m.error ?? 'no answer'}`));
    });
    const fail = (e: Error): void => {
      for (const p of waiting[k]!.values()) p.reject(new Error(`a hunt worker failed: ${e.message}`));
      waiting[k]!.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  });
  return {
    submit(chunk) {
      const id = seq++;
      const k = id % n;
      return new Promise((resolve, reject) => {
        waiting[k]!.set(id, { resolve, reject });
        workers[k]!.postMessage({ id, chunk }, [chunk.bytes.buffer as ArrayBuffer]);
      });
    },
    async close() {
      for (const w of workers) w.removeAllListeners('exit');
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
