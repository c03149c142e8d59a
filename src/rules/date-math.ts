/**
 * The subset of Elasticsearch date math that rules use: `now`, `now-9m`, `now+1h`, and durations
 * such as `5m` for `interval`. Units: s, m, h, d, w, M (30 days), y (365 days).
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  M: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Milliseconds in a duration like `5m`, or null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)(ms|s|m|h|d|w|M|y)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * Offset from now in milliseconds for a relative date-math expression (`now-9m` → -540000), or null
 * when the text is not of that form.
 */
export function parseDateMath(text: string): number | null {
  const t = text.trim();
  if (t === 'now') return 0;
  const m = /^now([+-])(\d+)(ms|s|m|h|d|w|M|y)$/.exec(t);
  if (!m) return null;
  const ms = Number(m[2]) * UNIT_MS[m[3]!]!;
  return m[1] === '-' ? -ms : ms;
}
