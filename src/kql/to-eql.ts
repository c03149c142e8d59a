import { createSpan, LineMap } from '../core/index.js';
import type { Expr, FieldRef, Statement } from '../eql/index.js';
import type { KqlLiteral, KqlQuery, KqlValue } from './ast.js';
import { parseKql } from './parser.js';

/**
 * KQL compiled into the EQL tree, so that a KQL rule runs in the same detection engine as an EQL
 * one (the rule-set index, one pass for every rule). What a KQL test means depends on the field's
 * Elasticsearch type, as Elasticsearch answers the query Kibana builds from it:
 *
 * - `keyword` (and `wildcard`, `constant_keyword`, `version`, and fields no schema knows): exact and
 *   case-sensitive (`==`); a value with `*` is a case-sensitive wildcard (`like`). A value that reads
 *   as a number also matches the number (Elasticsearch indexes a JSON number in a keyword field as
 *   its text).
 * - numbers: the value as a number (or its text, as Elasticsearch parses numeric strings at index
 *   time); booleans likewise with `true`/`false`.
 * - `ip`: an address or a CIDR block (`cidrMatch`).
 * - `text`, `match_only_text`: analysed. Values are split into lower-case words as the standard
 *   analyser splits them (here: runs of letters, digits and `_`); an unquoted value matches when
 *   any of its words is a word of the field, a quoted one when its words follow each other in it. A
 *   value with `*` is matched case-insensitively against the whole text (Elasticsearch matches it
 *   against each word: we may match more).
 * - `field: *` is `field != null`; ranges compare numbers, or strings when the value is not one.
 *
 * Where we differ: a nested query (`field: { … }`) is read as its tests on `field.*` without
 * requiring one element to pass them all; free text (a value without a field) and field names with
 * wildcards are expanded only against the fields the caller knows (ECS for rules: a custom field a
 * pattern would reach in Elasticsearch is missed), and refused without them.
 */

/** The Elasticsearch type of a field (`keyword`, `long`, …), or undefined when unknown. */
export type FieldTypes = (field: string) => string | undefined;

/** What a translation may use beyond field types. */
export interface KqlOptions {
  /** The known fields a field-name pattern (`file.hash.*`) stands for; without it, such names are refused. */
  readonly fieldsMatching?: (pattern: string) => readonly string[];
  /** The time date math (`now-30d/d`) in a range on a date field is relative to; without it, such ranges are refused. */
  readonly now?: number;
}

export type KqlTranslation = { readonly ok: true; readonly statement: Statement } | { readonly ok: false; readonly problem: string };

const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long']);
const TEXT = new Set(['text', 'match_only_text']);
const S = createSpan(0, 0);

class Refused extends Error {}

const field = (name: string): FieldRef => ({ kind: 'field', path: name.split('.'), optional: false, span: S });
const str = (value: string): Expr => ({ kind: 'string', value, span: S });
const num = (value: number): Expr => ({ kind: 'number', value, integer: Number.isInteger(value), span: S });
const bool = (value: boolean): Expr => ({ kind: 'boolean', value, span: S });

function fold(op: 'and' | 'or', xs: readonly Expr[]): Expr {
  if (xs.length === 0) return bool(op === 'and');
  return xs.reduce((left, right) => ({ kind: 'logical', op, left, right, span: S }));
}

/** A number as Elasticsearch would read the text, or null. */
function numberOf(text: string): number | null {
  const t = text.trim();
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return null;
  return Number(t);
}

