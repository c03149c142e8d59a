/**
 * Cluster mode on this machine: a 3-server NATS cluster (JetStream, 3 replicas) and Vigil nodes
 * sharing a PostgreSQL schema of their own. Generated events with planted attacks go in through
 * every node; every planted alert must be in PostgreSQL exactly once (the same alerts, by rule and
 * event, as `vigil hunt` finds over the same events) with all nodes up, after SIGKILL of a node
 * mid-ingest, after a node joins, after SIGKILL of a NATS server and across a PostgreSQL restart;
 * and a sequence whose events came through different nodes completes. A sequence joined on the
 * user (not the host) takes its stages from hosts that other nodes read, through the key partitions:
 * each file holds such pairs, and each must alert once in every step. Every node has the same
 * webhook output: each alert in PostgreSQL reaches it once, through the cluster's outbox.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AckPolicy, connect, DeliverPolicy } from 'nats';
import pg from 'pg';
import { decodeMessage, partitionOf, STREAM } from '../../src/cluster/index.js';
import { generateEvents } from '../../src/gen/index.js';
import { vigil } from '../support/cli.js';
import { startNatsCluster, type NatsServer } from '../support/nats.js';
import { startServer, type RunningServer } from '../support/server.js';

const PARTITIONS = 16;
const SCHEMA = `vigil_test_${process.pid}_${Date.now().toString(36)}`;
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const INDEX = 'logs-endpoint.events.process-default';

let dir = '';
let nats: NatsServer[] = [];
const nodes = new Map<string, RunningServer>();
let eventsDir = '';
let rulesFile = '';
let db: pg.Pool;

/** The webhook every node sends alerts to, and the alert ids it took (a repeat shows twice). */
let hook: Server;
let hookUrl = '';
const delivered: string[] = [];

const natsUrls = (): string => nats.map((s) => s.url).join(',');

