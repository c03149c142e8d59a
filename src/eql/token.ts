import type { Span } from '../core/index.js';

export type TokenKind =
  | 'ident' // identifier or keyword; `name~` is one ident whose text ends in `~`
  | 'quoted' // `backquoted field name`
  | 'string'
  | 'integer'
  | 'decimal'
  | 'op'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text for idents and ops; the decoded value for strings and quoted idents. */
  readonly text: string;
  readonly span: Span;
  /** Numeric value for numbers. */
  readonly number?: number;
  /** How a string literal was written, so the printer and checker can tell. */
  readonly quote?: 'double' | 'single' | 'triple' | 'raw';
  /** True when whitespace or a comment precedes the token. */
  readonly spaceBefore: boolean;
}

export const KEYWORDS: ReadonlySet<string> = new Set([
  'and',
  'any',
  'by',
  'false',
  'in',
  'join',
  'like',
  'maxspan',
  'not',
  'null',
  'of',
  'or',
  'regex',
  'sample',
  'sequence',
  'true',
  'until',
  'where',
  'with',
]);
