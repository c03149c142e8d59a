import type { FieldGetter } from '../ecs/index.js';
import type { Expr, FieldRef } from './ast.js';
import type { Predicate } from './compile.js';

/**
 * A condition as one generated JavaScript function, for rules tested on every event (the rule set of
 * `vigil hunt`). The closures of compile.ts cost a call per node, a call per field read and a
 * callback per value; here the boolean structure (three-valued `and`, `or`, `not`), the field reads
 * (nested objects, inline) and the common leaves on a string value (`==`, `!=`, `in`, `:`/`like`/
 * `regex` with literal patterns, `== null`) are written out. Everything else — other value types,
 * arrays of more than one element, functions, arithmetic, dotted keys — is handed to the closure of
 * that node, so the answer is always the closures' answer (a test compares both over the corpus).
 *
 * Only literals the generator checked go into the code, each as JSON; rule text never becomes code.
 */
export interface CodegenHost {
  /** The closure of a node: what generated code calls for what it does not write out. */
  closure(e: Expr): Predicate;
  /** Whether a field compares in its own terms (a date, a version): its comparisons go to the closures. */
  typed?(e: Expr): boolean;
  /** The getter of a plain event field (it reads as createFieldGetter does), or null (bound names, fields read as null). */
  field(e: FieldRef): FieldGetter | null;
  /** The test of one string value for a `match` node, or null when it has no such test. */
  stringTest(e: Extract<Expr, { kind: 'match' }>): ((x: string) => boolean | null) | null;
  /** `==`, `!=` and `in` compare strings exactly (not endgame's case-insensitive dialect). */
  readonly exactStrings: boolean;
  /**
   * Whether a nested read of this document that found nothing means the field is absent: no key
   * with a dot where the read looked (the engine knows it from its walk of the event). Without it,
   * or when it says false, such reads go to the field getter, which tries dotted keys.
   */
  readonly absent?: (source: unknown) => boolean;
  /** What stands for an event given as its fields (read through the getters only), if any. */
  readonly fieldsOnly?: object;
}

/** An event filter's category test: the field holds the category (case-sensitive), or an array does at any depth. */
export interface CategoryTest {
  readonly field: FieldRef;
  readonly value: string;
}

export function holdsCategory(v: unknown, want: string): boolean {
  if (typeof v === 'string') return v === want;
  if (!Array.isArray(v)) return false;
  // a loop, not `some`: a closure per call was 260 bytes of garbage per event in a hunt
  for (let i = 0; i < v.length; i++) if (holdsCategory(v[i], want)) return true;
  return false;
}

/** A value no field read returns: a field slot not read yet. */
const UNREAD = Symbol('unread');

export function generatePredicate(root: Expr, host: CodegenHost): Predicate {
  return generate(root, host, null, false) as Predicate;
}

/**
 * An event filter as one boolean function: its category test (when it names one) and its condition,
 * true only when the condition is true (false and null both fail).
 */
export function generateFilter(root: Expr, host: CodegenHost, category: CategoryTest | null): (source: unknown) => boolean {
  return generate(root, host, category, true) as (source: unknown) => boolean;
}

