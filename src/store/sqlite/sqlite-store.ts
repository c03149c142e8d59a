import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { parseJsonObject } from '../../core/index.js';
import { ACKED_WRITES_SQL, fileProblems, LEDGER_FILE, readLedger, StoreDamagedError, writeLedger, type Ledger } from './integrity.js';
import { createIndexMatcher } from '../../core/index.js';
import type {
  SeqRange,
  AlertQuery,
  ArrivalQuery,
  EventReader,
  AlertRow,
  AlertStore,
  EventScan,
  EventStore,
  EventWrite,
  EventWriteResult,
  GapRecord,
  IndexInfo,
  RuleStore,
  ExceptionStore,
  SuppressionGroup,
  RunRecord,
  RunStore,
  Store,
  StoredEvent,
  StoredRule,
  TermsSighting,
  TermsStore,
  TimeRange,
} from '../ports.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS indices(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, docs INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, idx INTEGER NOT NULL, id TEXT NOT NULL, explicit INTEGER NOT NULL, version INTEGER NOT NULL, ts INTEGER, ingested INTEGER NOT NULL, source TEXT NOT NULL CONSTRAINT source_is_json CHECK (json_valid(source)));
CREATE UNIQUE INDEX IF NOT EXISTS events_doc ON events(idx, id) WHERE explicit = 1;
CREATE INDEX IF NOT EXISTS events_time ON events(idx, ts);
-- rules that window by event.ingested (most of Elastic's) scan by it
CREATE INDEX IF NOT EXISTS events_ingested ON events(idx, ingested);

CREATE TABLE IF NOT EXISTS alerts(id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, created INTEGER NOT NULL, original_time INTEGER, severity TEXT NOT NULL, severity_rank INTEGER NOT NULL, risk INTEGER NOT NULL, status TEXT NOT NULL, host TEXT, user TEXT, process TEXT, group_id TEXT, building_block INTEGER NOT NULL, doc TEXT NOT NULL, search_text TEXT, assignee TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(original_time);
CREATE INDEX IF NOT EXISTS alerts_rule_bb ON alerts(rule_id, building_block, original_time);
-- covers every filter, sort and count of the triage screen but free text, so that those never read alert documents
CREATE INDEX IF NOT EXISTS alerts_triage ON alerts(status, building_block, original_time, severity_rank, risk, rule_id, severity, host, created);
CREATE INDEX IF NOT EXISTS alerts_group ON alerts(group_id);
CREATE TABLE IF NOT EXISTS suppression(key TEXT PRIMARY KEY, alert_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppressed(match_id TEXT PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exception_lists(list_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exception_items(item_id TEXT PRIMARY KEY, list_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS exception_items_list ON exception_items(list_id);
CREATE TABLE IF NOT EXISTS value_lists(id TEXT PRIMARY KEY, type TEXT NOT NULL, vals TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_lists(rule_id TEXT NOT NULL, list_id TEXT NOT NULL, PRIMARY KEY(rule_id, list_id)) WITHOUT ROWID;
-- every column a group of alerts is counted by or filtered on (but free text and group ids): the
-- groups are counted from it alone, not from the rows, which hold the alert documents
CREATE INDEX IF NOT EXISTS alerts_groups ON alerts(building_block, status, severity_rank, risk, original_time, rule_id, severity, host, user, assignee);
CREATE TABLE IF NOT EXISTS rules(rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, streaming INTEGER NOT NULL, origin TEXT NOT NULL, body TEXT NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state(rule_id TEXT PRIMARY KEY, covered_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, rule_id TEXT NOT NULL, execution_id TEXT NOT NULL, kind TEXT NOT NULL, started INTEGER NOT NULL, duration_ms REAL NOT NULL, window_from INTEGER NOT NULL, window_to INTEGER NOT NULL, searched INTEGER NOT NULL, matches INTEGER NOT NULL, written INTEGER NOT NULL, existing INTEGER NOT NULL, dropped INTEGER NOT NULL, gap_ms INTEGER NOT NULL, status TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS runs_rule ON runs(rule_id, id);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- what aggregating rules remember between executions: first and latest sightings of new terms, and
-- the latest event a threshold group's alert counted, per rule state (scope) and combination of values
CREATE TABLE IF NOT EXISTS terms(scope TEXT NOT NULL, key TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY(scope, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS terms_last ON terms(scope, last);
CREATE TABLE IF NOT EXISTS gaps(id INTEGER PRIMARY KEY, rule_id TEXT NOT NULL, gap_from INTEGER NOT NULL, gap_to INTEGER NOT NULL, detected INTEGER NOT NULL, filled INTEGER);
`;

const SEVERITY_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };
/** Chart buckets a person reads easily: 1, 5, 15, 30 minutes, 1, 3, 6, 12 hours, 1, 7 days. */
const NICE_BUCKETS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000];

/**
 * Generated ids are 20 URL-safe characters: the row's sequence number (12 base-36 digits) and a
 * random suffix fixed per database. A generated id names its row, so only ids given by clients
 * need the id index (a partial index), which keeps inserts of shipper data cheap.
 */
interface IdScheme {
  make(seq: number): string;
  /** The sequence number a generated id names, or null when `id` is not one of ours. */
  seqOf(id: string): number | null;
}

function idScheme(db: Database.Database): IdScheme {
  let suffix = (db.prepare("SELECT value FROM meta WHERE key = 'id-suffix'").get() as { value: string } | undefined)?.value;
  if (!suffix) {
    suffix = randomBytes(6).toString('base64url');
    db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('id-suffix', ?)").run(suffix);
    suffix = (db.prepare("SELECT value FROM meta WHERE key = 'id-suffix'").get() as { value: string }).value;
  }
  const sfx = suffix;
  return {
    make: (seq) => seq.toString(36).padStart(12, '0') + sfx,
    seqOf: (id) => {
      if (id.length !== 20 || !id.endsWith(sfx)) return null;
      const head = id.slice(0, 12);
      if (!/^[0-9a-z]{12}$/.test(head)) return null;
      return parseInt(head, 36);
    },
  };
}

/**
 * The SQLite adapter. WAL mode with synchronous=NORMAL: a committed transaction is in the WAL
 * before the call returns, so an acknowledged write survives the process being killed
 * (only an OS crash or power loss could lose the last commits).
 */
export function prepareDatabase(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('cache_size = -65536');
  db.exec(SCHEMA);
  db.exec('DROP INDEX IF EXISTS alerts_status; DROP INDEX IF EXISTS alerts_rule'); // replaced by alerts_triage and alerts_rule_bb
  // run records carry the rule's CPU time since the shared passes (stores made before get the column)
  const runCols = db.prepare('PRAGMA table_info(runs)').all() as Array<{ name: string }>;
  if (!runCols.some((c) => c.name === 'cpu_ms')) db.exec('ALTER TABLE runs ADD COLUMN cpu_ms REAL NOT NULL DEFAULT 0');
  // alerts carry the text free-text search reads (without the rule's parameters) and an assignee
  const alertCols = db.prepare('PRAGMA table_info(alerts)').all() as Array<{ name: string }>;
  if (!alertCols.some((c) => c.name === 'search_text')) db.exec('ALTER TABLE alerts ADD COLUMN search_text TEXT');
  if (!alertCols.some((c) => c.name === 'assignee')) db.exec('ALTER TABLE alerts ADD COLUMN assignee TEXT');
  // stores made before documents were checked in SQL get the same check as a trigger (slower than
  // the table constraint, same effect)
  const table = (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() as { sql: string }).sql;
  if (!table.includes('source_is_json')) {
    db.exec("CREATE TRIGGER IF NOT EXISTS events_json BEFORE INSERT ON events WHEN NOT json_valid(NEW.source) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: source_is_json'); END");
  }
}

/**
 * The writer-thread protocol packs a batch into a few flat values (one joined JSON string, typed
 * arrays) because structured cloning thousands of small objects costs more than the insert.
 */
export interface PackedBatch {
  readonly ops: string;
  readonly indexNames: string[];
  readonly indexOf: Uint32Array;
  readonly ids: Array<string | null>;
  readonly ts: Float64Array;
  readonly ingested: Float64Array;
  readonly json: string;
}
export interface PackedResults {
  readonly ids: string[];
  readonly versions: Uint32Array;
  readonly seqs: Float64Array;
  readonly created: Uint8Array;
  readonly errors: Array<[number, number, string, string]>;
}

export function packBatch(batch: readonly EventWrite[]): PackedBatch {
  const names = new Map<string, number>();
  const n = batch.length;
  const indexOf = new Uint32Array(n);
  const ts = new Float64Array(n);
  const ingested = new Float64Array(n);
  const ids: Array<string | null> = new Array<string | null>(n);
  let ops = '';
  const json: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const w = batch[i]!;
    let k = names.get(w.index);
    if (k === undefined) names.set(w.index, (k = names.size));
    indexOf[i] = k;
    ts[i] = w.ts === null ? NaN : w.ts;
    ingested[i] = w.ingested;
    ids[i] = w.id ?? null;
    ops += w.op === 'create' ? 'c' : 'i';
    // newlines separate documents here; JSON whitespace newlines are dropped by re-encoding
    json[i] = w.json.includes('\n') ? JSON.stringify(JSON.parse(w.json)) : w.json;
  }
  return { ops, indexNames: [...names.keys()], indexOf, ids, ts, ingested, json: json.join('\n') };
}

export function unpackBatch(p: PackedBatch): EventWrite[] {
  const json = p.json.split('\n');
  const out: EventWrite[] = new Array<EventWrite>(p.ops.length);
  for (let i = 0; i < p.ops.length; i++) {
    const t = p.ts[i]!;
    out[i] = { op: p.ops[i] === 'c' ? 'create' : 'index', index: p.indexNames[p.indexOf[i]!]!, id: p.ids[i] ?? undefined, json: json[i]!, ts: Number.isNaN(t) ? null : t, ingested: p.ingested[i]! };
  }
  return out;
}

export function packResults(rs: readonly EventWriteResult[]): PackedResults {
  const n = rs.length;
  const out = { ids: new Array<string>(n), versions: new Uint32Array(n), seqs: new Float64Array(n), created: new Uint8Array(n), errors: [] as Array<[number, number, string, string]> };
  for (let i = 0; i < n; i++) {
    const r = rs[i]!;
    out.ids[i] = r.id;
    if (r.ok) {
      out.versions[i] = r.version;
      out.seqs[i] = r.seq;
      out.created[i] = r.created ? 1 : 0;
    } else out.errors.push([i, r.status, r.type, r.reason]);
  }
  return out;
}

function unpackResults(p: PackedResults, batch: readonly EventWrite[]): EventWriteResult[] {
  const out: EventWriteResult[] = new Array<EventWriteResult>(p.ids.length);
  for (let i = 0; i < p.ids.length; i++) out[i] = { ok: true, index: batch[i]!.index, id: p.ids[i]!, version: p.versions[i]!, seq: p.seqs[i]!, created: p.created[i] === 1 };
  for (const [i, status, type, reason] of p.errors) out[i] = { ok: false, index: batch[i]!.index, id: p.ids[i]!, status, type, reason };
  return out;
}

/** Runs event batches on a writer thread; results come back in call order. */
function startWriterThread(file: string): { write: (batch: readonly EventWrite[]) => Promise<EventWriteResult[]>; close: () => Promise<void> } {
  const worker = new Worker(new URL('./write-worker.js', import.meta.url), { workerData: { file } });
  const pending = new Map<number, { batch: readonly EventWrite[]; resolve: (r: EventWriteResult[]) => void; reject: (e: Error) => void }>();
  let next = 0;
  let dead: Error | null = null;
  let closed: (() => void) | null = null;
  worker.on('message', (m: { id: number; results?: PackedResults; error?: string } | { closed: true }) => {
    if ('closed' in m) {
      closed?.();
      return;
    }
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (pending.size === 0) worker.unref(); // keep the process alive only while writes are pending
    if (m.results) p?.resolve(unpackResults(m.results, p.batch));
    else p?.reject(new Error(m.error ?? 'write failed'));
  });
  const fail = (e: Error): void => {
    dead = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the writer thread exited (${code})`)));
  worker.unref();
  return {
    write: (batch) =>
      new Promise((resolve, reject) => {
        if (dead) return reject(dead);
        const id = next++;
        pending.set(id, { batch, resolve, reject });
        worker.ref();
        worker.postMessage({ id, batch: packBatch(batch) });
      }),
    close: () =>
      dead
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            closed = resolve;
            worker.ref();
            worker.postMessage({ close: true });
          }).then(() => void worker.terminate()),
  };
}

/** Checkpoints the WAL every `everyMs` on a thread of its own (see checkpoint-worker.ts). */
function startCheckpointThread(file: string, everyMs = 250): { close: () => Promise<void> } {
  const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file, everyMs } });
  worker.unref();
  let alive = true;
  worker.on('exit', () => (alive = false));
  worker.on('error', () => (alive = false));
  return {
    close: () =>
      alive
        ? new Promise<void>((resolve) => {
            worker.ref();
            worker.once('message', () => resolve());
            worker.once('exit', () => resolve());
            worker.postMessage({ close: true });
          }).then(() => void worker.terminate())
        : Promise.resolve(),
  };
}

/**
 * Takes the data folder for this process: `vigil.lock` holds the owner's process id. A folder whose
 * owner is alive (another process) is refused; one left by a process that died is taken over.
 * Returns the release.
 */
export function lockDataFolder(dir: string): () => void {
  const lock = join(dir, 'vigil.lock');
  const mine = String(process.pid);
  try {
    writeFileSync(lock, mine, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const owner = Number(readFileSync(lock, 'utf8').trim());
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    };
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new Error(`the data folder ${dir} is in use by another Vigil (process ${owner}): stop it first, or give another --data folder`);
    }
    writeFileSync(lock, mine);
  }
  return () => {
    try {
      if (readFileSync(lock, 'utf8').trim() === mine) unlinkSync(lock);
    } catch {
      // gone already
    }
  };
}

export function openSqliteStore(dir: string, options: { memory?: boolean; writerThread?: boolean } = {}): Store {
  let file = ':memory:';
  let unlock = (): void => {};
  let ledger: Ledger | null = null;
  if (!options.memory) {
    mkdirSync(dir, { recursive: true });
    unlock = lockDataFolder(dir);
    file = join(dir, 'vigil.db');
    // before SQLite opens the files: its recovery would checkpoint a damaged WAL away
    const found = fileProblems(dir);
    if (found.length > 0) {
      unlock();
      throw new StoreDamagedError(dir, found);
    }
    ledger = readLedger(dir);
  }
  const db = new Database(file);
  try {
    prepareDatabase(db);
  } catch (e) {
    db.close();
    unlock();
    throw new StoreDamagedError(dir, [`${file}: ${(e as Error).message}`]);
  }
  const ackedStmt = db.prepare(ACKED_WRITES_SQL);
  const ackedWrites = (): number => Number((ackedStmt.get() as { n: string } | undefined)?.n ?? 0);
  if (!options.memory) {
    const found: string[] = [];
    const check = (db.prepare('PRAGMA quick_check').pluck().all() as string[]).filter((r) => r !== 'ok');
    if (check.length > 0) found.push(`${file}: quick_check found ${check.length} problem(s): ${check.slice(0, 3).join('; ')}`);
    const held = ackedWrites();
    if (ledger && held < ledger.writes) found.push(`${file} holds ${held.toLocaleString('en-US')} acknowledged event writes but ${ledger.writes.toLocaleString('en-US')} were acknowledged (${LEDGER_FILE}, ${ledger.at}): ${(ledger.writes - held).toLocaleString('en-US')} are missing`);
    if (found.length > 0) {
      db.close();
      unlock();
      throw new StoreDamagedError(dir, found);
    }
    writeLedger(dir, held, false);
  }
  const writer = options.writerThread && !options.memory ? startWriterThread(file) : null;
  const checkpointer = writer ? startCheckpointThread(file) : null;
  if (checkpointer) db.pragma('wal_autocheckpoint = 0');
  // IMMEDIATE: a transaction that read first and then wrote would fail at once (SQLITE_BUSY_SNAPSHOT)
  // when the writer thread committed in between; taking the write lock first waits for it instead
  const transaction = <T>(fn: () => T): T => db.transaction(fn).immediate();
  // the ledger follows the acknowledged writes every second, and at a clean stop
  let ledgered = options.memory ? 0 : ackedWrites();
  const flushLedger = (clean: boolean): void => {
    if (options.memory) return;
    try {
      const n = ackedWrites();
      if (n !== ledgered || clean) writeLedger(dir, n, clean);
      ledgered = n;
    } catch {
      // the next second tries again
    }
  };
  const ledgerTimer = options.memory ? null : setInterval(() => flushLedger(false), 1000);
  ledgerTimer?.unref();
  return {
    events: createEventStore(db, writer ? writer.write : null, options.memory ? null : file),
    alerts: createAlertStore(db),
    rules: createRuleStore(db),
    runs: createRunStore(db),
    exceptions: createExceptionStore(db),
    terms: createTermsStore(db),
    meta: createMetaStore(db),
    transaction,
    size: () => {
      if (options.memory) return 0;
      let total = 0;
      for (const f of ['vigil.db', 'vigil.db-wal']) {
        try {
          total += statSync(join(dir, f)).size;
        } catch {
          /* not there */
        }
      }
      return total;
    },
    close: async () => {
      await writer?.close();
      await checkpointer?.close();
      if (ledgerTimer) clearInterval(ledgerTimer);
      flushLedger(true);
      db.close();
      unlock();
    },
  };
}

function createTermsStore(db: Database.Database): TermsStore {
  const get = db.prepare('SELECT first, last FROM terms WHERE scope = ? AND key = ?');
  const put = db.prepare('INSERT INTO terms(scope, key, first, last) VALUES (?, ?, ?, ?) ON CONFLICT(scope, key) DO UPDATE SET first = excluded.first, last = excluded.last');
  const count = db.prepare('SELECT count(*) AS n FROM terms WHERE scope = ?');
  const stale = db.prepare('DELETE FROM terms WHERE scope = ? AND last < ?');
  const oldest = db.prepare('DELETE FROM terms WHERE scope = ? AND key IN (SELECT key FROM terms WHERE scope = ? ORDER BY last LIMIT ?)');
  return {
    get(scope, key) {
      return (get.get(scope, key) as TermsSighting | undefined) ?? null;
    },
    all(scope) {
      const rows = db.prepare('SELECT key, first, last FROM terms WHERE scope = ?').raw(true).all(scope) as Array<[string, number, number]>;
      return new Map(rows.map(([key, first, last]) => [key, { first, last }]));
    },
    put(scope, entries) {
      for (const [key, s] of entries) put.run(scope, key, s.first, s.last);
    },
    count(scope) {
      return (count.get(scope) as { n: number }).n;
    },
    prune(scope, before, max) {
      let n = stale.run(scope, before).changes;
      const over = (count.get(scope) as { n: number }).n - max;
      if (over > 0) n += oldest.run(scope, scope, over).changes;
      return n;
    },
    drop(scope) {
      db.prepare('DELETE FROM terms WHERE scope = ?').run(scope);
    },
  };
}

function startsObject(json: string): boolean {
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 123) return true;
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return false;
}

