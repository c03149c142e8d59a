import type { Span } from '../core/index.js';

/**
 * The tree of a KQL (Kibana Query Language) query. A query is a boolean combination of field
 * tests: `field: values`, `field < value` (and `<=`, `>`, `>=`), `field: *` (the field exists),
 * `field: { query }` (nested), and free-text terms without a field.
 */
export type KqlQuery = KqlBool | KqlNot | KqlMatch | KqlExists | KqlRange | KqlNested | KqlText;

/** `and` / `or` of two or more queries; `and` of none is the empty query, which matches every document. */
export interface KqlBool {
  readonly kind: 'and' | 'or';
  readonly children: readonly KqlQuery[];
  readonly span: Span;
}

export interface KqlNot {
  readonly kind: 'not';
  readonly child: KqlQuery;
  readonly span: Span;
}

/** `field: value` or `field: (a or b and not c)`. */
export interface KqlMatch {
  readonly kind: 'match';
  readonly field: KqlLiteral;
  readonly value: KqlValue;
  readonly span: Span;
}

/** `field: *`. */
export interface KqlExists {
  readonly kind: 'exists';
  readonly field: KqlLiteral;
  readonly span: Span;
}

export interface KqlRange {
  readonly kind: 'range';
  readonly field: KqlLiteral;
  readonly op: '<' | '<=' | '>' | '>=';
  readonly value: KqlLiteral;
  readonly span: Span;
}

/** `field: { query }`: the query holds within one element of the nested field. */
export interface KqlNested {
  readonly kind: 'nested';
  readonly field: KqlLiteral;
  readonly query: KqlQuery;
  readonly span: Span;
}

/** A value without a field: matched against every field Elasticsearch searches by default. */
export interface KqlText {
  readonly kind: 'text';
  readonly value: KqlLiteral;
  readonly span: Span;
}

/** The right side of `field:`: one literal, or a boolean combination of them in parentheses. */
export type KqlValue = KqlLiteral | KqlValueBool | KqlValueNot;

export interface KqlValueBool {
  readonly kind: 'and' | 'or';
  readonly children: readonly KqlValue[];
  readonly span: Span;
}

export interface KqlValueNot {
  readonly kind: 'not';
  readonly child: KqlValue;
  readonly span: Span;
}

/**
 * A value or field name as written, its escapes resolved. Quoted (`"a b"`) it is taken as a
 * phrase, with no wildcards; unquoted, each `*` not escaped is a wildcard: `parts` holds the text
 * between wildcards (so `a*b` is `['a', 'b']`, and a literal without one is a single part).
 */
export interface KqlLiteral {
  readonly kind: 'literal';
  readonly quoted: boolean;
  readonly parts: readonly string[];
  readonly span: Span;
}

/** The literal's text with `*` for each wildcard (its escaped stars are stars too: use `parts`). */
export function literalText(l: KqlLiteral): string {
  return l.parts.join('*');
}

export function hasWildcard(l: KqlLiteral): boolean {
  return l.parts.length > 1;
}
