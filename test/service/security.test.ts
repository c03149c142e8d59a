/**
 * Security of `vigil serve`, tried as an attacker and a careless user would: authentication on by
 * default (the first start's password, hashes only on disk), basic auth, API keys with roles and
 * expiry, the four roles, the UI's session cookie and CSRF token, content types and origins a web
 * page could send, the Host header (DNS rebinding), `vigil reset-password`, refusing to listen
 * beyond loopback without authentication, and TLS with a self-signed certificate.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { Client as Client8 } from 'elasticsearch8';
import { startServer, type RunningServer } from '../support/server.js';
import { repoRoot } from '../support/shared.js';
import { eqlRule } from '../support/rules.js';

const dirs: string[] = [];
const servers: RunningServer[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-sec-'));
  dirs.push(d);
  return d;
};
after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A raw HTTP request (fetch refuses to send some headers an attacker's tool sends, as Host). */
function raw(url: string, path: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req({ host: u.hostname, port: u.port, path, method, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

const json = { 'content-type': 'application/json' };
const ndjson = { 'content-type': 'application/x-ndjson' };
const EVENT = (i: number, name = 'evil.exe'): string => `{"index":{"_index":"logs-endpoint.events.process-default"}}\n${JSON.stringify({ '@timestamp': new Date(Date.now() - 60_000 + i).toISOString(), event: { category: 'process', type: 'start' }, host: { name: 'h1', id: 'h1' }, process: { name, pid: i } })}\n`;

let dir = '';
let server: RunningServer;
let pw = '';
const as = (): Record<string, string> => ({ authorization: basic('elastic', pw) });

before(async () => {
  dir = tmp();
  const rules = join(dir, 'rules.ndjson');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(rules, `${eqlRule('sec-evil', 'process where process.name == "evil.exe"')}\n`);
  server = await startServer(['--data', join(dir, 'data'), '--rules', rules, '--no-bundled-rules', '--streaming'], { auth: true });
  servers.push(server);
  assert.ok(server.password, `the first start prints the elastic user's password:\n${server.output()}`);
  pw = server.password!;
});

test('first start: a generated password, printed once, only its hash on disk (0600); nothing answers without credentials', async () => {
  assert.match(server.output(), /Authentication is on/);
  assert.match(server.output(), /vigil reset-password --data/);
  const file = join(dir, 'data', 'security.json');
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(pw), 'the password is not stored');
  assert.match(text, /scrypt\$16384\$8\$1\$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  for (const [method, path] of [['GET', '/'], ['GET', '/api/alerts'], ['GET', '/api/rules'], ['GET', '/api/health'], ['POST', '/_bulk'], ['POST', '/logs-x/_search'], ['GET', '/_security/_authenticate']] as const) {
    const r = await raw(server.url, path, { method, headers: method === 'POST' ? ndjson : {}, body: method === 'POST' ? EVENT(1) : undefined });
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.equal(JSON.parse(r.text).error.type, 'security_exception');
    assert.ok(!String(r.headers['www-authenticate'] ?? '').toLowerCase().includes('basic'), 'no Basic challenge: a browser never caches a password for this origin');
  }
  assert.equal((await raw(server.url, '/', { headers: { authorization: basic('elastic', 'wrong-password') } })).status, 401);
  assert.equal((await raw(server.url, '/', { headers: { authorization: 'Bearer abc' } })).status, 401);
  assert.equal((await raw(server.url, '/', { headers: as() })).status, 200);
  // a browser opening / is sent to the UI, which asks it to sign in; a client asking / gets 401 above
  const page = await raw(server.url, '/', { headers: { accept: 'text/html,application/xhtml+xml' } });
  assert.equal(page.status, 302);
  assert.equal(page.headers.location, '/ui/');
  // the UI's files are public (they hold no data); what they ask for is not
  assert.equal((await raw(server.url, '/ui/')).status === 200 || (await raw(server.url, '/ui/')).status === 503, true);
  // a second start prints no password
  await server.stop();
  server = await startServer(['--data', join(dir, 'data'), '--no-bundled-rules', '--rules', join(dir, 'rules.ndjson'), '--streaming'], { auth: true });
  servers.push(server);
  assert.equal(server.password, null);
  assert.doesNotMatch(server.output(), new RegExp(pw));
  assert.equal((await raw(server.url, '/', { headers: as() })).status, 200);
});

test('roles: admin, analyst, ingest and read_only users each do what their role allows and get 403 for the rest', async () => {
  for (const [name, role] of [['ana', 'analyst'], ['ing', 'ingest'], ['ro', 'read_only']] as const) {
    const r = await raw(server.url, `/_security/user/${name}`, { method: 'POST', headers: { ...as(), ...json }, body: JSON.stringify({ password: `${name}-password-1`, roles: [role] }) });
    assert.equal(r.status, 200, r.text);
  }
  const who = (n: string): Record<string, string> => ({ authorization: basic(n, `${n}-password-1`) });
  // ingest writes events and sets up templates, reads nothing
  assert.equal((await raw(server.url, '/_bulk', { method: 'POST', headers: { ...who('ing'), ...ndjson }, body: EVENT(1) + EVENT(2) })).status, 200);
  assert.equal((await raw(server.url, '/_index_template/t1', { method: 'PUT', headers: { ...who('ing'), ...json }, body: JSON.stringify({ index_patterns: ['t1-*'] }) })).status, 200);
  assert.equal((await raw(server.url, '/_index_template/t1', { headers: who('ing') })).status, 200, 'a shipper looks its template up');
  for (const p of ['/api/alerts', '/logs-*/_search', '/api/rules']) assert.equal((await raw(server.url, p, { headers: who('ing') })).status, 403, p);
  assert.equal((await raw(server.url, '/_index_template/t1', { method: 'DELETE', headers: who('ing') })).status, 403, 'ingest deletes nothing');
  await raw(server.url, '/_refresh', { method: 'POST', headers: as() });
  // read_only reads, changes nothing
  const alerts = JSON.parse((await raw(server.url, '/api/alerts', { headers: who('ro') })).text) as { total: number; alerts: Array<{ id: string }> };
  assert.ok(alerts.total >= 1, 'the streamed rule alerted');
  assert.equal((await raw(server.url, '/logs-*/_search', { method: 'POST', headers: { ...who('ro'), ...json }, body: '{}' })).status, 200);
  assert.equal((await raw(server.url, '/api/alerts/_status', { method: 'POST', headers: { ...who('ro'), ...json }, body: JSON.stringify({ ids: [alerts.alerts[0]!.id], status: 'closed' }) })).status, 403);
  assert.equal((await raw(server.url, '/_bulk', { method: 'POST', headers: { ...who('ro'), ...ndjson }, body: EVENT(3) })).status, 403);
  // analyst triages, but neither ingests nor changes rules or users
  assert.equal((await raw(server.url, '/api/alerts/_status', { method: 'POST', headers: { ...who('ana'), ...json }, body: JSON.stringify({ ids: [alerts.alerts[0]!.id], status: 'acknowledged' }) })).status, 200);
  assert.equal((await raw(server.url, '/api/rules/_import', { method: 'POST', headers: { ...who('ana'), ...ndjson }, body: eqlRule('sec-x', 'process where true') })).status, 403);
  assert.equal((await raw(server.url, '/api/rules/sec-evil', { method: 'PATCH', headers: { ...who('ana'), ...json }, body: '{"enabled":false}' })).status, 403);
  assert.equal((await raw(server.url, '/_bulk', { method: 'POST', headers: { ...who('ana'), ...ndjson }, body: EVENT(4) })).status, 403);
  assert.equal((await raw(server.url, '/_security/user/evil', { method: 'POST', headers: { ...who('ana'), ...json }, body: JSON.stringify({ password: 'evil-password', roles: ['admin'] }) })).status, 403);
  const me = JSON.parse((await raw(server.url, '/_security/_authenticate', { headers: who('ana') })).text) as { username: string; roles: string[] };
  assert.deepEqual([me.username, me.roles], ['ana', ['analyst']]);
  // a deleted user is out at once
  assert.equal((await raw(server.url, '/_security/user/ro', { method: 'DELETE', headers: as() })).status, 200);
  assert.equal((await raw(server.url, '/api/alerts', { headers: who('ro') })).status, 401);
});

test('API keys: created, used by the official clients, limited by role and owner, listed, expired and revoked', async () => {
  const create = async (auth: Record<string, string>, body: unknown): Promise<{ status: number; key: { id: string; encoded: string; name: string } }> => {
    const r = await raw(server.url, '/_security/api_key', { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify(body) });
    return { status: r.status, key: JSON.parse(r.text) };
  };
  // Filebeat's own request for a publishing key: index privileges create_doc and view_index_metadata
  const fb = await create(as(), { name: 'filebeat-1', role_descriptors: { filebeat_writer: { cluster: ['monitor', 'read_ilm'], index: [], indices: [{ names: ['logs-*'], privileges: ['view_index_metadata', 'create_doc', 'auto_configure'] }] } } });
  assert.equal(fb.status, 200);
  const ingestClient = new Client({ node: server.url, auth: { apiKey: fb.key.encoded } });
  const bulk = await ingestClient.bulk({ operations: [{ create: { _index: 'logs-endpoint.events.process-default' } }, JSON.parse(EVENT(10).split('\n')[1]!)], refresh: true });
  assert.equal(bulk.errors, false);
  await assert.rejects(ingestClient.search({ index: 'logs-*' }), (e: { meta?: { statusCode?: number } }) => e.meta?.statusCode === 403);
  const auth = await ingestClient.security.authenticate();
  assert.deepEqual([auth.username, auth.authentication_type, auth.api_key?.name], ['elastic', 'api_key', 'filebeat-1']);
  // a read key through the client of Elasticsearch 8
  const rk = await create(as(), { name: 'reader', role_descriptors: { read_only: {} } });
  const reader = new Client8({ node: server.url, auth: { apiKey: { id: rk.key.id, api_key: Buffer.from(rk.key.encoded, 'base64').toString().split(':')[1]! } } });
  const n = await reader.count({ index: 'logs-endpoint.events.process-default' });
  assert.ok(n.count >= 3);
  await assert.rejects(reader.index({ index: 'logs-x', document: { a: 1 } }), (e: { meta?: { statusCode?: number } }) => e.meta?.statusCode === 403);
  // basic auth through the official client
  const admin = new Client({ node: server.url, auth: { username: 'elastic', password: pw } });
  assert.ok((await admin.count({ index: 'logs-*' })).count >= 3);
  // an analyst's key never gets more than the analyst has
  const anaAuth = { authorization: basic('ana', 'ana-password-1') };
  assert.equal((await create(anaAuth, { name: 'escalate', role_descriptors: { admin: {} } })).status, 400);
  const anaKey = await create(anaAuth, { name: 'ana-key' });
  assert.equal(anaKey.status, 200);
  assert.equal((await raw(server.url, '/api/rules/_import', { method: 'POST', headers: { authorization: `ApiKey ${anaKey.key.encoded}`, ...ndjson }, body: eqlRule('sec-y', 'process where true') })).status, 403);
  // listing: the analyst sees her own key only; the admin sees all
  const listed = (auth: Record<string, string>): Promise<string[]> => raw(server.url, '/_security/api_key', { headers: auth }).then((r) => (JSON.parse(r.text) as { api_keys: Array<{ name: string }> }).api_keys.map((k) => k.name).sort());
  assert.deepEqual(await listed(anaAuth), ['ana-key']);
  assert.deepEqual(await listed(as()), ['ana-key', 'filebeat-1', 'reader']);
  assert.ok(!readFileSync(join(dir, 'data', 'security.json'), 'utf8').includes(Buffer.from(fb.key.encoded, 'base64').toString().split(':')[1]!), 'keys are stored hashed');
  // the analyst cannot revoke the admin's keys; the admin can
  const rev = JSON.parse((await raw(server.url, '/_security/api_key', { method: 'DELETE', headers: { ...anaAuth, ...json }, body: JSON.stringify({ ids: [fb.key.id] }) })).text) as { invalidated_api_keys: string[] };
  assert.deepEqual(rev.invalidated_api_keys, []);
  await admin.security.invalidateApiKey({ ids: [fb.key.id] });
  assert.equal((await raw(server.url, '/', { headers: { authorization: `ApiKey ${fb.key.encoded}` } })).status, 401, 'a revoked key is refused at once');
  // a key that expires
  const short = await create(as(), { name: 'short', expiration: '1s' });
  assert.equal((await raw(server.url, '/', { headers: { authorization: `ApiKey ${short.key.encoded}` } })).status, 200);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await raw(server.url, '/', { headers: { authorization: `ApiKey ${short.key.encoded}` } })).status, 401, 'an expired key is refused');
  // a made-up key
  assert.equal((await raw(server.url, '/', { headers: { authorization: `ApiKey ${Buffer.from(`${rk.key.id}:guess`).toString('base64')}` } })).status, 401);
});

test('CSRF: bodies a web page can send unasked are refused (415), other origins are refused (403), a session needs its CSRF token', async () => {
  const before = (await raw(server.url, '/api/rules?size=1000', { headers: as() })).text;
  const rule = eqlRule('sec-evil', 'process where false');
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
    const headers: Record<string, string> = { ...as() };
    if (type) headers['content-type'] = type;
    const r = await raw(server.url, '/api/rules/_import?overwrite=true', { method: 'POST', headers, body: rule });
    assert.equal(r.status, 415, `content type [${type}]`);
    assert.equal((await raw(server.url, '/_bulk', { method: 'POST', headers, body: EVENT(20) })).status, 415, `bulk as [${type}]`);
  }
  assert.equal((await raw(server.url, '/api/alerts/_status', { method: 'POST', headers: { ...as(), ...json, origin: 'http://evil.example' }, body: JSON.stringify({ query: {}, status: 'closed' }) })).status, 403);
  assert.equal((await raw(server.url, '/api/rules', { headers: as() })).status, 200);
  assert.equal((await raw(server.url, '/api/rules?size=1000', { headers: as() })).text, before, 'no rule changed');
  // the UI's session
  const login = await raw(server.url, '/api/_login', { method: 'POST', headers: json, body: JSON.stringify({ username: 'elastic', password: pw }) });
  assert.equal(login.status, 200);
  const setCookie = String(login.headers['set-cookie']);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const cookie = setCookie.split(';')[0]!;
  const csrf = (JSON.parse(login.text) as { csrf: string }).csrf;
  assert.equal((await raw(server.url, '/api/alerts', { headers: { cookie } })).status, 200, 'reads need no token');
  const close = (headers: Record<string, string>): Promise<{ status: number }> => raw(server.url, '/api/alerts/_status', { method: 'POST', headers: { cookie, ...json, ...headers }, body: JSON.stringify({ query: {}, status: 'closed' }) });
  assert.equal((await close({})).status, 403, 'no token');
  assert.equal((await close({ 'x-csrf-token': 'x'.repeat(csrf.length) })).status, 403, 'a wrong token');
  assert.equal((await close({ 'x-csrf-token': csrf })).status, 200);
  assert.equal((await raw(server.url, '/api/_login', { method: 'POST', headers: json, body: JSON.stringify({ username: 'elastic', password: 'nope-nope' }) })).status, 401);
  // signed out: the cookie is worth nothing
  await raw(server.url, '/api/_logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
  assert.equal((await raw(server.url, '/api/alerts', { headers: { cookie } })).status, 401);
});

test('the Host header must name this server (DNS rebinding): other names are refused, --allowed-hosts adds some', async () => {
  for (const host of ['evil.example', 'evil.example:9200', 'attacker.com.']) assert.equal((await raw(server.url, '/', { headers: { ...as(), host } })).status, 400, host);
  for (const host of ['localhost', `127.0.0.1:${new URL(server.url).port}`, `localhost:${new URL(server.url).port}`]) assert.equal((await raw(server.url, '/', { headers: { ...as(), host } })).status, 200, host);
  const d = tmp();
  const s = await startServer(['--data', d, '--no-bundled-rules', '--allowed-hosts', 'vigil.internal'], { auth: true });
  servers.push(s);
  const pass = { authorization: basic('elastic', s.password!) };
  assert.equal((await raw(s.url, '/', { headers: { ...pass, host: 'vigil.internal:9200' } })).status, 200);
  assert.equal((await raw(s.url, '/', { headers: { ...pass, host: 'other.internal' } })).status, 400);
  await s.stop();
});

test('vigil reset-password: a new password works within a second, the old one stops, sessions need signing in again', async () => {
  const login = await raw(server.url, '/api/_login', { method: 'POST', headers: json, body: JSON.stringify({ username: 'elastic', password: pw }) });
  const cookie = String(login.headers['set-cookie']).split(';')[0]!;
  assert.equal((await raw(server.url, '/api/alerts', { headers: { cookie } })).status, 200);
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'reset-password', '--data', join(dir, 'data')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fresh = /shown this once:\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(fresh && fresh !== pw);
  await new Promise((res) => setTimeout(res, 1100));
  assert.equal((await raw(server.url, '/', { headers: as() })).status, 401, 'the old password');
  pw = fresh;
  assert.equal((await raw(server.url, '/', { headers: as() })).status, 200, 'the new one');
  assert.equal((await raw(server.url, '/api/alerts', { headers: { cookie } })).status, 401, 'the session opened with the old password ended');
  const bad = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'reset-password', '--data', join(dir, 'data'), '--username', 'nobody'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no such user: nobody/);
});

