import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BuiltAlert } from '../alerts/index.js';
import { runHuntSpooled, type AlertFields, type HuntProgress, type SpooledHuntResult } from '../app/index.js';
import { defaultParseTimestamp } from '../engine/index.js';
import { formatDiagnostics } from '../core/index.js';
import { loadRules, parseDuration, SEVERITIES, type Rule, type Severity } from '../rules/index.js';
import type { Io } from './program.js';
import { bundledRulesDir } from './serve.js';
import { loadExceptionFiles } from './exceptions.js';
import { applyExceptions } from '../detect/index.js';

export interface HuntOpts {
  readonly rules?: string[];
  readonly events?: string[];
  readonly indicators?: string[];
  readonly exceptions?: string[];
  readonly valueList?: string[];
  readonly includeDeprecated?: boolean;
  readonly index?: string;
  readonly format?: string;
  readonly output?: string;
  readonly maxAlerts?: string;
  readonly progress?: boolean;
  readonly workers?: string;
  readonly lateness?: string;
  readonly maxOpen?: string;
  readonly minSeverity?: string;
  readonly from?: string;
  readonly to?: string;
}

const get = (doc: Record<string, unknown>, path: string): string => {
  let v: unknown = doc;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? ((v as Record<string, unknown>)[k] ?? (v as Record<string, unknown>)[path]) : undefined;
  if (Array.isArray(v)) v = v[0];
  return v === undefined || v === null ? '' : String(v);
};

/**
 * An alert's row. A sequence's (or sample's) own alert holds only the fields its events share, so
 * where its events differ, its row shows theirs, in event order: the users joined by commas, the
 * processes by arrows (`sshd → strace`).
 */
function row(a: BuiltAlert, events: readonly BuiltAlert[] | undefined): string[] {
  const across = (pick: (b: BuiltAlert) => string | null, sep: string): string => {
    const vs: string[] = [];
    for (const b of events ?? []) {
      const v = pick(b);
      if (v && v !== vs[vs.length - 1]) vs.push(v);
    }
    return vs.join(sep);
  };
  return [
    String(a.doc['kibana.alert.original_time'] ?? ''),
    a.severity,
    String(a.risk),
    String(a.doc['kibana.alert.rule.name'] ?? a.ruleId),
    a.host ?? across((b) => b.host, ', '),
    a.user ?? across((b) => b.user, ', '),
    a.process ?? (events ? across((b) => b.process, ' → ') : get(a.doc, 'process.name')),
  ];
}

/**
 * The row of one match: its own alert (the one that is not a building block), with its events'
 * alerts in event order when it is a sequence's or a sample's (one group: the same group id).
 */
function rows(group: readonly BuiltAlert[]): string[][] {
  const blocks = group.filter((a) => a.buildingBlock);
  const index = (b: BuiltAlert): number => Number(b.doc['kibana.alert.group.index'] ?? 0);
  blocks.sort((x, y) => index(x) - index(y));
  return group.filter((a) => !a.buildingBlock).map((a) => row(a, a.groupId === null ? undefined : blocks));
}

/** A count and what it counts, singular or plural: `1 rule`, `1,024 rules`. */
const counted = (n: number, one: string, many: string): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

const HEAD = ['time', 'severity', 'risk', 'rule', 'host', 'user', 'process'];
const csvCell = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The widths of the table's columns, grown to fit each row shown. */
class TableWidths {
  readonly widths = HEAD.map((h) => h.length);

  fit(r: readonly string[]): void {
    for (let i = 0; i < r.length; i++) this.widths[i] = Math.min(i === 3 ? 60 : 40, Math.max(this.widths[i]!, r[i]!.length));
  }

  line(r: readonly string[]): string {
    const w = this.widths;
    return r.map((c, i) => (c.length > w[i]! ? `${c.slice(0, w[i]! - 1)}…` : c.padEnd(w[i]!))).join('  ').trimEnd();
  }
}

/** The closing summary, counted an alert at a time as the alerts go out (by their fields and their rules'). */
class Summary {
  /** Alerts that are not building blocks. */
  alerts = 0;
  private readonly severities = new Map<string, number>();
  private readonly tactics = new Map<string, number>();
  private readonly hosts = new Map<string, number>();
  private readonly rules = new Map<string, number>();

