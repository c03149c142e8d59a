import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from './credentials.js';

export interface Session {
  readonly principal: Principal;
  /** sent back by the UI in `x-csrf-token` on every state-changing request */
  readonly csrf: string;
  lastUsed: number;
}

/** The cookie the UI's session rides on. */
export const SESSION_COOKIE = 'vigil_session';

/**
 * The UI's signed-in sessions, in memory (a restart signs everyone out). A session ends after
 * `idleMs` unused; the oldest goes when there are too many.
 */
export class Sessions {
  private readonly byToken = new Map<string, Session>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly idleMs = 8 * 3_600_000,
    private readonly max = 10_000,
  ) {}

  open(principal: Principal): { token: string; session: Session } {
    if (this.byToken.size >= this.max) this.byToken.delete(this.byToken.keys().next().value!);
    const token = randomBytes(32).toString('base64url');
    const session: Session = { principal: { ...principal, via: 'session' }, csrf: randomBytes(24).toString('base64url'), lastUsed: this.now() };
    this.byToken.set(token, session);
    return { token, session };
  }

  get(token: string): Session | null {
    const s = this.byToken.get(token);
    if (!s) return null;
    const t = this.now();
    if (t - s.lastUsed > this.idleMs) {
      this.byToken.delete(token);
      return null;
    }
    s.lastUsed = t;
    return s;
  }

  close(token: string): void {
    this.byToken.delete(token);
  }

  /** Ends every session of a user (a password reset, a deleted user). */
  closeUser(user: string): void {
    for (const [t, s] of this.byToken) if (s.principal.user === user) this.byToken.delete(t);
  }
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of one cookie in a Cookie header. */
export function cookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
