/**
 * Shippers' traffic replayed against `vigil serve`: each fixture under test/fixtures/shippers is a
 * shipper's start-up and shipping requests, written from its documented behaviour, with the answer
 * Elasticsearch gives to each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { repoRoot } from '../support/shared.js';
import { startServer, type RunningServer } from '../support/server.js';

interface Step {
  readonly method: string;
  readonly path: string;
  readonly json?: unknown;
  readonly ndjson?: unknown[];
  readonly encoding?: 'gzip' | 'deflate' | 'br';
  readonly expect: { status: number; equals?: Record<string, unknown>; matches?: Record<string, string>; body?: unknown };
}

const FIXTURES = join(repoRoot, 'test', 'fixtures', 'shippers');

const at = (v: unknown, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o === null || typeof o !== 'object' ? undefined : (o as Record<string, unknown>)[k]), v);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-shippers-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
  const fx = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as { shipper: string; requests: Step[] };
  test(`${fx.shipper} (${file})`, async () => {
    // each shipper meets a Vigil of its own, as it would a new cluster
    const server: RunningServer = await startServer(['--data', join(dir, file), '--no-bundled-rules']);
    try {
      await replay(server, file, fx.requests);
    } finally {
      await server.stop();
    }
  });
}

async function replay(server: RunningServer, file: string, requests: readonly Step[]): Promise<void> {
  {
    for (const [i, s] of requests.entries()) {
      const where = `${file} step ${i + 1}: ${s.method} ${s.path}`;
      let body: Buffer | undefined;
      const headers: Record<string, string> = {};
      if (s.ndjson) {
        body = Buffer.from(s.ndjson.map((l) => JSON.stringify(l)).join('\n') + '\n');
        headers['content-type'] = 'application/x-ndjson';
      } else if (s.json !== undefined) {
        body = Buffer.from(JSON.stringify(s.json));
        headers['content-type'] = 'application/json';
      }
      if (body && s.encoding) {
        headers['content-encoding'] = s.encoding;
        body = s.encoding === 'gzip' ? gzipSync(body) : s.encoding === 'deflate' ? deflateSync(body) : body;
      }
      const res = await fetch(`${server.url}${s.path}`, { method: s.method, headers, body: body ? new Uint8Array(body) : undefined });
      const text = await res.text();
      assert.equal(res.status, s.expect.status, `${where}: status (${text.slice(0, 300)})`);
      if (s.method === 'HEAD') continue;
      const json = text ? (JSON.parse(text) as unknown) : undefined;
      if (s.expect.body !== undefined) assert.deepEqual(json, s.expect.body, where);
      for (const [p, v] of Object.entries(s.expect.equals ?? {})) assert.deepEqual(at(json, p), v, `${where}: ${p} in ${text.slice(0, 600)}`);
      for (const [p, re] of Object.entries(s.expect.matches ?? {})) assert.match(String(at(json, p)), new RegExp(re), `${where}: ${p}`);
    }
  }
}
