import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createIndexMatcher } from '../index-pattern.js';
import type {
  AlertQuery,
  AlertRow,
  AlertStore,
  EventScan,
  EventStore,
  EventWrite,
  EventWriteResult,
  GapRecord,
  IndexInfo,
  RuleStore,
  RunRecord,
  RunStore,
  Store,
  StoredEvent,
  StoredRule,
} from '../ports.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS indices(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, docs INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, idx INTEGER NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, ts INTEGER, ingested INTEGER NOT NULL, source TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_doc ON events(idx, id);
CREATE INDEX IF NOT EXISTS events_time ON events(idx, ts);
CREATE INDEX IF NOT EXISTS events_ingested ON events(idx, ingested);
CREATE TABLE IF NOT EXISTS alerts(id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, created INTEGER NOT NULL, original_time INTEGER, severity TEXT NOT NULL, severity_rank INTEGER NOT NULL, risk INTEGER NOT NULL, status TEXT NOT NULL, host TEXT, user TEXT, process TEXT, group_id TEXT, building_block INTEGER NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(original_time);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id, original_time);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, original_time);
CREATE INDEX IF NOT EXISTS alerts_group ON alerts(group_id);
CREATE TABLE IF NOT EXISTS rules(rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, streaming INTEGER NOT NULL, origin TEXT NOT NULL, body TEXT NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state(rule_id TEXT PRIMARY KEY, covered_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, rule_id TEXT NOT NULL, execution_id TEXT NOT NULL, kind TEXT NOT NULL, started INTEGER NOT NULL, duration_ms REAL NOT NULL, window_from INTEGER NOT NULL, window_to INTEGER NOT NULL, searched INTEGER NOT NULL, matches INTEGER NOT NULL, written INTEGER NOT NULL, existing INTEGER NOT NULL, dropped INTEGER NOT NULL, gap_ms INTEGER NOT NULL, status TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS runs_rule ON runs(rule_id, id);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gaps(id INTEGER PRIMARY KEY, rule_id TEXT NOT NULL, gap_from INTEGER NOT NULL, gap_to INTEGER NOT NULL, detected INTEGER NOT NULL, filled INTEGER);
`;

const SEVERITY_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };

/** Elasticsearch-like generated ids: 20 URL-safe characters. */
function newId(): string {
  return randomBytes(15).toString('base64url');
}

/**
 * The SQLite adapter. WAL mode with synchronous=NORMAL: a committed transaction is in the WAL
 * before the call returns, so an acknowledged write survives the process being killed
 * (only an OS crash or power loss could lose the last commits).
 */
export function openSqliteStore(dir: string, options: { memory?: boolean } = {}): Store {
  let file = ':memory:';
  if (!options.memory) {
    mkdirSync(dir, { recursive: true });
    file = join(dir, 'vigil.db');
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const transaction = <T>(fn: () => T): T => db.transaction(fn)();
  return {
    events: createEventStore(db),
    alerts: createAlertStore(db),
    rules: createRuleStore(db),
    runs: createRunStore(db),
    meta: {
      get: (key) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null,
      put: (key, value) => void db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run(key, value),
      list: (prefix) => db.prepare('SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key').all(prefix, `${prefix}\uffff`) as Array<{ key: string; value: string }>,
    },
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
    close: () => db.close(),
  };
}

function createEventStore(db: Database.Database): EventStore {
  const indexIds = new Map<string, number>();
  for (const r of db.prepare('SELECT id, name FROM indices').all() as Array<{ id: number; name: string }>) indexIds.set(r.name, r.id);
  const addIndex = db.prepare('INSERT INTO indices(name, first_seen, last_seen) VALUES (?, ?, ?)');
  const touchIndex = db.prepare('UPDATE indices SET last_seen = max(last_seen, ?), docs = docs + ? WHERE id = ?');
  const insert = db.prepare('INSERT INTO events(idx, id, version, ts, ingested, source) VALUES (?, ?, ?, ?, ?, ?)');
  const findDoc = db.prepare('SELECT seq, version FROM events WHERE idx = ? AND id = ?');
  const deleteSeq = db.prepare('DELETE FROM events WHERE seq = ?');
  const getDoc = db.prepare('SELECT seq, version, ts, source FROM events WHERE idx = ? AND id = ?');

  const indexId = (name: string, now: number): number => {
    let id = indexIds.get(name);
    if (id === undefined) {
      id = Number(addIndex.run(name, now, now).lastInsertRowid);
      indexIds.set(name, id);
    }
    return id;
  };

  const writeBatch = db.transaction((batch: readonly EventWrite[]): EventWriteResult[] => {
    const out: EventWriteResult[] = [];
    const touched = new Map<number, { n: number; t: number }>();
    for (const w of batch) {
      const idx = indexId(w.index, w.ingested);
      let version = 1;
      let id = w.id;
      let created = true;
      if (id === undefined) id = newId();
      else {
        const prior = findDoc.get(idx, id) as { seq: number; version: number } | undefined;
        if (prior) {
          if (w.op === 'create') {
            out.push({ ok: false, index: w.index, id, status: 409, type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [${prior.version}])` });
            continue;
          }
          deleteSeq.run(prior.seq);
          version = prior.version + 1;
          created = false;
        }
      }
      const seq = Number(insert.run(idx, id, version, w.ts, w.ingested, w.json).lastInsertRowid);
      const t = touched.get(idx) ?? { n: 0, t: 0 };
      t.n += created ? 1 : 0;
      t.t = Math.max(t.t, w.ingested);
      touched.set(idx, t);
      out.push({ ok: true, index: w.index, id, version, seq, created });
    }
    for (const [idx, t] of touched) touchIndex.run(t.t, t.n, idx);
    return out;
  });

  const resolveIds = (patterns: readonly string[]): number[] => {
    const match = createIndexMatcher(patterns);
    const ids: number[] = [];
    for (const [name, id] of indexIds) if (match(name)) ids.push(id);
    return ids;
  };
  const nameOf = (): Map<number, string> => new Map([...indexIds].map(([n, i]) => [i, n]));

  return {
    write: (batch) => writeBatch(batch),
    get(index, id) {
      const idx = indexIds.get(index);
      if (idx === undefined) return null;
      const r = getDoc.get(idx, id) as { seq: number; version: number; ts: number | null; source: string } | undefined;
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
      const stmt = db.prepare(`SELECT seq, idx, id, version, ts, source FROM events WHERE ${where.join(' AND ')} ORDER BY ${col}, seq`);
      for (const r of stmt.iterate(...args) as IterableIterator<{ seq: number; idx: number; id: string; version: number; ts: number | null; source: string }>) {
        yield { index: names.get(r.idx) ?? '', id: r.id, version: r.version, seq: r.seq, ts: r.ts, json: r.source };
      }
    },
    resolve(patterns) {
      const match = createIndexMatcher(patterns);
      return [...indexIds.keys()].filter(match).sort();
    },
    indices(): IndexInfo[] {
      return (db.prepare('SELECT name, docs, first_seen, last_seen FROM indices ORDER BY name').all() as Array<{ name: string; docs: number; first_seen: number; last_seen: number }>).map(
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
  if (q.groupId) {
    where.push('group_id = ?');
    args.push(q.groupId);
  }
  if (q.text) {
    where.push("instr(lower(doc), lower(?)) > 0");
    args.push(q.text);
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
    'INSERT OR IGNORE INTO alerts(id, rule_id, created, original_time, severity, severity_rank, risk, status, host, user, process, group_id, building_block, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  const insertMany = db.transaction((alerts: readonly AlertRow[]): string[] => {
    const written: string[] = [];
    for (const a of alerts) {
      const r = insert.run(a.id, a.ruleId, a.created, a.originalTime, a.severity, SEVERITY_RANK[a.severity] ?? 0, a.risk, a.status, a.host, a.user, a.process, a.groupId, a.buildingBlock ? 1 : 0, JSON.stringify(a.doc));
      if (r.changes > 0) written.push(a.id);
    }
    return written;
  });
  const getOne = db.prepare('SELECT * FROM alerts WHERE id = ?');
  return {
    insert: (alerts) => insertMany(alerts),
    has(ids) {
      const out = new Set<string>();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = db.prepare(`SELECT id FROM alerts WHERE id IN (${chunk.map(() => '?').join(',')})`).all(...chunk) as Array<{ id: string }>;
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
      const rows = db
        .prepare(`SELECT * FROM alerts ${sql} ORDER BY ${col} ${order}, id ${order} LIMIT ? OFFSET ?`)
        .all(...args, Math.max(0, Math.min(q.size ?? 50, 10_000)), Math.max(0, q.offset ?? 0)) as AlertDbRow[];
      return { total, alerts: rows.map(toAlert) };
    },
    setStatus(ids, status, at) {
      const stmt = db.prepare(
        "UPDATE alerts SET status = ?, doc = json_set(doc, '$.\"kibana.alert.workflow_status\"', ?, '$.\"kibana.alert.workflow_status_updated_at\"', ?) WHERE id = ?",
      );
      return db.transaction(() => {
        let n = 0;
        for (const id of ids) n += stmt.run(status, status, new Date(at).toISOString(), id).changes;
        return n;
      })();
    },
    stats(q, bucketMs) {
      const { sql, args } = alertWhere(q);
      const bySeverity: Record<string, number> = {};
      for (const r of db.prepare(`SELECT severity, count(*) AS n FROM alerts ${sql} GROUP BY severity`).all(...args) as Array<{ severity: string; n: number }>) bySeverity[r.severity] = r.n;
      const byRule = (db.prepare(`SELECT rule_id, count(*) AS n FROM alerts ${sql} GROUP BY rule_id ORDER BY n DESC LIMIT 50`).all(...args) as Array<{ rule_id: string; n: number }>).map((r) => ({
        ruleId: r.rule_id,
        count: r.n,
      }));
      const b = Math.max(1, Math.floor(bucketMs));
      const overTime = (
        db.prepare(`SELECT (original_time / ${b}) * ${b} AS t, severity, count(*) AS n FROM alerts ${sql} GROUP BY t, severity ORDER BY t`).all(...args) as Array<{ t: number; severity: string; n: number }>
      ).map((r) => ({ t: r.t, severity: r.severity, count: r.n }));
      return { bySeverity, byRule, overTime };
    },
    count: () => (db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n,
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
  };
}

function createRunStore(db: Database.Database): RunStore {
  const insert = db.prepare(
    'INSERT INTO runs(rule_id, execution_id, kind, started, duration_ms, window_from, window_to, searched, matches, written, existing, dropped, gap_ms, status, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  interface RunRow {
    id: number;
    rule_id: string;
    execution_id: string;
    kind: RunRecord['kind'];
    started: number;
    duration_ms: number;
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
      insert.run(r.ruleId, r.executionId, r.kind, r.started, r.durationMs, r.windowFrom, r.windowTo, r.searched, r.matches, r.written, r.existing, r.dropped, r.gapMs, r.status, r.error);
    },
    runs(q) {
      const where = q.ruleId ? 'WHERE rule_id = ?' : '';
      const args = q.ruleId ? [q.ruleId] : [];
      const total = (db.prepare(`SELECT count(*) AS n FROM runs ${where}`).get(...args) as { n: number }).n;
      const rows = db.prepare(`SELECT * FROM runs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, q.size ?? 100, q.offset ?? 0) as RunRow[];
      return { total, runs: rows.map(toRun) };
    },
    coveredUntil(ruleId) {
      const r = db.prepare('SELECT covered_until FROM rule_state WHERE rule_id = ?').get(ruleId) as { covered_until: number } | undefined;
      return r ? r.covered_until : null;
    },
    setCoveredUntil(ruleId, t) {
      db.prepare('INSERT INTO rule_state(rule_id, covered_until) VALUES (?, ?) ON CONFLICT(rule_id) DO UPDATE SET covered_until = excluded.covered_until').run(ruleId, t);
    },
    addGap(g: GapRecord) {
      return Number(db.prepare('INSERT INTO gaps(rule_id, gap_from, gap_to, detected, filled) VALUES (?,?,?,?,?)').run(g.ruleId, g.from, g.to, g.detected, g.filled).lastInsertRowid);
    },
    fillGap(id, at) {
      db.prepare('UPDATE gaps SET filled = ? WHERE id = ?').run(at, id);
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
