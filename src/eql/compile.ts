import { RE2JS } from 're2js';
import { StringMemo } from '../core/index.js';
import { compileWildcard, createFieldGetter, type FieldGetter, type FieldPath, type StringMatcher } from '../ecs/index.js';
import type { Expr, Relationship } from './ast.js';
import { assertNever, childExprs, fieldName, isLiteral } from './ast.js';
import { BUILTINS, type BuiltinContext } from './builtins.js';
import { cidrSet, parseIp } from './cidr.js';
import { generateFilter, generatePredicate, holdsCategory, type CategoryTest, type CodegenHost } from './codegen.js';
import { lookupFunction } from './functions.js';
import type { Dialect } from './lexer.js';
import {
  and3,
  anyOf,
  compareScalars,
  equalScalars,
  first,
  norm,
  or3,
  toBool,
  type Scalar,
  type Value,
} from './values.js';

/** A compiled expression: evaluates against one event's source document. */
export type Evaluator = (source: unknown) => Value;
/** A compiled condition: true, false, or null (unknown: does not match). */
export type Predicate = (source: unknown) => boolean | null;

export interface CompileContext {
  readonly dialect: Dialect;
  /** Endgame compatibility: `==`, `in`, comparisons and functions ignore case. */
  readonly caseInsensitive?: boolean;
  /** Field access; the default reads nested objects and dotted keys. */
  readonly field?: (path: FieldPath) => FieldGetter;
  /** Endgame relationships (`descendant of [...]`) need engine state: the engine supplies them. */
  readonly relationship?: (node: Relationship) => Predicate;
  /**
   * True for a field no index maps. An optional `?field` that no index maps is the null literal, as
   * in Elasticsearch (so `?x == ?y` holds when neither exists).
   */
  readonly isUnmapped?: (name: string) => boolean;
  /**
   * How a field compares with literals where that is not by its JSON value (a date, a version), per
   * the index mappings; undefined for every other field.
   */
  readonly fieldSemantics?: (name: string) => FieldSemantics | undefined;
}

/** See CompileContext.fieldSemantics. */
export interface FieldSemantics {
  /** A value (the document's or a literal) in the field's terms, or null when it is none (an unreadable date). */
  readonly read: (v: Scalar) => number | string | null;
  /** The order of two values as `read` gives them. */
  readonly compare: (a: number | string, b: number | string) => number;
}

/** Compiles an expression once into closures; evaluating never walks the AST. */
export function compileExpr(e: Expr, ctx: CompileContext): Evaluator {
  return new Compiler(ctx).value(e);
}

/** Compiles a condition; a non-boolean result counts as null. */
export function compilePredicate(e: Expr, ctx: CompileContext): Predicate {
  return new Compiler(ctx).predicate(e);
}

/**
 * Compiles a condition into generated code where it can (see codegen.ts), with the same answers as
 * `compilePredicate`: for conditions tested on every event. `ctx.field`, when given, must read as
 * createFieldGetter does (it may cache): nested objects are read inline.
 */
export function compileGeneratedPredicate(e: Expr, ctx: CompileContext): Predicate {
  const c = new Compiler(ctx);
  if (c.endgameDialect) return c.predicate(e);
  return generatePredicate(e, codegenHost(c));
}

/**
 * An event filter as one generated boolean function: the category test (case-sensitive, any
 * element; none when `category` is null) and the condition, true only when both hold.
 * `absent` (see CodegenHost) lets reads that find nothing skip the dotted-key search; `fieldsOnly`
 * is the stand-in for an event given as its fields, read through `ctx.field` alone.
 */
export function compileGeneratedFilter(
  e: Expr,
  ctx: CompileContext & Pick<CodegenHost, 'absent' | 'fieldsOnly'>,
  category: CategoryTest | null,
): (source: unknown) => boolean {
  const c = new Compiler(ctx);
  if (c.endgameDialect) {
    const p = c.predicate(e);
    const cat = category && (ctx.field ?? createFieldGetter)(category.field.path);
    return (s) => (category === null || holdsCategory(cat!(s), category.value)) && p(s) === true;
  }
  return generateFilter(e, { ...codegenHost(c), absent: ctx.absent, fieldsOnly: ctx.fieldsOnly }, category);
}

