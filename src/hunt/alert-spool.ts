import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltAlert } from '../alerts/index.js';
import { Heap } from '../engine/index.js';

/** The alerts of one match (a sequence's building blocks, then its own alert); the unit output is ordered by. */
export type AlertGroup = BuiltAlert[];

/** An alert without its document: what a table row, the summary and the order need. */
export type AlertFields = Omit<BuiltAlert, 'doc'>;

/** A group as alert fields and each alert's document as JSON text, ready to be written out as NDJSON. */
export interface GroupDocs {
  readonly alerts: AlertFields[];
  readonly docs: string[];
}

/** A group's place in a hunt's output: the time of its own alert (the last), then that alert's id. */
interface Keyed {
  readonly t: number;
  readonly id: string;
}

function keyOf(g: readonly AlertFields[]): Keyed {
  const head = g[g.length - 1]!;
  return { t: head.originalTime ?? 0, id: head.id };
}

/**
 * A group as the spool takes it: its place, its number of alerts, and its text, made where the
 * alerts are built (a worker thread): a string crosses to another thread as one copy, where a group's
 * objects were cloned one by one, and it is written out as it is. The text is one line: the alerts'
 * fields as a JSON array, then each alert's document as JSON, each after a tab (JSON text holds no
 * tab of its own: one in a string is written `\t`), so NDJSON output needs no parse of the documents.
 */
export interface GroupText extends Keyed {
  readonly n: number;
  readonly json: string;
}

export function groupText(g: AlertGroup): GroupText {
  const fields: AlertFields[] = [];
  let docs = '';
  for (const a of g) {
    const { doc, ...rest } = a;
    fields.push(rest);
    docs += `\t${JSON.stringify(doc)}`;
  }
  return { ...keyOf(g), n: g.length, json: JSON.stringify(fields) + docs };
}

/** A group's text taken apart: the alerts' fields parsed, the documents' JSON left as it is. */
function groupDocs(text: string, fields?: AlertFields[]): GroupDocs {
  const parts = text.split('\t');
  return { alerts: fields ?? (JSON.parse(parts[0]!) as AlertFields[]), docs: parts.slice(1) };
}

function wholeGroup(d: GroupDocs): AlertGroup {
  return d.alerts.map((a, i) => ({ ...a, doc: JSON.parse(d.docs[i]!) as Record<string, unknown> }));
}

const before = (a: Keyed, b: Keyed): boolean => a.t < b.t || (a.t === b.t && a.id < b.id);

/** Alerts held in memory before they are written out (see AlertSpool). */
export const HOLD_ALERTS = 50_000;

/** A group on its way out of the spool: its place, its text, and its alerts' fields once parsed. */
interface Out {
  readonly k: Keyed;
  readonly text: string;
  readonly fields?: AlertFields[];
}

/**
 * A hunt's alert groups, handed back in order (time, then id) whatever order they came in. An alert
 * takes about 2 KB of memory: beyond `hold` alerts, the groups held are sorted and written to a file
 * of their own in a temporary folder, and the output merges those files. A hunt with millions of
 * matches then needs the memory of `hold` alerts, and the disk of the alerts' JSON.
 */
export class AlertSpool {
  private held: GroupText[] = [];
  private heldAlerts = 0;
  private dir: string | null = null;
  /** The sorted files written so far. */
  private readonly runs: string[] = [];
  private groupCount = 0;
  private alertCount = 0;
  private written = 0;
  /** Names for the files, in the order written. */
  private nextFile = 0;

  constructor(
    private readonly hold = HOLD_ALERTS,
    /** Where the temporary folder goes (default: the system's, TMPDIR). */
    private readonly tmp = tmpdir(),
    /**
     * The most files kept to merge: at this many, they are merged into one, so the output never has
     * more open at once (64 files of 50,000 alerts are 3.2M alerts; a merge rewrites them once).
     */
    private readonly maxRuns = 64,
  ) {}

  /** Groups added. */
  get groups(): number {
    return this.groupCount;
  }

  /** Alerts added, building blocks included. */
  get alerts(): number {
    return this.alertCount;
  }

  /** Files of held groups written so far (0: every group is in memory). */
  get spilled(): number {
    return this.written;
  }

  /** Files the output would merge now (at most `maxRuns`). */
  get files(): number {
    return this.runs.length;
  }

  add(g: GroupText): void {
    this.held.push(g);
    this.heldAlerts += g.n;
    this.groupCount++;
    this.alertCount += g.n;
    if (this.heldAlerts >= this.hold) this.spill();
  }

  private sortedHeld(): GroupText[] {
    return [...this.held].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  }

