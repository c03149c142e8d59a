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
  readonly gap: { readonly from: number; readonly to: number } | null;
  readonly windows: readonly PlannedWindow[];
}

export function nextDue(coveredUntil: number | null, intervalMs: number, now: number): number {
  return coveredUntil === null ? now : coveredUntil + intervalMs;
}

export function planExecution(coveredUntil: number | null, now: number, intervalMs: number, lookbackMs: number): Plan {
  if (coveredUntil !== null && now < coveredUntil + intervalMs) return { due: false, gap: null, windows: [] };
  const start = now - lookbackMs;
  const windows: PlannedWindow[] = [];
  let gap: Plan['gap'] = null;
  if (coveredUntil !== null && start > coveredUntil) {
    gap = { from: coveredUntil, to: start };
    for (let a = coveredUntil; a < start; a += lookbackMs) windows.push({ kind: 'catch-up', from: a, to: Math.min(a + lookbackMs, start) });
  }
  windows.push({ kind: 'scheduled', from: start, to: now });
  return { due: true, gap, windows };
}