test('password guessing is slowed: after 5 wrong passwords for a user from one address, its checks wait (429, Retry-After), the right one too; other users are not locked out', async () => {
  assert.equal((await raw(server.url, '/_security/user/guessme', { method: 'POST', headers: { ...as(), ...json }, body: JSON.stringify({ password: 'guessme-right-1', roles: ['read_only'] }) })).status, 200);
  assert.equal((await raw(server.url, '/_security/_authenticate', { headers: { authorization: basic('guessme', 'guessme-right-1') } })).status, 200);
  for (let i = 0; i < 5; i++) assert.equal((await raw(server.url, '/_security/_authenticate', { headers: { authorization: basic('guessme', `guess-${i}`) } })).status, 401, `guess ${i}`);
  const locked = await raw(server.url, '/_security/_authenticate', { headers: { authorization: basic('guessme', 'guessme-right-1') } });
  assert.equal(locked.status, 429, 'even the right password waits');
  assert.equal(JSON.parse(locked.text).error.type, 'security_exception');
  const after = Number(locked.headers['retry-after']);
  assert.ok(after > 0 && after <= 60, String(after));
  const viaUi = await raw(server.url, '/api/_login', { method: 'POST', headers: json, body: JSON.stringify({ username: 'guessme', password: 'guessme-right-1' }) });
  assert.equal(viaUi.status, 429, 'the UI sign-in counts the same');
  assert.equal((await raw(server.url, '/_security/_authenticate', { headers: as() })).status, 200, 'another user signs in');
});

