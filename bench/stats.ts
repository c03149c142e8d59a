/** Order statistics the benchmarks print. */

/** The middle value (the upper one of two); NaN for none. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** The value below which `p` percent of `xs` lie (nearest rank); NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