function codegenHost(c: Compiler): CodegenHost {
  return {
    closure: (x) => c.predicate(x),
    typed: (f) => c.semanticsOf(f) !== undefined,
    field: (f) => c.plainField(f),
    stringTest: (m) => c.stringTest(m),
    exactStrings: !c.caseInsensitive,
  };
}

/** A decimal literal (or its negation) makes arithmetic floating point, as a float field would. */
function isDecimal(e: Expr): boolean {
  if (e.kind === 'number') return !e.integer;
  if (e.kind === 'negate') return isDecimal(e.operand);
  return false;
}

const sharedCompiled = new WeakMap<Expr, Map<string, Predicate>>();
const sharedFieldNames = new WeakMap<Expr, string[]>();
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

/** A number per object (per function), for cache keys; 0 for none. */
function identity(o: object | undefined | null): number {
  if (o === undefined || o === null) return 0;
  let n = identities.get(o);
  if (n === undefined) identities.set(o, (n = nextIdentity++));
  return n;
}

/** The fields a shared condition reads, by name. */
function sharedFields(e: Expr): string[] {
  let names = sharedFieldNames.get(e);
  if (!names) {
    const out = new Set<string>();
    const walk = (x: Expr): void => {
      if (x.kind === 'field') out.add(fieldName(x));
      for (const c of childExprs(x)) walk(c);
    };
    walk(e);
    sharedFieldNames.set(e, (names = [...out]));
  }
  return names;
}

class Compiler {
  /** Variables bound by endgame's arraySearch/arrayCount while their condition compiles. */
  private readonly bound = new Map<string, { value: unknown }>();
  private readonly endgame: boolean;
  private readonly ci: boolean;
  private readonly getField: (path: FieldPath) => FieldGetter;

  constructor(private readonly ctx: CompileContext) {
    this.endgame = ctx.dialect === 'endgame';
    this.ci = ctx.caseInsensitive === true;
    this.getField = ctx.field ?? createFieldGetter;
  }

  get endgameDialect(): boolean {
    return this.endgame;
  }

  get caseInsensitive(): boolean {
    return this.ci;
  }

  /** The getter of a field read from the document (not a bound name, not a field read as null), or null. */
  plainField(e: Extract<Expr, { kind: 'field' }>): FieldGetter | null {
    if (this.isNullLiteral(e)) return null;
    const head = e.path[0];
    if (typeof head === 'string' && this.bound.has(head)) return null;
    return this.getField(e.path);
  }

  /** The field's own comparison semantics (see CompileContext.fieldSemantics), for a field read from the document. */
  semanticsOf(e: Expr): FieldSemantics | undefined {
    if (e.kind !== 'field' || !this.ctx.fieldSemantics || this.isNullLiteral(e)) return undefined;
    const head = e.path[0];
    if (typeof head === 'string' && this.bound.has(head)) return undefined;
    return this.ctx.fieldSemantics(fieldName(e));
  }

  predicate(e: Expr): Predicate {
    if (e.kind === 'logical' && e.shared) return this.sharedPredicate(e);
    return this.node(e);
  }

  /**
   * A shared condition (Logical.shared) compiled once per node and per what its compilation depends
   * on: dialect, case, the field access, and per field read its semantics and whether it is mapped.
   * A thousand exception items on two thousand rules compile once, not two thousand times.
   */
  private sharedPredicate(e: Extract<Expr, { kind: 'logical' }>): Predicate {
    let byKey = sharedCompiled.get(e);
    if (!byKey) sharedCompiled.set(e, (byKey = new Map()));
    const fields = sharedFields(e);
    const key = [this.endgame, this.ci, identity(this.getField), ...fields.map((f) => `${identity(this.ctx.fieldSemantics?.(f))}${this.ctx.isUnmapped?.(f) ? 'u' : ''}`)].join('|');
    let p = byKey.get(key);
    if (!p) byKey.set(key, (p = this.node(e)));
    return p;
  }

