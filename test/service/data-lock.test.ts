/**
 * One Vigil per data folder: a second `vigil serve` on a folder in use is refused with a clear
 * message (before, both started and then failed requests with "database is locked"); a folder left
 * by a killed server is taken over.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startServer } from '../support/server.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a second server on a data folder in use is refused; the first keeps working; a killed server\'s folder is taken over', async () => {
  const data = join(dir, 'data');
  const a = await startServer(['--data', data, '--no-bundled-rules']);
  try {
    await assert.rejects(startServer(['--data', data, '--no-bundled-rules']), (e: Error) => {
      assert.match(e.message, new RegExp(`the data folder ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another Vigil \\(process ${a.proc.pid}\\)`));
      return true;
    });
    const r = await fetch(`${a.url}/_cat/indices?format=json`);
    assert.equal(r.status, 200);
  } finally {
    await a.stop(true); // SIGKILL: the lock file stays behind
  }
  assert.ok(existsSync(join(data, 'vigil.lock')));
  const b = await startServer(['--data', data, '--no-bundled-rules']);
  assert.equal((await fetch(`${b.url}/`, { headers: { accept: 'application/json' } })).status, 200);
  await b.stop();
  assert.equal(existsSync(join(data, 'vigil.lock')), false, 'a clean stop leaves no lock');
});
