/**
 * Slows password guessing: failed password checks are counted per user name from one address and
 * per address; past `perUser` failures (or `perAddress` for all names) within `windowMs`, password
 * checks from there are refused until the oldest failure of the window ages out. Counting per
 * address keeps a guesser elsewhere from locking the real user out; a right password clears the
 * user's count. At most `maxKeys` keys are kept (the oldest dropped), so spraying names costs no
 * memory beyond that.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly perUser = 5,
    private readonly perAddress = 20,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds to wait before a password for `user` from `address` is checked again (0: check it now). */
  waitMs(address: string, user: string): number {
    const now = this.now();
    const wait = (key: string, limit: number): number => {
      const list = this.recent(key, now);
      return list.length >= limit ? list[list.length - limit]! + this.windowMs - now : 0;
    };
    return Math.max(wait(`u\u0000${address}\u0000${user}`, this.perUser), wait(`a\u0000${address}`, this.perAddress));
  }

  failed(address: string, user: string): void {
    const now = this.now();
    for (const key of [`u\u0000${address}\u0000${user}`, `a\u0000${address}`]) {
      const list = this.recent(key, now);
      list.push(now);
      // a key moved to the end is the newest; the first ones are the oldest
      this.failures.delete(key);
      this.failures.set(key, list);
    }
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(address: string, user: string): void {
    this.failures.delete(`u\u0000${address}\u0000${user}`);
  }

  private recent(key: string, now: number): number[] {
    const list = this.failures.get(key) ?? [];
    let drop = 0;
    while (drop < list.length && list[drop]! <= now - this.windowMs) drop++;
    if (drop > 0) list.splice(0, drop);
    return list;
  }
}
