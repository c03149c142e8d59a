import { createSpan, type Diagnostic, type Span } from '../core/index.js';
import type { KqlLiteral, KqlQuery, KqlValue } from './ast.js';

/** The catalogue of KQL diagnostic codes; stable, as EQL's. 1xxx lexical, 2xxx syntax. */
export const KqlCodes = {
  unterminatedString: 'KQL1001',
  badEscape: 'KQL1002',
  unexpectedCharacter: 'KQL1003',
  unexpectedToken: 'KQL2001',
  expectedValue: 'KQL2002',
  unclosedParen: 'KQL2003',
  unclosedBrace: 'KQL2004',
  expectedField: 'KQL2005',
  rangeNeedsOneValue: 'KQL2006',
  tooDeep: 'KQL2007',
} as const;

type TokenKind = '(' | ')' | '{' | '}' | ':' | 'range' | 'literal' | 'and' | 'or' | 'not' | 'end';

interface Token {
  readonly kind: TokenKind;
  readonly span: Span;
  /** range: the operator. */
  readonly op?: '<' | '<=' | '>' | '>=';
  /** literal: the value. */
  readonly literal?: KqlLiteral;
}

/** Characters that end an unquoted literal unless escaped. */
const SPECIAL = new Set(['\\', '(', ')', ':', '<', '>', '"', '*', '{', '}']);
/** Characters that end an unquoted literal after whitespace (a wildcard or an escape goes on with it). */
const ENDS_LITERAL = new Set(['(', ')', ':', '<', '>', '"', '{', '}']);
/** A keyword at the start of a text: followed by whitespace. */
const KEYWORD = /^(and|or|not)\s/i;
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** Escapes in an unquoted literal: the special characters, whitespace and `\uXXXX`. */
function unquotedEscape(c: string): string | null {
  if (SPECIAL.has(c)) return c;
  if (c === 't') return '\t';
  if (c === 'r') return '\r';
  if (c === 'n') return '\n';
  return null;
}

function lex(text: string, diagnostics: Diagnostic[]): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '(' || c === ')' || c === '{' || c === '}' || c === ':') {
      out.push({ kind: c, span: createSpan(i, i + 1) });
      i++;
      continue;
    }
    if (c === '<' || c === '>') {
      const op = text[i + 1] === '=' ? (`${c}=` as '<=' | '>=') : c;
      i += op.length;
      out.push({ kind: 'range', op, span: createSpan(start, i) });
      continue;
    }
    if (c === '"') {
      // a phrase: `\"` and `\\` (and the usual whitespace escapes) inside, no wildcards
      let value = '';
      i++;
      let closed = false;
      while (i < n) {
        const d = text[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n) {
          const e = text[i + 1]!;
          const u = unicodeEscape(text, i);
          if (u !== null) {
            value += u;
            i += 6;
            continue;
          }
          value += e === 't' ? '\t' : e === 'r' ? '\r' : e === 'n' ? '\n' : e;
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      if (!closed) diagnostics.push({ code: KqlCodes.unterminatedString, severity: 'error', message: 'this quoted value has no closing "', span: createSpan(start, n) });
      out.push({ kind: 'literal', span: createSpan(start, i), literal: { kind: 'literal', quoted: true, parts: [value], span: createSpan(start, i) } });
      continue;
    }
    // a keyword: `and`, `or` and `not` followed by whitespace
    const kw = KEYWORD.exec(text.slice(i, i + 4));
    if (kw) {
      const k = kw[1]!.toLowerCase() as 'and' | 'or' | 'not';
      out.push({ kind: k, span: createSpan(i, i + k.length) });
      i += k.length;
      continue;
    }
    // an unquoted literal: up to a special character not escaped, or whitespace followed by a
    // keyword, a special character or the end (whitespace between words is part of the value, as
    // Kibana reads `field: S3 Browser`); `*` is a wildcard
    const parts: string[] = [''];
    const add = (x: string): void => {
      parts[parts.length - 1] = parts[parts.length - 1]! + x;
    };
    let escaped = false;
    while (i < n) {
      const d = text[i]!;
      if (isSpace(d)) {
        let j = i;
        while (j < n && isSpace(text[j]!)) j++;
        if (j >= n || ENDS_LITERAL.has(text[j]!) || KEYWORD.test(text.slice(j, j + 4))) break;
        add(text.slice(i, j));
        i = j;
        continue;
      }
      if (d === '\\') {
        const u = unicodeEscape(text, i);
        if (u !== null) {
          add(u);
          i += 6;
          escaped = true;
          continue;
        }
        const e = i + 1 < n ? unquotedEscape(text[i + 1]!) : null;
        // `\and`, `\or`, `\not`: a keyword taken as a value
        const word = /^(and|or|not)/i.exec(text.slice(i + 1, i + 4));
        if (e === null && word) {
          add(word[1]!);
          i += 1 + word[1]!.length;
          escaped = true;
          continue;
        }
        if (e === null) {
          diagnostics.push({ code: KqlCodes.badEscape, severity: 'error', message: `'\\${text[i + 1] ?? ''}' is not an escape here: a backslash escapes one of \\():<>"*{} , whitespace, a keyword or \\uXXXX`, span: createSpan(i, Math.min(n, i + 2)) });
          i += Math.min(2, n - i);
          continue;
        }
        add(e);
        i += 2;
        escaped = true;
        continue;
      }
      if (d === '*') {
        parts.push('');
        i++;
        continue;
      }
      if (SPECIAL.has(d)) break;
      add(d);
      i++;
    }
    if (i === start) {
      diagnostics.push({ code: KqlCodes.unexpectedCharacter, severity: 'error', message: `unexpected '${c}'`, span: createSpan(i, i + 1) });
      i++;
      continue;
    }
    const span = createSpan(start, i);
    // a keyword alone at the end of the query, or before a parenthesis, is still a keyword
    const word = parts.length === 1 && !escaped ? parts[0]!.toLowerCase() : '';
    if (word === 'and' || word === 'or' || word === 'not') out.push({ kind: word, span });
    else out.push({ kind: 'literal', span, literal: { kind: 'literal', quoted: false, parts, span } });
  }
  out.push({ kind: 'end', span: createSpan(n, n) });
  return out;
}