  constructor(private readonly byId: ReadonlyMap<string, Rule>) {}

  add(a: AlertFields): void {
    if (a.buildingBlock) return;
    this.alerts++;
    const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
    const rule = this.byId.get(a.ruleId);
    count(this.severities, a.severity);
    for (const t of rule?.threat ?? []) count(this.tactics, t.tactic?.name ?? '?');
    count(this.hosts, a.host ?? 'no host');
    count(this.rules, rule?.name ?? a.ruleId);
  }

  text(): string {
    const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
    const list = (m: Map<string, number>, top = Infinity): string => (m.size ? sorted(m).slice(0, top).map(([k, n]) => `${k} ${n}`).join(', ') : 'none');
    const TOP = 10;
    const lines = [`summary: ${counted(this.alerts, 'alert', 'alerts')}`];
    lines.push(`  by severity: ${list(this.severities)}`);
    lines.push(`  by ATT&CK tactic: ${list(this.tactics)}`);
    lines.push(`  by host${this.hosts.size > TOP ? ` (top ${TOP} of ${this.hosts.size.toLocaleString('en-US')})` : ''}: ${list(this.hosts, TOP)}`);
    lines.push(`  by rule:${this.rules.size ? '' : ' none'}`);
    for (const [k, n] of sorted(this.rules)) lines.push(`    ${String(n).padStart(7)}  ${k}`);
    return lines.join('\n');
  }
}

function progressLine(p: HuntProgress, t0: number): string {
  const s = (performance.now() - t0) / 1000;
  const rate = p.events / Math.max(s, 0.001);
  const counts = `${p.events.toLocaleString('en-US')} events  ${Math.round(rate).toLocaleString('en-US')}/s`;
  const tail = `bad ${p.badLines}  matches ${p.matches.toLocaleString('en-US')}`;
  // standard input has no size to measure against: what was read, without a bar or an ETA
  if (p.bytesTotal === 0) return `\r${(p.bytesRead / 1048576).toFixed(0)} MiB read  ${counts}  ${tail}`;
  const frac = Math.min(1, p.bytesRead / p.bytesTotal);
  const eta = frac > 0 ? (s / frac - s).toFixed(0) : '?';
  const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
  return `\r[${bar}] ${(p.bytesRead / 1048576).toFixed(0)}/${(p.bytesTotal / 1048576).toFixed(0)} MiB  ${counts}  ETA ${eta}s  ${tail}`;
}

