import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isRole, type Role } from './access.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** Who a request acts as. */
export interface Principal {
  readonly user: string;
  readonly roles: readonly Role[];
  /** how it proved it: a password, an API key, the UI's session cookie, or nothing (authentication off) */
  readonly via: 'basic' | 'api_key' | 'session' | 'none';
  readonly apiKey?: { readonly id: string; readonly name: string };
}

interface UserRecord {
  hash: string;
  roles: Role[];
}

interface ApiKeyRecord {
  id: string;
  name: string;
  /** sha256 of the key: keys are 32 random bytes, so a fast hash cannot be searched */
  hash: string;
  roles: Role[];
  owner: string;
  created: number;
  expiration: number | null;
  invalidated: boolean;
}

interface SecurityFile {
  version: 1;
  users: Record<string, UserRecord>;
  api_keys: ApiKeyRecord[];
}

/**
 * One user or API key as the nodes of a cluster share them: its record as this file keeps it, or
 * null for a user deleted.
 */
export interface SecurityEntry {
  readonly kind: 'user' | 'key';
  readonly name: string;
  readonly record: unknown;
}

const entryKey = (kind: string, name: string): string => `${kind}\u0000${name}`;

/** A record as text with its keys in order (PostgreSQL's jsonb gives them back in another). */
function canon(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

export interface ApiKeyView {
  id: string;
  name: string;
  username: string;
  realm: string;
  roles: Role[];
  creation: number;
  expiration?: number;
  invalidated: boolean;
}

const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
/** How long a verified credential is trusted without hashing it again (clients send it on every request). */
const CACHE_MS = 60_000;
const CACHE_MAX = 10_000;

/** A new random password: 24 characters of base64url (144 bits). */
export const newPassword = (): string => randomBytes(18).toString('base64url');

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !key) return false;
  const want = Buffer.from(key, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return got.length === want.length && timingSafeEqual(got, want);
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * The users and API keys of one data folder (`security.json`, mode 0600: hashes only, never a
 * password or a key). Changes made by another process (`vigil reset-password`) are seen within a
 * second; a verified credential is remembered for a minute so that a client sending it on every
 * request costs one hash a minute, not one a request.
 */
export class Credentials {
  private data: SecurityFile;
  private mtime = 0;
  private checked = 0;
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  /** told of each user whose password or roles another process changed (their sessions end) */
  onUserChanged: ((user: string) => void) | null = null;
  /**
   * Cluster mode: told of the users and keys changed here (through the API, or the file by another
   * process), to share them; see `take` for the other way.
   */
  onLocalChange: ((entries: SecurityEntry[]) => void) | null = null;
  /** Each user's and key's record as last shared or taken (JSON), to tell what changed here since. */
  private readonly shared = new Map<string, string>();
  /** Changes told to `onLocalChange` and not yet confirmed shared (`take` leaves them alone meanwhile). */
  private readonly sharing = new Map<string, number>();

  private constructor(
    private readonly file: string,
    private readonly now: () => number,
  ) {
    this.data = { version: 1, users: {}, api_keys: [] };
  }

  static fileIn(dataDir: string): string {
    return join(dataDir, 'security.json');
  }

  /** Opens (or creates) the folder's credentials; a damaged file is an error, never a silent reset. */
  static open(dataDir: string, now: () => number = Date.now): Credentials {
    const c = new Credentials(Credentials.fileIn(dataDir), now);
    c.load();
    return c;
  }

  private load(): void {
    if (!existsSync(this.file)) return;
    const text = readFileSync(this.file, 'utf8');
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${this.file}: not valid JSON (${(e as Error).message}); restore it from a backup, or remove it and run vigil reset-password`);
    }
    const o = v as Partial<SecurityFile>;
    if (typeof o !== 'object' || o === null || o.version !== 1 || typeof o.users !== 'object' || !Array.isArray(o.api_keys)) throw new Error(`${this.file}: not a Vigil security file (version 1 with users and api_keys)`);
    for (const [name, u] of Object.entries(o.users!)) if (typeof u?.hash !== 'string' || !Array.isArray(u.roles) || !u.roles.every(isRole)) throw new Error(`${this.file}: user ${name} is malformed`);
    const before = this.data.users;
    this.data = o as SecurityFile;
    for (const [name, u] of Object.entries(before)) {
      const now = this.data.users[name];
      if (!now || now.hash !== u.hash || now.roles.join() !== u.roles.join()) this.onUserChanged?.(name);
    }
    this.mtime = statSync(this.file).mtimeMs;
    this.cache.clear();
    this.shareChanges();
  }

  /** Every user and key, as the cluster shares them. */
  entries(): SecurityEntry[] {
    return [...Object.entries(this.data.users).map(([name, u]) => ({ kind: 'user' as const, name, record: u })), ...this.data.api_keys.map((k) => ({ kind: 'key' as const, name: k.id, record: k }))];
  }

  /** Tells `onLocalChange` what changed since the last share (users deleted as null records). */
  private shareChanges(): void {
    if (!this.onLocalChange) return;
    const now = new Map(this.entries().map((e) => [entryKey(e.kind, e.name), e] as const));
    const changed: SecurityEntry[] = [];
    for (const [k, e] of now) if (this.shared.get(k) !== canon(e.record)) changed.push(e);
    for (const k of this.shared.keys()) {
      if (now.has(k) || this.shared.get(k) === 'null') continue;
      const [kind, name] = k.split('\u0000') as ['user' | 'key', string];
      changed.push({ kind, name, record: null });
    }
    if (changed.length === 0) return;
    for (const e of changed) {
      const k = entryKey(e.kind, e.name);
      this.shared.set(k, canon(e.record));
      this.sharing.set(k, (this.sharing.get(k) ?? 0) + 1);
    }
    this.onLocalChange(changed);
  }

  /** The cluster has the changes told to `onLocalChange` (or gave up on them): `take` may change those entries again. */
  confirmShared(entries: readonly SecurityEntry[]): void {
    for (const e of entries) {
      const k = entryKey(e.kind, e.name);
      const n = (this.sharing.get(k) ?? 1) - 1;
      if (n > 0) this.sharing.set(k, n);
      else this.sharing.delete(k);
    }
  }

  /**
   * Takes users and keys as the cluster has them (another node changed them): each that differs
   * from what this file has and is not being shared from here is set (null: the user is deleted),
   * and the file written. Sessions of users whose password or roles changed end.
   */
  take(entries: readonly SecurityEntry[]): number {
    this.refresh();
    let n = 0;
    for (const e of entries) {
      const k = entryKey(e.kind, e.name);
      const text = canon(e.record);
      if (this.sharing.has(k) || this.shared.get(k) === text) continue;
      this.shared.set(k, text);
      const before = e.kind === 'user' ? this.data.users[e.name] : this.data.api_keys.find((x) => x.id === e.name);
      if (canon(before ?? null) === text) continue;
      n++;
      if (e.kind === 'user') {
        if (e.record === null) delete this.data.users[e.name];
        else this.data.users[e.name] = e.record as UserRecord;
        this.onUserChanged?.(e.name);
      } else {
        const i = this.data.api_keys.findIndex((x) => x.id === e.name);
        if (e.record === null) {
          if (i >= 0) this.data.api_keys.splice(i, 1);
        } else if (i >= 0) this.data.api_keys[i] = e.record as ApiKeyRecord;
        else this.data.api_keys.push(e.record as ApiKeyRecord);
      }
    }
    if (n > 0) this.write();
    return n;
  }

  /** Picks up a change another process made (at most once a second). */
  private refresh(): void {
    const t = this.now();
    if (t - this.checked < 1000) return;
    this.checked = t;
    try {
      if (existsSync(this.file) && statSync(this.file).mtimeMs !== this.mtime) this.load();
    } catch {
      // a file being replaced: the next look reads it
    }
  }

  private save(): void {
    this.write();
    this.shareChanges();
  }

  private write(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.mtime = statSync(this.file).mtimeMs;
    this.cache.clear();
  }

  get hasUsers(): boolean {
    return Object.keys(this.data.users).length > 0;
  }

  users(): Array<{ username: string; roles: Role[] }> {
    this.refresh();
    return Object.entries(this.data.users).map(([username, u]) => ({ username, roles: [...u.roles] }));
  }

  /**
   * Creates the `elastic` user with a new password when the folder has no users yet (the first
   * start); returns the password (to be shown once), or null when it already exists.
   */
  async bootstrap(password: string = newPassword()): Promise<string | null> {
    if (this.data.users.elastic) return null;
    await this.setUser('elastic', password, ['admin']);
    return password;
  }

  async setUser(name: string, password: string, roles: readonly Role[]): Promise<void> {
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) throw new Error('a user name is 1 to 64 letters, digits, or _ . @ -');
    if (password.length < 8) throw new Error('a password has at least 8 characters');
    this.refresh();
    this.data.users[name] = { hash: await hashPassword(password), roles: [...roles] };
    this.save();
  }

  /** A new password for a user (the `elastic` user is made when missing); returns it. */
  async resetPassword(name: string, password: string = newPassword()): Promise<string> {
    this.refresh();
    const roles = this.data.users[name]?.roles ?? (name === 'elastic' ? (['admin'] as Role[]) : null);
    if (!roles) throw new Error(`no such user: ${name}`);
    await this.setUser(name, password, roles);
    return password;
  }

  deleteUser(name: string): boolean {
    this.refresh();
    if (!this.data.users[name]) return false;
    delete this.data.users[name];
    this.data.api_keys = this.data.api_keys.map((k) => (k.owner === name ? { ...k, invalidated: true } : k));
    this.save();
    return true;
  }

  private cached(key: string): Principal | null {
    this.refresh();
    const hit = this.cache.get(key);
    if (!hit) return null;
    if (hit.until < this.now()) {
      this.cache.delete(key);
      return null;
    }
    return hit.principal;
  }

  private remember(key: string, principal: Principal): void {
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { principal, until: this.now() + CACHE_MS });
  }

  /** The user a name and password belong to, or null. */
  async verifyPassword(name: string, password: string): Promise<Principal | null> {
    const key = `b:${sha256(`${name}\u0000${password}`)}`;
    const hit = this.cached(key);
    if (hit) return hit;
    const u = this.data.users[name];
    if (!u || !(await checkPassword(password, u.hash))) return null;
    const p: Principal = { user: name, roles: [...u.roles], via: 'basic' };
    this.remember(key, p);
    return p;
  }

  /** The key an `ApiKey` credential (id and key) names, when valid, not expired and not revoked. */
  verifyApiKey(id: string, key: string): Principal | null {
    const ck = `k:${sha256(`${id}\u0000${key}`)}`;
    const hit = this.cached(ck);
    if (hit) return hit;
    const k = this.data.api_keys.find((x) => x.id === id);
    if (!k || k.invalidated || (k.expiration !== null && k.expiration <= this.now())) return null;
    const want = Buffer.from(k.hash, 'hex');
    const got = Buffer.from(sha256(key), 'hex');
    if (!timingSafeEqual(want, got)) return null;
    // a key never does more than its owner can now
    const owner = this.data.users[k.owner];
    if (!owner) return null;
    const roles = k.roles.filter((r) => owner.roles.includes(r) || owner.roles.includes('admin'));
    const p: Principal = { user: k.owner, roles, via: 'api_key', apiKey: { id: k.id, name: k.name } };
    // an expiring key is trusted no longer than it lives
    this.cache.set(ck, { principal: p, until: Math.min(this.now() + CACHE_MS, k.expiration ?? Infinity) });
    return p;
  }

  createApiKey(owner: string, name: string, roles: readonly Role[], expiresInMs: number | null): { id: string; name: string; api_key: string; encoded: string; expiration?: number } {
    this.refresh();
    const id = randomBytes(15).toString('base64url');
    const key = randomBytes(24).toString('base64url');
    const created = this.now();
    const expiration = expiresInMs === null ? null : created + expiresInMs;
    this.data.api_keys.push({ id, name, hash: sha256(key), roles: [...roles], owner, created, expiration, invalidated: false });
    this.save();
    return { id, name, api_key: key, encoded: Buffer.from(`${id}:${key}`).toString('base64'), ...(expiration !== null ? { expiration } : {}) };
  }

  apiKeys(filter: { owner?: string; id?: string; name?: string } = {}): ApiKeyView[] {
    this.refresh();
    return this.data.api_keys
      .filter((k) => (filter.owner === undefined || k.owner === filter.owner) && (filter.id === undefined || k.id === filter.id) && (filter.name === undefined || k.name === filter.name))
      .map((k) => ({ id: k.id, name: k.name, username: k.owner, realm: 'native', roles: k.roles, creation: k.created, ...(k.expiration !== null ? { expiration: k.expiration } : {}), invalidated: k.invalidated || (k.expiration !== null && k.expiration <= this.now()) }));
  }

  /** Revokes keys (by ids, name or owner; `owner` limits which keys the caller may touch); returns the ids revoked. */
  invalidateApiKeys(select: { ids?: readonly string[]; name?: string; owner?: string }, onlyOwner: string | null): string[] {
    this.refresh();
    const done: string[] = [];
    for (const k of this.data.api_keys) {
      if (k.invalidated) continue;
      if (onlyOwner !== null && k.owner !== onlyOwner) continue;
      const hit = (select.ids?.includes(k.id) ?? false) || (select.name !== undefined && k.name === select.name) || (select.owner !== undefined && select.ids === undefined && select.name === undefined && k.owner === select.owner);
      if (!hit) continue;
      k.invalidated = true;
      done.push(k.id);
    }
    if (done.length) this.save();
    return done;
  }
}
