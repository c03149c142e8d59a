import { createFieldGetter, parseFieldPath, type FieldGetter, type FieldPath } from '../ecs/index.js';
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
  /** What a stateful rule's tests make of the event, when another thread already ran them (see Verdict). */
  readonly verdict?: Verdict;
}

/**
 * What one stateful rule's stages make of an event, worked out where the event was scanned (its
 * fields at hand), so that the thread that runs the rule in order need not parse the event to match
 * it: its time, which filters it passes (bit i: the i-th stage, then `until`), and for each filter it
 * passes, its join key as `keyString` writes it. Only made where the key reads back as the same values.
 */
export interface Verdict {
  readonly ts: number;
  readonly mask: number;
  readonly keys: ReadonlyArray<string | undefined>;
}

/** What callers may hand the engine: a bare document or an Elasticsearch-style hit. */
export type EventInput = Readonly<Record<string, unknown>> | { readonly _index?: string; readonly _id?: string; readonly _source: Readonly<Record<string, unknown>> };

/**
 * An event handed over as its text, with the function that makes its document of it: what a matcher
 * holds of it (a partial sequence, a key waiting for the rest of its sample) is then one string, where
 * a parsed document is a few dozen objects for the collector to trace and move (a hunt's sample that
 * held 88,000 events: 1.4M objects on the heap, against 3.4M). The document is made again when a
 * held event is read, as when its match is reported.
 */
export interface EventText {
  readonly _index: string;
  readonly _id: string;
  readonly _text: string;
  readonly decode: (text: string) => Readonly<Record<string, unknown>>;
}

function isEventText(input: EventInput | EventText): input is EventText {
  return typeof (input as EventText).decode === 'function';
}

/** The text event last decoded, and its document: the tests of one event read it many times over. */
let decodedFor: EventText | null = null;
let decoded: Readonly<Record<string, unknown>> = {};

function documentOf(input: EventText): Readonly<Record<string, unknown>> {
  if (decodedFor !== input) {
    decoded = input.decode(input._text);
    decodedFor = input;
  }
  return decoded;
}

/** An engine event that keeps its text and makes its document when read (see EventText). */
class TextEvent implements EngineEvent {
  constructor(
    readonly index: string,
    readonly id: string,
    private readonly input: EventText,
    readonly ts: number,
    readonly tiebreaker: number | string | null,
    readonly seq: number,
    readonly verdict?: Verdict,
  ) {}

  get source(): Readonly<Record<string, unknown>> {
    return documentOf(this.input);
  }

  get original(): Readonly<Record<string, unknown>> {
    return documentOf(this.input);
  }
}

export interface EventOptions {
  /** Default `@timestamp`. */
  readonly timestampField?: string;
  /** Default `event.category`. */
  readonly eventCategoryField?: string;
  /** Optional field that orders events with equal timestamps. */
  readonly tiebreakerField?: string;
  /** How fields are read (default: nested objects and dotted keys, as createFieldGetter reads them). */
  readonly field?: (path: FieldPath) => FieldGetter;
  /** Field holding the event id when the input is a bare document (default: arrival number). */
  readonly idField?: string;
  /** Turns a timestamp value into a number; default: numbers as epoch ms, strings as ISO dates or numbers. */
  readonly parseTimestamp?: (v: unknown) => number;
  /** `_index` for bare documents. */
  readonly index?: string;
  /** Index mappings by index name: field types decide how values compare and print. */
  readonly mappings?: ReadonlyMap<string, IndexMapping>;
}

const dayCache = new Map<string, number>();
const ISO_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
const d = (s: string, i: number): number => s.charCodeAt(i) - 48;
const isDigit = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
};

/**
 * Fast path for the ISO-8601 form shippers send (`2026-11-23T10:00:00.123Z`, an offset, or no zone
 * meaning UTC as Elasticsearch reads it); anything else goes to Date.parse. NaN when unreadable.
 */