  private node(e: Expr): Predicate {
    switch (e.kind) {
      case 'logical': {
        const l = this.predicate(e.left);
        const r = this.predicate(e.right);
        return e.op === 'and' ? (s) => and3(l(s), () => r(s)) : (s) => or3(l(s), () => r(s));
      }
      case 'not': {
        const p = this.predicate(e.operand);
        return (s) => {
          const v = p(s);
          return v === null ? null : !v;
        };
      }
      case 'compare':
        return this.compare(e);
      case 'in':
        return this.membership(e);
      case 'match':
        return this.match(e);
      case 'relationship':
        if (!this.ctx.relationship) return () => null;
        return this.ctx.relationship(e);
      case 'boolean': {
        const v = e.value;
        return () => v;
      }
      default: {
        const v = this.value(e);
        return this.endgame ? (s) => truthy(v(s)) : (s) => toBool(v(s));
      }
    }
  }

  value(e: Expr): Evaluator {
    switch (e.kind) {
      case 'string':
      case 'number':
      case 'boolean': {
        const v = e.value;
        return () => v;
      }
      case 'null':
        return () => null;
      case 'field': {
        const get = this.plainField(e);
        if (get) return (s) => norm(get(s));
        if (this.isNullLiteral(e)) return () => null;
        // a name bound by arraySearch/arrayCount
        const cell = this.bound.get(e.path[0] as string)!;
        const rest = e.path.slice(1);
        if (rest.length === 0) return () => norm(cell.value);
        const inner = createFieldGetter(rest);
        return () => norm(inner(cell.value));
      }
      case 'logical':
      case 'not':
      case 'compare':
      case 'in':
      case 'match':
      case 'relationship': {
        const p = this.predicate(e);
        return (s) => p(s);
      }
      case 'negate': {
        const v = this.value(e.operand);
        return (s) => {
          const x = first(v(s));
          return typeof x === 'number' ? -x : null;
        };
      }
      case 'arith': {
        const name = { '+': 'add', '-': 'subtract', '*': 'multiply', '/': 'divide', '%': 'modulo' }[e.op];
        const fn = BUILTINS[name]!;
        const l = this.value(e.left);
        const r = this.value(e.right);
        const bctx: BuiltinContext = { insensitive: false, endgame: this.endgame, float: isDecimal(e.left) || isDecimal(e.right) };
        return (s) => fn([l(s), r(s)], bctx);
      }
      case 'call':
        return this.call(e);
      default:
        return assertNever(e);
    }
  }

  private call(e: Extract<Expr, { kind: 'call' }>): Evaluator {
    const sig = lookupFunction(e.name, true);
    const fn = sig ? BUILTINS[sig.name] : undefined;
    if (sig && (sig.name === 'arraySearch' || sig.name === 'arrayCount') && e.args.length === 3) return this.arrayLoop(e, sig.name === 'arrayCount');
    if (!sig || !fn) return () => null;
    const bctx: BuiltinContext = { insensitive: e.insensitive || this.ci, endgame: this.endgame, float: e.args.some(isDecimal) };
    const args = e.args.map((a) => this.value(a));
    if (sig.name === 'cidrMatch' && e.args.length > 9 && e.args.slice(1).every((a) => a.kind === 'string')) return this.cidrMany(e, args[0]!, fn, bctx);
    // functions that read one string: a multi-valued first argument maps element-wise
    const mapsFirst = sig.params[0]!.types.includes('string') && sig.name !== 'concat' && sig.name !== 'length';
    if (args.length === 1) {
      const a0 = args[0]!;
      return (s) => {
        const v = a0(s);
        if (mapsFirst && Array.isArray(v)) return (v as Value[]).map((el) => fn([el], bctx));
        return fn([v], bctx);
      };
    }
    return (s) => {
      const vals = args.map((a) => a(s));
      const v0 = vals[0];
      if (mapsFirst && Array.isArray(v0)) return (v0 as Value[]).map((el) => fn([el, ...vals.slice(1)], bctx));
      return fn(vals, bctx);
    };
  }