test('beyond loopback: no authentication is refused; with it, TLS by default (self-signed, fingerprint printed), reachable by the client pinning the fingerprint', async () => {
  const d = tmp();
  const refused = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'serve', '--data', d, '--host', '0.0.0.0', '--port', '0', '--insecure-no-auth', '--no-bundled-rules'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0 without authentication/);
  const s = await startServer(['--data', d, '--host', '0.0.0.0', '--no-bundled-rules'], { auth: true });
  servers.push(s);
  assert.match(s.url, /^https:\/\/0\.0\.0\.0:\d+$/);
  assert.match(s.output(), /Listening on all interfaces/);
  const fp = /SHA-256 fingerprint (\S+)/.exec(s.output())?.[1];
  assert.ok(fp, s.output());
  const url = s.url.replace('0.0.0.0', '127.0.0.1');
  const client = new Client({ node: url, auth: { username: 'elastic', password: s.password! }, caFingerprint: fp!, tls: { rejectUnauthorized: false } });
  const info = await client.info();
  assert.equal(info.name, 'vigil');
  const wrong = new Client({ node: url, auth: { username: 'elastic', password: s.password! }, caFingerprint: fp!.replace(/^../, fp!.startsWith('00') ? '11' : '00'), tls: { rejectUnauthorized: false } });
  await assert.rejects(wrong.info(), /fingerprint does not match/);
  // plain HTTP to the TLS port gets nothing useful
  await assert.rejects(fetch(url.replace('https:', 'http:')));
  const second = await (async () => {
    await s.stop();
    return startServer(['--data', d, '--host', '0.0.0.0', '--no-bundled-rules'], { auth: true });
  })();
  servers.push(second);
  assert.equal(/SHA-256 fingerprint (\S+)/.exec(second.output())?.[1], fp, 'the certificate is kept in the data folder');
  assert.match(second.output(), /made on first start/);
  await second.stop();
  // a session cookie over TLS is Secure
  const t = await startServer(['--data', d, '--host', '127.0.0.1', '--tls', '--no-bundled-rules'], { auth: true });
  servers.push(t);
  assert.match(t.url, /^https:/);
  const pass = JSON.parse((await raw(t.url, '/api/_session', { headers: { authorization: basic('elastic', 'wrong') } })).text);
  assert.equal(pass.status, 401);
  await t.stop();
});

test('--insecure-no-auth on loopback: the banner says so loudly, and every request acts as an admin', async () => {
  const d = tmp();
  const s = await startServer(['--data', d, '--no-bundled-rules']);
  servers.push(s);
  assert.match(s.output(), /AUTHENTICATION IS OFF \(--insecure-no-auth\)/);
  const r = JSON.parse((await raw(s.url, '/api/_session')).text) as { auth: boolean };
  assert.equal(r.auth, false);
  // the other guards still hold
  assert.equal((await raw(s.url, '/api/_clock', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status, 415);
  assert.equal((await raw(s.url, '/', { headers: { host: 'rebound.example' } })).status, 400);
  await s.stop();
});
