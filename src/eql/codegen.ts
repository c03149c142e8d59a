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
  /** The getter of a plain event field (it reads as createFieldGetter does), or null (bound names, fields read as null). */
  field(e: FieldRef): FieldGetter | null;
  /** The test of one string value for a `match` node, or null when it has no such test. */
  stringTest(e: Extract<Expr, { kind: 'match' }>): ((x: string) => boolean | null) | null;
  /** `==`, `!=` and `in` compare strings exactly (not endgame's case-insensitive dialect). */
  readonly exactStrings: boolean;
}

/** A value no field read returns: a field slot not read yet. */
const UNREAD = Symbol('unread');

export function generatePredicate(root: Expr, host: CodegenHost): Predicate {
  const closures: Predicate[] = [];
  const getters: FieldGetter[] = [];
  const sets: Array<ReadonlySet<string>> = [];
  const tests: Array<(x: string) => boolean | null> = [];
  const fieldSlot = new Map<string, number>();
  const readers: string[] = [];
  let temps = 0;

  const temp = (): string => `t${temps++}`;
  const closure = (e: Expr): string => `C[${closures.push(host.closure(e)) - 1}](s)`;

  /** An expression for the value of a field (read once per evaluation), or null. */
  const read = (e: Expr): string | null => {
    if (e.kind !== 'field' || !e.path.every((p) => typeof p === 'string')) return null;
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
      if (path.length === 1) lines.push(`  return s !== null && typeof s === "object" ? s[${JSON.stringify(path[0])}] : undefined;`);
      else {
        lines.push(`  let o = s;`);
        for (const seg of path.slice(0, -1)) lines.push(`  if (o === null || typeof o !== "object" || Array.isArray(o)) return G[${k}](s);`, `  o = o[${JSON.stringify(seg)}];`);
        lines.push(`  if (o === null || typeof o !== "object" || Array.isArray(o)) return G[${k}](s);`);
        lines.push(`  const v = o[${JSON.stringify(path[path.length - 1])}];`, `  return v !== undefined ? v : G[${k}](s);`);
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
    return `(typeof (${t} = ${v}) === "string" ? ${str(t)} : Array.isArray(${t}) && ${t}.length === 1 && typeof ${t}[0] === "string" ? ${str(`${t}[0]`)} : ${closure(e)})`;
  };

  const gen = (e: Expr): string => {
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
        if (!host.exactStrings) return closure(e);
        const [field, lit] = e.right.kind === 'string' ? [e.left, e.right] : e.left.kind === 'string' ? [e.right, e.left] : [null, null];
        if (!field || !lit || lit.kind !== 'string') return closure(e);
        const want = JSON.stringify(lit.value);
        return onString(e, field, (x) => `${x} ${e.op === '==' ? '===' : '!=='} ${want}`) ?? closure(e);
      }
      case 'in': {
        // literal strings only: a string is in the list when the set has it (folded for `in~`)
        if (!host.exactStrings || !e.list.every((x) => x.kind === 'string' || x.kind === 'null')) return closure(e);
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

  const body = gen(root);
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
  const make = new Function('C', 'G', 'S', 'M', 'U', source) as (...args: unknown[]) => Predicate;
  return make(closures, getters, sets, tests, UNREAD);
}
