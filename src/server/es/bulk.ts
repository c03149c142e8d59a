import { parseJsonObject, peekEventTimes, type EventTimes } from '../../core/index.js';
import type { WriteOp } from '../../store/index.js';

/**
 * Reads Elasticsearch's `_bulk` body (NDJSON: an action line, then a document line for index,
 * create and update; delete has none). A bad line fails its own item with a reason; the other
 * items go on.
 */
export type BulkItem =
  | { readonly ok: true; readonly op: 'update'; readonly index: string; readonly id: string; readonly body: Record<string, unknown>; readonly line: number }
  | { readonly ok: true; readonly op: 'delete'; readonly index: string; readonly id: string; readonly line: number }
  | {
      readonly ok: true;
      readonly op: WriteOp;
      readonly index: string;
      readonly id?: string;
      /** Parsed only when the time fields could not be read from the text; the store checks the JSON. */
      readonly source?: Record<string, unknown>;
      readonly times?: EventTimes;
      readonly json: string;
      readonly line: number;
    }
  | { readonly ok: false; readonly op: string; readonly index: string; readonly id: string | null; readonly status: number; readonly type: string; readonly reason: string; readonly line: number };

export class BulkRequestError extends Error {}

const INVALID_INDEX = /[\\/*?"<>| ,#:]/;

/** Why an index name is refused, as Elasticsearch words it; null when it is fine. */
export function indexNameProblem(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (INVALID_INDEX.test(name)) return 'must not contain the following characters [\'\\\', \'/\', \'*\', \'?\', \'"\', \'<\', \'>\', \'|\', \' \', \',\', \'#\', \':\']';
  if (/^[-_+]/.test(name)) return "must not start with '_', '-', or '+'";
  if (name === '.' || name === '..') return "must not be '.' or '..'";
  if (Buffer.byteLength(name) > 255) return 'index name is too long';
  return null;
}

/** Elasticsearch's limit on `_id`: 512 bytes. */
export function idLengthProblem(id: string): string | null {
  const n = Buffer.byteLength(id);
  return n > 512 ? `Validation Failed: 1: id [${id.slice(0, 40)}...] is too long, must be no longer than 512 bytes but was: ${n};` : null;
}

const validIndices = new Set<string>();

// shippers repeat the same action line (`{"create":{"_index":"logs-…"}}`) for every document without an id
const actionCache = new Map<string, unknown>();

function parseAction(line: string): unknown {
  const hit = actionCache.get(line);
  if (hit !== undefined) return hit;
  const v: unknown = JSON.parse(line);
  if (!line.includes('"_id"')) {
    if (actionCache.size >= 256) actionCache.clear();
    actionCache.set(line, v);
  }
  return v;
}

/** The path of the first number in a value that JSON gave as ±Infinity (`1e400`), or null. */
function nonFinite(v: unknown, path: string): string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : path || '_source';
  if (typeof v !== 'object' || v === null) return null;
  for (const [k, x] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
    const hit = nonFinite(x, Array.isArray(v) ? path : path ? `${path}.${String(k)}` : String(k));
    if (hit) return hit;
  }
  return null;
}
// a number literal that may overflow a double: an exponent of three digits, or 309 digits in a row
const MAY_OVERFLOW = /[eE]\+?\d{3}|\d{309}/;

/**
 * The items of a bulk body. `badUtf8Lines`: lines (1-based) whose bytes were not UTF-8; their items
 * fail alone, as Elasticsearch's parser fails them.
 */
