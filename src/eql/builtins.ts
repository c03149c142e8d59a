import { cidrContains, parseCidr, parseIp, type Cidr } from './cidr.js';
import { compileWildcard } from '../ecs/index.js';
import { RE2JS } from 're2js';
import { first, scalarToString, toNumber, type Scalar, type Value } from './values.js';

/**
 * Implementations of EQL's functions with Elasticsearch's null and type rules. Each takes evaluated
 * arguments; a multi-valued first argument is mapped element-wise by the compiler.
 */
export interface BuiltinContext {
  /** `~` form, or endgame's case-insensitive mode. */
  readonly insensitive: boolean;
  readonly endgame: boolean;
  /** An operand was written as a decimal literal: arithmetic is floating point. */
  readonly float?: boolean;
}

export type Builtin = (args: readonly Value[], ctx: BuiltinContext) => Value;

const str = (v: Value): string | null => {
  const s = first(v);
  return typeof s === 'string' ? s : null;
};
const num = (v: Value): number | null => {
  const s = first(v);
  return typeof s === 'number' ? s : null;
};
const lower = (s: string, ctx: BuiltinContext): string => (ctx.insensitive ? s.toLowerCase() : s);

function arith(op: (a: number, b: number, float: boolean) => number | null): Builtin {
  return ([a, b], ctx) => {
    const x = num(a!);
    const y = num(b!);
    if (x === null || y === null) return null;
    const r = op(x, y, ctx.float === true);
    return r === null || !Number.isFinite(r) ? null : r;
  };
}

/** Integer operands divide as integers (rounding toward zero), as Elasticsearch does for longs. */
function divide(x: number, y: number, float: boolean): number | null {
  if (y === 0) return null;
  return !float && Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y;
}