export function parseIsoTimestamp(s: string): number {
  const n = s.length;
  if (n >= 19 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && (s.charCodeAt(10) === 84 || s.charCodeAt(10) === 32) && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58) {
    for (let k = 0; k < ISO_DIGITS.length; k++) if (!isDigit(s, ISO_DIGITS[k]!)) return Date.parse(s);
    let i = 19;
    let ms = 0;
    if (s.charCodeAt(i) === 46) {
      i++;
      let scale = 100;
      while (i < n && isDigit(s, i)) {
        ms += d(s, i) * scale;
        scale /= 10;
        i++;
      }
      ms = Math.floor(ms);
    }
    let offset = 0;
    if (i === n || (i === n - 1 && s.charCodeAt(i) === 90)) offset = 0;
    else if ((s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45) && n - i === 6 && s.charCodeAt(i + 3) === 58) {
      const sign = s.charCodeAt(i) === 43 ? 1 : -1;
      offset = sign * ((d(s, i + 1) * 10 + d(s, i + 2)) * 60 + d(s, i + 4) * 10 + d(s, i + 5)) * 60_000;
    } else return Date.parse(s);
    const month = d(s, 5) * 10 + d(s, 6);
    const day = d(s, 8) * 10 + d(s, 9);
    const hour = d(s, 11) * 10 + d(s, 12);
    const minute = d(s, 14) * 10 + d(s, 15);
    const second = d(s, 17) * 10 + d(s, 18);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 59) return NaN;
    // the day's start is cached: events of one batch share a handful of dates
    const dayKey = s.slice(0, 10);
    let dayMs = dayCache.get(dayKey);
    if (dayMs === undefined) {
      dayMs = Date.UTC(d(s, 0) * 1000 + d(s, 1) * 100 + d(s, 2) * 10 + d(s, 3), month - 1, day);
      if (new Date(dayMs).getUTCDate() !== day) dayMs = NaN; // 2026-02-31 is no date
      if (dayCache.size > 1000) dayCache.clear();
      dayCache.set(dayKey, dayMs);
    }
    const t = dayMs + ((hour * 60 + minute) * 60 + second) * 1000 + ms;
    return t - offset;
  }
  return Date.parse(s);
}

export function defaultParseTimestamp(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const c = v.charCodeAt(0);
    if ((c >= 48 && c <= 57) || c === 45) {
      if (v.length >= 19 && v.charCodeAt(4) === 45) return parseIsoTimestamp(v);
      if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    }
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
    const field = options.field ?? createFieldGetter;
    this.ts = field(parseFieldPath(options.timestampField ?? '@timestamp'));
    this.tb = options.tiebreakerField ? field(parseFieldPath(options.tiebreakerField)) : null;
    this.id = options.idField ? field(parseFieldPath(options.idField)) : null;
    this.category = field(parseFieldPath(options.eventCategoryField ?? 'event.category'));
    this.parse = options.parseTimestamp ?? defaultParseTimestamp;
  }

  /** The time of a document, as events read from it get it. */
  timeOf(source: unknown): number {
    return this.parse(this.ts(source));
  }

  /**
   * Whether verdicts can stand for this reader's work: no tiebreaker and no index mapping (both need
   * the document when the event is read).
   */
  get judgeable(): boolean {
    return this.tb === null && (this.options.mappings === undefined || this.options.mappings.size === 0);
  }

  /** An event given as its text with its verdict: read without a decode (see Verdict). */
  readJudged(input: EventInput | EventText, verdict: Verdict): EngineEvent {
    if (!isEventText(input) || !this.judgeable) return this.read(input);
    return new TextEvent(input._index, input._id, input, verdict.ts, null, this.next++, verdict);
  }

  read(input: EventInput | EventText): EngineEvent {
    if (isEventText(input)) return this.readText(input);
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

  private readText(input: EventText): EngineEvent {
    const original = documentOf(input);
    // a mapped index types the document: that one is kept, as for any other input
    if (this.options.mappings?.has(input._index)) return this.read({ _index: input._index, _id: input._id, _source: original });
    const tbv = this.tb ? this.tb(original) : null;
    const tiebreaker = typeof tbv === 'number' || typeof tbv === 'string' ? tbv : null;
    return new TextEvent(input._index, input._id, input, this.parse(this.ts(original)), tiebreaker, this.next++);
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
