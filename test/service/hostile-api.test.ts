/**
 * Vigil's own API and UI paths under careless or hostile requests: absurd paging numbers are
 * answered, not 500s; the UI's security headers come with `/ui` as with `/ui/`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { OutputDispatcher } from '../../src/outputs/index.js';
import { UI_DIR } from '../../src/server/index.js';
import { startServer, type RunningServer } from '../support/server.js';

let dir: string;
let server: RunningServer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-hostile-api-'));
  server = await startServer(['--data', dir]);
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('paging numbers that are not whole, negative or huge are left out or capped, never a 500', async () => {
  for (const path of ['/api/runs?size=1e300', '/api/runs?size=-1&offset=0.5', '/api/alerts?size=1e300&offset=1e300', '/api/alerts/_groups?by=host&size=1e300', '/api/rules/x/runs?size=NaN']) {
    const r = await fetch(`${server.url}${path}`);
    assert.equal(r.status, 200, `${path}: ${await r.text()}`);
  }
});

test('/ui without its slash gets the UI security headers too', async () => {
  assert.ok(existsSync(join(UI_DIR, 'index.html')), 'the UI is built (npm test builds it)');
  for (const path of ['/ui', '/ui/', '/ui?x=1']) {
    const r = await fetch(`${server.url}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
  }
});

test('a body that never ends is cut off at --request-timeout, and the server goes on answering', async () => {
  const slow = await startServer(['--data', join(dir, 'timeout'), '--no-bundled-rules', '--request-timeout', '1s']);
  try {
    const { hostname, port } = new URL(slow.url);
    const t0 = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), hostname, () => {
        sock.write('POST /_bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ind\r\n');
      });
      let got = '';
      sock.on('data', (b: Buffer) => (got += b.toString()));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
      setTimeout(() => reject(new Error('still held after 10 s')), 10_000).unref();
    });
    assert.ok(Date.now() - t0 < 5000, `cut off after ${Date.now() - t0} ms`);
    assert.match(answer, /^HTTP\/1\.1 408|^$/);
    assert.equal((await fetch(`${slow.url}/_cat/indices?format=json`)).status, 200);
  } finally {
    await slow.stop();
  }
});

test('a webhook output shows only its origin in health: its path and query hold tokens', () => {
  const d = new OutputDispatcher([{ kind: 'webhook', url: 'https://bot:hunter2@hooks.example.com/services/T000/B000/XXXXSECRET?token=abc' }]);
  try {
    const shown = d.stats()[0]!.output;
    assert.equal(shown, 'webhook https://hooks.example.com/…');
    assert.doesNotMatch(shown, /SECRET|hunter2|abc/);
  } finally {
    d.close();
  }
});