export const BUILTINS: Readonly<Record<string, Builtin>> = {
  add: arith((x, y) => x + y),
  subtract: arith((x, y) => x - y),
  multiply: arith((x, y) => x * y),
  divide: arith(divide),
  modulo: arith((x, y) => (y === 0 ? null : x % y)),

  between([src, left, right, greedy], ctx) {
    const s = str(src!);
    const l = str(left!);
    const r = str(right!);
    if (s === null || l === null || r === null) return null;
    const g = greedy === undefined ? false : first(greedy) === true;
    const hay = lower(s, ctx);
    const notFound = ctx.endgame ? null : '';
    const at = hay.indexOf(lower(l, ctx));
    if (at < 0) return notFound;
    const from = at + l.length;
    const end = g ? hay.lastIndexOf(lower(r, ctx)) : hay.indexOf(lower(r, ctx), from);
    if (end < 0 || end < from) return notFound;
    return s.slice(from, end);
  },

  cidrMatch([ip, ...blocks]) {
    const cidrs: Cidr[] = [];
    for (const b of blocks) {
      const s = str(b!);
      if (s === null) return null;
      const c = parseCidr(s);
      if (c) cidrs.push(c);
    }
    const check = (v: Scalar): boolean | null => {
      if (typeof v !== 'string') return null;
      const addr = parseIp(v);
      return addr === null ? false : cidrs.some((c) => cidrContains(c, addr));
    };
    if (Array.isArray(ip)) {
      let sawNull = false;
      for (const el of ip as Value[]) {
        const r = check(first(el));
        if (r) return true;
        if (r === null) sawNull = true;
      }
      return sawNull ? null : false;
    }
    return check(first(ip!));
  },

  concat(args) {
    let out = '';
    for (const a of args) {
      const s = first(a);
      if (s === null) return null;
      out += scalarToString(s)!;
    }
    return out;
  },

  endsWith([src, suffix], ctx) {
    const s = str(src!);
    const x = str(suffix!);
    if (s === null || x === null) return null;
    return lower(s, ctx).endsWith(lower(x, ctx));
  },

  startsWith([src, prefix], ctx) {
    const s = str(src!);
    const x = str(prefix!);
    if (s === null || x === null) return null;
    return lower(s, ctx).startsWith(lower(x, ctx));
  },

  stringContains([src, sub], ctx) {
    const s = str(src!);
    const x = str(sub!);
    if (s === null || x === null) return null;
    if (x === '' && !ctx.endgame) return false;
    return lower(s, ctx).includes(lower(x, ctx));
  },

  indexOf([src, sub, start], ctx) {
    const s = str(src!);
    const x = str(sub!);
    if (s === null || x === null) return null;
    let from = 0;
    // endgame reads a null start as "not given"; Elasticsearch returns null
    if (start !== undefined && !(ctx.endgame && first(start) === null)) {
      const n = num(start);
      if (n === null) return null;
      from = Math.max(0, Math.trunc(n));
    }
    if (from > s.length) return null;
    const at = lower(s, ctx).indexOf(lower(x, ctx), from);
    return at < 0 ? null : at;
  },

  length([v]) {
    if (Array.isArray(v)) return v.length;
    const s = str(v!);
    return s === null ? null : s.length;
  },

  number([v, base]) {
    const s = str(v!);
    if (s === null) return null;
    const b = base === undefined ? null : num(base);
    const t = s.trim();
    if (t === '') return null;
    const hex = /^([+-]?)0x([0-9a-fA-F]+)$/.exec(t);
    if (hex && (b === null || b === 16)) {
      const n = parseInt(hex[2]!, 16);
      return hex[1] === '-' ? -n : n;
    }
    if (b !== null && b !== 10) {
      if (!new RegExp(`^[+-]?[0-9a-z]+$`, 'i').test(t)) return null;
      const n = parseInt(t, b);
      const valid = [...t.replace(/^[+-]/, '').toLowerCase()].every((c) => parseInt(c, b) >= 0);
      return Number.isNaN(n) || !valid ? null : n;
    }
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
    return Number(t);
  },

  string([v]) {
    return scalarToString(first(v!));
  },

  substring([src, start, end], ctx) {
    const s = str(src!);
    // endgame reads null positions as "not given"
    const a = ctx.endgame && first(start!) === null ? 0 : num(start!);
    if (s === null || a === null) return null;
    const len = s.length;
    const norm = (i: number): number => (i < 0 ? Math.max(0, len + i) : Math.min(len, i));
    const from = norm(Math.trunc(a));
    let to = len;
    if (end !== undefined && !(ctx.endgame && first(end) === null)) {
      const e = num(end);
      if (e === null) return null;
      to = norm(Math.trunc(e));
    }
    return from >= to ? '' : s.slice(from, to);
  },

  // ---- endgame extensions
  wildcard([src, ...patterns], ctx) {
    const s = str(src!);
    if (s === null) return null;
    return patterns.some((p) => {
      const ps = str(p!);
      return ps !== null && compileWildcard(ps, ctx.insensitive)(s);
    });
  },

  match([src, ...patterns], ctx) {
    const s = str(src!);
    if (s === null) return null;
    return patterns.some((p) => {
      const ps = str(p!);
      return ps !== null && RE2JS.compile(ps, ctx.insensitive ? RE2JS.CASE_INSENSITIVE : 0).matcher(s).lookingAt();
    });
  },

  matchLite(args, ctx) {
    return BUILTINS.match!(args, ctx);
  },

  arrayContains([arr, ...values], ctx) {
    if (!Array.isArray(arr)) return arr === null ? null : false;
    return (arr as Value[]).some((el) =>
      values.some((v) => {
        const a = first(el);
        const b = first(v!);
        if (typeof a === 'string' && typeof b === 'string') return lower(a, ctx) === lower(b, ctx);
        return a === b || (toNumber(a) !== null && toNumber(a) === toNumber(b));
      }),
    );
  },

  safe([v]) {
    return v ?? null;
  },
};
