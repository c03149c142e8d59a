/**
 * A store that refuses to lie: checks of the SQLite files before and after they are opened, so
 * that damage is named instead of starting with less data than was acknowledged.
 *
 * - The WAL's frames are read as SQLite's recovery reads them (salts and cumulative checksums): a
 *   frame of the current WAL that fails its checksum, with more frames of the same WAL after it,
 *   means committed transactions SQLite would silently drop.
 * - The database file's header: its page count against the file's length (a truncated file).
 * - `PRAGMA quick_check` once open (a damaged page).
 * - The ledger (`vigil.ledger`): how many event writes were acknowledged, flushed every second and
 *   at a clean stop; a store that holds fewer than its ledger lost some.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LEDGER_FILE = 'vigil.ledger';
/** The count of acknowledged event writes a store holds (meta `acked_writes`, bumped with each batch), as `n`. */
export const ACKED_WRITES_SQL = "SELECT value AS n FROM meta WHERE key = 'acked_writes'";

export interface Ledger {
  /** event writes acknowledged (a count that only grows) */
  readonly writes: number;
  /** the last stop was clean */
  readonly clean: boolean;
  readonly at: string;
}

export class StoreDamagedError extends Error {
  constructor(
    readonly dir: string,
    readonly problems: readonly string[],
  ) {
    super(
      [
        `the store in ${dir} is damaged; Vigil will not start on it with less data than it acknowledged:`,
        ...problems.map((p) => `  - ${p}`),
        'To recover:',
        '  1. copy the data folder somewhere safe first;',
        `  2. vigil store check --data ${dir}   (what is damaged, in full);`,
        `  3. restore the folder from a backup, or accept the loss: vigil store recover --data ${dir}`,
        '     (sets a damaged WAL aside, keeps what the database holds, and starts the count of acknowledged writes again from it).',
      ].join('\n'),
    );
  }
}

export function readLedger(dir: string): Ledger | null {
  const file = join(dir, LEDGER_FILE);
  if (!existsSync(file)) return null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<Ledger>;
    return typeof v.writes === 'number' ? { writes: v.writes, clean: v.clean === true, at: String(v.at ?? '') } : null;
  } catch {
    return null;
  }
}

export function writeLedger(dir: string, writes: number, clean: boolean): void {
  const file = join(dir, LEDGER_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify({ writes, clean, at: new Date().toISOString() }));
  renameSync(`${file}.tmp`, file);
}

