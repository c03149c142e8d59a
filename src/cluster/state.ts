import pg from 'pg';
import type { AlertRow } from '../store/index.js';

/**
 * The cluster's shared state in PostgreSQL: its settings, the nodes' heartbeats, the partitions'
 * leases (owner, fencing epoch, checkpoint) and the alerts of every node. Lease times are the
 * database's clock, so that nodes' clocks need not agree.
 */

export interface Lease {
  readonly epoch: number;
  /** The owner before this one (null: none); a node that takes a partition over replays from its checkpoint. */
  readonly previous: string | null;
  /** The last stream sequence whose events and alerts are in (0: none) and its message time (ms). */
  readonly checkpoint: number;
  readonly checkpointTime: number;
}

/** A user or an API key as the nodes share them (see Credentials.entries). */
export interface SharedEntry {
  readonly kind: 'user' | 'key';
  readonly name: string;
  readonly record: unknown;
}

export interface ClusterAlert {
  readonly id: string;
  readonly rule_id: string;
  readonly severity: string;
  readonly risk: number;
  readonly host: string | null;
  readonly node: string;
  readonly doc: Record<string, unknown>;
}

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS vigil_settings (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS vigil_nodes (node text PRIMARY KEY, url text NOT NULL, seen timestamptz NOT NULL, started timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS vigil_leases (
  part int PRIMARY KEY, owner text, epoch bigint NOT NULL DEFAULT 0, expires timestamptz NOT NULL DEFAULT 'epoch',
  checkpoint bigint NOT NULL DEFAULT 0, checkpoint_time bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS vigil_alerts (
  id text PRIMARY KEY, rule_id text NOT NULL, severity text NOT NULL, risk int NOT NULL, host text, created bigint NOT NULL,
  original_time bigint, building_block boolean NOT NULL, node text NOT NULL, doc jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS vigil_alerts_rule ON vigil_alerts (rule_id);
CREATE TABLE IF NOT EXISTS vigil_outbox (
  alert_id text PRIMARY KEY, claimed_by text, claimed_until timestamptz NOT NULL DEFAULT 'epoch', sent timestamptz);
CREATE TABLE IF NOT EXISTS vigil_rule_log (seq bigserial PRIMARY KEY, node text NOT NULL, change jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS vigil_outbox_unsent ON vigil_outbox (alert_id) WHERE sent IS NULL;
CREATE TABLE IF NOT EXISTS vigil_security (kind text NOT NULL, name text NOT NULL, record jsonb, PRIMARY KEY (kind, name));
CREATE SEQUENCE IF NOT EXISTS vigil_alert_rev;
ALTER TABLE vigil_alerts ADD COLUMN IF NOT EXISTS rev bigint NOT NULL DEFAULT nextval('vigil_alert_rev');
ALTER TABLE vigil_alerts ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'open';
ALTER TABLE vigil_alerts ADD COLUMN IF NOT EXISTS assignee text;
ALTER TABLE vigil_alerts ADD COLUMN IF NOT EXISTS facets jsonb;
CREATE INDEX IF NOT EXISTS vigil_alerts_rev ON vigil_alerts (rev);
`;

/** `postgres://…?schema=NAME`: the tables live in that schema (made if missing); the rest is pg's. */
function parseStateUrl(url: string): { connectionString: string; schema: string | null } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`--state: schema must be a plain lower-case SQL name, not '${schema}'`);
  return { connectionString: u.toString(), schema };
}

export class ClusterState {
  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string | null,
  ) {}

  /** Connects, makes the tables if missing, and checks (or records) the cluster's partition count. */
  static async open(url: string, partitions: number): Promise<ClusterState> {
    const { connectionString, schema } = parseStateUrl(url);
    const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
    // a connection the server dropped (a restart) must not end the process
    pool.on('error', () => undefined);
    const s = new ClusterState(pool, schema);
    try {
      if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      // two nodes starting at once: one makes the tables, the other waits for it
      const c = await pool.connect();
      try {
        await c.query('SELECT pg_advisory_lock(7414)');
        await c.query(SCHEMA_SQL);
        await c.query('INSERT INTO vigil_settings(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', ['partitions', String(partitions)]);
        const { rows } = await c.query<{ value: string }>("SELECT value FROM vigil_settings WHERE key = 'partitions'");
        if (Number(rows[0]!.value) !== partitions) throw new Error(`this cluster has ${rows[0]!.value} partitions (fixed when it was made); this node was started with --partitions ${partitions}`);
        await c.query('INSERT INTO vigil_leases(part) SELECT g FROM generate_series(0, 2 * $1::int - 1) g ON CONFLICT (part) DO NOTHING', [partitions]);
      } finally {
        await c.query('SELECT pg_advisory_unlock(7414)').catch(() => undefined);
        c.release();
      }
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return s;
  }

  async heartbeat(node: string, url: string): Promise<void> {
    await this.pool.query('INSERT INTO vigil_nodes(node, url, seen, started) VALUES ($1, $2, now(), now()) ON CONFLICT (node) DO UPDATE SET url = excluded.url, seen = now()', [node, url]);
  }

  /** The nodes that sent a heartbeat within `withinMs`, by name. */
  async liveNodes(withinMs: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ node: string }>("SELECT node FROM vigil_nodes WHERE seen > now() - ($1::int * interval '1 millisecond') ORDER BY node", [withinMs]);
    return rows.map((r) => r.node);
  }

  /** A node leaves: it is no longer live, and its leases lapse at once. */
  async leave(node: string): Promise<void> {
    await this.pool.query("UPDATE vigil_leases SET expires = now() - interval '1 second' WHERE owner = $1", [node]);
    await this.pool.query('DELETE FROM vigil_nodes WHERE node = $1', [node]);
  }

  /**
   * Takes the partition's lease when it is free, lapsed, or held by a node that is no longer live
   * (no heartbeat within `liveMs`), with the next epoch; null when another node holds it.
   */
  async acquire(part: number, node: string, leaseMs: number, liveMs: number): Promise<Lease | null> {
    const { rows } = await this.pool.query<{ epoch: string; previous: string | null; checkpoint: string; checkpoint_time: string }>(
      `WITH old AS (SELECT owner FROM vigil_leases WHERE part = $1 FOR UPDATE)
       UPDATE vigil_leases l SET owner = $2, epoch = l.epoch + 1, expires = now() + ($3::int * interval '1 millisecond')
       WHERE l.part = $1 AND (l.owner IS NULL OR l.owner = $2 OR l.expires < now()
         OR NOT EXISTS (SELECT 1 FROM vigil_nodes n WHERE n.node = l.owner AND n.seen > now() - ($4::int * interval '1 millisecond')))
       RETURNING l.epoch, (SELECT owner FROM old) AS previous, l.checkpoint, l.checkpoint_time`,
      [part, node, leaseMs, liveMs],
    );
    const r = rows[0];
    return r ? { epoch: Number(r.epoch), previous: r.previous, checkpoint: Number(r.checkpoint), checkpointTime: Number(r.checkpoint_time) } : null;
  }

  /** Renews a lease held under `epoch`; false when it was lost (another node took it). */
  async renew(part: number, node: string, epoch: number, leaseMs: number): Promise<boolean> {
    const r = await this.pool.query("UPDATE vigil_leases SET expires = now() + ($4::int * interval '1 millisecond') WHERE part = $1 AND owner = $2 AND epoch = $3", [part, node, epoch, leaseMs]);
    return r.rowCount === 1;
  }

  /** Gives a lease up (a node that should no longer hold it), keeping its checkpoint. */
  async release(part: number, node: string, epoch: number): Promise<void> {
    await this.pool.query("UPDATE vigil_leases SET expires = now() - interval '1 second' WHERE part = $1 AND owner = $2 AND epoch = $3", [part, node, epoch]);
  }

  /** Moves the partition's checkpoint, fenced by the epoch: false when the lease is no longer this node's. */
  async checkpoint(part: number, node: string, epoch: number, seq: number, time: number): Promise<boolean> {
    const r = await this.pool.query('UPDATE vigil_leases SET checkpoint = GREATEST(checkpoint, $4), checkpoint_time = GREATEST(checkpoint_time, $5) WHERE part = $1 AND owner = $2 AND epoch = $3', [part, node, epoch, seq, time]);
    return r.rowCount === 1;
  }

  /**
   * Writes alerts once each: an alert id already there (a replay after a failover) is left as it is.
   * With `outbox`, each alert written for the first time is also put in the outbox, to be sent to
   * the outputs once (see `claimOutbox`).
   */
  async insertAlerts(node: string, alerts: readonly AlertRow[], outbox = false): Promise<number> {
    let added = 0;
    for (let i = 0; i < alerts.length; i += 200) {
      const part = alerts.slice(i, i + 200);
      const values: unknown[] = [];
      const rows = part.map((a, k) => {
        values.push(a.id, a.ruleId, a.severity, a.risk, a.host, a.created, a.originalTime, a.buildingBlock, node, JSON.stringify(a.doc), a.status, a.assignee ?? null, JSON.stringify({ user: a.user, process: a.process, groupId: a.groupId }));
        const b = k * 13;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}, $${b + 10}::jsonb, $${b + 11}, $${b + 12}, $${b + 13}::jsonb)`;
      });
      const insert = `INSERT INTO vigil_alerts(id, rule_id, severity, risk, host, created, original_time, building_block, node, doc, status, assignee, facets) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`;
      // with outputs, an alert written for the first time goes into the outbox in the same statement
      const r = outbox ? await this.pool.query<{ n: string }>(`WITH ins AS (${insert} RETURNING id), box AS (INSERT INTO vigil_outbox(alert_id) SELECT id FROM ins ON CONFLICT DO NOTHING) SELECT count(*) AS n FROM ins`, values) : await this.pool.query(insert, values);
      added += outbox ? Number((r.rows[0] as { n: string }).n) : (r.rowCount ?? 0);
    }
    return added;
  }

  /**
   * Claims up to `size` alerts of the outbox not sent yet and not claimed by a live claim, for
   * `claimMs`; their documents. A node that dies holding a claim leaves it to lapse: another node
   * claims those alerts then (an output may get an alert twice only when a node dies between
   * sending and `markSent`).
   */
  async claimOutbox(node: string, claimMs: number, size = 500): Promise<Array<{ id: string; doc: Record<string, unknown> }>> {
    const { rows } = await this.pool.query<{ id: string; doc: Record<string, unknown> }>(
      `WITH c AS (UPDATE vigil_outbox SET claimed_by = $1, claimed_until = now() + ($2::int * interval '1 millisecond')
         WHERE alert_id IN (SELECT alert_id FROM vigil_outbox WHERE sent IS NULL AND claimed_until < now() ORDER BY alert_id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING alert_id)
       SELECT a.id, a.doc FROM c JOIN vigil_alerts a ON a.id = c.alert_id ORDER BY a.original_time NULLS LAST, a.id`,
      [node, claimMs, size],
    );
    return rows;
  }

  /** The alerts this node claimed were delivered; false for those whose claim it lost meanwhile. */
  async markSent(node: string, ids: readonly string[]): Promise<number> {
    const r = await this.pool.query('UPDATE vigil_outbox SET sent = now() WHERE alert_id = ANY($1::text[]) AND claimed_by = $2 AND sent IS NULL', [ids, node]);
    return r.rowCount ?? 0;
  }

  /** Gives claims back (delivery failed): another round, on any node, tries again. */
  async unclaim(node: string, ids: readonly string[]): Promise<void> {
    await this.pool.query("UPDATE vigil_outbox SET claimed_until = 'epoch' WHERE alert_id = ANY($1::text[]) AND claimed_by = $2 AND sent IS NULL", [ids, node]);
  }

  /** How many alerts wait in the outbox, and how many were sent. */
  async outboxCounts(): Promise<{ unsent: number; sent: number }> {
    const { rows } = await this.pool.query<{ unsent: string; sent: string }>('SELECT count(*) FILTER (WHERE sent IS NULL) AS unsent, count(*) FILTER (WHERE sent IS NOT NULL) AS sent FROM vigil_outbox');
    return { unsent: Number(rows[0]!.unsent), sent: Number(rows[0]!.sent) };
  }

  /** Appends a change to the rules to the cluster's log; its place in the log. */
  async logRuleChange(node: string, change: unknown): Promise<number> {
    const { rows } = await this.pool.query<{ seq: string }>('INSERT INTO vigil_rule_log(node, change) VALUES ($1, $2::jsonb) RETURNING seq', [node, JSON.stringify(change)]);
    return Number(rows[0]!.seq);
  }

  /** The rule changes after `seq`, in order (at most 1,000). */
  async ruleChangesAfter(seq: number): Promise<Array<{ seq: number; change: unknown }>> {
    const { rows } = await this.pool.query<{ seq: string; change: unknown }>('SELECT seq, change FROM vigil_rule_log WHERE seq > $1 ORDER BY seq LIMIT 1000', [seq]);
    return rows.map((r) => ({ seq: Number(r.seq), change: r.change }));
  }

  async alerts(q: { ruleId?: string; size?: number; buildingBlocks?: boolean } = {}): Promise<{ total: number; alerts: ClusterAlert[] }> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.ruleId) {
      values.push(q.ruleId);
      where.push(`rule_id = $${values.length}`);
    }
    if (!q.buildingBlocks) where.push('NOT building_block');
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = Number((await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM vigil_alerts ${w}`, values)).rows[0]!.n);
    values.push(Math.min(Math.max(0, q.size ?? 100), 10_000));
    const { rows } = await this.pool.query<ClusterAlert>(`SELECT id, rule_id, severity, risk, host, node, doc FROM vigil_alerts ${w} ORDER BY original_time NULLS LAST, id LIMIT $${values.length}`, values);
    return { total, alerts: rows };
  }

  /**
   * Alerts written or triaged after revision `rev` (a count PostgreSQL keeps over all alerts), in
   * that order, as rows for a node's own store; and the last revision read.
   */
  async alertsAfter(rev: number, size = 1000): Promise<{ rows: AlertRow[]; last: number }> {
    const { rows } = await this.pool.query<{ id: string; rule_id: string; severity: string; risk: number; host: string | null; created: string; original_time: string | null; building_block: boolean; doc: Record<string, unknown>; status: string; assignee: string | null; facets: { user?: string | null; process?: string | null; groupId?: string | null } | null; rev: string }>(
      'SELECT id, rule_id, severity, risk, host, created, original_time, building_block, doc, status, assignee, facets, rev FROM vigil_alerts WHERE rev > $1 ORDER BY rev LIMIT $2',
      [rev, size],
    );
    return {
      rows: rows.map((r) => ({ id: r.id, ruleId: r.rule_id, severity: r.severity, risk: r.risk, host: r.host, created: Number(r.created), originalTime: r.original_time === null ? null : Number(r.original_time), buildingBlock: r.building_block, doc: r.doc, status: r.status, assignee: r.assignee, user: r.facets?.user ?? null, process: r.facets?.process ?? null, groupId: r.facets?.groupId ?? null })),
      last: rows.length ? Number(rows[rows.length - 1]!.rev) : rev,
    };
  }

  /** The triage state (status, assignee, document) of alerts as a node now holds them, for every node to take. */
  async setTriage(alerts: readonly AlertRow[]): Promise<void> {
    for (let i = 0; i < alerts.length; i += 500) {
      const part = alerts.slice(i, i + 500);
      await this.pool.query(
        `UPDATE vigil_alerts a SET status = t.status, assignee = t.assignee, doc = t.doc::jsonb, rev = nextval('vigil_alert_rev')
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, status, assignee, doc) WHERE a.id = t.id`,
        [part.map((a) => a.id), part.map((a) => a.status), part.map((a) => a.assignee ?? null), part.map((a) => JSON.stringify(a.doc))],
      );
    }
  }

  /** The cluster's users and API keys (a user deleted has a null record). */
  async securityEntries(): Promise<SharedEntry[]> {
    const { rows } = await this.pool.query<SharedEntry>('SELECT kind, name, record FROM vigil_security');
    return rows;
  }

  async putSecurity(entries: readonly SharedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.pool.query(
      `INSERT INTO vigil_security(kind, name, record) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
       ON CONFLICT (kind, name) DO UPDATE SET record = excluded.record`,
      [entries.map((e) => e.kind), entries.map((e) => e.name), entries.map((e) => JSON.stringify(e.record))],
    );
  }

  /**
   * The first node makes the cluster's users (the bootstrap of `elastic`), once: under a lock, the
   * users and keys the cluster has, or, when it has none, those `make` gives (then stored).
   */
  async bootstrapSecurity(make: () => Promise<SharedEntry[]>): Promise<{ entries: SharedEntry[]; made: boolean }> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock(7415)');
      const { rows } = await c.query<SharedEntry>('SELECT kind, name, record FROM vigil_security');
      if (rows.length > 0) return { entries: rows, made: false };
      const entries = await make();
      await this.putSecurity(entries);
      return { entries, made: true };
    } finally {
      await c.query('SELECT pg_advisory_unlock(7415)').catch(() => undefined);
      c.release();
    }
  }

  async leases(): Promise<Array<{ part: number; owner: string | null; epoch: number; live: boolean; checkpoint: number }>> {
    const { rows } = await this.pool.query<{ part: number; owner: string | null; epoch: string; live: boolean; checkpoint: string }>('SELECT part, owner, epoch, expires > now() AS live, checkpoint FROM vigil_leases ORDER BY part');
    return rows.map((r) => ({ part: r.part, owner: r.owner, epoch: Number(r.epoch), live: r.live, checkpoint: Number(r.checkpoint) }));
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
