import { createFieldGetter, parseFieldPath, type FieldGetter } from '../ecs/index.js';
import type { IndexMapping } from './mapping.js';

/** An event as the engine holds it: its document, where it came from, and its place in time. */
export interface EngineEvent {
  readonly index: string;
  readonly id: string;
  /** The document as matched: typed by the index mapping when there is one. */
  readonly source: Readonly<Record<string, unknown>>;
  /** The document as given, returned as `_source`. */
  readonly original: Readonly<Record<string, unknown>>;
  /** Milliseconds (or any monotonic number) from the timestamp field; NaN when absent. */
  readonly ts: number;
  /** Tiebreaker value for events with equal timestamps; null when not configured or absent. */
  readonly tiebreaker: number | string | null;
  /** Arrival order: the last tiebreaker, so equal events keep their input order. */
  readonly seq: number;
}

/** What callers may hand the engine: a bare document or an Elasticsearch-style hit. */
export type EventInput = Readonly<Record<string, unknown>> | { readonly _index?: string; readonly _id?: string; readonly _source: Readonly<Record<string, unknown>> };

export interface EventOptions {
  /** Default `@timestamp`. */
  readonly timestampField?: string;
  /** Default `event.category`. */
  readonly eventCategoryField?: string;
  /** Optional field that orders events with equal timestamps. */
  readonly tiebreakerField?: string;
  /** Field holding the event id when the input is a bare document (default: arrival number). */
  readonly idField?: string;
  /** Turns a timestamp value into a number; default: numbers as epoch ms, strings as ISO dates or numbers. */
  readonly parseTimestamp?: (v: unknown) => number;
  /** `_index` for bare documents. */
  readonly index?: string;
  /** Index mappings by index name: field types decide how values compare and print. */
  readonly mappings?: ReadonlyMap<string, IndexMapping>;
}

export function defaultParseTimestamp(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    return Date.parse(v);
  }
  if (Array.isArray(v) && v.length > 0) return defaultParseTimestamp(v[0]);
  return NaN;
}

/** Builds EngineEvents from inputs; holds the compiled field getters for the configured fields. */
export class EventReader {
  private readonly ts: FieldGetter;
  private readonly tb: FieldGetter | null;
  private readonly id: FieldGetter | null;
  private readonly parse: (v: unknown) => number;
  readonly category: FieldGetter;
  private next = 0;

  constructor(private readonly options: EventOptions = {}) {
    this.ts = createFieldGetter(parseFieldPath(options.timestampField ?? '@timestamp'));
    this.tb = options.tiebreakerField ? createFieldGetter(parseFieldPath(options.tiebreakerField)) : null;
    this.id = options.idField ? createFieldGetter(parseFieldPath(options.idField)) : null;
    this.category = createFieldGetter(parseFieldPath(options.eventCategoryField ?? 'event.category'));
    this.parse = options.parseTimestamp ?? defaultParseTimestamp;
  }

  read(input: EventInput): EngineEvent {
    const seq = this.next++;
    const wrapped = '_source' in input && typeof input._source === 'object' && input._source !== null;
    const original = (wrapped ? input._source : input) as Record<string, unknown>;
    const index = wrapped && typeof input._index === 'string' ? input._index : (this.options.index ?? '');
    const mapping = this.options.mappings?.get(index);
    const source = mapping ? mapping.apply(original) : original;
    let id: string;
    if (wrapped && typeof input._id === 'string') id = input._id;
    else if (this.id) {
      const v = this.id(source);
      id = v === undefined || v === null ? String(seq) : String(v);
    } else id = String(seq);
    const tbv = this.tb ? this.tb(source) : null;
    const tiebreaker = typeof tbv === 'number' || typeof tbv === 'string' ? tbv : null;
    return { index, id, source, original, ts: this.parse(this.ts(source)), tiebreaker, seq };
  }
}

/** Timestamp, then tiebreaker, then arrival: Elasticsearch's ordering. */
export function compareEvents(a: EngineEvent, b: EngineEvent): number {
  const an = Number.isNaN(a.ts);
  const bn = Number.isNaN(b.ts);
  // events without a timestamp sort after all others, in their own order
  if (an !== bn) return an ? 1 : -1;
  if (!an && a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.tiebreaker !== b.tiebreaker && a.tiebreaker !== null && b.tiebreaker !== null) {
    return a.tiebreaker < b.tiebreaker ? -1 : 1;
  }
  return a.seq - b.seq;
}