/** SQLite's WAL checksum over 8-byte units of `buf`, continued from `s`. */
function walChecksum(buf: Buffer, bigEndian: boolean, s: [number, number]): [number, number] {
  let [s0, s1] = s;
  for (let i = 0; i + 8 <= buf.length; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/** What is wrong with the WAL: frames of its current generation that SQLite's recovery would drop. */
export function walProblems(walFile: string): string[] {
  if (!existsSync(walFile)) return [];
  const size = statSync(walFile).size;
  if (size === 0) return [];
  const fd = openSync(walFile, 'r');
  try {
    const header = Buffer.alloc(32);
    if (readSync(fd, header, 0, 32, 0) < 32) return [`${walFile}: ${size} bytes, shorter than a WAL header (32): the WAL is damaged`];
    const magic = header.readUInt32BE(0);
    if (magic !== 0x377f0682 && magic !== 0x377f0683) {
      return header.every((b) => b === 0) ? [] : [`${walFile}: not a WAL (its header is damaged); SQLite would ignore all ${size} bytes of it`];
    }
    const bigEndian = (magic & 1) === 1;
    const pageSize = header.readUInt32BE(8);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return [`${walFile}: its header names a page size of ${pageSize}: the WAL is damaged`];
    const salt1 = header.readUInt32BE(16);
    const salt2 = header.readUInt32BE(20);
    let sum = walChecksum(header.subarray(0, 24), bigEndian, [0, 0]);
    if (sum[0] !== header.readUInt32BE(24) || sum[1] !== header.readUInt32BE(28)) return [`${walFile}: its header fails its checksum; SQLite would ignore all ${size} bytes of it`];
    const frameSize = 24 + pageSize;
    const frame = Buffer.alloc(frameSize);
    let n = 0;
    let lastCommit = 0;
    let offset = 32;
    for (; offset + frameSize <= size; offset += frameSize) {
      readSync(fd, frame, 0, frameSize, offset);
      if (frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break;
      const next = walChecksum(frame.subarray(24), bigEndian, walChecksum(frame.subarray(0, 8), bigEndian, sum));
      if (next[0] !== frame.readUInt32BE(16) || next[1] !== frame.readUInt32BE(20)) break;
      sum = next;
      n++;
      if (frame.readUInt32BE(4) !== 0) lastCommit = n;
    }
    // what follows the last good frame: leftovers of an older generation (other salts) are normal;
    // frames of this generation after a bad one are commits SQLite would drop
    let later = 0;
    for (let at = offset + frameSize; at + frameSize <= size; at += frameSize) {
      readSync(fd, frame, 0, 24, at);
      if (frame.readUInt32BE(8) === salt1 && frame.readUInt32BE(12) === salt2) later++;
    }
    // (a bad frame with nothing of its WAL after it is a write cut short before its commit: never acknowledged)
    if (later > 0) {
      return [`${walFile}: frame ${n + 1} (byte ${offset}) fails its checksum and ${later} later frame(s) of the same WAL follow it: SQLite would keep the ${lastCommit} frame(s) up to the last good commit and silently drop the rest`];
    }
    return [];
  } finally {
    closeSync(fd);
  }
}

/** What is wrong with the database file's header: a file shorter than the pages it says it has. */
export function dbFileProblems(dbFile: string): string[] {
  if (!existsSync(dbFile)) return [];
  const size = statSync(dbFile).size;
  if (size === 0) return [];
  if (size < 100) return [`${dbFile}: ${size} bytes, shorter than a database header (100): the file was truncated`];
  const header = Buffer.alloc(100);
  const fd = openSync(dbFile, 'r');
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (header.subarray(0, 16).toString('latin1') !== 'SQLite format 3\u0000') return [`${dbFile}: not an SQLite database (its header is damaged)`];
  const raw = header.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const pages = header.readUInt32BE(28);
  // the page count is meaningful when its "valid for" number matches the change counter
  if (pages > 0 && header.readUInt32BE(92) === header.readUInt32BE(24) && pages * pageSize > size) {
    return [`${dbFile}: holds ${size} bytes but its header counts ${pages} pages of ${pageSize} bytes (${pages * pageSize}): the file was truncated`];
  }
  return [];
}

/** The checks that need the files only (run before SQLite opens them, which could checkpoint a damaged WAL away). */
export function fileProblems(dir: string): string[] {
  return [...dbFileProblems(join(dir, 'vigil.db')), ...walProblems(join(dir, 'vigil.db-wal'))];
}

export interface StoreReport {
  readonly problems: string[];
  readonly events: number | null;
  readonly alerts: number | null;
  readonly ackedWrites: number | null;
  readonly ledger: Ledger | null;
}

type Db = { prepare(sql: string): { get(): unknown; pluck(): { all(): unknown[] } }; close(): void };

/**
 * Every check, in full (`PRAGMA integrity_check`, not the quick one): what `vigil store check`
 * prints. The folder must not be in use (the caller holds its lock). Opens the database read-only
 * when its files look sound, so that a check changes nothing.
 */
export function checkStore(dir: string, open: (file: string, readonly: boolean) => Db): StoreReport {
  const problems = fileProblems(dir);
  const ledger = readLedger(dir);
  const file = join(dir, 'vigil.db');
  if (!existsSync(file)) return { problems: ledger && ledger.writes > 0 ? [...problems, `${file} is missing but ${ledger.writes} event writes were acknowledged`] : problems, events: null, alerts: null, ackedWrites: null, ledger };
  if (problems.length > 0) return { problems, events: null, alerts: null, ackedWrites: null, ledger };
  let db: Db | null = null;
  try {
    db = open(file, true);
    const check = (db.prepare('PRAGMA integrity_check').pluck().all() as string[]).filter((r) => r !== 'ok');
    if (check.length > 0) problems.push(`${file}: integrity_check found ${check.length} problem(s): ${check.slice(0, 5).join('; ')}`);
    const count = (sql: string): number | null => {
      try {
        return Number((db!.prepare(sql).get() as { n: number | string } | undefined)?.n ?? 0);
      } catch {
        return null;
      }
    };
    const events = count('SELECT count(*) AS n FROM events');
    const alerts = count('SELECT count(*) AS n FROM alerts');
    const acked = count(ACKED_WRITES_SQL);
    if (ledger && acked !== null && acked < ledger.writes) problems.push(`${file} holds ${acked} acknowledged event writes but ${ledger.writes} were acknowledged (${LEDGER_FILE}): ${ledger.writes - acked} are missing`);
    return { problems, events, alerts, ackedWrites: acked, ledger };
  } catch (e) {
    problems.push(`${file}: ${(e as Error).message}`);
    return { problems, events: null, alerts: null, ackedWrites: null, ledger };
  } finally {
    db?.close();
  }
}

/**
 * Accepts the loss after damage: a damaged WAL is set aside (renamed, never deleted), the database
 * is opened as it is, and the ledger starts again from what it holds. A damaged database file is
 * not mended here (it needs a backup, or sqlite3's .recover): the answer says so.
 */
export function recoverStore(dir: string, open: (file: string, readonly: boolean) => Db): { actions: string[]; report: StoreReport } {
  const actions: string[] = [];
  const wal = join(dir, 'vigil.db-wal');
  if (walProblems(wal).length > 0) {
    const aside = `${wal}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(wal, aside);
    if (existsSync(join(dir, 'vigil.db-shm'))) renameSync(join(dir, 'vigil.db-shm'), `${aside}-shm`);
    actions.push(`set the damaged WAL aside as ${aside}`);
  }
  const dbProblems = dbFileProblems(join(dir, 'vigil.db'));
  if (dbProblems.length === 0) {
    const before = readLedger(dir);
    const db = open(join(dir, 'vigil.db'), false);
    const check = (db.prepare('PRAGMA integrity_check').pluck().all() as string[]).filter((r) => r !== 'ok');
    const acked = Number((db.prepare(ACKED_WRITES_SQL).get() as { n?: string } | undefined)?.n ?? 0);
    db.close();
    if (check.length === 0) {
      writeLedger(dir, acked, true);
      actions.push(before && before.writes > acked ? `accepted the loss of ${before.writes - acked} acknowledged event writes: the ledger now counts the ${acked} the store holds` : `the store holds all ${acked} acknowledged event writes`);
    } else actions.push(`the database itself is damaged (integrity_check: ${check.slice(0, 3).join('; ')}): restore it from a backup, or salvage its rows with sqlite3's .recover (apt-get install sqlite3; sqlite3 vigil.db .recover | sqlite3 recovered.db)`);
  } else actions.push(`${dbProblems.join('; ')}: restore it from a backup, or salvage its rows with sqlite3's .recover`);
  return { actions, report: checkStore(dir, open) };
}