/** A Lucene regular expression that matches `text` literally. */
const regexEscape = (text: string): string => text.replace(/[.?+*|{}[\]()"\\#@&<>~]/g, (c) => `\\${c}`);

/** The words of a text as the standard analyser would index them (lower case, letters, digits and `_`). */
const words = (text: string): string[] => text.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter(Boolean);

/** A regex (case-insensitive) for a sequence of words in an analysed text; `(?s)`: the text may span lines. */
function phraseRegex(ws: readonly string[]): string {
  const sep = '[^a-z0-9_]+';
  return `(?s)(.*[^a-z0-9_])?${ws.map(regexEscape).join(sep)}([^a-z0-9_].*)?`;
}

/**
 * A test that is true or false, never null: a query matches a document or not, so `not` of a test
 * on a missing field matches (EQL's `not` of null would be null). EQL's `!= null` is a presence
 * test, and false `and` anything is false.
 */
function definite(name: string, test: Expr): Expr {
  return { kind: 'logical', op: 'and', left: exists(name), right: test, span: S };
}

function leaf(name: string, type: string | undefined, l: KqlLiteral): Expr {
  return definite(name, leafTest(name, type, l));
}

function leafTest(name: string, type: string | undefined, l: KqlLiteral): Expr {
  const f = field(name);
  const wild = l.parts.length > 1;
  const text = l.parts.join('*');
  if (type !== undefined && NUMERIC.has(type)) {
    const n = wild ? null : numberOf(text);
    if (n === null) throw new Refused(`${name} is a number field: '${text}' is not a number`);
    return { kind: 'in', value: f, list: [num(n), str(text)], negated: false, insensitive: false, span: S };
  }
  if (type === 'boolean') {
    if (wild || (text !== 'true' && text !== 'false')) throw new Refused(`${name} is a boolean field: '${text}' is neither true nor false`);
    return { kind: 'in', value: f, list: [bool(text === 'true'), str(text)], negated: false, insensitive: false, span: S };
  }
  if (type === 'ip') {
    if (wild) throw new Refused(`${name} is an IP field: it takes an address or a CIDR block, not a wildcard`);
    const block = text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`;
    return { kind: 'call', name: 'cidrMatch', insensitive: false, args: [f, str(block)], span: S };
  }
  if (type !== undefined && TEXT.has(type)) {
    if (wild) return { kind: 'match', op: ':', value: f, patterns: [str(text)], list: false, span: S };
    const ws = words(text);
    if (ws.length === 0) return bool(false);
    const regex = (r: string): Expr => ({ kind: 'match', op: 'regex~', value: f, patterns: [str(r)], list: false, span: S });
    return l.quoted ? regex(phraseRegex(ws)) : fold('or', ws.map((w) => regex(phraseRegex([w]))));
  }
  // keyword and the like: exact, case-sensitive
  if (wild) {
    // `like` takes `?` as a wildcard too: a value with one is matched by a regular expression
    if (text.includes('?')) return { kind: 'match', op: 'regex', value: f, patterns: [str(`(?s)${l.parts.map(regexEscape).join('.*')}`)], list: false, span: S };
    return { kind: 'match', op: 'like', value: f, patterns: [str(text)], list: false, span: S };
  }
  const n = numberOf(text);
  if (n !== null) return { kind: 'in', value: f, list: [str(text), num(n)], negated: false, insensitive: false, span: S };
  return { kind: 'compare', op: '==', left: f, right: str(text), span: S };
}

function fieldName(l: KqlLiteral, prefix: string): string {
  if (l.parts.length > 1) throw new Refused(`field names with wildcards (${l.parts.join('*')}) are not supported here`);
  return prefix + l.parts[0]!;
}

/**
 * The fields a field name stands for: itself, or for a pattern the known fields it matches (as
 * Kibana expands it against the index's fields; a pattern that matches none matches no document).
 */
function fieldNames(l: KqlLiteral, prefix: string, o: KqlOptions): string[] {
  if (l.parts.length === 1) return [prefix + l.parts[0]!];
  if (!o.fieldsMatching) return [fieldName(l, prefix)];
  return [...o.fieldsMatching(prefix + l.parts.join('*'))];
}

const DATE_MATH = /^now(?:([+-])(\d+)([smhdwMy]))?(?:\/([smhdwMy]))?$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, M: 30 * 86_400_000, y: 365 * 86_400_000 };

/** `now`, `now-30d`, `now-30d/d` at `now` (rounded down in UTC; months and years as 30 and 365 days), as an ISO date; null when not date math. */
export function resolveDateMath(text: string, now: number): string | null {
  const m = DATE_MATH.exec(text.trim());
  if (!m) return null;
  let t = now;
  if (m[1]) t += (m[1] === '-' ? -1 : 1) * Number(m[2]) * UNIT_MS[m[3]!]!;
  if (m[4]) {
    const unit = m[4] === 'M' || m[4] === 'y' || m[4] === 'w' ? 'd' : m[4];
    t = Math.floor(t / UNIT_MS[unit]!) * UNIT_MS[unit]!;
  }
  return new Date(t).toISOString();
}

function value(name: string, type: string | undefined, v: KqlValue): Expr {
  if (v.kind === 'literal') return leaf(name, type, v);
  if (v.kind === 'not') return { kind: 'not', operand: value(name, type, v.child), span: S };
  // `*` inside a value list is an existence test, as `field: *` is
  return fold(
    v.kind,
    v.children.map((c) => (c.kind === 'literal' && !c.quoted && c.parts.length === 2 && c.parts[0] === '' && c.parts[1] === '' ? exists(name) : value(name, type, c))),
  );
}

function exists(name: string): Expr {
  return { kind: 'compare', op: '!=', left: field(name), right: { kind: 'null', span: S }, span: S };
}

function query(q: KqlQuery, types: FieldTypes, prefix: string, o: KqlOptions): Expr {
  switch (q.kind) {
    case 'and':
    case 'or':
      return fold(q.kind, q.children.map((c) => query(c, types, prefix, o)));
    case 'not':
      return { kind: 'not', operand: query(q.child, types, prefix, o), span: S };
    case 'exists':
      return fold('or', fieldNames(q.field, prefix, o).map(exists));
    case 'match':
      return fold('or', fieldNames(q.field, prefix, o).map((name) => value(name, types(name), q.value)));
    case 'range':
      return fold('or', fieldNames(q.field, prefix, o).map((name) => range(name, types(name), q.op, q.value.parts.join('*'), o)));
    case 'nested':
      return query(q.query, types, `${fieldName(q.field, prefix)}.`, o);
    case 'text':
      throw new Refused(`free text without a field ('${q.value.parts.join('*')}') is not supported yet`);
  }
}

function range(name: string, type: string | undefined, op: '<' | '<=' | '>' | '>=', text: string, o: KqlOptions): Expr {
  let right: Expr;
  const n = numberOf(text);
  if (n !== null) right = num(n);
  else if ((type === 'date' || type === 'date_nanos') && text.trim().startsWith('now')) {
    if (o.now === undefined) throw new Refused(`date math (${text}) on ${name} is resolved only when the query runs`);
    const iso = resolveDateMath(text, o.now);
    if (iso === null) throw new Refused(`${name} is a date field: '${text}' is not date math Vigil reads (now, now-30d, now-30d/d)`);
    right = str(iso);
  } else right = str(text);
  return definite(name, { kind: 'compare', op, left: field(name), right, span: S });
}

/** The KQL query as an EQL event query over any category; or why it cannot run. */
export function kqlToEql(q: KqlQuery, types: FieldTypes, options: KqlOptions = {}): KqlTranslation {
  try {
    const condition = query(q, types, '', options);
    const filter = { kind: 'filter' as const, category: null, condition, span: S };
    return { ok: true, statement: { kind: 'statement', query: { kind: 'event', filter, span: S }, pipes: [], span: S } };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, problem: e.message };
    throw e;
  }
}

/** A KQL query's text as an EQL statement, its fields typed by `types`; or why it cannot run (its first syntax error, located). */
export function kqlStatement(text: string, types: FieldTypes, options: KqlOptions = {}): KqlTranslation {
  const parsed = parseKql(text);
  if (!parsed.ok) {
    const d = parsed.diagnostics.find((x) => x.severity === 'error');
    const at = d ? new LineMap(text).lineCol(d.span.start) : null;
    return { ok: false, problem: `KQL query does not parse${at ? ` (${at.line}:${at.col})` : ''}: ${d?.code ?? ''} ${d?.message ?? 'unknown error'}` };
  }
  const t = kqlToEql(parsed.ast!, types, options);
  return t.ok ? t : { ok: false, problem: `KQL query cannot run: ${t.problem}` };
}

/** The statement of an empty KQL query: every event (Kibana's empty query matches all). */
export function matchAllStatement(): Statement {
  const filter = { kind: 'filter' as const, category: null, condition: bool(true), span: S };
  return { kind: 'statement', query: { kind: 'event', filter, span: S }, pipes: [], span: S };
}
