/**
 * Answers of a pure function remembered per string key, for values that repeat (process names,
 * paths, actions): a key's answer never changes, so remembering changes nothing but the time.
 * Bounded (cleared when full), and given up for good once at least `trial` lookups were made and
 * fewer than a quarter of them found an answer (keys that rarely repeat, such as command lines),
 * where remembering would cost more than it saves.
 */
export class StringMemo<V> {
  private map: Map<string, V> | null = new Map();
  private lookups = 0;
  private found = 0;

  constructor(
    private readonly size: number,
    private readonly trial: number,
  ) {}

  /** Whether answers are still remembered (false: callers may skip straight to the function). */
  get active(): boolean {
    return this.map !== null;
  }

  /** The answer for `key`: remembered, or `compute(key)` (remembered while the memo is active). */
  get(key: string, compute: (key: string) => V): V {
    const map = this.map;
    if (map === null) return compute(key);
    this.lookups++;
    const known = map.get(key);
    if (known !== undefined) {
      this.found++;
      return known;
    }
    if (this.lookups >= this.trial && this.found * 4 < this.lookups) {
      this.map = null;
      return compute(key);
    }
    const v = compute(key);
    if (map.size >= this.size) map.clear();
    map.set(ownString(key), v);
    return v;
  }
}

/**
 * A copy of a string that shares no memory with another: a key cut out of a large text (as the hunt's
 * projected events are) would otherwise keep that whole text alive for as long as it is remembered.
 * (Joined then cut, the engine copies the characters into a string of their own.)
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}