// a node killed while it holds outbox alerts leaves them to another node once its claim lapses:
// `--outbox-claim 10s`, within the 30 s the checks wait for every alert to be delivered
async function startNode(name: string): Promise<RunningServer> {
  const s = await startServer(['--data', join(dir, name), '--rules', rulesFile, '--streaming', '--cluster', natsUrls(), '--state', `${PG_URL}?schema=${SCHEMA}`, '--node-name', name, '--partitions', String(PARTITIONS), '--replicas', '3', '--lease', '5s', '--outbox-claim', '10s', '--output', hookUrl], { startTimeoutMs: 60_000 });
  nodes.set(name, s);
  return s;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'));
  eventsDir = join(dir, 'events');
  mkdirSync(eventsDir);
  rulesFile = join(dir, 'sequence.ndjson');
  writeFileSync(
    rulesFile,
    `${JSON.stringify({ rule_id: 'cross-node-sequence', name: 'Two stages through two nodes', description: 'test', type: 'eql', language: 'eql', query: 'sequence by host.id with maxspan=5m [process where process.name == "stage-one.exe"] [process where process.name == "stage-two.exe"]', severity: 'high', risk_score: 73, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1, index: ['logs-*'] })}\n` +
      `${JSON.stringify({ rule_id: 'cross-host-sequence', name: 'One user on two hosts', description: 'test', type: 'eql', language: 'eql', query: 'sequence by user.name with maxspan=5m [process where process.name == "user-stage-one.exe"] [process where process.name == "user-stage-two.exe"]', severity: 'high', risk_score: 73, interval: '5m', from: 'now-320s', max_signals: 100, enabled: true, version: 1, index: ['logs-*'] })}\n`,
  );
  db = new pg.Pool({ connectionString: PG_URL, max: 2 });
  db.on('error', () => undefined);
  hook = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      for (const d of JSON.parse(Buffer.concat(parts).toString()) as Array<Record<string, unknown>>) delivered.push(String(d['kibana.alert.uuid']));
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/alerts`;
  nats = await startNatsCluster(join(dir, 'nats'));
  for (const n of ['n1', 'n2', 'n3']) await startNode(n);
});

after(async () => {
  for (const s of nodes.values()) await s.stop(true).catch(() => null);
  for (const s of nats) await s.kill().catch(() => null);
  await db?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => null);
  await db?.end().catch(() => null);
  hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The users of the cross-host pairs planted so far: each must have one alert of `cross-host-sequence`. */
const crossHostUsers: string[] = [];

/** A process event of `user` on `host` (the stages of `cross-host-sequence`). */
const userEvent = (ts: string, host: string, user: string, name: string): string => JSON.stringify({ '@timestamp': ts, event: { category: ['process'], type: ['start'] }, host: { id: host, name: host }, user: { name: user }, process: { name, entity_id: `${host}-${name}` } });

/**
 * Writes a file of generated events with planted attacks (kept for the hunt that says what to
 * expect), and six pairs of `cross-host-sequence` among them: stage one on one host, stage two on
 * another, 300 events later, one user each. The pairs are dated now, as live events are (the
 * generated ones are dated days ahead, and a file of four minutes goes in in seconds): the rule's
 * lateness, 20 s, is then what it is live, longer than a node's partitions take to move when it
 * dies, and the server's clock lets its events go.
 */
function eventFile(name: string, seed: number, events = 12_000): string[] {
  const lines = [...generateEvents({ events, seed, plantEvery: 1000, start: Date.parse('2026-11-23T00:00:00Z') + seed * 86_400_000 })];
  const inserts: Array<[number, string]> = [];
  const now = Date.now();
  for (let k = 0; k < 6; k++) {
    const i = 500 + k * 1200;
    const user = `xu-${seed}-${k}`;
    crossHostUsers.push(user);
    inserts.push([i + 1, userEvent(new Date(now + k * 1000).toISOString(), `xh-${seed}-${k}-a`, user, 'user-stage-one.exe')], [i + 301, userEvent(new Date(now + k * 1000 + 500).toISOString(), `xh-${seed}-${k}-b`, user, 'user-stage-two.exe')]);
  }
  for (const [at, line] of inserts.sort((a, b) => b[0] - a[0])) lines.splice(at, 0, line);
  writeFileSync(join(eventsDir, `${name}.ndjson`), `${lines.join('\n')}\n`);
  return lines;
}

/**
 * Sends events through the nodes in turn, 500 per `_bulk`; a request a node cannot answer (it was
 * killed) goes to the next node, as Elasticsearch clients do with several hosts. Items that failed
 * are sent again. `during` runs once, after a third of the requests.
 */
async function load(lines: readonly string[], during?: () => Promise<void>): Promise<void> {
  const bodies: string[] = [];
  for (let i = 0; i < lines.length; i += 500) bodies.push(lines.slice(i, i + 500).map((l) => `{"create":{"_index":"${INDEX}"}}\n${l}\n`).join(''));
  let k = 0;
  for (let b = 0; b < bodies.length; b++) {
    if (during && b === Math.floor(bodies.length / 3)) await during();
    let body = bodies[b]!;
    for (let attempt = 0; ; attempt++) {
      assert.ok(attempt < 40, 'a bulk request was never acknowledged');
      const live = [...nodes.values()].filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);
      const s = live[k++ % live.length]!;
      try {
        const r = await fetch(`${s.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
        const j = (await r.json()) as { items: Array<{ create: { status: number } }> };
        const pairs = body.trimEnd().split('\n');
        const again: string[] = [];
        j.items.forEach((it, i) => {
          if (it.create.status >= 300) again.push(pairs[2 * i]!, pairs[2 * i + 1]!);
        });
        if (again.length === 0) break;
        body = `${again.join('\n')}\n`;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

interface ClusterView {
  node: string;
  leases: Array<{ part: number; owner: string | null; live: boolean; checkpoint: number }>;
  held: Array<{ partition: number; kind: 'host' | 'key'; replaying: boolean }>;
  live_nodes: string[];
  pending_alerts: number;
}

/**
 * Waits until the cluster has taken in everything the stream holds: every partition (host and key
 * partitions) leased to a live node, its checkpoint at the stream's last message of its subject, no replay under way (a partition
 * taken over is read again from before its checkpoint), no alert waiting for PostgreSQL.
 * Answers how long it took.
 */
async function settled(timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  const nc = await connect({ servers: nats.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null).map((s) => s.url), maxReconnectAttempts: -1 });
  try {
    // JetStream may be electing leaders again (a server was just killed): asked again until it answers
    const jsm = await (async () => {
      for (;;) {
        try {
          const m = await nc.jetstreamManager({ timeout: 2000 });
          await m.getAccountInfo();
          return m;
        } catch (e) {
          if (Date.now() - t0 > timeoutMs) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    })();
    for (;;) {
      const live = [...nodes.entries()].filter(([, s]) => s.proc.exitCode === null && s.proc.signalCode === null);
      const views: ClusterView[] = [];
      for (const [, s] of live) {
        const r = await fetch(`${s.url}/api/cluster`).catch(() => null);
        if (r?.ok) views.push((await r.json()) as ClusterView);
      }
      if (Date.now() - t0 > timeoutMs) {
        const lasts: number[] = [];
        for (let p = 0; p < 2 * PARTITIONS; p++) lasts.push((await jsm.streams.getMessage(STREAM, { last_by_subj: `vigil.events.${p}` }).catch(() => null))?.seq ?? -1);
        assert.fail(`the cluster did not settle: stream ${JSON.stringify(lasts)}; nodes ${JSON.stringify(views.map((v) => ({ ...v, leases: undefined })))}; leases ${JSON.stringify(views[0]?.leases)}`);
      }
      const names = new Set(live.map(([n]) => n));
      let done = views.length === live.length && views.every((v) => v.pending_alerts === 0 && v.held.every((h) => !h.replaying));
      const leases = views[0]?.leases ?? [];
      // and no hand-over under way: each partition read by the one node whose lease it is
      const held = views.flatMap((v) => v.held.map((h) => ({ part: h.partition, node: v.node })));
      if (held.length !== 2 * PARTITIONS || held.some((h) => leases.find((l) => l.part === h.part)?.owner !== h.node)) done = false;
      for (let p = 0; done && p < 2 * PARTITIONS; p++) {
        const l = leases.find((x) => x.part === p);
        if (!l || !l.live || !l.owner || !names.has(l.owner)) done = false;
        else {
          const last = await jsm.streams.getMessage(STREAM, { last_by_subj: `vigil.events.${p}` }).catch((e: Error) => (/no message found/i.test(e.message) ? null : e));
          if (last instanceof Error || (last && l.checkpoint < last.seq)) done = false;
        }
      }
      if (done) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await nc.close();
  }
}

/** rule_id and the alert's event, per alert (an alert twice shows as the same key twice). */
const keyOf = (doc: Record<string, unknown>): string => `${String(doc['kibana.alert.rule.rule_id'])}|${String((doc.host as { id?: string } | undefined)?.id)}|${String((doc.process as { entity_id?: string } | undefined)?.entity_id)}`;

async function clusterAlertKeys(): Promise<string[]> {
  const { rows } = await db.query<{ doc: Record<string, unknown> }>(`SELECT doc FROM ${SCHEMA}.vigil_alerts WHERE NOT building_block AND rule_id NOT IN ('cross-node-sequence', 'cross-host-sequence')`);
  return rows.map((r) => keyOf(r.doc)).sort();
}

/** What `vigil hunt` with the bundled rules finds over every event file sent so far. */
function huntAlertKeys(): string[] {
  assert.ok(readdirSync(eventsDir).length > 0);
  const r = vigil(['hunt', '--events', eventsDir, '--format', 'ndjson', '--no-progress']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => keyOf(JSON.parse(l) as Record<string, unknown>))
    .sort();
}

async function assertExactlyOnce(label: string): Promise<void> {
  const want = huntAlertKeys();
  assert.ok(want.length >= 3, `${label}: the events hold planted attacks (${want.length})`);
  assert.deepEqual(await clusterAlertKeys(), want, `${label}: every planted alert, once`);
  // the pairs joined on the user: one alert each, its two events those of the user's two hosts
  // (the pairs' events wait out the rule's lateness, 20 s, before they are matched)
  const shellCount = async (): Promise<number> => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.vigil_alerts WHERE rule_id = 'cross-host-sequence' AND NOT building_block AND doc::text NOT LIKE '%cross-user%'`)).rows[0]!.n);
  for (let i = 0; i < 160 && (await shellCount()) < crossHostUsers.length; i++) await new Promise((r) => setTimeout(r, 250));
  assert.equal(await shellCount(), crossHostUsers.length, `${label}: one alert per user whose stages came from two hosts`);
  const parts = await db.query<{ u: string; h: string }>(`SELECT doc->'user'->>'name' AS u, doc->'host'->>'id' AS h FROM ${SCHEMA}.vigil_alerts WHERE rule_id = 'cross-host-sequence' AND building_block AND doc->'user'->>'name' <> 'cross-user'`);
  assert.deepEqual(parts.rows.map((r) => `${r.u}@${r.h}`).sort(), crossHostUsers.flatMap((u) => { const [, seed, k] = u.split('-'); return [`${u}@xh-${seed}-${k}-a`, `${u}@xh-${seed}-${k}-b`]; }).sort(), `${label}: each cross-host alert holds the user's two events`);
  // every node's API shows the cluster's alerts: each takes what the others wrote from PostgreSQL
  const inPg = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.vigil_alerts`)).rows[0]!.n);
  for (const [name, s] of nodes) {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
    const shown = async (): Promise<number> => ((await (await fetch(`${s.url}/api/alerts?building_blocks=true&size=1`)).json()) as { total: number }).total;
    for (let i = 0; i < 40 && (await shown()) !== inPg; i++) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await shown(), inPg, `${label}: node ${name} shows every alert of the cluster`);
  }
  // the outputs: every alert in PostgreSQL delivered, once (a node killed between delivering a
  // batch and marking it sent leaves that batch to be sent again by another node: at most one batch)
  for (let i = 0; i < 120; i++) {
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.vigil_outbox WHERE sent IS NULL`);
    if (Number(rows[0]!.n) === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const ids = (await db.query<{ id: string }>(`SELECT id FROM ${SCHEMA}.vigil_alerts`)).rows.map((r) => r.id).sort();
  assert.deepEqual([...new Set(delivered)].sort(), ids, `${label}: every alert delivered to the webhook`);
  const repeats = delivered.length - new Set(delivered).size;
  if (label === 'after a node was killed') assert.ok(repeats <= 500, `${label}: ${repeats} alerts delivered twice`);
  else assert.equal(repeats, repeatsBefore, `${label}: no alert delivered twice`);
  repeatsBefore = repeats;
}
let repeatsBefore = 0;

test('all nodes up: events sent through the three nodes give every planted alert exactly once', async () => {
  await load(eventFile('a', 31));
  await settled();
  await assertExactlyOnce('all up');
  // the partitions are spread over the three nodes
  const views = await Promise.all([...nodes.values()].map(async (s) => (await (await fetch(`${s.url}/api/cluster`)).json()) as { held: Array<{ partition: number }> }));
  for (const v of views) assert.ok(v.held.length > 0, 'every node holds partitions');
  assert.deepEqual(views.flatMap((v) => v.held.map((h) => h.partition)).sort((a, b) => a - b), Array.from({ length: 2 * PARTITIONS }, (_, i) => i), 'each partition (host and key) held by one node');
});

/** An alert another node wrote, closed and assigned through n1 (a node that joins later must have it so). */
let triaged = '';

interface AlertView {
  status: string;
  assignee: string | null;
  doc: Record<string, unknown>;
}

async function assertTriaged(s: RunningServer, label: string): Promise<void> {
  let a: AlertView | null = null;
  for (let i = 0; i < 40; i++) {
    a = (await (await fetch(`${s.url}/api/alerts/${triaged}`)).json()) as AlertView;
    if (a.status === 'closed' && a.assignee === 'ana') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(a?.status, 'closed', label);
  assert.equal(a?.assignee, 'ana', label);
  assert.equal(a?.doc['kibana.alert.workflow_reason'], 'false_positive', label);
  assert.deepEqual(((a?.doc['vigil.alert.notes'] ?? []) as Array<{ text: string }>).map((n) => n.text), ['benign on n1'], label);
}

test('an alert triaged through one node is triaged on every node', async () => {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM ${SCHEMA}.vigil_alerts WHERE node <> 'n1' AND NOT building_block ORDER BY id LIMIT 1`);
  assert.equal(rows.length, 1, 'an alert written by another node than n1');
  triaged = rows[0]!.id;
  const n1 = nodes.get('n1')!;
  const post = async (path: string, body: unknown): Promise<{ updated: number }> => (await (await fetch(`${n1.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { updated: number };
  assert.equal((await post('/api/alerts/_status', { ids: [triaged], status: 'closed', reason: 'false_positive', note: 'benign on n1', user: 'ana' })).updated, 1);
  assert.equal((await post('/api/alerts/_assign', { ids: [triaged], assignee: 'ana' })).updated, 1);
  for (const [name, s] of nodes) await assertTriaged(s, `as node ${name} shows it`);
  const pgRow = await db.query<{ status: string; assignee: string }>(`SELECT status, assignee FROM ${SCHEMA}.vigil_alerts WHERE id = $1`, [triaged]);
  assert.deepEqual(pgRow.rows[0], { status: 'closed', assignee: 'ana' });
});

test('a sequence joined on the user, whose stages came from hosts that two other nodes read, completes once', async () => {
  const views = new Map<string, ClusterView>();
  for (const [name, s] of nodes) views.set(name, (await (await fetch(`${s.url}/api/cluster`)).json()) as ClusterView);
  const holder = (host: string): string => [...views].find(([, v]) => v.held.some((h) => h.kind === 'host' && h.partition === partitionOf(`host:${host}`, PARTITIONS)))![0];
  // two hosts read by two different nodes; each stage sent through the node that does not read it
  const hosts = Array.from({ length: 64 }, (_, i) => `uh-${i}`);
  const a = hosts[0]!;
  const b = hosts.find((h) => holder(h) !== holder(a))!;
  assert.ok(b, 'two hosts whose partitions two nodes hold');
  const through = (host: string): RunningServer => [...nodes].find(([n]) => n !== holder(host))![1];
  const send = async (host: string, ts: string, name: string): Promise<void> => {
    const r = await fetch(`${through(host).url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `{"create":{"_index":"${INDEX}"}}\n${userEvent(ts, host, 'cross-user', name)}\n` });
    assert.equal(r.status, 200);
  };
  // dated before the rule's lateness, so matched as they come: the second is sent once the first was
  await send(a, '2026-11-26T00:00:01Z', 'user-stage-one.exe');
  await settled();
  await send(b, '2026-11-26T00:00:02Z', 'user-stage-two.exe');
  await settled();
  const count = async (): Promise<number> => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.vigil_alerts WHERE rule_id = 'cross-host-sequence' AND NOT building_block AND doc::text LIKE '%cross-user%'`)).rows[0]!.n);
  for (let i = 0; i < 40 && (await count()) < 1; i++) await new Promise((r) => setTimeout(r, 250));
  assert.equal(await count(), 1);
  // it went through a key partition: some node matched forwarded events
  const forwardedIn = (await Promise.all([...nodes.values()].map(async (s) => ((await (await fetch(`${s.url}/api/cluster`)).json()) as { forwarded_in: number }).forwarded_in))).reduce((x, y) => x + y, 0);
  assert.ok(forwardedIn >= 2, `forwarded events matched: ${forwardedIn}`);
});

test('a sequence whose two events came through two different nodes completes', async () => {
  const ev = (name: string, s: number): string => `{"create":{"_index":"${INDEX}"}}\n${JSON.stringify({ '@timestamp': new Date(Date.parse('2026-11-25T00:00:00Z') + s * 1000).toISOString(), event: { category: ['process'], type: ['start'] }, host: { id: 'cross-host', name: 'cross-host' }, process: { name, entity_id: `cross-${name}` } })}\n`;
  const [n1, n2] = [nodes.get('n1')!, nodes.get('n2')!];
  assert.equal((await fetch(`${n1.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ev('stage-one.exe', 1) })).status, 200);
  assert.equal((await fetch(`${n2.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ev('stage-two.exe', 2) })).status, 200);
  await settled();
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.vigil_alerts WHERE rule_id = 'cross-node-sequence' AND NOT building_block`);
  assert.equal(Number(rows[0]!.n), 1);
});

test('SIGKILL of a Vigil node mid-ingest: its partitions move, no acknowledged event is lost, every planted alert once', async (t) => {
  let killedAt = 0;
  await load(eventFile('b', 32), async () => {
    await nodes.get('n3')!.stop(true);
    killedAt = Date.now();
  });
  const ms = await settled();
  t.diagnostic(`every partition caught up ${Date.now() - killedAt} ms after the kill (settled ${ms} ms after the last event was acknowledged)`);
  await assertExactlyOnce('after a node was killed');
  // every acknowledged event is in the stream, once: the events of both files, and the two of the sequence
  const nc = await connect({ servers: nats.map((s) => s.url) });
  try {
    const jsm = await nc.jetstreamManager();
    const made = await jsm.consumers.add(STREAM, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 30e9 });
    const c = await nc.jetstream().consumers.get(STREAM, made.name);
    const ids = new Set<string>();
    let events = 0;
    for (let left = made.num_pending; left > 0; ) {
      const msgs = await c.fetch({ max_messages: 500, expires: 2000 });
      for await (const m of msgs) {
        left--;
        for (const e of decodeMessage(m.data)) {
          // events sent on to key partitions are copies of events counted on their host partitions
          if (e.forwarded) continue;
          events++;
          ids.add(`${e.index}/${e.id}`);
        }
      }
    }
    assert.equal(events, 2 * (12_000 + 12) + 2 + 2);
    assert.equal(ids.size, events);
  } finally {
    await nc.close();
  }
});

test('rule changes through one node apply on every node, in one order; a node that joins later has them', async () => {
  const [n1, n2] = [nodes.get('n1')!, nodes.get('n2')!];
  const rule = { rule_id: 'cluster-imported', name: 'Imported through one node', description: 'test', type: 'eql', language: 'eql', query: 'process where process.name == "never-seen.exe"', severity: 'low', risk_score: 21, interval: '5m', from: 'now-9m', enabled: true, version: 1, index: ['logs-*'] };
  const imported = await fetch(`${n1.url}/api/rules/_import?filename=cluster.ndjson`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${JSON.stringify(rule)}\n` });
  assert.equal(imported.status, 200);
  assert.deepEqual(((await imported.json()) as { imported: string[] }).imported, ['cluster-imported']);
  const enabledOn = async (s: RunningServer): Promise<boolean | null> => {
    const r = await fetch(`${s.url}/api/rules/cluster-imported`);
    return r.ok ? ((await r.json()) as { enabled: boolean }).enabled : null;
  };
  const patch = (s: RunningServer, enabled: boolean): Promise<Response> => fetch(`${s.url}/api/rules/cluster-imported`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enabled }) });
  // the rule imported through n1 is switched off through n2: n2 had it already (it applies the log in order)
  const off = await patch(n2, false);
  assert.equal(off.status, 200);
  assert.equal(((await off.json()) as { enabled: boolean }).enabled, false);
  const until = async (f: () => Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 80 && !(await f()); i++) await new Promise((r) => setTimeout(r, 250));
    assert.ok(await f(), what);
  };
  await until(async () => (await enabledOn(n1)) === false, 'n1 took up the change made through n2');
  // two nodes switch the same rule at once, opposite ways: every node ends as the log's last change says
  await Promise.all([patch(n1, true), patch(n2, false), patch(n1, false), patch(n2, true)]);
  const last = (await db.query<{ change: { flags: { enabled: boolean } } }>(`SELECT change FROM ${SCHEMA}.vigil_rule_log ORDER BY seq DESC LIMIT 1`)).rows[0]!.change.flags.enabled;
  await until(async () => (await enabledOn(n1)) === last && (await enabledOn(n2)) === last, `both nodes end with enabled=${last}`);
  finalImportedState = last;

  // an exception item added through n2 is on n1 under the same id; removed through n1, gone from n2
  const items = async (s: RunningServer): Promise<string[]> => ((await (await fetch(`${s.url}/api/rules/cluster-imported`)).json()) as { exceptions: { items: Array<{ item_id: string }> } }).exceptions.items.map((i) => i.item_id);
  const added = await fetch(`${n2.url}/api/exception_lists/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rule_id: 'cluster-imported', name: 'admin host', entries: [{ field: 'host.name', operator: 'included', type: 'match', value: 'admin-01' }] }) });
  assert.equal(added.status, 200);
  const itemId = ((await added.json()) as { item: { item_id: string } }).item.item_id;
  await until(async () => (await items(n1)).includes(itemId), 'n1 has the exception item added through n2, under its id');
  assert.equal((await fetch(`${n1.url}/api/exception_lists/items/${itemId}`, { method: 'DELETE' })).status, 200);
  await until(async () => (await items(n2)).length === 0, 'the item removed through n1 is gone from n2');
});
let finalImportedState: boolean | null = null;

test('a node joins: partitions move to it, and alerts stay exactly once', async () => {
  await startNode('n4');
  // it took the rule changes made before it joined
  const r = await fetch(`${nodes.get('n4')!.url}/api/rules/cluster-imported`);
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { enabled: boolean }).enabled, finalImportedState);
  await load(eventFile('c', 33));
  await settled();
  const v = (await (await fetch(`${nodes.get('n4')!.url}/api/cluster`)).json()) as { held: unknown[] };
  assert.ok(v.held.length > 0, 'the new node holds partitions');
  await assertExactlyOnce('after a node joined');
  // it took the alerts written before it joined as they were triaged
  await assertTriaged(nodes.get('n4')!, 'as the node that joined later shows it');
});

test('SIGKILL of one NATS server mid-ingest: ingest goes on through the others, alerts exactly once', async () => {
  await load(eventFile('d', 34), async () => {
    await nats[0]!.kill();
  });
  await settled();
  await assertExactlyOnce('after a NATS server was killed');
  await nats[0]!.start();
});

test('PostgreSQL restarted mid-ingest: nodes take their leases again and alerts stay exactly once', async (t) => {
  const version = readdirSync('/etc/postgresql')[0]!;
  let restartedAt = 0;
  await load(eventFile('e', 35), async () => {
    const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    restartedAt = Date.now();
  });
  const ms = await settled();
  t.diagnostic(`settled ${Date.now() - restartedAt} ms after PostgreSQL restarted (${ms} ms after the last event)`);
  await assertExactlyOnce('after PostgreSQL restarted');
});
