/**
 * A cluster's users and API keys are every node's (PostgreSQL's `vigil_security`): the first node
 * makes `elastic` and shows its password, the next shows none and takes it; an API key made through
 * one node works on the other (the official client with both nodes as hosts), and revoked through
 * the other stops on the first; `vigil reset-password` on one node's folder changes the password on
 * every node. Authentication is on, as by default.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import pg from 'pg';
import { startNatsCluster, type NatsServer } from '../support/nats.js';
import { startServer, type RunningServer } from '../support/server.js';
import { repoRoot } from '../support/shared.js';

const SCHEMA = `vigil_sec_${process.pid}_${Date.now().toString(36)}`;
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

let dir = '';
let nats: NatsServer[] = [];
const nodes: RunningServer[] = [];
let db: pg.Pool;

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const status = async (s: RunningServer, authorization: string): Promise<number> => (await fetch(`${s.url}/_security/_authenticate`, { headers: { authorization } })).status;

/** Waits until `s` answers `want` for the credential (a node takes the others' changes every round). */
async function eventually(s: RunningServer, authorization: string, want: number, label: string): Promise<void> {
  let got = 0;
  for (let i = 0; i < 40 && (got = await status(s, authorization)) !== want; i++) await new Promise((r) => setTimeout(r, 250));
  assert.equal(got, want, label);
}

const start = (name: string): Promise<RunningServer> =>
  startServer(['--data', join(dir, name), '--cluster', nats.map((x) => x.url).join(','), '--state', `${PG_URL}?schema=${SCHEMA}`, '--node-name', name, '--partitions', '4', '--lease', '5s'], { auth: true, startTimeoutMs: 60_000 });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-sec-'));
  db = new pg.Pool({ connectionString: PG_URL, max: 1 });
  db.on('error', () => undefined);
  nats = await startNatsCluster(join(dir, 'nats'));
  nodes.push(await start('s1'));
  nodes.push(await start('s2'));
});

after(async () => {
  for (const s of nodes) await s.stop(true).catch(() => null);
  for (const s of nats) await s.kill().catch(() => null);
  await db?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => null);
  await db?.end().catch(() => null);
  rmSync(dir, { recursive: true, force: true });
});

test('the first node makes the elastic user; the next takes it and shows no password of its own', async () => {
  const [s1, s2] = nodes as [RunningServer, RunningServer];
  assert.ok(s1.password, 'the first node shows the password once');
  assert.equal(s2.password, null, 'the second node has the cluster’s');
  assert.equal(await status(s1, basic('elastic', s1.password)), 200);
  assert.equal(await status(s2, basic('elastic', s1.password)), 200);
  assert.equal(await status(s2, basic('elastic', 'not-the-password')), 401);
  const { rows } = await db.query<{ kind: string; name: string }>(`SELECT kind, name FROM ${SCHEMA}.vigil_security ORDER BY kind, name`);
  assert.deepEqual(rows, [{ kind: 'user', name: 'elastic' }]);
});

test('an API key made through one node works on the other; revoked through the other, it stops on the first', async () => {
  const [s1, s2] = nodes as [RunningServer, RunningServer];
  const admin = basic('elastic', s1.password!);
  const made = (await (await fetch(`${s1.url}/_security/api_key`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shipper' }) })).json()) as { id: string; api_key: string; encoded: string };
  await eventually(s2, `ApiKey ${made.encoded}`, 200, 'the key on the node it was not made on');
  // a client with both nodes as hosts, as a shipper in front of a cluster has
  const client = new Client({ nodes: nodes.map((s) => s.url), auth: { apiKey: { id: made.id, api_key: made.api_key } } });
  try {
    for (let i = 0; i < 4; i++) {
      const r = await client.bulk({ operations: [{ create: { _index: 'logs-sec-default' } }, { '@timestamp': new Date().toISOString(), host: { id: `h${i}` }, message: 'x' }] });
      assert.equal(r.errors, false);
    }
  } finally {
    await client.close();
  }
  const revoked = (await (await fetch(`${s2.url}/_security/api_key`, { method: 'DELETE', headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify({ ids: [made.id] }) })).json()) as { invalidated_api_keys: string[] };
  assert.deepEqual(revoked.invalidated_api_keys, [made.id]);
  await eventually(s1, `ApiKey ${made.encoded}`, 401, 'the key revoked on the other node');
  assert.equal(await status(s2, `ApiKey ${made.encoded}`), 401);
});

test('vigil reset-password on one node’s folder changes the password on every node', async () => {
  const [s1, s2] = nodes as [RunningServer, RunningServer];
  const old = s1.password!;
  // watched with a key of its own: polling with a password not yet taken would count as guessing
  const key = (await (await fetch(`${s1.url}/_security/api_key`, { method: 'POST', headers: { authorization: basic('elastic', old), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'watcher' }) })).json()) as { encoded: string };
  const watcher = `ApiKey ${key.encoded}`;
  await eventually(s2, watcher, 200, 'the watcher key on both nodes');
  const taken = async (): Promise<number> => ((await (await fetch(`${s1.url}/api/cluster`, { headers: { authorization: watcher } })).json()) as { security_taken: number }).security_taken;
  const before = await taken();
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'reset-password', '--data', join(dir, 's2')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fresh = /shown this once:\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(fresh && fresh !== old);
  for (let i = 0; i < 40 && (await taken()) === before; i++) await new Promise((res) => setTimeout(res, 250));
  assert.ok((await taken()) > before, 'the first node took the change made on the second’s folder');
  assert.equal(await status(s1, basic('elastic', fresh)), 200, 'the new password on the other node');
  assert.equal(await status(s1, basic('elastic', old)), 401, 'the old one there');
  assert.equal(await status(s2, basic('elastic', fresh)), 200);
});
