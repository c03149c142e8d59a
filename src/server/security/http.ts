import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EsError } from '../es/index.js';
import { allows, isRole, isSafeMethod, privilegeFor, privilegesOf, ROLES, type Role } from './access.js';
import type { Credentials, Principal } from './credentials.js';
import { cookie, sameToken, SESSION_COOKIE, Sessions } from './sessions.js';
import { LoginThrottle } from './throttle.js';

/** How the server guards itself (see `vigil serve`'s options). */
export interface SecurityConfig {
  /** the users and API keys; null: authentication off (`--insecure-no-auth`) */
  readonly credentials: Credentials | null;
  /** the names the Host header may carry (lower case, no port); null: any */
  readonly allowedHosts: ReadonlySet<string> | null;
  /** the session cookie is sent over TLS only */
  readonly secureCookie?: boolean;
  readonly now?: () => number;
}

/** No authentication and any Host: for in-process tests of other parts, never the default of `vigil serve`. */
export const NO_SECURITY: SecurityConfig = { credentials: null, allowedHosts: null };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const ANONYMOUS_ADMIN: Principal = { user: '_anonymous', roles: ['admin'], via: 'none' };

/** Bodies a state-changing request may carry: JSON and NDJSON (as Elasticsearch), and rule and list files for the imports. */
const JSON_TYPES = new Set(['application/json', 'application/x-ndjson', 'application/vnd.elasticsearch+json', 'application/vnd.elasticsearch+x-ndjson']);
const FILE_TYPES = new Set(['application/toml', 'text/markdown', 'text/csv', 'application/octet-stream']);
const IMPORT_PATHS = new Set(['/api/rules/_import', '/api/lists/_import', '/api/exception_lists/_import']);

const securityError = (status: number, reason: string): EsError => new EsError(status, 'security_exception', reason);

function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

const hasBody = (req: FastifyRequest): boolean => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

/**
 * The guard every request passes first: the Host header (DNS rebinding), the body's content type
 * and origin (cross-site requests), who is asking (basic, API key or the UI's session cookie) and
 * whether their roles allow it. Then the security API (`/_security/…`, as Elasticsearch's) and the
 * UI's sign-in (`/api/_login`, `/api/_logout`, `/api/_session`).
 */
