import type { Span } from '../core/index.js';

/**
 * The EQL syntax tree: a discriminated union on `kind`, every node with its source span.
 * Nodes are plain frozen-in-spirit data; behaviour lives in passes (printer, checker, compiler).
 */

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%';
/** `:` is the case-insensitive wildcard match; `like`/`regex` with `~` are case-insensitive. */
export type MatchOp = ':' | 'like' | 'like~' | 'regex' | 'regex~';
export type TimeUnit = 'ms' | 's' | 'm' | 'h' | 'd';

export interface StringLiteral {
  readonly kind: 'string';
  readonly value: string;
  readonly span: Span;
}
export interface NumberLiteral {
  readonly kind: 'number';
  readonly value: number;
  readonly integer: boolean;
  readonly span: Span;
}
export interface BooleanLiteral {
  readonly kind: 'boolean';
  readonly value: boolean;
  readonly span: Span;
}
export interface NullLiteral {
  readonly kind: 'null';
  readonly span: Span;
}
export type Literal = StringLiteral | NumberLiteral | BooleanLiteral | NullLiteral;

/** A path segment: a name, or an array index written `[n]`. */
export type FieldSegment = string | number;

export interface FieldRef {
  readonly kind: 'field';
  /** `process.name` → ["process", "name"]; `args[1]` → ["args", 1]. */
  readonly path: readonly FieldSegment[];
  /** Written `?field`: absence is not an error. */
  readonly optional: boolean;
  readonly span: Span;
}

export interface Not {
  readonly kind: 'not';
  readonly operand: Expr;
  readonly span: Span;
}
export interface Logical {
  readonly kind: 'logical';
  readonly op: 'and' | 'or';
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
  /**
   * Not from a query: a condition many rules share (their exceptions), compiled once per set of
   * compile settings and called, not written into each rule's generated code (see compile.ts).
   */
  readonly shared?: true;
}
export interface Compare {
  readonly kind: 'compare';
  readonly op: CompareOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}
export interface Arith {
  readonly kind: 'arith';
  readonly op: ArithOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}
export interface Negate {
  readonly kind: 'negate';
  readonly operand: Expr;
  readonly span: Span;
}
/** `x in (a, b)`, `x not in (…)`, `x in~ (…)`. */
export interface In {
  readonly kind: 'in';
  readonly value: Expr;
  readonly list: readonly Expr[];
  readonly negated: boolean;
  readonly insensitive: boolean;
  readonly span: Span;
}
/** `x : "a*"`, `x : ("a", "b")`, `x like~ "…"`, `x regex "…"`. */
export interface Match {
  readonly kind: 'match';
  readonly op: MatchOp;
  readonly value: Expr;
  readonly patterns: readonly Expr[];
  /** Written with a parenthesised list (printing keeps the form). */
  readonly list: boolean;
  readonly span: Span;
}
export interface Call {
  readonly kind: 'call';
  readonly name: string;
  /** Written `name~(…)`. */
  readonly insensitive: boolean;
  readonly args: readonly Expr[];
  readonly span: Span;
}
/** Endgame: `descendant of [...]`, `child of [...]`, `event of [...]`. */
export interface Relationship {
  readonly kind: 'relationship';
  readonly relation: 'descendant' | 'child' | 'event';
  readonly query: EventFilter;
  readonly span: Span;
}

export type Expr =
  | Literal
  | FieldRef
  | Not
  | Logical
  | Compare
  | Arith
  | Negate
  | In
  | Match
  | Call
  | Relationship;

/** `process where …` or `any where …` (category null). */
export interface EventFilter {
  readonly kind: 'filter';
  readonly category: string | null;
  readonly condition: Expr;
  readonly span: Span;
}

export interface TimeSpan {
  readonly value: number;
  readonly unit: TimeUnit;
  readonly span: Span;
}

/** One bracketed stage of a sequence, sample or join. */
export interface Stage {
  readonly kind: 'stage';
  readonly filter: EventFilter;
  readonly by: readonly Expr[];
  /** `with runs=N`. */
  readonly runs: number | null;
  /** `![…]`: an event that must not occur. */
  readonly missing: boolean;
  /** Endgame `fork=true|false`. */
  readonly fork: boolean | null;
  readonly span: Span;
}

export interface EventQuery {
  readonly kind: 'event';
  readonly filter: EventFilter;
  readonly span: Span;
}
export interface SequenceQuery {
  readonly kind: 'sequence';
  readonly by: readonly Expr[];
  readonly maxspan: TimeSpan | null;
  readonly stages: readonly Stage[];
  readonly until: Stage | null;
  readonly span: Span;
}
export interface SampleQuery {
  readonly kind: 'sample';
  readonly by: readonly Expr[];
  readonly stages: readonly Stage[];
  readonly span: Span;
}
export interface JoinQuery {
  readonly kind: 'join';
  readonly by: readonly Expr[];
  readonly stages: readonly Stage[];
  readonly until: Stage | null;
  readonly span: Span;
}
export type Query = EventQuery | SequenceQuery | SampleQuery | JoinQuery;

export type PipeName = 'head' | 'tail' | 'count' | 'unique' | 'unique_count' | 'filter' | 'sort' | 'window';
export const PIPE_NAMES: readonly PipeName[] = ['head', 'tail', 'count', 'unique', 'unique_count', 'filter', 'sort', 'window'];

export interface Pipe {
  readonly kind: 'pipe';
  readonly name: PipeName;
  readonly args: readonly Expr[];
  readonly span: Span;
}

export interface Statement {
  readonly kind: 'statement';
  readonly query: Query;
  readonly pipes: readonly Pipe[];
  readonly span: Span;
}

export type Node = Expr | EventFilter | Stage | Query | Pipe | Statement;

export function isLiteral(e: Expr): e is Literal {
  return e.kind === 'string' || e.kind === 'number' || e.kind === 'boolean' || e.kind === 'null';
}

export function isFieldRef(e: Expr): e is FieldRef {
  return e.kind === 'field';
}

/** `process.name`, `args[1]` — the dotted name used for schema lookups and event access. */
export function fieldName(f: FieldRef): string {
  let out = '';
  for (const seg of f.path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** Every direct child expression, for generic walks. */
export function childExprs(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
    case 'field':
    case 'relationship':
      return [];
    case 'not':
    case 'negate':
      return [e.operand];
    case 'logical':
    case 'compare':
    case 'arith':
      return [e.left, e.right];
    case 'in':
      return [e.value, ...e.list];
    case 'match':
      return [e.value, ...e.patterns];
    case 'call':
      return e.args;
    default:
      return assertNever(e);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unhandled node: ${JSON.stringify(x)}`);
}

/** A copy of a tree with every `span` removed: equal trees print equal JSON. */
export function stripSpans(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripSpans);
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) if (k !== 'span') out[k] = stripSpans(v);
    return out;
  }
  return node;
}
