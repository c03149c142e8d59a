import type { PassWindow, ScanSummary } from '../detect/index.js';
import type { ArrivalQuery, SeqRange } from '../store/index.js';

/** Events per batch the scan thread hands on, at most. */
export const BATCH_EVENTS = 512;
/** Bytes of documents per batch, about. */
export const BATCH_BYTES = 1 << 20;
/** Batches a scan thread may be ahead of the feed. */
export const AHEAD = 4;
/** Arrival sequence numbers per range, by default: the threads take turns by range, the feed takes ranges in order. */
export const RANGE = 8192;
/** Slots of the control array shared with the scan thread: batches it may still send, and the stop flag. */
export const CREDITS = 0;
export const STOP = 1;

/** A scheduled rule as the scan thread gets it: its model and flags (it compiles the query again). */
export interface RuleForScan {
  readonly rule: unknown;
  readonly enabled: boolean;
  readonly streaming: boolean;
}

export type ToScanThread =
  | { readonly type: 'rules'; readonly rules: readonly RuleForScan[] }
  | {
      readonly type: 'pass';
      readonly file: string;
      readonly windows: readonly PassWindow[];
      /** With the pass's sequence bounds (`seq`), cut into ranges of `range`: this thread reads ranges `part`, `part + parts`, ... */
      readonly query: ArrivalQuery & { readonly seq: SeqRange };
      readonly range: number;
      readonly part: number;
      readonly parts: number;
      readonly control: SharedArrayBuffer;
    };

/**
 * Events of one range some rule may take, in arrival order. Per event, `meta` holds: its index (a place in
 * `names`), version, timestamp (NaN: none), ingest time, the start and end of its document in
 * `bytes`, the number of hits and of codes, then the hits (rule places) and the codes (see PassScan).
 */
export interface ScanBatch {
  readonly type: 'batch';
  /** The range the events are of, and whether this is its last batch. */
  readonly range: number;
  readonly last: boolean;
  readonly names: readonly string[];
  readonly meta: Float64Array;
  readonly ids: readonly string[];
  readonly bytes: Uint8Array;
}

export type FromScanThread =
  | ScanBatch
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly summary: ScanSummary }
  | { readonly type: 'stopped' }
  | { readonly type: 'error'; readonly message: string };