  /**
   * cidrMatch with many literal blocks (a value list of IP ranges in an exception): the blocks as
   * sorted ranges, parsed once, an address found by halves; the same answers as the builtin.
   */
  private cidrMany(e: Extract<Expr, { kind: 'call' }>, a0: Evaluator, fn: (args: Value[], ctx: BuiltinContext) => Value, bctx: BuiltinContext): Evaluator {
    const blocks = e.args.slice(1).map((a) => (a as { value: string }).value);
    const has = cidrSet(blocks);
    const one = (v: Value): Value => {
      if (Array.isArray(v)) return fn([v, ...blocks], bctx);
      const x = first(v);
      if (typeof x !== 'string') return null;
      const addr = parseIp(x);
      return addr === null ? false : has(addr);
    };
    return (s) => {
      const v = a0(s);
      return Array.isArray(v) ? (v as Value[]).map(one) : one(v);
    };
  }

  private isNullLiteral(e: Expr): boolean {
    if (e.kind === 'null') return true;
    return e.kind === 'field' && e.optional && this.ctx.isUnmapped !== undefined && this.ctx.isUnmapped(fieldName(e));
  }

  /** arraySearch(list, x, cond) / arrayCount(list, x, cond): cond evaluated with x bound to each element. */
  private arrayLoop(e: Extract<Expr, { kind: 'call' }>, count: boolean): Evaluator {
    const list = this.value(e.args[0]!);
    const v = e.args[1]!;
    const name = v.kind === 'field' && typeof v.path[0] === 'string' ? v.path[0] : null;
    if (name === null) return () => null;
    const cell = { value: null as unknown };
    const outer = this.bound.get(name);
    this.bound.set(name, cell);
    const cond = this.predicate(e.args[2]!);
    if (outer) this.bound.set(name, outer);
    else this.bound.delete(name);
    return (s) => {
      const arr = list(s);
      if (arr === null) return null;
      const items = Array.isArray(arr) ? (arr as unknown[]) : [arr];
      const saved = cell.value;
      let n = 0;
      try {
        for (const item of items) {
          cell.value = item;
          if (cond(s) === true) {
            if (!count) return true;
            n++;
          }
        }
      } finally {
        cell.value = saved;
      }
      return count ? n : false;
    };
  }

  private compare(e: Extract<Expr, { kind: 'compare' }>): Predicate {
    // `x == null` asks whether x is null; `x != null` whether it is not
    if (e.op === '==' || e.op === '!=') {
      const nullSide = this.isNullLiteral(e.right) ? e.left : this.isNullLiteral(e.left) ? e.right : null;
      if (nullSide) {
        const v = this.value(nullSide);
        const want = e.op === '==';
        return (s) => isNullish(v(s)) === want;
      }
    }
    const typed = this.typedCompare(e);
    if (typed) return typed;
    const l = this.value(e.left);
    const r = this.value(e.right);
    const ci = this.ci;
    // endgame: `field == "a*"` is a wildcard match
    if (this.endgame && (e.op === '==' || e.op === '!=') && e.right.kind === 'string' && /[*?]/.test(e.right.value)) {
      const m = compileWildcard(e.right.value, ci);
      const eq = (s: unknown): boolean | null => anyOf(l(s), (x) => (typeof x === 'string' ? m(x) : x === null ? null : false));
      return e.op === '==' ? eq : (s) => negate(eq(s));
    }
    const test = COMPARE[e.op]!;
    const pair = (a: Value, b: Value): boolean | null =>
      anyOf(a, (x) =>
        anyOf(b, (y) => {
          if (e.op === '==' || e.op === '!=') {
            const eq = equalScalars(x, y, ci);
            return eq === null ? null : e.op === '==' ? eq : !eq;
          }
          const c = compareScalars(x, y, ci);
          return c === null ? null : test(c);
        }),
      );
    if (e.op === '!=') {
      // a != b is "not (a == b)" over multi-valued fields, as a negated term query is
      const eq = (a: Value, b: Value): boolean | null => anyOf(a, (x) => anyOf(b, (y) => equalScalars(x, y, ci)));
      return (s) => negate(eq(l(s), r(s)));
    }
    return (s) => pair(l(s), r(s));
  }