function generate(root: Expr, host: CodegenHost, category: CategoryTest | null, filter: boolean): Predicate | ((source: unknown) => boolean) {
  const closures: Predicate[] = [];
  const getters: FieldGetter[] = [];
  const sets: Array<ReadonlySet<string>> = [];
  const tests: Array<(x: string) => boolean | null> = [];
  const fieldSlot = new Map<string, number>();
  const readers: string[] = [];
  let temps = 0;

  const temp = (): string => `t${temps++}`;
  const closure = (e: Expr): string => `C[${closures.push(host.closure(e)) - 1}](s)`;
  // a read that found nothing: absent when the host says so, else the getter decides (dotted keys)
  const missing = (k: number): string => (host.absent ? `(A(s) ? undefined : G[${k}](s))` : `G[${k}](s)`);

  /** An expression for the value of a field (read once per evaluation), or null. */
  const read = (e: Expr): string | null => {
    // (a `__proto__` segment is read by the getter, which reads own keys only)
    if (e.kind !== 'field' || !e.path.every((p) => typeof p === 'string' && p !== '__proto__')) return null;
    const get = host.field(e);
    if (get === null) return null;
    const key = JSON.stringify(e.path);
    let k = fieldSlot.get(key);
    if (k === undefined) {
      k = getters.push(get) - 1;
      fieldSlot.set(key, k);
      // nested objects read inline; anything else (dotted keys, arrays on the way, absent) by the getter
      const path = e.path as string[];
      const lines = [`function r${k}(s) {`];
      // an event given as its fields alone: only the getter knows them
      if (host.fieldsOnly !== undefined) lines.push(`  if (s === P) return G[${k}](s);`);
      if (path.length === 1) lines.push(`  return s !== null && typeof s === "object" ? s[${JSON.stringify(path[0])}] : undefined;`);
      else {
        lines.push(`  if (s === null || typeof s !== "object" || Array.isArray(s)) return G[${k}](s);`, `  let o = s[${JSON.stringify(path[0])}];`);
        for (const seg of path.slice(1, -1)) {
          lines.push(`  if (o === undefined) return ${missing(k)};`, `  if (o === null || typeof o !== "object" || Array.isArray(o)) return G[${k}](s);`);
          lines.push(`  o = o[${JSON.stringify(seg)}];`);
        }
        lines.push(`  if (o === undefined) return ${missing(k)};`, `  if (o === null || typeof o !== "object" || Array.isArray(o)) return G[${k}](s);`);
        lines.push(`  const v = o[${JSON.stringify(path[path.length - 1])}];`, `  return v !== undefined ? v : ${missing(k)};`);
      }
      lines.push('}');
      readers.push(lines.join('\n'));
    }
    return `(f${k} !== U ? f${k} : (f${k} = r${k}(s)))`;
  };

  /**
   * A leaf on one string: `str(x)` is the answer for a string x; a one-element array of a string
   * answers as its element (any-element semantics); every other value goes to the node's closure.
   */
  const onString = (e: Expr, value: Expr, str: (x: string) => string): string | null => {
    const v = read(value);
    if (v === null) return null;
    const t = temp();
    const k = closures.push(host.closure(e)) - 1;
    // the leaf compares the field with literals only: on an absent field its answer is a constant
    let absent: boolean | null | undefined;
    try {
      absent = closures[k]!({});
    } catch {
      absent = undefined;
    }
    const ifAbsent = absent === undefined ? '' : `${t} === undefined ? ${String(absent)} : `;
    return `(typeof (${t} = ${v}) === "string" ? ${str(t)} : ${ifAbsent}Array.isArray(${t}) && ${t}.length === 1 && typeof ${t}[0] === "string" ? ${str(`${t}[0]`)} : C[${k}](s))`;
  };

  const gen = (e: Expr): string => {
    // a condition many rules share is compiled once and called (see Logical.shared)
    if (e.kind === 'logical' && e.shared) return closure(e);
    switch (e.kind) {
      case 'logical': {
        const a = temp();
        const b = temp();
        const l = gen(e.left);
        const r = gen(e.right);
        return e.op === 'and'
          ? `((${a} = ${l}) === false ? false : (${b} = ${r}) === false ? false : ${a} === null || ${b} === null ? null : true)`
          : `((${a} = ${l}) === true ? true : (${b} = ${r}) === true ? true : ${a} === null || ${b} === null ? null : false)`;
      }
      case 'not': {
        const a = temp();
        return `((${a} = ${gen(e.operand)}) === null ? null : !${a})`;
      }
      case 'boolean':
        return e.value ? 'true' : 'false';
      case 'compare': {
        if (e.op !== '==' && e.op !== '!=') return closure(e);
        const nullSide = e.right.kind === 'null' ? e.left : e.left.kind === 'null' ? e.right : null;
        if (nullSide) {
          // `x == null`: absent, null or an empty array
          const v = read(nullSide);
          if (v === null) return closure(e);
          const t = temp();
          const isNull = `((${t} = ${v}) === null || ${t} === undefined || (Array.isArray(${t}) && ${t}.length === 0))`;
          return e.op === '==' ? isNull : `!${isNull}`;
        }
        if (!host.exactStrings || host.typed?.(e.left) || host.typed?.(e.right)) return closure(e);
        const [field, lit] = e.right.kind === 'string' ? [e.left, e.right] : e.left.kind === 'string' ? [e.right, e.left] : [null, null];
        if (!field || !lit || lit.kind !== 'string') return closure(e);
        const want = JSON.stringify(lit.value);
        return onString(e, field, (x) => `${x} ${e.op === '==' ? '===' : '!=='} ${want}`) ?? closure(e);
      }
      case 'in': {
        // literal strings only: a string is in the list when the set has it (folded for `in~`)
        if (!host.exactStrings || host.typed?.(e.value) || !e.list.every((x) => x.kind === 'string' || x.kind === 'null')) return closure(e);
        const folded = e.insensitive;
        const set = new Set(e.list.flatMap((x) => (x.kind === 'string' ? [folded ? x.value.toLowerCase() : x.value] : [])));
        const k = sets.push(set) - 1;
        return onString(e, e.value, (x) => `${e.negated ? '!' : ''}S[${k}].has(${folded ? `${x}.toLowerCase()` : x})`) ?? closure(e);
      }
      case 'match': {
        const test = host.stringTest(e);
        if (test === null) return closure(e);
        const k = tests.push(test) - 1;
        return onString(e, e.value, (x) => `M[${k}](${x})`) ?? closure(e);
      }
      default:
        return closure(e);
    }
  };

  let body = gen(root);
  if (filter) {
    body = `(${body}) === true`;
    if (category) {
      const c = read(category.field);
      if (c === null) throw new Error(`category field ${category.field.path.join('.')} is not a plain field`);
      const t = temp();
      const want = JSON.stringify(category.value);
      body = `(typeof (${t} = ${c}) === "string" ? ${t} === ${want} : Array.isArray(${t}) ? H(${t}, ${want}) : false) && ${body}`;
    }
  }
  const slots = getters.map((_, k) => `f${k} = U`);
  const temporaries = Array.from({ length: temps }, (_, k) => `t${k}`);
  const source = [
    ...readers,
    'return function generatedPredicate(s) {',
    ...(slots.length ? [`  let ${slots.join(', ')};`] : []),
    ...(temporaries.length ? [`  let ${temporaries.join(', ')};`] : []),
    `  return ${body};`,
    '};',
  ].join('\n');
  // the code above holds no rule text but JSON literals and numbers of its own
  const make = new Function('C', 'G', 'S', 'M', 'U', 'A', 'H', 'P', source) as (...args: unknown[]) => Predicate;
  return make(closures, getters, sets, tests, UNREAD, host.absent, holdsCategory, host.fieldsOnly);
}
