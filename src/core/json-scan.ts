/** What a document that parses but is not an object is told (Elasticsearch's words). */
export const NOT_AN_OBJECT = 'the document must be a JSON object';

/** A JSON text that must be one object: the object, or why not (JSON.parse's message). */
export function parseJsonObject(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? { ok: true, value: v as Record<string, unknown> } : { ok: false, reason: NOT_AN_OBJECT };
}

/**
 * The event a line holds: the line's object, or the document in it when it is an Elasticsearch hit
 * (`{"_index": …, "_id": …, "_source": {…}}`, as search results and exports write them). No event
 * has a field `_source` of its own: Elasticsearch refuses one.
 */
export function eventDocument(v: Record<string, unknown>): Record<string, unknown> {
  const s = v._source;
  return s !== null && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : v;
}

/**
 * The time fields of an event's JSON text without parsing it. Ingest stores documents as received
 * and needs only `@timestamp` and `event.ingested` from them (validity is checked by the store, in
 * C); the full parse is paid only when a rule may match. Shippers (Beats, Elastic Agent) write
 * `@timestamp` as the first key, which is the only shape read here: anything else answers null
 * and the caller parses the document.
 */
export interface EventTimes {
  /** The value of top-level `@timestamp`, undefined when absent. */
  readonly timestamp: unknown;
  /** `event.ingested`, undefined when absent. */
  readonly ingested: unknown;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/;

/** Null when the text needs a real parse to answer (or is not an object at all). */
export function peekEventTimes(text: string): EventTimes | null {
  // `ingested` may be event.ingested, which only a parse reads
  return text.includes('ingested"') ? null : peekTimestamp(text);
}

/** `@timestamp` as peekEventTimes reads it (first key, once, no escapes), whatever else the text holds. */
export function peekTimestamp(text: string): EventTimes | null {
  if (text.charCodeAt(0) !== 123 /* { */) return null;
  // escapes could spell a key differently
  if (text.includes('\\u')) return null;
  const at = text.indexOf('"@timestamp"');
  if (at < 0) return { timestamp: undefined, ingested: undefined };
  // first key of the top-level object, and the only occurrence (a later duplicate would win)
  for (let i = 1; i < at; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) return null;
  }
  if (text.indexOf('"@timestamp"', at + 12) >= 0) return null;
  let i = at + 12;
  while (text.charCodeAt(i) === 32) i++;
  if (text.charCodeAt(i) !== 58 /* : */) return null;
  i++;
  while (text.charCodeAt(i) === 32) i++;
  const c = text.charCodeAt(i);
  if (c === 34 /* " */) {
    const end = text.indexOf('"', i + 1);
    if (end < 0) return null;
    const value = text.slice(i + 1, end);
    return value.includes('\\') ? null : { timestamp: value, ingested: undefined };
  }
  if (c === 45 || (c >= 48 && c <= 57)) {
    const m = NUMBER.exec(text.slice(i, i + 40));
    return m ? { timestamp: Number(m[0]), ingested: undefined } : null;
  }
  return null;
}
