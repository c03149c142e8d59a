/**
 * A damaged store is refused, never started silently with less data: garbage in the WAL after a
 * SIGKILL, a truncated database file, a file emptied, a damaged page, an older copy put back. Each
 * gives a refusal naming the damage and how to recover; `vigil store check` says the same, and
 * `vigil store recover` accepts the loss so that the server starts again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startServer, type RunningServer } from '../support/server.js';
import { repoRoot } from '../support/shared.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-integrity-'));
  dirs.push(d);
  return d;
};
const cli = (...args: string[]): { status: number | null; out: string } => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
};
/** Starts the server on a data folder, or returns why it would not. */
const tryStart = async (data: string): Promise<RunningServer | string> => startServer(['--data', data, '--no-bundled-rules']).catch((e: Error) => e.message);

async function ingest(s: RunningServer, batches: number, per = 100, from = 0): Promise<void> {
  await Promise.all(
    Array.from({ length: batches }, async (_, b) => {
      const body = Array.from({ length: per }, (_, i) => `{"create":{}}\n${JSON.stringify({ '@timestamp': '2026-11-20T00:00:00Z', n: from + b * per + i, pad: 'x'.repeat(300) })}\n`).join('');
      const r = await fetch(`${s.url}/logs-x/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      assert.equal(r.status, 200);
    }),
  );
}
const count = async (s: RunningServer): Promise<number> => ((await (await fetch(`${s.url}/logs-x/_count`)).json()) as { count: number }).count;

/** Frames of the WAL's current generation (its header's salts), as offsets. */
function currentFrames(wal: string): number[] {
  const b = readFileSync(wal);
  if (b.length < 32) return [];
  const page = b.readUInt32BE(8);
  const [s1, s2] = [b.readUInt32BE(16), b.readUInt32BE(20)];
  const out: number[] = [];
  for (let at = 32; at + 24 + page <= b.length; at += 24 + page) if (b.readUInt32BE(at + 8) === s1 && b.readUInt32BE(at + 12) === s2) out.push(at);
  return out;
}

test('21 bytes of garbage in the WAL after a SIGKILL: refused at start and by store check; store recover accepts the loss and the server starts', async () => {
  let data = '';
  let frames: number[] = [];
  // the checkpoint thread resets the WAL often: try until the kill leaves a few frames of its current generation
  for (let attempt = 0; attempt < 5 && frames.length < 3; attempt++) {
    data = join(tmp(), 'data');
    const s = await startServer(['--data', data, '--no-bundled-rules']);
    await ingest(s, 30);
    await ingest(s, 20, 100, 3000);
    assert.equal(await count(s), 5000);
    await s.stop(true);
    frames = currentFrames(join(data, 'vigil.db-wal'));
  }
  assert.ok(frames.length >= 3, `frames of the current WAL after the kill: ${frames.length}`);
  const fd = openSync(join(data, 'vigil.db-wal'), 'r+');
  writeSync(fd, Buffer.from('garbage garbage garbage'.slice(0, 21)), 0, 21, frames[Math.floor(frames.length / 2) - 1]! + 24 + 100);
  closeSync(fd);
  const refused = await tryStart(data);
  assert.equal(typeof refused, 'string', 'the server must not start');
  assert.match(refused as string, /the store in .* is damaged/);
  assert.match(refused as string, /vigil\.db-wal: frame \d+ \(byte \d+\) fails its checksum and \d+ later frame\(s\) of the same WAL follow it/);
  assert.match(refused as string, /vigil store recover --data/);
  const check = cli('store', 'check', '--data', data);
  assert.equal(check.status, 1, check.out);
  assert.match(check.out, /fails its checksum/);
  const rec = cli('store', 'recover', '--data', data);
  assert.equal(rec.status, 0, rec.out);
  assert.match(rec.out, /set the damaged WAL aside as .*vigil\.db-wal\.damaged-/);
  const s = await startServer(['--data', data, '--no-bundled-rules']);
  const kept = await count(s);
  assert.ok(kept <= 5000);
  await s.stop();
  assert.equal(cli('store', 'check', '--data', data).status, 0);
});

test('a truncated or emptied database file, a damaged page, an older copy put back: each refused with what is wrong', async () => {
  const data = join(tmp(), 'data');
  let s = await startServer(['--data', data, '--no-bundled-rules']);
  await ingest(s, 10);
  await s.stop();
  const older = join(tmp(), 'older.db');
  copyFileSync(join(data, 'vigil.db'), older);
  s = await startServer(['--data', data, '--no-bundled-rules']);
  await ingest(s, 10, 100, 1000);
  await s.stop();
  const sound = cli('store', 'check', '--data', data);
  assert.equal(sound.status, 0, sound.out);
  assert.match(sound.out, /events stored: +2,000/);
  const good = join(tmp(), 'good.db');
  copyFileSync(join(data, 'vigil.db'), good);
  const db = join(data, 'vigil.db');

  // an older copy of the file (a careless restore): fewer writes than were acknowledged
  copyFileSync(older, db);
  assert.match(String(await tryStart(data)), /holds 1,000 acknowledged event writes but 2,000 were acknowledged/);

  // truncated to half
  copyFileSync(good, db);
  truncateSync(db, Math.floor(statSync(good).size / 2));
  assert.match(String(await tryStart(data)), /the file was truncated/);
  assert.equal(cli('store', 'check', '--data', data).status, 1);

  // emptied: SQLite would take it for a new store
  truncateSync(db, 0);
  assert.match(String(await tryStart(data)), /holds 0 acknowledged event writes but 2,000 were acknowledged/);

  // a damaged page in the middle of the file
  copyFileSync(good, db);
  const page = readFileSync(db).readUInt16BE(16);
  const fd = openSync(db, 'r+');
  const pages = Math.floor(statSync(db).size / page);
  writeSync(fd, Buffer.alloc(page, 0x5a), 0, page, Math.floor(pages / 2) * page);
  closeSync(fd);
  const refused = String(await tryStart(data));
  assert.match(refused, /quick_check found \d+ problem/);
  const check = cli('store', 'check', '--data', data);
  assert.equal(check.status, 1);
  assert.match(check.out, /integrity_check found|database disk image is malformed/);
  // a running server's folder is not checked under it
  copyFileSync(good, db);
  const live = await startServer(['--data', data, '--no-bundled-rules']);
  assert.match(cli('store', 'check', '--data', data).out, /in use by another Vigil/);
  assert.equal(await count(live), 2000);
  await live.stop();
});
