import type { Diagnostic, Span } from '../core/index.js';

/**
 * Rule exceptions as Kibana keeps them: exception lists (containers) of items; an item's entries
 * all hold for an event (AND) for the item to match it, and an event any item matches raises no
 * alert. Entries compare a field with a value (`match`), one of values (`match_any`), a wildcard
 * pattern (`wildcard`), test that it exists (`exists`) or that its value is in a value list
 * (`list`), each `included` or `excluded` (negated); `nested` groups entries on one object field.
 */
export type EntryOperator = 'included' | 'excluded';

export type ExceptionEntry =
  | { readonly type: 'match'; readonly field: string; readonly operator: EntryOperator; readonly value: string }
  | { readonly type: 'match_any'; readonly field: string; readonly operator: EntryOperator; readonly value: readonly string[] }
  | { readonly type: 'wildcard'; readonly field: string; readonly operator: EntryOperator; readonly value: string }
  | { readonly type: 'exists'; readonly field: string; readonly operator: EntryOperator }
  | { readonly type: 'list'; readonly field: string; readonly operator: EntryOperator; readonly list: { readonly id: string; readonly type: string } }
  | { readonly type: 'nested'; readonly field: string; readonly entries: readonly ExceptionEntry[] };

export const LIST_TYPES = ['detection', 'rule_default', 'endpoint'] as const;
export type ExceptionListType = (typeof LIST_TYPES)[number];

export interface ExceptionItem {
  readonly item_id: string;
  readonly list_id: string;
  readonly name: string;
  readonly description: string;
  readonly entries: readonly ExceptionEntry[];
  /** Operating systems the item is limited to (`host.os.type`); empty: all. */
  readonly os_types: readonly string[];
  /** Epoch ms after which the item no longer applies; null: never. */
  readonly expire_time: number | null;
  readonly namespace_type: string;
  readonly tags: readonly string[];
  /**
   * Vigil's own (`vigil_stage`, Elastic has none): the item applies to this stage of a sequence or
   * sample only (1 = the first), not to the rule's other event filters. Null: every filter.
   */
  readonly stage: number | null;
}

export interface ExceptionList {
  readonly list_id: string;
  readonly name: string;
  readonly description: string;
  readonly type: ExceptionListType;
  readonly namespace_type: string;
}

/** A rule's reference to an exception list (`exceptions_list` in the rule). */
export interface ExceptionListRef {
  readonly id?: string;
  readonly list_id: string;
  readonly type: string;
  readonly namespace_type?: string;
}

export const ExceptionCodes = {
  badJson: 'VX001',
  badList: 'VX002',
  badItem: 'VX003',
  badEntry: 'VX004',
  badValue: 'VX005',
  unknownList: 'VX006',
} as const;

export interface ParsedExceptions {
  readonly lists: ExceptionList[];
  readonly items: ExceptionItem[];
  readonly diagnostics: Diagnostic[];
}

const ENTRY_TYPES = ['match', 'match_any', 'wildcard', 'exists', 'list', 'nested'];

/**
 * Reads Kibana's exception list export (NDJSON): list lines (a `list_id` and a `type`, no
 * `entries`), item lines (an `item_id` and `entries`), and the export summary, which is skipped.
 * A bad line or item is reported where it is (file:line:col) and the others still load; an item
 * whose list is neither in the file nor in `known` is reported too.
 */
