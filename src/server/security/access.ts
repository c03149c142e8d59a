/**
 * Who may do what: the privilege each request needs (from its method and path alone, so the
 * decision is made before any handler runs) and the privileges each role holds. Pure.
 */

/**
 * - public: no credentials (the UI's static files, the login itself)
 * - any: every signed-in principal (`GET /`, cluster info a client or shipper checks first, own session and API keys)
 * - read: alerts, rules, runs, health, searches and documents
 * - triage: alert status and assignees, exceptions and value lists
 * - ingest: writing documents, and the index set-up shippers do (templates, mappings, aliases, data streams)
 * - manage: rules, users, deleting indices, the clock — everything not named above
 */
export type Privilege = 'public' | 'any' | 'read' | 'triage' | 'ingest' | 'manage';

export const ROLES = ['admin', 'analyst', 'ingest', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

const GRANTS: Record<Role, readonly Privilege[]> = {
  admin: ['public', 'any', 'read', 'triage', 'ingest', 'manage'],
  analyst: ['public', 'any', 'read', 'triage'],
  ingest: ['public', 'any', 'ingest'],
  read_only: ['public', 'any', 'read'],
};

export const isRole = (r: unknown): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r);

export function allows(roles: readonly Role[], need: Privilege): boolean {
  return roles.some((r) => GRANTS[r].includes(need));
}

/** The privileges of a set of roles (for narrowing an API key to what its owner may do). */
export function privilegesOf(roles: readonly Role[]): Set<Privilege> {
  return new Set(roles.flatMap((r) => GRANTS[r]));
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
export const isSafeMethod = (method: string): boolean => SAFE.has(method.toUpperCase());

// the last path segments that read documents, whatever the method (searches are POSTs)
const READ_SEGMENTS = new Set(['_search', '_count', '_msearch', '_mget', '_pit', '_field_caps', '_validate']);
// cluster information clients and shippers ask for before anything else
const INFO_PATHS = [/^\/$/, /^\/_license$/, /^\/_xpack$/, /^\/_cluster\/health(\/.*)?$/, /^\/_nodes(\/.*)?$/, /^\/_cluster\/settings$/, /^\/_ilm\/status$/];
// POSTs of Vigil's API an analyst makes
const TRIAGE_POSTS = [/^\/api\/alerts\/_status$/, /^\/api\/alerts\/_assign$/, /^\/api\/exception_lists\/_import$/, /^\/api\/exception_lists\/items(\/_preview)?$/, /^\/api\/lists\/_import$/];
const TRIAGE_DELETES = [/^\/api\/exception_lists\/items\/[^/]+$/, /^\/api\/exception_lists\/[^/]+$/];

/** The privilege a request needs. `path` is the URL's path, without the query. */
export function privilegeFor(method: string, path: string): Privilege {
  const m = method.toUpperCase();
  const safe = SAFE.has(m);
  if (path === '/ui' || path.startsWith('/ui/') || path === '/favicon.ico') return 'public';
  if (path === '/api/_login') return 'public';
  if (path === '/api/_session' || path === '/api/_logout') return 'any';
  if (path.startsWith('/_security/')) {
    if (path === '/_security/_authenticate' || path === '/_security/api_key' || path === '/_security/api_key/_query') return 'any';
    if (path === '/_security/user/_password') return 'any';
    return 'manage';
  }
  if (path.startsWith('/api/')) {
    if (safe) return 'read';
    if (m === 'POST' && TRIAGE_POSTS.some((r) => r.test(path))) return 'triage';
    if (m === 'DELETE' && TRIAGE_DELETES.some((r) => r.test(path))) return 'triage';
    return 'manage';
  }
  if (safe && INFO_PATHS.some((r) => r.test(path))) return 'any';
  if (m === 'PUT' && path === '/_cluster/settings') return 'manage';
  const segs = path.split('/').filter((s) => s !== '');
  if (segs.some((s) => READ_SEGMENTS.has(s)) || path.includes('/_eql/') || segs[0] === '_cat') return 'read';
  // a document by id: GET reads it; every other method writes it
  const docAt = segs.findIndex((s) => s === '_doc' || s === '_source' || s === '_create' || s === '_update');
  if (docAt > 0) return safe && (segs[docAt] === '_doc' || segs[docAt] === '_source') ? 'read' : 'ingest';
  if (segs.includes('_bulk')) return 'ingest';
  // index set-up: a shipper looks templates, aliases and mappings up before it writes them
  if (safe) return 'any';
  // deleting an index, a data stream or a template loses data or set-up: not for the ingest role
  if (m === 'DELETE') return 'manage';
  return 'ingest';
}