  /**
   * A comparison of a typed field (a date, a version) with a literal, in the field's terms; null
   * when the comparison is not one (or the literal does not read as the field's type).
   */
  private typedCompare(e: Extract<Expr, { kind: 'compare' }>): Predicate | null {
    const leftSem = this.semanticsOf(e.left);
    const sem = leftSem ?? this.semanticsOf(e.right);
    const [field, lit] = leftSem ? [e.left, e.right] : [e.right, e.left];
    if (!sem || (lit.kind !== 'string' && lit.kind !== 'number')) return null;
    const want = sem.read(lit.value);
    if (want === null) return null;
    const v = this.value(field);
    const flip = !leftSem;
    const test = COMPARE[e.op]!;
    const one = (x: Scalar): boolean | null => {
      if (x === null) return null;
      const got = sem.read(x);
      if (got === null) return false;
      const c = sem.compare(got, want);
      return e.op === '!=' ? c === 0 : test(flip ? -c : c);
    };
    // a != b is "not (a == b)" over multi-valued fields
    if (e.op === '!=') return (s) => negate(anyOf(v(s), one));
    return (s) => anyOf(v(s), one);
  }

  private membership(e: Extract<Expr, { kind: 'in' }>): Predicate {
    const sem = e.insensitive ? undefined : this.semanticsOf(e.value);
    if (sem && e.list.every((i) => i.kind === 'string' || i.kind === 'number' || i.kind === 'null')) {
      const wants = e.list.flatMap((i) => (i.kind === 'null' ? [] : [sem.read((i as { value: Scalar }).value)]));
      if (wants.every((w) => w !== null)) {
        const v = this.value(e.value);
        const test = (s: unknown): boolean | null =>
          anyOf(v(s), (x) => {
            if (x === null) return null;
            const got = sem.read(x);
            return got !== null && wants.some((w) => sem.compare(got, w!) === 0);
          });
        return e.negated ? (s) => negate(test(s)) : test;
      }
    }
    const v = this.value(e.value);
    const ci = e.insensitive || this.ci;
    const allLiteral = e.list.every(isLiteral);
    let test: (s: unknown) => boolean | null;
    if (allLiteral) {
      const set = new Set<Scalar>();
      const numbers: number[] = [];
      for (const item of e.list) {
        if (item.kind === 'null') continue;
        const lit = (item as { value: Scalar }).value;
        set.add(typeof lit === 'string' && ci ? lit.toLowerCase() : lit);
        if (typeof lit === 'number') numbers.push(lit);
      }
      const hasNumbers = numbers.length > 0;
      test = (s) =>
        anyOf(v(s), (x) => {
          if (x === null) return null;
          if (typeof x === 'string') {
            if (set.has(ci ? x.toLowerCase() : x)) return true;
            return hasNumbers && x.trim() !== '' && set.has(Number(x));
          }
          if (set.has(x)) return true;
          return typeof x === 'number' && set.has(String(x));
        });
    } else {
      const items = e.list.map((i) => this.value(i));
      test = (s) => {
        const val = v(s);
        let sawNull = false;
        for (const it of items) {
          const r = anyOf(val, (x) => anyOf(it(s), (y) => equalScalars(x, y, ci)));
          if (r === true) return true;
          if (r === null) sawNull = true;
        }
        return sawNull ? null : false;
      };
    }
    return e.negated ? (s) => negate(test(s)) : test;
  }

  /** The test of one string value of a `match` node (for generated code), or null. */
  stringTest(e: Extract<Expr, { kind: 'match' }>): ((x: string) => boolean | null) | null {
    const parts = this.matchParts(e);
    return parts && parts.dynamic.length === 0 ? parts.test : null;
  }

