/**
 * Cluster mode's outbox on a real PostgreSQL (a schema of its own, dropped after): alerts written by
 * two nodes, the same ones twice (a replay after a failover), reach a real webhook once each,
 * whichever node sends them; a node that dies holding a claim leaves its alerts to another node once
 * the claim lapses; a webhook that fails gets the batch again later, once it answers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { ClusterState, OutboxSender } from '../../src/cluster/index.js';
import { OutputDispatcher } from '../../src/outputs/index.js';
import type { AlertRow } from '../../src/store/index.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `vigil_outbox_${process.pid}`;
let db: pg.Pool;
let a: ClusterState;
let b: ClusterState;
let hook: Server;
let hookUrl = '';
/** alert ids the webhook took, in order (a repeat shows twice) */
const received: string[] = [];
let failing = false;

const alert = (n: number): AlertRow =>
  ({
    id: `alert-${String(n).padStart(4, '0')}`,
    ruleId: 'r1',
    severity: 'high',
    risk: 73,
    host: 'h1',
    user: null,
    process: null,
    created: 1_700_000_000_000 + n,
    originalTime: 1_700_000_000_000 + n,
    status: 'open',
    groupId: null,
    buildingBlock: false,
    doc: { 'kibana.alert.uuid': `alert-${String(n).padStart(4, '0')}` },
  }) as unknown as AlertRow;
const range = (from: number, to: number): AlertRow[] => Array.from({ length: to - from }, (_, i) => alert(from + i));
const sender = (state: ClusterState, node: string, claimMs = 60_000): OutboxSender => new OutboxSender(state, node, new OutputDispatcher([{ kind: 'webhook', url: hookUrl }], { maxAttempts: 2, baseDelayMs: 20 }), claimMs);

before(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (failing) {
        res.writeHead(503).end();
        return;
      }
      for (const d of JSON.parse(body) as Array<Record<string, string>>) received.push(d['kibana.alert.uuid']!);
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const addr = hook.address() as { port: number };
  hookUrl = `http://127.0.0.1:${addr.port}/hook/secret`;
  db = new pg.Pool({ connectionString: PG_URL, max: 2 });
  a = await ClusterState.open(`${PG_URL}?schema=${SCHEMA}`, 4);
  b = await ClusterState.open(`${PG_URL}?schema=${SCHEMA}`, 4);
});
after(async () => {
  await a?.close();
  await b?.close();
  await db?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => null);
  await db?.end();
  hook?.close();
});

test('alerts written by two nodes, overlapping, are sent once each by two senders running at once', async () => {
  assert.equal(await a.insertAlerts('a', range(0, 600), true), 600);
  // node b replays part of the same events: those alerts are there already, not put in the outbox again
  assert.equal(await b.insertAlerts('b', range(300, 900), true), 300);
  assert.deepEqual(await a.outboxCounts(), { unsent: 900, sent: 0 });
  const sa = sender(a, 'a');
  const sb = sender(b, 'b');
  await Promise.all([sa.send(), sb.send(), sa.send()]);
  // a batch whose delivery failed is given back for a later round (as the nodes' rounds do)
  for (let i = 0; i < 5 && (await a.outboxCounts()).unsent > 0; i++) await Promise.all([sa.send(), sb.send()]);
  assert.equal(received.length, 900);
  assert.equal(new Set(received).size, 900, 'an alert was sent twice');
  assert.equal(sa.counts.sent + sb.counts.sent, 900);
  assert.deepEqual(await a.outboxCounts(), { unsent: 0, sent: 900 });
  // written without outputs: no outbox
  await a.insertAlerts('a', range(900, 910), false);
  assert.deepEqual(await a.outboxCounts(), { unsent: 0, sent: 900 });
});

test('a node that dies holding a claim: its alerts go out from another node once the claim lapses', async () => {
  received.length = 0;
  await a.insertAlerts('a', range(1000, 1050), true);
  // node a claims them for 1.5 s and dies before sending
  assert.equal((await a.claimOutbox('a', 1500)).length, 50);
  const sb = sender(b, 'b');
  await sb.send();
  assert.equal(received.length, 0, 'claimed alerts are not sent by another node while the claim lives');
  await new Promise((r) => setTimeout(r, 1600));
  await sb.send();
  assert.deepEqual([...received].sort(), range(1000, 1050).map((x) => x.id));
  // the dead node's late mark changes nothing
  assert.equal(await a.markSent('a', ['alert-1000']), 0);
});

test('a webhook that fails gets the batch again on a later round, once', async () => {
  received.length = 0;
  await b.insertAlerts('b', range(2000, 2020), true);
  failing = true;
  const sa = sender(a, 'a');
  await sa.send();
  assert.equal(sa.counts.failed, 20);
  assert.deepEqual(await a.outboxCounts(), { unsent: 20, sent: 950 });
  failing = false;
  await sa.send();
  assert.deepEqual([...received].sort(), range(2000, 2020).map((x) => x.id));
  assert.deepEqual(await a.outboxCounts(), { unsent: 0, sent: 970 });
});