/** `vigil hunt`. Exit codes: 0 done (alerts or not), 1 some input lines were bad or an input could not be read to its end, 2 usage. */
export async function runHuntCommand(io: Io, opts: HuntOpts, stdin: Readable, tty: { readonly out: boolean; readonly err: boolean }): Promise<number> {
  const format = opts.format ?? (tty.out && !opts.output ? 'table' : 'ndjson');
  if (!['table', 'ndjson', 'json', 'csv'].includes(format)) {
    io.err(`vigil hunt: unknown format '${format}' (table, ndjson, json, csv)\n`);
    return 2;
  }
  const set = await loadRules(opts.rules && opts.rules.length ? opts.rules : [bundledRulesDir()]);
  for (const f of set.files) {
    const errs = f.diagnostics.filter((d) => d.severity === 'error');
    if (errs.length) io.err(`${formatDiagnostics(errs, f.text, { context: false })}\n`);
  }
  if (opts.minSeverity !== undefined && !(SEVERITIES as readonly string[]).includes(opts.minSeverity)) {
    io.err(`vigil hunt: --min-severity takes ${SEVERITIES.join(', ')}, not '${opts.minSeverity}'\n`);
    return 2;
  }
  // rules below the severity asked for are not run at all (as Hayabusa's --min-level)
  const floor = opts.minSeverity === undefined ? 0 : SEVERITIES.indexOf(opts.minSeverity as Severity);
  let rules: Rule[] = set.rules.filter((r) => SEVERITIES.indexOf(r.severity) >= floor);
  const belowFloor = set.rules.length - rules.length;
  if ((opts.exceptions?.length ?? 0) > 0 || (opts.valueList?.length ?? 0) > 0) {
    // a bad list, item or value is reported and left out; the rest applies
    const ex = await loadExceptionFiles(opts.exceptions ?? [], opts.valueList ?? []);
    const applied = applyExceptions(rules, ex.items, ex.valueLists, Date.now());
    for (const p of [...ex.problems, ...applied.problems]) io.err(`${p}\n`);
    rules = applied.rules;
    io.err(`exceptions: ${ex.items.length} items in ${ex.lists.length} lists; ${applied.excepted} of the ${rules.length} rules have some\n`);
  }
  if (opts.workers !== undefined && !/^\d+$/.test(opts.workers)) {
    io.err(`vigil hunt: --workers takes a whole number (0 runs on the main thread), not '${opts.workers}'\n`);
    return 2;
  }
  if (opts.maxAlerts !== undefined && !/^\d+$/.test(opts.maxAlerts)) {
    io.err(`vigil hunt: --max-alerts takes a whole number, not '${opts.maxAlerts}'\n`);
    return 2;
  }
  if (opts.maxOpen !== undefined && !/^[1-9]\d*$/.test(opts.maxOpen)) {
    io.err(`vigil hunt: --max-open takes a whole number of at least 1, not '${opts.maxOpen}'\n`);
    return 2;
  }
  const lateness = opts.lateness === undefined ? 0 : opts.lateness === 'all' ? Infinity : parseDuration(opts.lateness);
  if (lateness === null) {
    io.err(`vigil hunt: --lateness takes a duration (30s, 5m, 1h) or all, not '${opts.lateness}'\n`);
    return 2;
  }
  // a time as the events write theirs: ISO 8601, or epoch milliseconds; a date alone is the whole day
  // (UTC): from its first millisecond, to its last
  const time = (name: 'from' | 'to', v: string | undefined): number | undefined | null => {
    if (v === undefined) return undefined;
    const day = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : null;
    const t = day === null ? defaultParseTimestamp(v) : name === 'from' ? day : day + 86_400_000 - 1;
    if (Number.isNaN(t)) {
      io.err(`vigil hunt: --${name} takes a time (2026-11-23T10:00:00Z, 2026-11-23, or epoch milliseconds), not '${v}'\n`);
      return null;
    }
    return t;
  };
  const from = time('from', opts.from);
  const to = time('to', opts.to);
  if (from === null || to === null) return 2;
  if (from !== undefined && to !== undefined && from > to) {
    io.err(`vigil hunt: --from ${opts.from} is after --to ${opts.to}\n`);
    return 2;
  }
  // the output file is opened first: a path that cannot be written is told before the hunt, not after it
  let fh: FileHandle | null = null;
  if (opts.output) {
    try {
      fh = await open(opts.output, 'w');
    } catch (e) {
      io.err(`vigil hunt: cannot write ${opts.output}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  try {
    return await huntAndReport(io, opts, stdin, tty, { format, rules, belowFloor, lateness, from, to, fh });
  } finally {
    await fh?.close();
  }
}

async function huntAndReport(
  io: Io,
  opts: HuntOpts,
  stdin: Readable,
  tty: { readonly out: boolean; readonly err: boolean },
  { format, rules, belowFloor, lateness, from, to, fh }: { format: string; rules: Rule[]; belowFloor: number; lateness: number; from: number | undefined; to: number | undefined; fh: FileHandle | null },
): Promise<number> {
  // the bar goes to standard error: it shows on a terminal even when the results go to a file or a pipe
  const showProgress = opts.progress ?? tty.err;
  // the alerts the hunt writes out go to a folder of its own (made only if it writes any), removed
  // however the hunt ends: at its end, on exit, and on Ctrl-C or a kill (which end vigil with 130 and
  // 143, as a shell reports them)
  const spillDir = join(tmpdir(), `vigil-hunt-${process.pid}-${randomBytes(6).toString('hex')}`);
  removeLeftSpills(io, tmpdir());
  const remove = (): void => {
    try {
      rmSync(spillDir, { recursive: true, force: true });
    } catch (e) {
      // (a folder that could not be made was not made)
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') io.err(`vigil hunt: could not remove ${spillDir}: ${(e as Error).message}\n`);
    }
  };
  // the spill folder is removed, then the signal is raised again with its default action: an exit
  // would wait for a file read blocked in the thread pool (a FIFO no one writes to) for ever
  const interrupted = (): void => {
    remove();
    process.off('SIGINT', interrupted);
    process.kill(process.pid, 'SIGINT');
  };
  const killed = (): void => {
    remove();
    process.off('SIGTERM', killed);
    process.kill(process.pid, 'SIGTERM');
  };
  process.once('exit', remove).once('SIGINT', interrupted).once('SIGTERM', killed);
  try {
    const t0 = performance.now();
    const result = await runHuntSpooled({
      spillDir,
      rules,
      inputs: opts.events ?? [],
      indicators: opts.indicators,
      includeDeprecated: opts.includeDeprecated === true,
      stdin,
      index: opts.index,
      workers: opts.workers === undefined ? undefined : Number(opts.workers),
      lateness,
      maxOpenPerRule: opts.maxOpen === undefined ? undefined : Number(opts.maxOpen),
      from,
      to,
      onProgress: showProgress ? (p) => io.err(progressLine(p, t0)) : undefined,
    });
    try {
      if (showProgress) io.err('\n');
      return await report(io, opts, result, { format, belowFloor, fh, rules });
    } finally {
      result.alerts.close();
    }
  } finally {
    remove();
    process.off('exit', remove).off('SIGINT', interrupted).off('SIGTERM', killed);
  }
}

/** A hunt's own spill folder: its process id, then 12 random hex digits. */
const SPILL_FOLDER = /^vigil-hunt-(\d+)-[0-9a-f]{12}$/;

/**
 * Removes the spill folders in `tmp` of hunts whose process is gone: a hunt killed outright (SIGKILL,
 * the machine's power) cannot remove its own. A folder whose process still runs is left alone (a pid
 * taken since by another process keeps it until that one ends too). What is removed is said on
 * standard error, as is a folder that cannot be; neither stops the hunt.
 */
function removeLeftSpills(io: Io, tmp: string): void {
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return; // no such folder yet: nothing left in it (the spool says so if it cannot make it)
  }
  for (const name of names) {
    const m = SPILL_FOLDER.exec(name);
    if (!m || processRuns(Number(m[1]))) continue;
    const path = join(tmp, name);
    try {
      rmSync(path, { recursive: true, force: true });
      io.err(`vigil hunt: removed ${path}, left by a hunt that was killed\n`);
    } catch (e) {
      io.err(`vigil hunt: could not remove ${path}, left by a hunt that was killed: ${(e as Error).message}\n`);
    }
  }
}

/** Whether a process with this id runs on this machine (one we may not signal, another user's, runs too). */
function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Writes out a hunt's alerts, match by match in time order, and what it says about the hunt. */
async function report(io: Io, opts: HuntOpts, result: SpooledHuntResult, { format, belowFloor, fh, rules }: { format: string; belowFloor: number; fh: FileHandle | null; rules: readonly Rule[] }): Promise<number> {
  const max = opts.maxAlerts === undefined ? Infinity : Number(opts.maxAlerts);
  // the results go out a megabyte at a time: as one string, a few hundred thousand alerts passed the
  // longest string there can be
  let pending = '';
  const put = async (text: string, last = false): Promise<void> => {
    pending += text;
    if (pending.length < 1 << 20 && !last) return;
    if (fh) await fh.write(pending);
    else io.out(pending);
    pending = '';
  };
  const sum = new Summary(new Map(rules.map((r) => [r.rule_id, r])));
  let first = true;
  if (format === 'table') {
    // a first walk sizes the columns, the second writes the rows
    const widths = new TableWidths();
    for (const g of result.alerts.ordered(max)) for (const r of rows(g)) widths.fit(r);
    await put(`${widths.line(HEAD)}\n${widths.line(widths.widths.map((w) => '-'.repeat(w)))}\n`);
    for (const g of result.alerts.ordered(max)) {
      for (const a of g) sum.add(a);
      for (const r of rows(g)) await put(`${widths.line(r)}\n`);
    }
    await put(`\n${sum.text()}\n`);
  } else if (format === 'ndjson') {
    // the documents as the spool keeps them: JSON text, not parsed to be written again
    for (const g of result.alerts.orderedDocs(max)) {
      for (let i = 0; i < g.alerts.length; i++) {
        sum.add(g.alerts[i]!);
        await put(`${g.docs[i]!}\n`);
      }
    }
  } else {
    if (format === 'csv') await put(`${HEAD.join(',')}\n`);
    for (const g of result.alerts.ordered(max)) {
      for (const a of g) {
        sum.add(a);
        // as JSON.stringify(docs, null, 2) writes the array, an element at a time
        if (format === 'json') await put(`${first ? '[\n' : ',\n'}  ${JSON.stringify(a.doc, null, 2).replace(/\n/g, '\n  ')}`);
        first = false;
      }
      if (format === 'csv') for (const r of rows(g)) await put(`${r.map(csvCell).join(',')}\n`);
    }
    if (format === 'json') await put(first ? '[]\n' : '\n]\n');
  }
  await put('', true);
  const info = [
    `hunt: ${result.events.toLocaleString('en-US')} events, ${counted(result.rulesRun, 'rule', 'rules')} run (${result.rulesSkipped.length.toLocaleString('en-US')} skipped), ${sum.alerts.toLocaleString('en-US')} alerts in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round((result.events / result.elapsedMs) * 1000).toLocaleString('en-US')} events/s, ${result.workers === 0 ? 'main thread' : result.workers === 1 ? '1 worker' : `${result.workers} workers`})`,
  ];
  if (result.rulesSkipped.length > 0) {
    // why, in groups; a rule that should run but does not compile is named
    const groups = new Map<string, number>();
    const broken: string[] = [];
    for (const r of result.rulesSkipped) {
      if (r.group === null) broken.push(`  ${r.name}: ${r.reason}`);
      else groups.set(r.group, (groups.get(r.group) ?? 0) + 1);
    }
    const parts = [...groups].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n.toLocaleString('en-US')} ${k}`);
    if (broken.length) parts.push(`${broken.length.toLocaleString('en-US')} that do not compile`);
    info.push(`skipped: ${parts.join(', ')} (hunt runs EQL rules and KQL query, threshold, new-terms and, with --indicators, indicator match rules)`);
    info.push(...broken.slice(0, 10));
    if (broken.length > 10) info.push(`  … ${broken.length - 10} more`);
  }
  if (result.outsideWindow > 0) info.push(`${counted(result.outsideWindow, 'event', 'events')} outside ${[opts.from ? `--from ${opts.from}` : '', opts.to ? `--to ${opts.to}` : ''].filter(Boolean).join(' ')} not hunted`);
  if (belowFloor > 0) info.push(`${counted(belowFloor, 'rule', 'rules')} below --min-severity ${opts.minSeverity} not run`);
  if (format !== 'table') info.push(sum.text());
  for (const b of result.badSamples) info.push(`${b.file}:${b.line}: bad line: ${b.message}`);
  if (result.badLines > result.badSamples.length) info.push(`… ${result.badLines - result.badSamples.length} more bad lines`);
  if (result.passedOver.length > 0) {
    info.push(`note: ${counted(result.passedOver.length, 'file in the folders given was', 'files in the folders given were')} not read, as event files are named *.ndjson, *.jsonl or *.json (or those .gz), such as ${result.passedOver[0]}; name a file to read it whatever its name`);
  }
  for (const k of result.skipped.slice(0, 10)) info.push(`${k.path}: ${k.reason}`);
  if (result.skipped.length > 10) info.push(`  … ${result.skipped.length - 10} more not read`);
  for (const r of result.readErrors) info.push(`${r.file}: not read to its end (${r.message}); ${r.line === 0 ? 'no line was read' : `lines 1-${r.line.toLocaleString('en-US')} were hunted`}`);
  if (result.droppedByCap > 0) info.push(`warning: ${counted(result.droppedByCap, 'partial sequence or sample was', 'partial sequences or samples were')} given up, the oldest first, as a rule held the most open ones it keeps (--max-open, ${Number(opts.maxOpen ?? 1_000_000).toLocaleString('en-US')}): matches that needed them are missed`);
  if (result.outOfOrder > 0) info.push(`warning: ${counted(result.outOfOrder, 'event', 'events')} reached a sequence after a later event (input not in time order): sequences over them may be missed; sort the input by @timestamp, or give --lateness (how far behind an event may come, or all)`);
  io.err(`${info.join('\n')}\n`);
  return result.badLines > 0 || result.readErrors.length > 0 ? 1 : 0;
}
