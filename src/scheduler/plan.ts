/**
 * When a rule runs and over which windows: pure planning from what the rule has covered so far.
 * An execution at `now` covers (now − lookback, now]. If the time since the last covered instant
 * is longer than the look-back, the uncovered stretch is a gap; Vigil catches it up with extra
 * windows of at most `lookback` each (Elastic leaves gaps to manual runs).
 */
export interface PlannedWindow {
  /** `history`: a stretch before the windows that a new-terms rule learns from, without alerting or a run of its own. */
  readonly kind: 'scheduled' | 'catch-up' | 'history';
  /** Exclusive start, epoch ms. */
  readonly from: number;
  /** Inclusive end, epoch ms. */
  readonly to: number;
}

export interface Plan {
  readonly due: boolean;
  /** the uncovered stretch the catch-up windows fill */
  readonly gap: { readonly from: number; readonly to: number } | null;
  /** the older uncovered stretch beyond the catch-up cap: recorded as a gap, never run */
  readonly skipped: { readonly from: number; readonly to: number } | null;
  readonly windows: readonly PlannedWindow[];
}

export function nextDue(coveredUntil: number | null, intervalMs: number, now: number): number {
  return coveredUntil === null ? now : coveredUntil + intervalMs;
}

/**
 * At most `maxCatchUp` catch-up windows, the newest: after a long downtime the older uncovered time
 * is `skipped` (a gap on record) rather than planned window by window (a day at a 1 ms look-back
 * was 86 million windows).
 */
export function planExecution(coveredUntil: number | null, now: number, intervalMs: number, lookbackMs: number, maxCatchUp = Infinity): Plan {
  if (coveredUntil !== null && now < coveredUntil + intervalMs) return { due: false, gap: null, skipped: null, windows: [] };
  const start = now - lookbackMs;
  const windows: PlannedWindow[] = [];
  let gap: Plan['gap'] = null;
  let skipped: Plan['skipped'] = null;
  if (coveredUntil !== null && start > coveredUntil) {
    let from = coveredUntil;
    if ((start - coveredUntil) / lookbackMs > maxCatchUp) {
      // the newest windows are caught up; they end at `start` as before
      from = start - Math.max(0, Math.floor(maxCatchUp)) * lookbackMs;
      skipped = { from: coveredUntil, to: from };
    }
    if (start > from) {
      gap = { from, to: start };
      for (let a = from; a < start; a += lookbackMs) windows.push({ kind: 'catch-up', from: a, to: Math.min(a + lookbackMs, start) });
    }
  }
  windows.push({ kind: 'scheduled', from: start, to: now });
  return { due: true, gap, skipped, windows };
}