  private match(e: Extract<Expr, { kind: 'match' }>): Predicate {
    const v = this.value(e.value);
    const parts = this.matchParts(e);
    // `x : null` asks whether x is null
    if (parts === null) return (s) => isNullish(v(s));
    const { test, dynamic } = parts;
    if (dynamic.length === 0) return (s) => anyOf(v(s), test);
    return (s) => {
      const val = v(s);
      const r = anyOf(val, test);
      if (r === true) return true;
      let sawNull = r === null;
      for (const d of dynamic) {
        const q = anyOf(val, (x) => anyOf(d(s), (y) => equalScalars(x, y, true)));
        if (q === true) return true;
        if (q === null) sawNull = true;
      }
      return sawNull ? null : false;
    };
  }

  /** A match's test of one scalar against its literal patterns, and its other patterns; null for `x : null`. */
  private matchParts(e: Extract<Expr, { kind: 'match' }>): { test: (x: Scalar) => boolean | null; dynamic: Evaluator[] } | null {
    const insensitive = e.op === ':' || e.op === 'like~' || e.op === 'regex~';
    // wildcard patterns are folded once here and the value once per evaluation, not once per pattern
    const folded = insensitive && e.op !== 'regex~';
    const matchers: Array<(x: Scalar) => boolean> = [];
    if (e.op === ':' && e.patterns.length === 1 && e.patterns[0]!.kind === 'null') return null;
    const dynamic: Evaluator[] = [];
    for (const p of e.patterns) {
      if (p.kind !== 'string') {
        // `x : 41`, `x : f(y)`: equality, ignoring case
        if (p.kind === 'number' || p.kind === 'boolean') {
          const want = p.value;
          matchers.push((x) => equalScalars(x, want, true) === true);
        } else if (p.kind !== 'null') dynamic.push(this.value(p));
        continue;
      }
      let m: StringMatcher;
      if (e.op === 'regex' || e.op === 'regex~') {
        let re: RE2JS | null = null;
        try {
          re = RE2JS.compile(p.value, insensitive ? RE2JS.CASE_INSENSITIVE : 0);
        } catch {
          re = null; // the checker reports it (EQL3009); an invalid pattern matches nothing
        }
        m = re ? (s) => re.matches(s) : () => false;
      } else m = compileWildcard(folded ? p.value.toLowerCase() : p.value, false);
      matchers.push((x) => (typeof x === 'string' ? m(x) : typeof x === 'number' ? m(String(x)) : false));
    }
    const direct = (x: Scalar): boolean | null => {
      if (x === null) return null;
      const y = folded && typeof x === 'string' ? foldOnce(x) : x;
      for (const m of matchers) if (m(y)) return true;
      return false;
    };
    // a regex or a list of patterns costs more than a lookup, and field values repeat
    const costly = e.op === 'regex' || e.op === 'regex~' || matchers.length >= 4;
    return { test: costly ? memoStrings(direct) : direct, dynamic };
  }
}

/**
 * `x.toLowerCase()`, remembered for the last string: one event's field is matched by many rules in
 * a row (every `:` on process.name), and folding it once is enough.
 */
let lastRaw = '';
let lastFolded = '';
function foldOnce(x: string): string {
  if (x !== lastRaw) {
    lastFolded = x.toLowerCase();
    lastRaw = x;
  }
  return lastFolded;
}

/** Entries a match's memo holds before it starts again, and lookups before it may be given up (see StringMemo). */
const MEMO_SIZE = 4096;
const MEMO_TRIAL = 8192;

/** A pure test of a scalar, with its answers on strings remembered. */
function memoStrings(test: (x: Scalar) => boolean | null): (x: Scalar) => boolean | null {
  const memo = new StringMemo<boolean | null>(MEMO_SIZE, MEMO_TRIAL);
  return (x) => (typeof x === 'string' ? memo.get(x, test) : test(x));
}

const COMPARE: Record<string, (c: number) => boolean> = {
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
  '==': (c) => c === 0,
  '!=': (c) => c !== 0,
};

function negate(v: boolean | null): boolean | null {
  return v === null ? null : !v;
}

function isNullish(v: Value): boolean {
  return v === null || (Array.isArray(v) && v.length === 0);
}

/** Endgame reads any value as a condition, the way Python does. */
function truthy(v: Value): boolean | null {
  if (v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  return Object.keys(v).length > 0;
}