/** Why a text is not a JSON object, in JSON.parse's words; null when it is one. */
function jsonProblem(text: string): string | null {
  const r = parseJsonObject(text);
  return r.ok ? null : r.reason;
}

/**
 * The write half of the event store: one transaction per batch. Used directly (memory stores,
 * tests) or inside the writer thread (`write-worker.ts`), where it runs beside request parsing.
 */
export function createEventWriter(db: Database.Database): (batch: readonly EventWrite[]) => EventWriteResult[] {
  const ids = idScheme(db);
  const maxSeq = db.prepare('SELECT max(seq) AS m FROM events');
  const indexIds = new Map<string, number>();
  const addIndex = db.prepare('INSERT INTO indices(name, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen RETURNING id');
  const touchIndex = db.prepare('UPDATE indices SET last_seen = max(last_seen, ?), docs = docs + ? WHERE id = ?');
  const insert = db.prepare('INSERT INTO events(seq, idx, id, explicit, version, ts, ingested, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const findExplicit = db.prepare('SELECT seq, version FROM events WHERE idx = ? AND id = ? AND explicit = 1');
  const findSeq = db.prepare('SELECT seq, version FROM events WHERE seq = ? AND idx = ? AND id = ?');
  const deleteSeq = db.prepare('DELETE FROM events WHERE seq = ?');
  // acknowledged writes, a count that only grows, committed with them (see integrity.ts's ledger)
  const countWrites = db.prepare("INSERT INTO meta(key, value) VALUES ('acked_writes', ?) ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value");

  const indexId = (name: string, now: number): number => {
    let id = indexIds.get(name);
    if (id === undefined) {
      id = (addIndex.get(name, now, now) as { id: number }).id;
      indexIds.set(name, id);
    }
    return id;
  };

  // IMMEDIATE, as Store.transaction: the batch reads (the next seq, prior versions) before it writes
  const tx = db.transaction((batch: readonly EventWrite[]): EventWriteResult[] => {
    const out: EventWriteResult[] = [];
    const touched = new Map<number, { n: number; t: number }>();
    // read inside the transaction: whichever connection writes, sequence numbers stay unique
    let nextSeq = ((maxSeq.get() as { m: number | null }).m ?? 0) + 1;
    for (const w of batch) {
      const idx = indexId(w.index, w.ingested);
      let version = 1;
      let created = true;
      const seq = nextSeq;
      let id: string;
      if (w.id === undefined) id = ids.make(seq);
      else {
        id = w.id;
        const named = ids.seqOf(id);
        const prior = (findExplicit.get(idx, id) ?? (named === null ? undefined : findSeq.get(named, idx, id))) as { seq: number; version: number } | undefined;
        if (prior) {
          if (w.op === 'create') {
            out.push({ ok: false, index: w.index, id, status: 409, type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [${prior.version}])` });
            continue;
          }
          const problem = jsonProblem(w.json);
          if (problem !== null) {
            out.push({ ok: false, index: w.index, id, status: 400, type: 'document_parsing_exception', reason: `failed to parse: ${problem}` });
            continue;
          }
          deleteSeq.run(prior.seq);
          version = prior.version + 1;
          created = false;
        }
      }
      try {
        // the document is checked here, in C (JSON) and by its first character (an object), so that ingest need not parse it
        if (!startsObject(w.json)) throw new Error('CHECK constraint failed: source_is_json');
        insert.run(seq, idx, id, w.id === undefined ? 0 : 1, version, w.ts, w.ingested, w.json);
      } catch (e) {
        if (!(e instanceof Error) || !e.message.includes('source_is_json')) throw e;
        out.push({ ok: false, index: w.index, id, status: 400, type: 'document_parsing_exception', reason: `failed to parse: ${jsonProblem(w.json) ?? 'not a JSON object'}` });
        continue;
      }
      nextSeq++;
      const t = touched.get(idx) ?? { n: 0, t: 0 };
      t.n += created ? 1 : 0;
      t.t = Math.max(t.t, w.ingested);
      touched.set(idx, t);
      out.push({ ok: true, index: w.index, id, version, seq, created });
    }
    for (const [idx, t] of touched) touchIndex.run(t.t, t.n, idx);
    const written = out.reduce((n, r) => n + (r.ok ? 1 : 0), 0);
    if (written > 0) countWrites.run(written);
    return out;
  });
  return (batch) => tx.immediate(batch);
}

/** Rows read per page of a scan. */
const SCAN_PAGE = 2000;


/** Index name → id. Index names are few: read fresh, so that indices the writer thread created are seen. */
function indexIdsOf(db: Database.Database): Map<string, number> {
  return new Map((db.prepare('SELECT id, name FROM indices').all() as Array<{ id: number; name: string }>).map((r) => [r.name, r.id]));
}

/** The ids of the indices whose names the patterns match. */
function idsMatching(all: ReadonlyMap<string, number>, patterns: readonly string[]): number[] {
  const match = createIndexMatcher(patterns);
  const ids: number[] = [];
  for (const [name, id] of all) if (match(name)) ids.push(id);
  return ids;
}

/** Index id → name. */
const namesOf = (all: ReadonlyMap<string, number>): Map<number, string> => new Map([...all].map(([n, i]) => [i, n]));

/** See EventStore.arrivalBounds. */
function arrivalBounds(db: Database.Database, ids: readonly number[], q: ArrivalQuery): SeqRange | null {
  if (ids.length === 0 || (!q.timestamp && !q.ingested)) return null;
  const idxIn = `idx IN (${ids.join(',')})`;
  // the first row of either range (each found through its index)
  const firstOf = (col: string, r: TimeRange): number | null => (db.prepare(`SELECT min(seq) AS s FROM events WHERE ${idxIn} AND ${col} > ? AND ${col} <= ?`).get(r.after, r.upTo) as { s: number | null }).s;
  const starts = [q.timestamp ? firstOf('ts', q.timestamp) : null, q.ingested ? firstOf('ingested', q.ingested) : null].filter((x): x is number => x !== null);
  if (starts.length === 0) return null;
  const last = (db.prepare('SELECT max(seq) AS s FROM events').get() as { s: number }).s;
  return { after: Math.min(...starts) - 1, upTo: last };
}

/**
 * Events of indices `ids` in either time range, in arrival order, a page at a time: no statement
 * stays open between pages, so the caller may pause between events, and the connection serve other
 * queries meanwhile.
 */
function* arrivals(db: Database.Database, ids: readonly number[], names: ReadonlyMap<number, string>, q: ArrivalQuery): Generator<StoredEvent> {
  const none = { after: 0, upTo: -1 };
  const ts = q.timestamp ?? none;
  const ing = q.ingested ?? none;
  const bounds = q.seq ?? arrivalBounds(db, ids, q);
  if (bounds === null || ids.length === 0) return;
  // then the rows from there in seq order (the unary + keeps SQLite on the rowid, not the time
  // indices), as arrays: half the cost of a row as an object
  const page = db
    .prepare(`SELECT seq, idx, id, version, ts, ingested, source FROM events WHERE seq > ? AND seq <= ? AND +idx IN (${ids.join(',')}) AND ((+ts > ? AND +ts <= ?) OR (+ingested > ? AND +ingested <= ?)) ORDER BY seq LIMIT ${SCAN_PAGE}`)
    .raw(true);
  type Row = [seq: number, idx: number, id: string, version: number, ts: number | null, ingested: number, source: string];
  for (let last = bounds.after; ; ) {
    const rows = page.all(last, bounds.upTo, ts.after, ts.upTo, ing.after, ing.upTo) as Row[];
    for (const r of rows) yield { index: names.get(r[1]) ?? '', id: r[2], version: r[3], seq: r[0], ts: r[4], ingested: r[5], json: r[6] };
    if (rows.length < SCAN_PAGE) return;
    last = rows[rows.length - 1]![0];
  }
}

/**
 * A connection of its own that reads stored events, for a thread other than the store's
 * (the scheduler's scan thread): it reads what the store has committed, and writes nothing.
 */
export function openEventReader(file: string): EventReader {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  return {
    scanArrivals(q) {
      const all = indexIdsOf(db);
      return arrivals(db, idsMatching(all, q.patterns), namesOf(all), q);
    },
    close: () => db.close(),
  };
}

/**
 * The stored documents and settings over a read-only connection of its own (for threads that
 * search beside the server's): what it reads is what was committed when each read began.
 */
export function openStoreReader(file: string): Pick<Store, 'events' | 'meta'> & { close(): void } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  return { events: createEventStore(db, null, file), meta: createMetaStore(db), close: () => db.close() };
}

function createMetaStore(db: Database.Database): Store['meta'] {
  return {
    get: (key) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null,
    put: (key, value) => void db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run(key, value),
    remove: (key) => db.prepare('DELETE FROM meta WHERE key = ?').run(key).changes > 0,
    list: (prefix) => db.prepare('SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key').all(prefix, `${prefix}\uffff`) as Array<{ key: string; value: string }>,
  };
}

function createEventStore(db: Database.Database, writeAsync: ((batch: readonly EventWrite[]) => Promise<EventWriteResult[]>) | null, readerFile: string | null): EventStore {
  let writer: ((batch: readonly EventWrite[]) => EventWriteResult[]) | null = null;
  const writeBatch = (batch: readonly EventWrite[]): EventWriteResult[] => (writer ??= createEventWriter(db))(batch);
  const indexIds = (): Map<string, number> => indexIdsOf(db);
  const ids = idScheme(db);
  const getExplicit = db.prepare('SELECT seq, version, ts, source FROM events WHERE idx = ? AND id = ? AND explicit = 1');
  const getSeq = db.prepare('SELECT seq, version, ts, source FROM events WHERE seq = ? AND idx = ? AND id = ?');

  const resolveIds = (patterns: readonly string[]): number[] => idsMatching(indexIds(), patterns);
  const nameOf = (): Map<number, string> => namesOf(indexIds());

  return {
    write: (batch) => writeBatch(batch),
    writeAsync: writeAsync ?? ((batch) => Promise.resolve(writeBatch(batch))),
    get(index, id) {
      const idx = indexIds().get(index);
      if (idx === undefined) return null;
      const named = ids.seqOf(id);
      const r = (getExplicit.get(idx, id) ?? (named === null ? undefined : getSeq.get(named, idx, id))) as { seq: number; version: number; ts: number | null; source: string } | undefined;
      return r ? { index, id, version: r.version, seq: r.seq, ts: r.ts, json: r.source } : null;
    },
    *scan(scan: EventScan): IterableIterator<StoredEvent> {
      const ids = resolveIds(scan.patterns);
      if (ids.length === 0) return;
      const col = scan.timeField === 'ingested' ? 'ingested' : 'ts';
      const where = [`idx IN (${ids.join(',')})`];
      const args: number[] = [];
      if (scan.after !== undefined) {
        where.push(`${col} > ?`);
        args.push(scan.after);
      }
      if (scan.upTo !== undefined) {
        where.push(`${col} <= ?`);
        args.push(scan.upTo);
      }
      const names = nameOf();
      const stmt = db.prepare(`SELECT seq, idx, id, version, ts, ingested, source FROM events WHERE ${where.join(' AND ')} ORDER BY ${col}, seq`);
      for (const r of stmt.iterate(...args) as IterableIterator<{ seq: number; idx: number; id: string; version: number; ts: number | null; ingested: number; source: string }>) {
        yield { index: names.get(r.idx) ?? '', id: r.id, version: r.version, seq: r.seq, ts: r.ts, ingested: r.ingested, json: r.source };
      }
    },
    scanArrivals(q) {
      const ids = resolveIds(q.patterns);
      return arrivals(db, ids, nameOf(), q);
    },
    arrivalBounds: (q) => arrivalBounds(db, resolveIds(q.patterns), q),
    readerFile: () => readerFile,
    findByField(path, value, upTo, limit, and) {
      // an unindexed scan, newest first: used for one process's ancestry, not for searching
      const nested = (p: string): string => `$.${p.split('.').map((x) => `"${x.replace(/"/g, '')}"`).join('.')}`;
      const dotted = (p: string): string => `$."${p.replace(/"/g, '')}"`;
      const names = nameOf();
      // the second field may hold an array (event.type: ["start"]): json_each reads a scalar as one value
      const also = and ? 'AND (EXISTS (SELECT 1 FROM json_each(source, ?) WHERE value = ?) OR EXISTS (SELECT 1 FROM json_each(source, ?) WHERE value = ?))' : '';
      const alsoArgs = and ? [nested(and.path), and.value, dotted(and.path), and.value] : [];
      const rows = db
        .prepare(`SELECT seq, idx, id, version, ts, source FROM events WHERE (json_extract(source, ?) = ? OR json_extract(source, ?) = ?) ${also} AND (ts IS NULL OR ts <= ?) ORDER BY ts DESC, seq DESC LIMIT ?`)
        .all(nested(path), value, dotted(path), value, ...alsoArgs, upTo ?? Number.MAX_SAFE_INTEGER, limit) as Array<{ seq: number; idx: number; id: string; version: number; ts: number | null; source: string }>;
      return rows.map((r) => ({ index: names.get(r.idx) ?? '', id: r.id, version: r.version, seq: r.seq, ts: r.ts, json: r.source }));
    },
    remove(index, id) {
      const e = this.get(index, id);
      if (!e) return null;
      db.prepare('DELETE FROM events WHERE seq = ?').run(e.seq);
      db.prepare('UPDATE indices SET docs = docs - 1 WHERE name = ?').run(index);
      return { seq: e.seq, version: e.version };
    },
    dropIndices(names) {
      let n = 0;
      db.transaction(() => {
        for (const name of names) {
          const idx = indexIds().get(name);
          if (idx === undefined) continue;
          n += db.prepare('DELETE FROM events WHERE idx = ?').run(idx).changes;
          // the row stays (a writer may hold its id): an index without documents is not listed
          db.prepare('UPDATE indices SET docs = 0 WHERE id = ?').run(idx);
        }
      }).immediate();
      return n;
    },
    lastSeq: () => (db.prepare('SELECT max(seq) AS m FROM events').get() as { m: number | null }).m ?? 0,
    resolve(patterns) {
      const match = createIndexMatcher(patterns);
      return (db.prepare('SELECT name FROM indices WHERE docs > 0').pluck().all() as string[]).filter(match).sort();
    },
    indices(): IndexInfo[] {
      return (db.prepare('SELECT name, docs, first_seen, last_seen FROM indices WHERE docs > 0 ORDER BY name').all() as Array<{ name: string; docs: number; first_seen: number; last_seen: number }>).map(
        (r) => ({ name: r.name, docs: r.docs, firstSeen: r.first_seen, lastSeen: r.last_seen }),
      );
    },
    count: () => (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n,
    deleteBefore(ts) {
      const n = db.prepare('DELETE FROM events WHERE ts < ?').run(ts).changes;
      if (n > 0) db.exec('UPDATE indices SET docs = (SELECT count(*) FROM events WHERE events.idx = indices.id)');
      return n;
    },
    trimTo(keep) {
      const n = db.prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY ts, seq LIMIT max(0, (SELECT count(*) FROM events) - ?))').run(keep).changes;
      if (n > 0) db.exec('UPDATE indices SET docs = (SELECT count(*) FROM events WHERE events.idx = indices.id)');
      return n;
    },
  };
}

interface AlertDbRow {
  id: string;
  rule_id: string;
  created: number;
  original_time: number | null;
  severity: string;
  risk: number;
  status: string;
  host: string | null;
  user: string | null;
  process: string | null;
  group_id: string | null;
  building_block: number;
  doc: string;
  assignee: string | null;
}

function toAlert(r: AlertDbRow): AlertRow {
  return {
    id: r.id,
    ruleId: r.rule_id,
    created: r.created,
    originalTime: r.original_time,
    severity: r.severity,
    risk: r.risk,
    status: r.status,
    host: r.host,
    user: r.user,
    process: r.process,
    groupId: r.group_id,
    buildingBlock: r.building_block === 1,
    doc: JSON.parse(r.doc) as Record<string, unknown>,
    assignee: r.assignee,
  };
}

const SORT_COLUMNS: Record<NonNullable<AlertQuery['sort']>, string> = {
  time: 'original_time',
  created: 'created',
  severity: 'severity_rank',
  risk: 'risk',
  rule: 'rule_id',
  host: 'host',
};

function alertWhere(q: AlertQuery): { sql: string; args: Array<string | number> } {
  const where: string[] = [];
  const args: Array<string | number> = [];
  const list = (col: string, vals: readonly string[] | undefined): void => {
    if (!vals || vals.length === 0) return;
    where.push(`${col} IN (${vals.map(() => '?').join(',')})`);
    args.push(...vals);
  };
  list('status', q.status);
  list('severity', q.severity);
  list('rule_id', q.ruleId);
  if (q.host) {
    where.push('host = ?');
    args.push(q.host);
  }
  if (q.user) {
    where.push('user = ?');
    args.push(q.user);
  }
  if (q.groupId) {
    where.push('group_id = ?');
    args.push(q.groupId);
  }
  if (q.text) {
    // stores made before search_text read the whole document
    where.push('instr(coalesce(search_text, lower(doc)), lower(?)) > 0');
    args.push(q.text);
  }
  for (const f of q.fields ?? []) {
    // the field nested (process: {name}) or under its dotted name ("kibana.alert.rule.name")
    const nested = `$${f.path.split('.').map((k) => `."${k.replace(/"/g, '')}"`).join('')}`;
    const dotted = `$."${f.path.replace(/"/g, '')}"`;
    const has = (path: string): string => `EXISTS (SELECT 1 FROM json_each(doc, '${path.replace(/'/g, "''")}') WHERE (CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(value AS TEXT) END) = ?)`;
    where.push(`${f.negate ? 'NOT ' : ''}(${has(nested)} OR ${has(dotted)})`);
    args.push(f.value, f.value);
  }
  if (q.assignee !== undefined) {
    where.push(q.assignee === '' ? 'assignee IS NULL' : 'assignee = ?');
    if (q.assignee !== '') args.push(q.assignee);
  }
  if (q.from !== undefined) {
    where.push('original_time >= ?');
    args.push(q.from);
  }
  if (q.to !== undefined) {
    where.push('original_time <= ?');
    args.push(q.to);
  }
  if (q.buildingBlocks === false) where.push('building_block = 0');
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

function createAlertStore(db: Database.Database): AlertStore {
  const insert = db.prepare(
    'INSERT OR IGNORE INTO alerts(id, rule_id, created, original_time, severity, severity_rank, risk, status, host, user, process, group_id, building_block, doc, search_text, assignee) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  const insertMany = db.transaction((alerts: readonly AlertRow[]): string[] => {
    const written: string[] = [];
    for (const a of alerts) {
      const r = insert.run(a.id, a.ruleId, a.created, a.originalTime, a.severity, SEVERITY_RANK[a.severity] ?? 0, a.risk, a.status, a.host, a.user, a.process, a.groupId, isBuildingBlock(a) ? 1 : 0, JSON.stringify(a.doc), searchText(a.doc), a.assignee ?? null);
      if (r.changes > 0) written.push(a.id);
    }
    return written;
  });
  const getOne = db.prepare('SELECT * FROM alerts WHERE id = ?');
  const triage = db.prepare('UPDATE alerts SET status = ?, assignee = ?, doc = ?, search_text = ? WHERE id = ? AND (status IS NOT ? OR assignee IS NOT ? OR doc IS NOT ?)');
  const triageMany = db.transaction((alerts: readonly AlertRow[]): string[] => {
    const changed: string[] = [];
    for (const a of alerts) {
      const doc = JSON.stringify(a.doc);
      if (triage.run(a.status, a.assignee ?? null, doc, searchText(a.doc), a.id, a.status, a.assignee ?? null, doc).changes > 0) changed.push(a.id);
    }
    return changed;
  });
  // prepared once per size (a broad rule's run checks thousands of ids; preparing a statement per
  // 500 of them was most of a scheduled cycle's longest block)
  const hasStatements = new Map<number, Database.Statement>();
  const hasStatement = (n: number): Database.Statement => {
    let st = hasStatements.get(n);
    if (!st) {
      st = db.prepare(`SELECT id FROM alerts WHERE id IN (${Array.from({ length: n }, () => '?').join(',')})`);
      if (hasStatements.size < 64) hasStatements.set(n, st);
    }
    return st;
  };
  return {
    insert: (alerts) => insertMany.immediate(alerts),
    setTriage: (alerts) => triageMany.immediate(alerts),
    suppressionGroups(keys) {
      const out = new Map<string, SuppressionGroup>();
      const st = db.prepare('SELECT alert_id, start, end, count FROM suppression WHERE key = ?');
      for (const k of new Set(keys)) {
        const r = st.get(k) as { alert_id: string; start: number; end: number; count: number } | undefined;
        if (r) out.set(k, { alertId: r.alert_id, start: r.start, end: r.end, count: r.count });
      }
      return out;
    },
    suppressedMatches(ids) {
      const out = new Set<string>();
      const st = db.prepare('SELECT 1 FROM suppressed WHERE match_id = ?');
      for (const id of ids) if (st.get(id)) out.add(id);
      return out;
    },
    recordSuppression(g) {
      db.transaction(() => {
        db.prepare('INSERT OR REPLACE INTO suppression(key, alert_id, start, end, count) VALUES (?,?,?,?,?)').run(g.key, g.alertId, g.start, g.end, g.count);
        const mark = db.prepare('INSERT OR IGNORE INTO suppressed(match_id, key) VALUES (?, ?)');
        for (const id of g.matchIds) mark.run(id, g.key);
        const row = db.prepare('SELECT doc FROM alerts WHERE id = ?').get(g.alertId) as { doc: string } | undefined;
        if (!row) return;
        const doc = JSON.parse(row.doc) as Record<string, unknown>;
        doc['kibana.alert.suppression.terms'] = g.terms;
        doc['kibana.alert.suppression.docs_count'] = g.count;
        doc['kibana.alert.suppression.start'] = new Date(g.start).toISOString();
        doc['kibana.alert.suppression.end'] = new Date(g.end).toISOString();
        db.prepare('UPDATE alerts SET doc = ? WHERE id = ?').run(JSON.stringify(doc), g.alertId);
      }).immediate();
    },
    has(ids) {
      const out = new Set<string>();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = hasStatement(chunk.length).all(...chunk) as Array<{ id: string }>;
        for (const r of rows) out.add(r.id);
      }
      return out;
    },
    get(id) {
      const r = getOne.get(id) as AlertDbRow | undefined;
      return r ? toAlert(r) : null;
    },
    search(q) {
      const { sql, args } = alertWhere(q);
      const total = (db.prepare(`SELECT count(*) AS n FROM alerts ${sql}`).get(...args) as { n: number }).n;
      const col = SORT_COLUMNS[q.sort ?? 'time'];
      const order = q.order === 'asc' ? 'ASC' : 'DESC';
      // the page is chosen on the (covering) index; only its documents are read
      const rows = db
        .prepare(`SELECT * FROM alerts WHERE id IN (SELECT id FROM alerts ${sql} ORDER BY ${col} ${order}, id ${order} LIMIT ? OFFSET ?) ORDER BY ${col} ${order}, id ${order}`)
        .all(...args, Math.max(0, Math.min(q.size ?? 50, 10_000)), Math.max(0, q.offset ?? 0)) as AlertDbRow[];
      return { total, alerts: rows.map(toAlert) };
    },
    setStatus(ids, status, at, extra = {}) {
      // Kibana's fields: workflow_reason is set when closing and cleared when opened again
      const reason = status === 'closed' ? (extra.reason ?? null) : null;
      const stmt = db.prepare(
        `UPDATE alerts SET status = ?, doc = json_set(doc, '$."kibana.alert.workflow_status"', ?, '$."kibana.alert.workflow_status_updated_at"', ?, '$."kibana.alert.workflow_reason"', ?, '$."kibana.alert.workflow_user"', ?${extra.note ? `, '$."vigil.alert.notes"', json_insert(coalesce(json_extract(doc, '$."vigil.alert.notes"'), json('[]')), '$[#]', json(?))` : ''}) WHERE id = ?`,
      );
      const note = extra.note ? JSON.stringify({ at: new Date(at).toISOString(), status, reason, by: extra.by ?? null, text: extra.note }) : null;
      return db.transaction(() => {
        let n = 0;
        for (const id of ids) n += (note ? stmt.run(status, status, new Date(at).toISOString(), reason, extra.by ?? null, note, id) : stmt.run(status, status, new Date(at).toISOString(), reason, extra.by ?? null, id)).changes;
        return n;
      }).immediate();
    },
    assign(ids, assignee, at) {
      const stmt = db.prepare(
        `UPDATE alerts SET assignee = ?, doc = json_set(doc, '$."kibana.alert.workflow_assignee_ids"', json(?), '$."kibana.alert.workflow_status_updated_at"', ?) WHERE id = ?`,
      );
      return db.transaction(() => {
        let n = 0;
        for (const id of ids) n += stmt.run(assignee, JSON.stringify(assignee === null ? [] : [assignee]), new Date(at).toISOString(), id).changes;
        return n;
      }).immediate();
    },
    groups(q, by, size) {
      const { sql, args } = alertWhere(q);
      const col = by === 'rule' ? 'rule_id' : by;
      const from = q.text || q.groupId || q.fields?.length ? 'alerts' : 'alerts INDEXED BY alerts_groups';
      const total = (db.prepare(`SELECT count(DISTINCT coalesce(${col}, '')) AS n FROM ${from} ${sql}`).get(...args) as { n: number }).n;
      const rows = db
        .prepare(
          `SELECT ${col} AS k, count(*) AS n, max(severity_rank) AS rank, max(risk) AS risk, min(original_time) AS first, max(original_time) AS last, sum(status = 'open') AS open FROM ${from} ${sql} GROUP BY ${col} ORDER BY rank DESC, n DESC, k LIMIT ?`,
        )
        .all(...args, Math.max(1, Math.min(size, 1000))) as Array<{ k: string | null; n: number; rank: number; risk: number; first: number | null; last: number | null; open: number }>;
      const severityOf = Object.fromEntries(Object.entries(SEVERITY_RANK).map(([k, v]) => [v, k])) as Record<number, string>;
      return { total, groups: rows.map((r) => ({ key: r.k, count: r.n, severity: severityOf[r.rank] ?? 'low', maxRisk: r.risk, first: r.first, last: r.last, open: r.open })) };
    },
    countsByRule() {
      const out = new Map<string, { shown: number; all: number }>();
      for (const r of db.prepare('SELECT rule_id, building_block AS bb, count(*) AS n FROM alerts GROUP BY rule_id, building_block').all() as Array<{ rule_id: string; bb: number; n: number }>) {
        const c = out.get(r.rule_id) ?? { shown: 0, all: 0 };
        c.all += r.n;
        if (r.bb === 0) c.shown += r.n;
        out.set(r.rule_id, c);
      }
      return out;
    },
    stats(q, bucketMs) {
      const { sql, args } = alertWhere(q);
      const bySeverity: Record<string, number> = {};
      for (const r of db.prepare(`SELECT severity, count(*) AS n FROM alerts ${sql} GROUP BY severity`).all(...args) as Array<{ severity: string; n: number }>) bySeverity[r.severity] = r.n;
      const byRule = (db.prepare(`SELECT rule_id, count(*) AS n FROM alerts ${sql} GROUP BY rule_id ORDER BY n DESC LIMIT 50`).all(...args) as Array<{ rule_id: string; n: number }>).map((r) => ({
        ruleId: r.rule_id,
        count: r.n,
      }));
      // 0: a bucket that cuts the alerts' own time span into about 48 bars
      let b = Math.max(1, Math.floor(bucketMs));
      if (bucketMs <= 0) {
        const span = db.prepare(`SELECT min(original_time) AS lo, max(original_time) AS hi FROM alerts ${sql}`).get(...args) as { lo: number | null; hi: number | null };
        const want = span.lo === null || span.hi === null ? 3_600_000 : (span.hi - span.lo) / 48;
        b = NICE_BUCKETS.find((n) => n >= want) ?? NICE_BUCKETS[NICE_BUCKETS.length - 1]!;
      }
      const overTime = (
        db.prepare(`SELECT (original_time / ${b}) * ${b} AS t, severity, count(*) AS n FROM alerts ${sql} GROUP BY t, severity ORDER BY t`).all(...args) as Array<{ t: number; severity: string; n: number }>
      ).map((r) => ({ t: r.t, severity: r.severity, count: r.n }));
      const top = byRule.slice(0, 10).map((r) => r.ruleId);
      const overTimeByRule = top.length
        ? (
            db
              .prepare(`SELECT (original_time / ${b}) * ${b} AS t, rule_id, count(*) AS n FROM alerts ${sql ? `${sql} AND` : 'WHERE'} rule_id IN (${top.map(() => '?').join(',')}) GROUP BY t, rule_id ORDER BY t`)
              .all(...args, ...top) as Array<{ t: number; rule_id: string; n: number }>
          ).map((r) => ({ t: r.t, ruleId: r.rule_id, count: r.n }))
        : [];
      return { bucketMs: b, bySeverity, byRule, overTime, overTimeByRule };
    },
    count: () => (db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n,
  };
}

function createExceptionStore(db: Database.Database): ExceptionStore {
  let changes = 0;
  const changed = <T>(v: T): T => {
    changes++;
    return v;
  };
  const bodies = (sql: string): Array<Record<string, unknown>> => (db.prepare(sql).all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as Record<string, unknown>);
  return {
    lists: () => bodies('SELECT body FROM exception_lists ORDER BY list_id'),
    items: () => bodies('SELECT body FROM exception_items ORDER BY list_id, item_id'),
    putList: (listId, body) => changed(void db.prepare('INSERT OR REPLACE INTO exception_lists(list_id, body) VALUES (?, ?)').run(listId, JSON.stringify(body))),
    putItem: (itemId, listId, body) => changed(void db.prepare('INSERT OR REPLACE INTO exception_items(item_id, list_id, body) VALUES (?, ?, ?)').run(itemId, listId, JSON.stringify(body))),
    removeItem: (itemId) => changed(db.prepare('DELETE FROM exception_items WHERE item_id = ?').run(itemId).changes > 0),
    removeList: (listId) =>
      changed(
        db.transaction(() => {
          db.prepare('DELETE FROM exception_items WHERE list_id = ?').run(listId);
          db.prepare('DELETE FROM rule_lists WHERE list_id = ?').run(listId);
          return db.prepare('DELETE FROM exception_lists WHERE list_id = ?').run(listId).changes > 0;
        }).immediate(),
      ),
    valueLists: () => (db.prepare('SELECT id, type, vals FROM value_lists ORDER BY id').all() as Array<{ id: string; type: string; vals: string }>).map((r) => ({ id: r.id, type: r.type, values: r.vals === '' ? [] : r.vals.split('\n') })),
    putValueList: (id, type, values) => changed(void db.prepare('INSERT OR REPLACE INTO value_lists(id, type, vals) VALUES (?, ?, ?)').run(id, type, values.join('\n'))),
    removeValueList: (id) => changed(db.prepare('DELETE FROM value_lists WHERE id = ?').run(id).changes > 0),
    attached() {
      const out = new Map<string, string[]>();
      for (const r of db.prepare('SELECT rule_id, list_id FROM rule_lists ORDER BY rule_id, list_id').all() as Array<{ rule_id: string; list_id: string }>) out.set(r.rule_id, [...(out.get(r.rule_id) ?? []), r.list_id]);
      return out;
    },
    attach: (ruleId, listId) => changed(void db.prepare('INSERT OR IGNORE INTO rule_lists(rule_id, list_id) VALUES (?, ?)').run(ruleId, listId)),
    changes: () => changes,
  };
}

function createRuleStore(db: Database.Database): RuleStore {
  const toRule = (r: { rule_id: string; enabled: number; streaming: number; origin: string; body: string; updated: number }): StoredRule => ({
    ruleId: r.rule_id,
    enabled: r.enabled === 1,
    streaming: r.streaming === 1,
    origin: r.origin,
    body: JSON.parse(r.body) as Record<string, unknown>,
    updated: r.updated,
  });
  type Row = Parameters<typeof toRule>[0];
  return {
    list: () => (db.prepare('SELECT * FROM rules ORDER BY rule_id').all() as Row[]).map(toRule),
    get(ruleId) {
      const r = db.prepare('SELECT * FROM rules WHERE rule_id = ?').get(ruleId) as Row | undefined;
      return r ? toRule(r) : null;
    },
    upsert(rule) {
      const prior = db.prepare('SELECT enabled, streaming FROM rules WHERE rule_id = ?').get(rule.ruleId) as { enabled: number; streaming: number } | undefined;
      const enabled = rule.enabled ?? (prior ? prior.enabled === 1 : rule.body.enabled !== false);
      const streaming = rule.streaming ?? (prior ? prior.streaming === 1 : false);
      db.prepare('INSERT OR REPLACE INTO rules(rule_id, enabled, streaming, origin, body, updated) VALUES (?,?,?,?,?,?)').run(
        rule.ruleId,
        enabled ? 1 : 0,
        streaming ? 1 : 0,
        rule.origin,
        JSON.stringify(rule.body),
        rule.updated,
      );
    },
    setFlags(ruleId, flags) {
      let n = 0;
      if (flags.enabled !== undefined) n += db.prepare('UPDATE rules SET enabled = ? WHERE rule_id = ?').run(flags.enabled ? 1 : 0, ruleId).changes;
      if (flags.streaming !== undefined) n += db.prepare('UPDATE rules SET streaming = ? WHERE rule_id = ?').run(flags.streaming ? 1 : 0, ruleId).changes;
      return n > 0;
    },
    remove: (ruleId) => db.prepare('DELETE FROM rules WHERE rule_id = ?').run(ruleId).changes > 0,
  };
}

function createRunStore(db: Database.Database): RunStore {
  let changes = 0;
  const getCovered = db.prepare('SELECT covered_until FROM rule_state WHERE rule_id = ?');
  const setCovered = db.prepare('INSERT INTO rule_state(rule_id, covered_until) VALUES (?, ?) ON CONFLICT(rule_id) DO UPDATE SET covered_until = excluded.covered_until');
  const insert = db.prepare(
    'INSERT INTO runs(rule_id, execution_id, kind, started, duration_ms, cpu_ms, window_from, window_to, searched, matches, written, existing, dropped, gap_ms, status, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  interface RunRow {
    id: number;
    rule_id: string;
    execution_id: string;
    kind: RunRecord['kind'];
    started: number;
    duration_ms: number;
    cpu_ms: number;
    window_from: number;
    window_to: number;
    searched: number;
    matches: number;
    written: number;
    existing: number;
    dropped: number;
    gap_ms: number;
    status: RunRecord['status'];
    error: string | null;
  }
  const toRun = (r: RunRow): RunRecord & { id: number } => ({
    id: r.id,
    ruleId: r.rule_id,
    executionId: r.execution_id,
    kind: r.kind,
    started: r.started,
    durationMs: r.duration_ms,
    cpuMs: r.cpu_ms,
    windowFrom: r.window_from,
    windowTo: r.window_to,
    searched: r.searched,
    matches: r.matches,
    written: r.written,
    existing: r.existing,
    dropped: r.dropped,
    gapMs: r.gap_ms,
    status: r.status,
    error: r.error,
  });
  return {
    record(r) {
      changes++;
      insert.run(r.ruleId, r.executionId, r.kind, r.started, r.durationMs, r.cpuMs, r.windowFrom, r.windowTo, r.searched, r.matches, r.written, r.existing, r.dropped, r.gapMs, r.status, r.error);
    },
    runs(q) {
      const where = q.ruleId ? 'WHERE rule_id = ?' : '';
      const args = q.ruleId ? [q.ruleId] : [];
      const total = (db.prepare(`SELECT count(*) AS n FROM runs ${where}`).get(...args) as { n: number }).n;
      const rows = db.prepare(`SELECT * FROM runs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, q.size ?? 100, q.offset ?? 0) as RunRow[];
      return { total, runs: rows.map(toRun) };
    },
    costs(since) {
      const rows = db.prepare('SELECT rule_id, count(*) AS runs, sum(cpu_ms) AS cpu, sum(searched) AS events FROM runs WHERE started >= ? GROUP BY rule_id').all(since) as Array<{ rule_id: string; runs: number; cpu: number; events: number }>;
      return new Map(rows.map((r) => [r.rule_id, { runs: r.runs, cpuMs: r.cpu, events: r.events }]));
    },
    // asked per scheduled rule at every tick and health check: prepared once
    coveredUntil(ruleId) {
      const r = getCovered.get(ruleId) as { covered_until: number } | undefined;
      return r ? r.covered_until : null;
    },
    setCoveredUntil(ruleId, t) {
      setCovered.run(ruleId, t);
    },
    addGap(g: GapRecord) {
      changes++;
      return Number(db.prepare('INSERT INTO gaps(rule_id, gap_from, gap_to, detected, filled) VALUES (?,?,?,?,?)').run(g.ruleId, g.from, g.to, g.detected, g.filled).lastInsertRowid);
    },
    fillGap(id, at) {
      changes++;
      db.prepare('UPDATE gaps SET filled = ? WHERE id = ?').run(at, id);
    },
    changes: () => changes,
    lastRuns() {
      const rows = db.prepare('SELECT * FROM runs WHERE id IN (SELECT max(id) FROM runs GROUP BY rule_id)').all() as RunRow[];
      return new Map(rows.map((r) => [r.rule_id, toRun(r)]));
    },
    gapCounts() {
      const rows = db.prepare('SELECT rule_id, count(*) AS total, sum(filled IS NULL) AS unfilled FROM gaps GROUP BY rule_id').all() as Array<{ rule_id: string; total: number; unfilled: number }>;
      return new Map(rows.map((r) => [r.rule_id, { total: r.total, unfilled: r.unfilled }]));
    },
    coveredAll() {
      const rows = db.prepare('SELECT rule_id, covered_until FROM rule_state').all() as Array<{ rule_id: string; covered_until: number }>;
      return new Map(rows.map((r) => [r.rule_id, r.covered_until]));
    },
    gaps(ruleId) {
      const rows = (ruleId ? db.prepare('SELECT * FROM gaps WHERE rule_id = ? ORDER BY id').all(ruleId) : db.prepare('SELECT * FROM gaps ORDER BY id').all()) as Array<{
        id: number;
        rule_id: string;
        gap_from: number;
        gap_to: number;
        detected: number;
        filled: number | null;
      }>;
      return rows.map((r) => ({ id: r.id, ruleId: r.rule_id, from: r.gap_from, to: r.gap_to, detected: r.detected, filled: r.filled }));
    },
  };
}

/**
 * Whether an alert is a building block as Kibana's alerts table sees it, hidden unless asked for: a
 * sequence's event alert, or any alert of a building-block rule (its document says
 * `kibana.alert.building_block_type`).
 */
function isBuildingBlock(a: AlertRow): boolean {
  return a.buildingBlock || a.doc['kibana.alert.building_block_type'] !== undefined;
}

/**
 * What free text searches in an alert, lower-cased: its document without the rule's parameters
 * (query, description, references…), which every alert of a rule shares, but with the rule's name.
 */
function searchText(doc: Readonly<Record<string, unknown>>): string {
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!k.startsWith('kibana.alert.rule.') || k === 'kibana.alert.rule.name') kept[k] = v;
  return JSON.stringify(kept).toLowerCase();
}
