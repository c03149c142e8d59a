/**
 * Vigil's own API and UI paths under careless or hostile requests: absurd paging numbers are
 * answered, not 500s; the UI's security headers come with `/ui` as with `/ui/`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
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