export function parseBulk(body: string, defaultIndex: string | undefined, badUtf8Lines?: ReadonlySet<number>): BulkItem[] {
  const items: BulkItem[] = [];
  let pos = 0;
  let lineNo = 0;
  const next = (): string | null => {
    while (pos < body.length) {
      const nl = body.indexOf('\n', pos);
      const end = nl < 0 ? body.length : nl;
      const line = body.slice(pos, end).trim();
      pos = end + 1;
      lineNo++;
      if (line.length > 0) return line;
    }
    return null;
  };
  for (;;) {
    const actionLine = next();
    if (actionLine === null) break;
    const at = lineNo;
    let action: unknown;
    try {
      action = parseAction(actionLine);
    } catch (e) {
      // without a readable action we cannot know whether a document follows; assume it does
      next();
      items.push({ ok: false, op: 'index', index: defaultIndex ?? '', id: null, status: 400, type: 'illegal_argument_exception', reason: `Malformed action/metadata line [${at}]: ${(e as Error).message}`, line: at });
      continue;
    }
    const entries = action && typeof action === 'object' && !Array.isArray(action) ? Object.entries(action as Record<string, unknown>) : [];
    const [op, metaRaw] = entries.length === 1 ? entries[0]! : ['', null];
    const meta = (metaRaw && typeof metaRaw === 'object' ? metaRaw : {}) as Record<string, unknown>;
    const index = typeof meta._index === 'string' ? meta._index : defaultIndex;
    const id = typeof meta._id === 'string' ? meta._id : typeof meta._id === 'number' ? String(meta._id) : undefined;
    const fail = (status: number, type: string, reason: string, opName = op || 'index'): void => {
      items.push({ ok: false, op: opName, index: index ?? '', id: id ?? null, status, type, reason, line: at });
    };
    const idProblem = meta._id !== undefined && id === undefined ? `Malformed action/metadata line [${at}], expected a simple value for field [_id] but found [${Array.isArray(meta._id) ? 'START_ARRAY' : 'START_OBJECT'}]` : id !== undefined ? idLengthProblem(id) : null;
    if (idProblem) {
      if (op !== 'delete') next();
      fail(400, meta._id !== undefined && id === undefined ? 'illegal_argument_exception' : 'action_request_validation_exception', idProblem);
      continue;
    }
    if (op === 'delete') {
      if (index === undefined) fail(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
      else if (id === undefined) fail(400, 'action_request_validation_exception', 'Validation Failed: 1: id is missing;');
      else items.push({ ok: true, op: 'delete', index, id, line: at });
      continue;
    }
    if (!['index', 'create', 'update'].includes(op)) {
      next();
      fail(400, 'illegal_argument_exception', `Malformed action/metadata line [${at}], expected one of [create, delete, index, update] but found [${op || actionLine.slice(0, 40)}]`);
      continue;
    }
    const docLine = next();
    if (docLine === null) {
      fail(400, 'illegal_argument_exception', `The bulk request must be terminated by a newline [\\n]: no document after action line [${at}]`);
      break;
    }
    if (index === undefined) {
      fail(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
      continue;
    }
    if (op === 'update') {
      const body = parseJsonObject(docLine);
      if (id === undefined) fail(400, 'action_request_validation_exception', 'Validation Failed: 1: id is missing;');
      else if (!body.ok) fail(400, 'x_content_parse_exception', `[${lineNo}:1] failed to parse: ${body.reason}`);
      else items.push({ ok: true, op: 'update', index, id, body: body.value, line: lineNo });
      continue;
    }
    const bad = validIndices.has(index) || (index.startsWith('<') && index.endsWith('>')) ? null : indexNameProblem(index);
    if (bad === null && validIndices.size < 10_000) validIndices.add(index);
    if (bad) {
      fail(400, 'invalid_index_name_exception', `Invalid index name [${index}], ${bad}`);
      continue;
    }
    if (badUtf8Lines?.has(lineNo)) {
      fail(400, 'document_parsing_exception', `[${lineNo}:1] failed to parse: Invalid UTF-8 in the document (its bytes are not UTF-8)`);
      continue;
    }
    if (MAY_OVERFLOW.test(docLine)) {
      const parsed = parseJsonObject(docLine);
      const where = parsed.ok ? nonFinite(parsed.value, '') : null;
      if (where) {
        fail(400, 'document_parsing_exception', `[${lineNo}:1] failed to parse field [${where}] of type [float]: [float] supports only finite values, but got [Infinity]`);
        continue;
      }
    }
    const times = peekEventTimes(docLine);
    if (times) {
      items.push({ ok: true, op: op as WriteOp, index, id, times, json: docLine, line: lineNo });
      continue;
    }
    const doc = parseJsonObject(docLine);
    if (!doc.ok) {
      fail(400, 'document_parsing_exception', `[${lineNo}:1] failed to parse: ${doc.reason}`);
      continue;
    }
    items.push({ ok: true, op: op as WriteOp, index, id, source: doc.value, json: docLine, line: lineNo });
  }
  return items;
}