  /**
   * The groups held, sorted, to a file: a line per group. The folder is made at the first (so a hunt
   * that holds all its alerts needs no room on disk); a folder that cannot be written is told as such.
   */
  private spill(): void {
    this.runs.push(this.writeRun(this.sortedHeld().map((g) => g.json)));
    this.written++;
    this.held = [];
    this.heldAlerts = 0;
    if (this.runs.length >= this.maxRuns) {
      // the files so far, merged into one (held is empty: the merge reads the files alone)
      const merged = this.writeRun(this.mergedTexts());
      for (const f of this.runs) rmSync(f, { force: true });
      this.runs.length = 0;
      this.runs.push(merged);
    }
  }

  /** Lines, in order, to a new file of the spool's folder (made at the first); its path. */
  private writeRun(lines: Iterable<string>): string {
    try {
      if (this.dir === null) {
        mkdirSync(this.tmp, { recursive: true });
        this.dir = mkdtempSync(join(this.tmp, 'vigil-hunt-'));
      }
      const file = join(this.dir, `${this.nextFile++}.txt`);
      const fd = openSync(file, 'w');
      try {
        let text = '';
        for (const line of lines) {
          text += `${line}\n`;
          if (text.length >= 1 << 20) {
            writeSync(fd, text);
            text = '';
          }
        }
        if (text) writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      return file;
    } catch (e) {
      throw new Error(`cannot write the alerts past the ${this.hold.toLocaleString('en-US')} held in memory to ${this.dir ?? this.tmp} (${(e as Error).message}); set TMPDIR to a folder with room`);
    }
  }

  /**
   * The groups in order, whole, at most `max` of them. May be walked more than once (until `close`);
   * nothing may be added while it is walked.
   */
  *ordered(max = Infinity): Generator<AlertGroup> {
    for (const o of this.merged(max)) yield wholeGroup(groupDocs(o.text, o.fields));
  }

  /** The groups in order as `ordered` gives them, with their documents left as JSON text. */
  *orderedDocs(max = Infinity): Generator<GroupDocs> {
    for (const o of this.merged(max)) yield groupDocs(o.text, o.fields);
  }

  private *mergedTexts(): Generator<string> {
    for (const o of this.merged(Infinity)) yield o.text;
  }

  private *merged(max: number): Generator<Out> {
    const held = function* (groups: readonly GroupText[]): Generator<Out> {
      for (const g of groups) yield { k: g, text: g.json };
    };
    const sources: Array<Iterator<Out>> = [held(this.sortedHeld()), ...this.runs.map((f) => readRun(f))];
    const heap = new Heap<{ o: Out; s: number }>((a, b) => before(a.o.k, b.o.k) || (!before(b.o.k, a.o.k) && a.s < b.s));
    const next = (s: number): void => {
      const r = sources[s]!.next();
      if (!r.done) heap.push({ o: r.value, s });
    };
    try {
      for (let s = 0; s < sources.length; s++) next(s);
      // a match found twice (one sequence of the same events under two values of a multi-valued
      // join key) is the same alerts, with the same ids, side by side in this order: written once
      let last: Keyed | null = null;
      for (let n = 0; n < max && heap.size > 0; ) {
        const top = heap.pop()!;
        next(top.s);
        if (last !== null && last.id === top.o.k.id && last.t === top.o.k.t) continue;
        last = top.o.k;
        n++;
        yield top.o;
      }
    } finally {
      // a walk stopped early closes the files it had open
      for (const s of sources) s.return?.();
    }
  }

  /** Removes the files written; the spool is empty after. */
  close(): void {
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.runs.length = 0;
    this.held = [];
    this.heldAlerts = 0;
  }
}

/** The groups of one file the spool wrote, a line at a time, with their alerts' fields parsed (for their place). */
function* readRun(file: string): Generator<Out> {
  const fd = openSync(file, 'r');
  try {
    const block = Buffer.allocUnsafe(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, block, 0, block.length, null);
      if (n === 0) break;
      // a line end is a byte of its own in UTF-8: lines are cut on bytes, and decoded whole
      const data = carry.length ? Buffer.concat([carry, block.subarray(0, n)]) : block.subarray(0, n);
      let at = 0;
      for (let nl = data.indexOf(10, at); nl >= 0; nl = data.indexOf(10, at)) {
        const text = data.toString('utf8', at, nl);
        const fields = JSON.parse(text.slice(0, text.indexOf('\t'))) as AlertFields[];
        yield { k: keyOf(fields), text, fields };
        at = nl + 1;
      }
      carry = Buffer.from(data.subarray(at));
    }
  } finally {
    closeSync(fd);
  }
}