function unicodeEscape(text: string, i: number): string | null {
  if (text[i + 1] !== 'u') return null;
  const hex = text.slice(i + 2, i + 6);
  return /^[0-9a-fA-F]{4}$/.test(hex) ? String.fromCharCode(parseInt(hex, 16)) : null;
}

/** Parentheses, braces and `not`s nested deeper than this are refused (the parser recurses). */
const MAX_DEPTH = 256;

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly diagnostics: Diagnostic[],
  ) {}

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.pos++;
    return t;
  }

  private error(code: string, message: string, span: Span): never {
    this.diagnostics.push({ code, severity: 'error', message, span });
    throw new SyntaxStop();
  }

  private describe(t: Token): string {
    return t.kind === 'end' ? 'the end of the query' : t.kind === 'literal' ? 'a value' : t.kind === 'range' ? `'${t.op}'` : `'${t.kind}'`;
  }

  query(): KqlQuery {
    if (this.peek().kind === 'end') return { kind: 'and', children: [], span: this.peek().span };
    const q = this.or();
    const t = this.peek();
    if (t.kind !== 'end') this.error(KqlCodes.unexpectedToken, `unexpected ${this.describe(t)}: expected 'and', 'or' or the end of the query`, t.span);
    return q;
  }

  /** `item (op item)*`: one `op` node when there are two items or more. */
  private joined<T extends { readonly span: Span }>(op: 'and' | 'or', item: () => T): T | { kind: 'and' | 'or'; children: T[]; span: Span } {
    const first = item();
    if (this.peek().kind !== op) return first;
    const children = [first];
    while (this.peek().kind === op) {
      this.next();
      children.push(item());
    }
    return { kind: op, children, span: createSpan(first.span.start, children[children.length - 1]!.span.end) };
  }

  /** `not item` or `item`, one level deeper (each level of parentheses and `not` passes here). */
  private negated<T extends { readonly span: Span }>(item: () => T): T | { kind: 'not'; child: T; span: Span } {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH) this.error(KqlCodes.tooDeep, `the query nests deeper than ${MAX_DEPTH} levels`, t.span);
    try {
      if (t.kind !== 'not') return item();
      this.next();
      const child = item();
      return { kind: 'not', child, span: createSpan(t.span.start, child.span.end) };
    } finally {
      this.depth--;
    }
  }

  private or(): KqlQuery {
    return this.joined('or', () => this.and());
  }

  private and(): KqlQuery {
    return this.joined('and', () => this.not());
  }

  private not(): KqlQuery {
    return this.negated(() => this.sub());
  }

  private sub(): KqlQuery {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const q = this.or();
      const close = this.peek();
      if (close.kind !== ')') this.error(KqlCodes.unclosedParen, `expected ')' to close the '(' here, found ${this.describe(close)}`, t.span);
      this.next();
      return { ...q, span: createSpan(t.span.start, close.span.end) };
    }
    if (t.kind !== 'literal') this.error(KqlCodes.expectedValue, `expected a field test or a value, found ${this.describe(t)}`, t.span);
    this.next();
    const field = t.literal!;
    const after = this.peek();
    if (after.kind === 'range') {
      this.next();
      const v = this.peek();
      if (v.kind !== 'literal') this.error(KqlCodes.rangeNeedsOneValue, `expected one value after '${after.op}', found ${this.describe(v)}`, v.span);
      this.next();
      return { kind: 'range', field, op: after.op!, value: v.literal!, span: createSpan(t.span.start, v.span.end) };
    }
    if (after.kind !== ':') return { kind: 'text', value: field, span: t.span };
    this.next();
    const v = this.peek();
    if (v.kind === '{') {
      this.next();
      const q = this.peek().kind === '}' ? ({ kind: 'and', children: [], span: this.peek().span } as KqlQuery) : this.or();
      const close = this.peek();
      if (close.kind !== '}') this.error(KqlCodes.unclosedBrace, `expected '}' to close the '{' here, found ${this.describe(close)}`, v.span);
      this.next();
      return { kind: 'nested', field, query: q, span: createSpan(t.span.start, close.span.end) };
    }
    const value = this.valueList();
    // `field: *` (an unquoted lone wildcard) tests that the field exists
    if (value.kind === 'literal' && !value.quoted && value.parts.length === 2 && value.parts[0] === '' && value.parts[1] === '') return { kind: 'exists', field, span: createSpan(t.span.start, value.span.end) };
    return { kind: 'match', field, value, span: createSpan(t.span.start, value.span.end) };
  }

  private valueList(): KqlValue {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const v = this.valueOr();
      const close = this.peek();
      if (close.kind !== ')') this.error(KqlCodes.unclosedParen, `expected ')' to close the '(' here, found ${this.describe(close)}`, t.span);
      this.next();
      return { ...v, span: createSpan(t.span.start, close.span.end) };
    }
    if (t.kind !== 'literal') this.error(KqlCodes.expectedValue, `expected a value after ':', found ${this.describe(t)}`, t.span);
    this.next();
    return t.literal!;
  }

  private valueOr(): KqlValue {
    return this.joined('or', () => this.valueAnd());
  }

  private valueAnd(): KqlValue {
    return this.joined('and', () => this.valueNot());
  }

  private valueNot(): KqlValue {
    return this.negated(() => this.valueList());
  }
}

class SyntaxStop extends Error {}

export interface ParsedKql {
  /** Null when the query has a syntax error. */
  readonly ast: KqlQuery | null;
  readonly diagnostics: Diagnostic[];
  readonly ok: boolean;
}

/** Parses one KQL query. Never throws on input; a query with an error has a located diagnostic. */
export function parseKql(text: string): ParsedKql {
  const diagnostics: Diagnostic[] = [];
  const tokens = lex(text, diagnostics);
  if (diagnostics.length > 0) return { ast: null, diagnostics, ok: false };
  try {
    const ast = new Parser(tokens, diagnostics).query();
    return { ast, diagnostics, ok: true };
  } catch (e) {
    if (!(e instanceof SyntaxStop)) throw e;
    return { ast: null, diagnostics, ok: false };
  }
}