export function parseExceptionNdjson(text: string, file?: string, known: ReadonlySet<string> = new Set()): ParsedExceptions {
  const lists: ExceptionList[] = [];
  const items: ExceptionItem[] = [];
  const diagnostics: Diagnostic[] = [];
  let lineStart = 0;
  const pending: Array<{ item: ExceptionItem; span: Span }> = [];
  for (const line of text.split('\n')) {
    const start = lineStart;
    lineStart += line.length + 1;
    if (line.trim() === '') continue;
    const lineSpan = { start, end: start + Math.max(1, line.trimEnd().length) };
    // where a key's value is on the line, for a problem with it
    const at = (key: string): Span => {
      const i = line.indexOf(`"${key}"`);
      return i < 0 ? lineSpan : { start: start + i, end: start + i + key.length + 2 };
    };
    const fail = (code: string, message: string, span: Span = lineSpan): void => {
      diagnostics.push({ code, severity: 'error', message, span, file });
    };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      fail(ExceptionCodes.badJson, `invalid JSON: ${(e as Error).message}`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail(ExceptionCodes.badJson, 'each line must be a JSON object');
      continue;
    }
    const o = value as Record<string, unknown>;
    if ('exported_exception_list_count' in o || 'exported_exception_list_item_count' in o) continue;
    const str = (k: string): string | null => (typeof o[k] === 'string' && (o[k] as string).length > 0 ? (o[k] as string) : null);
    if (o.entries === undefined && o.item_id === undefined) {
      const listId = str('list_id');
      if (listId === null) {
        fail(ExceptionCodes.badList, 'an exception list needs a list_id', at('list_id'));
        continue;
      }
      const type = o.type;
      if (!LIST_TYPES.includes(type as ExceptionListType)) {
        fail(ExceptionCodes.badList, `exception list '${listId}': type must be one of ${LIST_TYPES.join(', ')} (got ${JSON.stringify(type)})`, at('type'));
        continue;
      }
      lists.push({ list_id: listId, name: str('name') ?? listId, description: str('description') ?? '', type: type as ExceptionListType, namespace_type: str('namespace_type') ?? 'single' });
      continue;
    }
    const itemId = str('item_id');
    const listId = str('list_id');
    if (itemId === null || listId === null) {
      fail(ExceptionCodes.badItem, `an exception item needs ${itemId === null ? 'an item_id' : 'a list_id'}`, at(itemId === null ? 'item_id' : 'list_id'));
      continue;
    }
    const entries = readEntries(o.entries, `item '${itemId}'`, false);
    if (!entries.ok) {
      fail(ExceptionCodes.badEntry, entries.problem, at('entries'));
      continue;
    }
    let expire: number | null = null;
    if (o.expire_time !== undefined && o.expire_time !== null) {
      expire = typeof o.expire_time === 'string' ? Date.parse(o.expire_time) : NaN;
      if (!Number.isFinite(expire)) {
        fail(ExceptionCodes.badItem, `item '${itemId}': expire_time must be an ISO date (got ${JSON.stringify(o.expire_time)})`, at('expire_time'));
        continue;
      }
    }
    const stage = o.vigil_stage;
    if (stage !== undefined && stage !== null && !(Number.isInteger(stage) && (stage as number) >= 1)) {
      fail(ExceptionCodes.badItem, `item '${itemId}': vigil_stage must be a stage number from 1 (got ${JSON.stringify(stage)})`, at('vigil_stage'));
      continue;
    }
    const strings = (k: string): string[] => (Array.isArray(o[k]) ? (o[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
    const item: ExceptionItem = {
      item_id: itemId,
      list_id: listId,
      name: str('name') ?? itemId,
      description: str('description') ?? '',
      entries: entries.entries,
      os_types: strings('os_types'),
      expire_time: expire,
      namespace_type: str('namespace_type') ?? 'single',
      tags: strings('tags'),
      stage: typeof stage === 'number' ? stage : null,
    };
    pending.push({ item, span: at('list_id') });
  }
  const listed = new Set([...known, ...lists.map((l) => l.list_id)]);
  for (const { item, span } of pending) {
    if (!listed.has(item.list_id)) diagnostics.push({ code: ExceptionCodes.unknownList, severity: 'error', message: `item '${item.item_id}': no exception list '${item.list_id}'`, span, file });
    else items.push(item);
  }
  return { lists, items, diagnostics };
}

type EntriesResult = { ok: true; entries: ExceptionEntry[] } | { ok: false; problem: string };

function readEntries(raw: unknown, where: string, nested: boolean): EntriesResult {
  if (!Array.isArray(raw) || raw.length === 0) return { ok: false, problem: `${where}: entries must be a non-empty array` };
  const out: ExceptionEntry[] = [];
  for (const [i, e] of raw.entries()) {
    const here = `${where}, entry ${i + 1}`;
    if (typeof e !== 'object' || e === null) return { ok: false, problem: `${here}: must be an object` };
    const o = e as Record<string, unknown>;
    const type = o.type;
    if (typeof type !== 'string' || !ENTRY_TYPES.includes(type)) return { ok: false, problem: `${here}: unknown entry type ${JSON.stringify(type)} (known: ${ENTRY_TYPES.join(', ')})` };
    const field = o.field;
    if (typeof field !== 'string' || field.length === 0) return { ok: false, problem: `${here}: a field is needed` };
    if (type === 'nested') {
      if (nested) return { ok: false, problem: `${here}: nested entries cannot nest` };
      const inner = readEntries(o.entries, `${here} (nested ${field})`, true);
      if (!inner.ok) return inner;
      if (inner.entries.some((x) => x.type !== 'match' && x.type !== 'match_any' && x.type !== 'exists')) return { ok: false, problem: `${here}: nested entries may be match, match_any or exists` };
      out.push({ type: 'nested', field, entries: inner.entries });
      continue;
    }
    const operator = o.operator ?? 'included';
    if (operator !== 'included' && operator !== 'excluded') return { ok: false, problem: `${here}: operator must be included or excluded (got ${JSON.stringify(operator)})` };
    switch (type) {
      case 'match':
      case 'wildcard':
        if (typeof o.value !== 'string' || o.value.length === 0) return { ok: false, problem: `${here}: ${type} needs a string value` };
        out.push({ type, field, operator, value: o.value });
        break;
      case 'match_any':
        if (!Array.isArray(o.value) || o.value.length === 0 || o.value.some((v) => typeof v !== 'string')) return { ok: false, problem: `${here}: match_any needs a non-empty array of strings` };
        out.push({ type, field, operator, value: o.value as string[] });
        break;
      case 'exists':
        out.push({ type, field, operator });
        break;
      case 'list': {
        const l = o.list as Record<string, unknown> | undefined;
        if (typeof l?.id !== 'string' || typeof l.type !== 'string') return { ok: false, problem: `${here}: list needs list.id and list.type` };
        out.push({ type, field, operator, list: { id: l.id, type: l.type } });
        break;
      }
    }
  }
  return { ok: true, entries: out };
}

export const VALUE_LIST_TYPES = ['keyword', 'ip', 'ip_range'] as const;
export type ValueListType = (typeof VALUE_LIST_TYPES)[number];

/** A value list (Kibana's "lists"): values of one type that exception entries refer to by id. */
export interface ValueList {
  readonly id: string;
  readonly type: ValueListType;
  readonly values: readonly string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const isIp = (s: string): boolean => IPV4.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));

/**
 * Reads a value list as Kibana imports one: a value per line (blank lines skipped). For `ip` each
 * line must be an address, for `ip_range` a CIDR block or `from-to`; a bad line is reported where
 * it is and left out, the others kept.
 */
export function parseValueList(id: string, type: ValueListType, text: string, file?: string): { list: ValueList; diagnostics: Diagnostic[] } {
  const values: string[] = [];
  const diagnostics: Diagnostic[] = [];
  let lineStart = 0;
  for (const raw of text.split('\n')) {
    const start = lineStart;
    lineStart += raw.length + 1;
    const v = raw.trim();
    if (v === '') continue;
    const ok = type === 'keyword' ? true : type === 'ip' ? isIp(v) : isRange(v);
    if (!ok) {
      const col = raw.indexOf(v);
      diagnostics.push({ code: ExceptionCodes.badValue, severity: 'error', message: `value list '${id}': '${v}' is not ${type === 'ip' ? 'an IP address' : 'an IP range (CIDR or from-to)'}`, span: { start: start + col, end: start + col + v.length }, file });
      continue;
    }
    values.push(v);
  }
  return { list: { id, type, values }, diagnostics };
}

function isRange(v: string): boolean {
  const slash = v.indexOf('/');
  if (slash >= 0) {
    const bits = Number(v.slice(slash + 1));
    const ip = v.slice(0, slash);
    return isIp(ip) && Number.isInteger(bits) && bits >= 0 && bits <= (ip.includes(':') ? 128 : 32);
  }
  const dash = v.indexOf('-');
  if (dash > 0) return isIp(v.slice(0, dash)) && isIp(v.slice(dash + 1));
  return isIp(v);
}

/** The exception list references of a rule (its `exceptions_list`), those that can be read. */
export function exceptionRefs(raw: unknown): ExceptionListRef[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((r): r is ExceptionListRef => typeof r === 'object' && r !== null && typeof (r as { list_id?: unknown }).list_id === 'string').map((r) => ({ id: r.id, list_id: r.list_id, type: r.type, namespace_type: r.namespace_type }));
}

/**
 * Writes lists and their items in Kibana's exception list export format (what
 * `parseExceptionNdjson` reads): each list, then its items, then the export summary line.
 */
export function writeExceptionNdjson(lists: readonly ExceptionList[], items: readonly ExceptionItem[]): string {
  const lines: string[] = [];
  let nItems = 0;
  for (const l of lists) {
    lines.push(JSON.stringify({ list_id: l.list_id, name: l.name, description: l.description, type: l.type, namespace_type: l.namespace_type }));
    for (const i of items) {
      if (i.list_id !== l.list_id) continue;
      nItems++;
      lines.push(
        JSON.stringify({
          item_id: i.item_id,
          list_id: i.list_id,
          name: i.name,
          description: i.description,
          type: 'simple',
          entries: i.entries,
          os_types: i.os_types,
          namespace_type: i.namespace_type,
          tags: i.tags,
          ...(i.expire_time !== null ? { expire_time: new Date(i.expire_time).toISOString() } : {}),
          ...(i.stage !== null ? { vigil_stage: i.stage } : {}),
        }),
      );
    }
  }
  lines.push(JSON.stringify({ exported_exception_list_count: lists.length, exported_exception_list_item_count: nItems, missing_exception_list_item_count: 0, missing_exception_lists_count: 0 }));
  return `${lines.join('\n')}\n`;
}
