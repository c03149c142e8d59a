import { createSpan, type Diagnostic } from '../core/index.js';
import { Codes } from './messages.js';
import type { Token } from './token.js';

export type Dialect = 'elasticsearch' | 'endgame';

export interface LexResult {
  readonly tokens: Token[];
  readonly diagnostics: Diagnostic[];
}

const OPS2 = ['==', '!=', '<=', '>=', '![', '!:'];
const OPS1 = '=<>:+-*/%()[],.|?~';

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 64;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Splits EQL source into tokens. Never throws: problems become diagnostics and the lexer skips ahead,
 * so the parser still sees a token stream it can recover on.
 */
export function lex(source: string, dialect: Dialect = 'elasticsearch'): LexResult {
  const tokens: Token[] = [];
  const diagnostics: Diagnostic[] = [];
  const n = source.length;
  let i = 0;
  let spaceBefore = false;

  const error = (code: string, message: string, start: number, end: number): void => {
    diagnostics.push({ code, severity: 'error', message, span: createSpan(start, Math.max(end, start + 1)) });
  };
  const push = (token: Omit<Token, 'spaceBefore'>): void => {
    // one object shape for every token keeps the parser's property reads monomorphic
    tokens.push({
      kind: token.kind,
      text: token.text,
      span: token.span,
      number: token.number,
      quote: token.quote,
      spaceBefore,
    });
    spaceBefore = false;
  };

  while (i < n) {
    const c = source.charCodeAt(i);
    // whitespace
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11 || c === 0xa0 || c === 0xfeff) {
      i++;
      spaceBefore = true;
      continue;
    }
    // comments
    if (c === 47 && source.charCodeAt(i + 1) === 47) {
      while (i < n && source.charCodeAt(i) !== 10) i++;
      spaceBefore = true;
      continue;
    }
    if (c === 47 && source.charCodeAt(i + 1) === 42) {
      const close = source.indexOf('*/', i + 2);
      if (close < 0) {
        error(Codes.unterminatedComment, 'unterminated /* comment', i, i + 2);
        i = n;
      } else {
        i = close + 2;
      }
      spaceBefore = true;
      continue;
    }
    const start = i;
    // identifiers, keywords, `name~`
    if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(source.charCodeAt(i))) i++;
      if (source.charCodeAt(i) === 126) i++; // trailing ~ makes the case-insensitive form
      push({ kind: 'ident', text: source.slice(start, i), span: createSpan(start, i) });
      continue;
    }
    // numbers: 12, 1.5, .5, 1e3, 1.5E-2
    if (isDigit(c) || (c === 46 && isDigit(source.charCodeAt(i + 1)))) {
      let decimal = false;
      while (i < n && isDigit(source.charCodeAt(i))) i++;
      if (source.charCodeAt(i) === 46 && isDigit(source.charCodeAt(i + 1))) {
        decimal = true;
        i++;
        while (i < n && isDigit(source.charCodeAt(i))) i++;
      } else if (source.charCodeAt(i) === 46 && !isIdentStart(source.charCodeAt(i + 1))) {
        // "1." is a decimal; "1.x" is left for the parser to reject
        decimal = true;
        i++;
      }
      const e = source.charCodeAt(i);
      if (e === 101 || e === 69) {
        let j = i + 1;
        const sign = source.charCodeAt(j);
        if (sign === 43 || sign === 45) j++;
        if (isDigit(source.charCodeAt(j))) {
          decimal = true;
          i = j;
          while (i < n && isDigit(source.charCodeAt(i))) i++;
        }
      }
      // a number glued to letters ("5m" in maxspan=5m) stays number + ident; the parser joins them
      const text = source.slice(start, i);
      push({ kind: decimal ? 'decimal' : 'integer', text, number: Number(text), span: createSpan(start, i) });
      continue;
    }
    // strings
    if (c === 34 || c === 39 || (c === 63 && (source.charCodeAt(i + 1) === 34 || source.charCodeAt(i + 1) === 39))) {
      i = lexString(source, i, dialect, push, error);
      continue;
    }
    // `quoted field`
    if (c === 96) {
      let value = '';
      i++;
      let closed = false;
      while (i < n) {
        const ch = source.charCodeAt(i);
        if (ch === 96) {
          if (source.charCodeAt(i + 1) === 96) {
            value += '`';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        if (ch === 10) break;
        value += source[i];
        i++;
      }
      if (!closed) error(Codes.unterminatedQuotedField, 'unterminated `quoted` field name', start, i);
      push({ kind: 'quoted', text: value, span: createSpan(start, i) });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (OPS2.includes(two)) {
      i += 2;
      push({ kind: 'op', text: two, span: createSpan(start, i) });
      continue;
    }
    if (OPS1.includes(source[i]!)) {
      i++;
      push({ kind: 'op', text: source[start]!, span: createSpan(start, i) });
      continue;
    }
    const cp = source.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    error(Codes.unexpectedCharacter, `unexpected character ${JSON.stringify(String.fromCodePoint(cp))}`, i, i + width);
    i += width;
    spaceBefore = true;
  }
  push({ kind: 'eof', text: '', span: createSpan(n, n) });
  return { tokens, diagnostics };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

function lexString(
  source: string,
  start: number,
  dialect: Dialect,
  push: (t: Omit<Token, 'spaceBefore'>) => void,
  error: (code: string, message: string, start: number, end: number) => void,
): number {
  const n = source.length;
  let i = start;
  // """triple quoted""": no escapes, may not span lines
  if (source.startsWith('"""', i)) {
    const close = source.indexOf('"""', i + 3);
    if (close < 0) {
      error(Codes.unterminatedString, 'unterminated """ string', start, n);
      push({ kind: 'string', text: source.slice(i + 3), quote: 'triple', span: createSpan(start, n) });
      return n;
    }
    // """a"""" — extra closing quotes belong to the value, as in Elasticsearch
    let end = close + 3;
    while (source.charCodeAt(end) === 34 && end - close < 5) end++;
    const value = source.slice(i + 3, end - 3);
    push({ kind: 'string', text: value, quote: 'triple', span: createSpan(start, end) });
    return end;
  }
  const raw = source.charCodeAt(i) === 63;
  if (raw) i++;
  const q = source[i]!;
  if (q === "'" && dialect === 'elasticsearch') {
    error(Codes.singleQuotedString, `use double quotes ["] to define string literals, not single quotes [']`, start, start + 1);
  }
  i++;
  let value = '';
  let closed = false;
  while (i < n) {
    const ch = source[i]!;
    if (ch === q) {
      i++;
      closed = true;
      break;
    }
    if (ch === '\n' || ch === '\r') {
      error(Codes.newlineInString, 'line break inside a string literal; use \\n', i, i + 1);
      break;
    }
    if (ch === '\\') {
      if (raw) {
        // a raw string keeps backslashes; \" does not end it
        const next = source[i + 1];
        if (next === q || next === '\\') {
          value += ch + next;
          i += 2;
        } else {
          value += ch;
          i++;
        }
        continue;
      }
      const next = source[i + 1];
      if (next === undefined) {
        i++;
        break;
      }
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) {
        value += simple;
        i += 2;
        continue;
      }
      if (next === 'u') {
        const m = /^u\{([0-9a-fA-F]{2,8})\}/.exec(source.slice(i + 1, i + 13));
        const cp = m ? parseInt(m[1]!, 16) : NaN;
        if (m && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
          value += String.fromCodePoint(cp);
          i += 1 + m[0].length;
          continue;
        }
        error(Codes.invalidEscape, 'invalid unicode escape: use \\u{XXXX} with 2 to 8 hex digits', i, i + 2);
        value += next;
        i += 2;
        continue;
      }
      error(Codes.invalidEscape, `invalid escape sequence \\${next}`, i, i + 2);
      value += next;
      i += 2;
      continue;
    }
    value += ch;
    i++;
  }
  if (!closed) error(Codes.unterminatedString, 'unterminated string', start, i);
  push({
    kind: 'string',
    text: value,
    quote: raw ? 'raw' : q === "'" ? 'single' : 'double',
    span: createSpan(start, i),
  });
  return i;
}