export function registerSecurity(app: FastifyInstance, config: SecurityConfig): void {
  const sessions = new Sessions(config.now);
  const creds = config.credentials;
  if (creds) creds.onUserChanged = (user) => sessions.closeUser(user);
  app.decorateRequest('principal', null);

  const refuse = (reply: FastifyReply, e: EsError): FastifyReply => {
    if (e.status === 401) void reply.header('www-authenticate', 'ApiKey');
    if (e.status === 429 && e.extra.retry_after_seconds !== undefined) void reply.header('retry-after', String(e.extra.retry_after_seconds));
    return reply.code(e.status).send(e.body());
  };

  const throttle = new LoginThrottle();
  /** A user's password checked, unless too many wrong ones came from the client's address lately (429). */
  async function checkPassword(req: FastifyRequest, user: string, password: string): Promise<Principal | EsError | null> {
    const address = req.ip;
    const wait = throttle.waitMs(address, user);
    if (wait > 0) return new EsError(429, 'security_exception', `too many failed sign-ins for user [${user}] from ${address}: try again in ${Math.ceil(wait / 1000)} s`, { retry_after_seconds: Math.ceil(wait / 1000) });
    const p = await creds!.verifyPassword(user, password);
    if (p) throttle.succeeded(address, user);
    else throttle.failed(address, user);
    return p;
  }

  async function authenticate(req: FastifyRequest, path: string): Promise<Principal | EsError> {
    if (!creds) return ANONYMOUS_ADMIN;
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth !== '') {
      const sp = auth.indexOf(' ');
      const scheme = (sp < 0 ? auth : auth.slice(0, sp)).toLowerCase();
      const value = sp < 0 ? '' : auth.slice(sp + 1).trim();
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if ((scheme === 'basic' || scheme === 'apikey') && colon > 0) {
        const [a, b] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
        if (scheme === 'apikey') {
          const k = creds.verifyApiKey(a, b);
          if (k) return k;
        } else {
          const p = await checkPassword(req, a, b);
          if (p instanceof EsError) return p;
          if (p) return p;
        }
        return securityError(401, scheme === 'basic' ? `unable to authenticate user [${a}] for REST request [${path}]` : `unable to authenticate with provided credentials and anonymous access is not allowed for this request`);
      }
      return securityError(401, `unsupported or malformed Authorization header for REST request [${path}] (Basic or ApiKey)`);
    }
    const token = cookie(req.headers.cookie, SESSION_COOKIE);
    const s = token ? sessions.get(token) : null;
    if (s) {
      if (!isSafeMethod(req.method)) {
        const sent = req.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !sameToken(sent, s.csrf)) return securityError(403, `a request signed in by the UI's session needs its CSRF token (x-csrf-token) for REST request [${path}]`);
      }
      return s.principal;
    }
    return securityError(401, `missing authentication credentials for REST request [${path}]`);
  }

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (config.allowedHosts) {
      const host = req.headers.host;
      if (typeof host === 'string' && !config.allowedHosts.has(hostOf(host))) return refuse(reply, new EsError(400, 'illegal_argument_exception', `the Host header [${host}] is not a name of this server (--allowed-hosts adds names)`));
    }
    if (!isSafeMethod(req.method)) {
      // a page on another site may send a body (text/plain, a form) without asking first: only types it cannot send are taken
      if (hasBody(req)) {
        const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!JSON_TYPES.has(type) && !(IMPORT_PATHS.has(path) && FILE_TYPES.has(type))) return refuse(reply, new EsError(415, 'media_type_header_exception', `Content-Type header [${type || 'none'}] is not supported: send application/json or application/x-ndjson`));
      }
      const origin = req.headers.origin;
      if (typeof origin === 'string' && origin !== '' && typeof req.headers.host === 'string') {
        let same = false;
        try {
          same = new URL(origin).host.toLowerCase() === req.headers.host.toLowerCase();
        } catch {
          same = false;
        }
        if (!same) return refuse(reply, securityError(403, `a request from another origin [${origin}] may not change anything`));
      }
    }
    // a browser opening `/` is sent to the UI (which asks it to sign in): the redirect reveals nothing
    const need = path === '/' && req.method === 'GET' && /text\/html/.test(String(req.headers.accept ?? '')) ? 'public' : privilegeFor(req.method, path);
    if (need === 'public') return undefined;
    const who = await authenticate(req, path);
    if (who instanceof EsError) return refuse(reply, who);
    if (!allows(who.roles, need)) return refuse(reply, securityError(403, `action [${req.method} ${path}] (${need}) is unauthorized for user [${who.user}]${who.apiKey ? ` with API key [${who.apiKey.name}]` : ''} with roles [${who.roles.join(',')}]`));
    req.principal = who;
    return undefined;
  });

  const body = (req: FastifyRequest): Record<string, unknown> => {
    if (typeof req.body !== 'string' || req.body.trim() === '') return {};
    try {
      const v: unknown = JSON.parse(req.body);
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      throw new EsError(400, 'parse_exception', 'the request body is not a JSON object');
    }
  };
  const needAuth = (): Credentials => {
    if (!creds) throw new EsError(400, 'illegal_argument_exception', 'authentication is off on this server (--insecure-no-auth): there are no users or API keys');
    return creds;
  };
  const who = (req: FastifyRequest): Principal => req.principal ?? ANONYMOUS_ADMIN;

  // ---- the UI's sign-in ----
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Strict${config.secureCookie ? '; Secure' : ''}`;
  app.post('/api/_login', async (req, reply) => {
    const b = body(req);
    if (typeof b.username !== 'string' || typeof b.password !== 'string') return reply.code(400).send({ error: 'give username and password', status: 400 });
    needAuth();
    const p = await checkPassword(req, b.username, b.password);
    if (p instanceof EsError) return reply.code(429).header('retry-after', String(p.extra.retry_after_seconds)).send({ error: p.message, status: 429 });
    if (!p) return reply.code(401).send({ error: 'wrong user name or password', status: 401 });
    const { token, session } = sessions.open(p);
    void reply.header('set-cookie', `${SESSION_COOKIE}=${token}; ${cookieAttrs}; Max-Age=28800`);
    return { user: p.user, roles: p.roles, csrf: session.csrf };
  });
  app.post('/api/_logout', async (req, reply) => {
    const token = cookie(req.headers.cookie, SESSION_COOKIE);
    if (token) sessions.close(token);
    void reply.header('set-cookie', `${SESSION_COOKIE}=; ${cookieAttrs}; Max-Age=0`);
    return { signed_out: true };
  });
  app.get('/api/_session', async (req) => {
    const p = who(req);
    const token = cookie(req.headers.cookie, SESSION_COOKIE);
    const csrf = p.via === 'session' && token ? sessions.get(token)?.csrf : undefined;
    return { auth: creds !== null, user: p.user, roles: p.roles, via: p.via, ...(csrf ? { csrf } : {}) };
  });

  // ---- Elasticsearch's security API ----
  app.get('/_security/_authenticate', async (req) => {
    const p = who(req);
    return {
      username: p.user,
      roles: p.roles,
      full_name: null,
      email: null,
      metadata: {},
      enabled: true,
      authentication_realm: { name: p.via === 'api_key' ? '_es_api_key' : 'native', type: p.via === 'api_key' ? '_es_api_key' : 'native' },
      lookup_realm: { name: 'native', type: 'native' },
      authentication_type: p.via === 'api_key' ? 'api_key' : p.via === 'session' ? 'token' : 'realm',
      ...(p.apiKey ? { api_key: { id: p.apiKey.id, name: p.apiKey.name } } : {}),
    };
  });
  const createKey = async (req: FastifyRequest): Promise<unknown> => {
    const c = needAuth();
    const p = who(req);
    const b = body(req);
    const name = typeof b.name === 'string' && b.name !== '' ? b.name : null;
    if (!name) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: api key name is required;');
    let expires: number | null = null;
    if (b.expiration !== undefined && b.expiration !== null) {
      const ms = parseTime(String(b.expiration));
      if (ms === null) throw new EsError(400, 'illegal_argument_exception', `failed to parse setting [expiration] with value [${String(b.expiration)}] as a time value`);
      expires = ms;
    }
    const roles = rolesFromDescriptors(b.role_descriptors, p.roles);
    if (typeof roles === 'string') throw new EsError(400, 'illegal_argument_exception', roles);
    return c.createApiKey(p.user, name, roles, expires);
  };
  app.post('/_security/api_key', createKey);
  app.put('/_security/api_key', createKey);
  app.get('/_security/api_key', async (req) => {
    const c = needAuth();
    const p = who(req);
    const q = req.query as Record<string, unknown>;
    const admin = p.roles.includes('admin');
    const owner = !admin || q.owner === 'true' ? p.user : typeof q.username === 'string' ? q.username : undefined;
    return { api_keys: c.apiKeys({ owner, id: typeof q.id === 'string' ? q.id : undefined, name: typeof q.name === 'string' ? q.name : undefined }) };
  });
  app.delete('/_security/api_key', async (req) => {
    const c = needAuth();
    const p = who(req);
    const b = body(req);
    const ids = Array.isArray(b.ids) ? b.ids.filter((x): x is string => typeof x === 'string') : typeof b.id === 'string' ? [b.id] : undefined;
    const name = typeof b.name === 'string' ? b.name : undefined;
    const owner = b.owner === true ? p.user : typeof b.username === 'string' ? b.username : undefined;
    if (!ids && name === undefined && owner === undefined) throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified;');
    const done = c.invalidateApiKeys({ ids, name, owner }, p.roles.includes('admin') ? null : p.user);
    return { invalidated_api_keys: done, previously_invalidated_api_keys: [], error_count: 0 };
  });
  app.get('/_security/user', async () => Object.fromEntries(needAuth().users().map((u) => [u.username, { username: u.username, roles: u.roles, full_name: null, email: null, metadata: {}, enabled: true }])));
  app.get('/_security/user/:name', async (req, reply) => {
    const u = needAuth().users().find((x) => x.username === (req.params as { name: string }).name);
    return u ? { [u.username]: { username: u.username, roles: u.roles, full_name: null, email: null, metadata: {}, enabled: true } } : reply.code(404).send({});
  });
  const putUser = async (req: FastifyRequest): Promise<unknown> => {
    const c = needAuth();
    const name = (req.params as { name: string }).name;
    const b = body(req);
    const roles = Array.isArray(b.roles) ? b.roles : [];
    if (!roles.every(isRole) || roles.length === 0) throw new EsError(400, 'illegal_argument_exception', `roles must be some of ${ROLES.join(', ')}`);
    if (typeof b.password !== 'string') throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: password is required;');
    const created = !c.users().some((u) => u.username === name);
    try {
      await c.setUser(name, b.password, roles as Role[]);
    } catch (e) {
      throw new EsError(400, 'illegal_argument_exception', (e as Error).message);
    }
    sessions.closeUser(name);
    return { created };
  };
  app.post('/_security/user/:name', putUser);
  app.put('/_security/user/:name', putUser);
  app.delete('/_security/user/:name', async (req) => {
    const name = (req.params as { name: string }).name;
    const found = needAuth().deleteUser(name);
    sessions.closeUser(name);
    return { found };
  });
  const changePassword = async (req: FastifyRequest, name: string): Promise<unknown> => {
    const c = needAuth();
    const b = body(req);
    if (typeof b.password !== 'string') throw new EsError(400, 'action_request_validation_exception', 'Validation Failed: 1: password is required;');
    try {
      await c.resetPassword(name, b.password);
    } catch (e) {
      throw new EsError(400, 'illegal_argument_exception', (e as Error).message);
    }
    sessions.closeUser(name);
    return {};
  };
  app.post('/_security/user/_password', async (req) => changePassword(req, who(req).user));
  app.post('/_security/user/:name/_password', async (req) => changePassword(req, (req.params as { name: string }).name));
}

/** An Elasticsearch time value (`30d`, `1h`, `500ms`) in milliseconds. */
function parseTime(text: string): number | null {
  const m = /^(\d+)(nanos|micros|ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  const unit = { nanos: 1e-6, micros: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

const READ_PRIVS = new Set(['read', 'view_index_metadata', 'monitor', 'read_cross_cluster']);
const WRITE_PRIVS = new Set(['create_doc', 'create', 'index', 'write', 'auto_configure', 'create_index', 'view_index_metadata', 'monitor', 'manage_ilm']);

/**
 * The roles an API key gets from its `role_descriptors`: none given, its owner's; a descriptor
 * named after a Vigil role, that role; otherwise judged from its privileges (read-only index
 * privileges: read_only; writing ones: ingest; `all`/`manage`: admin). Never more than the owner has.
 */
export function rolesFromDescriptors(descriptors: unknown, ownerRoles: readonly Role[]): Role[] | string {
  if (descriptors === undefined || descriptors === null || (typeof descriptors === 'object' && Object.keys(descriptors).length === 0)) return [...ownerRoles];
  if (typeof descriptors !== 'object' || Array.isArray(descriptors)) return 'role_descriptors must be an object of named role descriptors';
  const roles = new Set<Role>();
  for (const [name, d] of Object.entries(descriptors as Record<string, unknown>)) {
    if (isRole(name)) {
      roles.add(name);
      continue;
    }
    const o = (d ?? {}) as { cluster?: unknown; indices?: unknown };
    const cluster = Array.isArray(o.cluster) ? o.cluster.map(String) : [];
    const idx = (Array.isArray(o.indices) ? o.indices : []).flatMap((i: { privileges?: unknown }) => (Array.isArray(i?.privileges) ? i.privileges.map(String) : []));
    if (cluster.some((c) => c === 'all' || c.startsWith('manage')) || idx.some((p) => p === 'all' || p === 'manage' || p === 'delete_index')) roles.add('admin');
    else {
      if (idx.some((p) => p === 'read')) roles.add('read_only');
      if (idx.some((p) => WRITE_PRIVS.has(p) && !READ_PRIVS.has(p))) roles.add('ingest');
      if (idx.some((p) => !READ_PRIVS.has(p) && !WRITE_PRIVS.has(p) && p !== 'read')) return `role descriptor [${name}] has index privileges Vigil does not know: ${idx.join(', ')}`;
    }
  }
  const own = privilegesOf(ownerRoles);
  const kept = [...roles].filter((r) => ownerRoles.includes('admin') || [...privilegesOf([r])].every((x) => own.has(x)));
  if (kept.length === 0) return `the key's role descriptors give no privileges its owner [${ownerRoles.join(',')}] holds`;
  return kept;
}
