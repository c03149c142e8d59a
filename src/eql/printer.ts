import type { EventFilter, Expr, FieldRef, Pipe, Query, Stage, Statement } from './ast.js';
import { assertNever } from './ast.js';
import { KEYWORDS } from './token.js';

/**
 * Writes canonical EQL: Elasticsearch dialect, double-quoted strings, minimal parentheses, one stage per
 * line. Parsing the output gives back the same tree (spans aside).
 */
export function printStatement(s: Statement): string {
  let out = printQuery(s.query);
  for (const p of s.pipes) out += `\n| ${printPipe(p)}`;
  return out;
}

export function printQuery(q: Query): string {
  switch (q.kind) {
    case 'event':
      return printFilter(q.filter);
    case 'sequence': {
      let head = 'sequence';
      if (q.by.length > 0) head += ` by ${printList(q.by)}`;
      if (q.maxspan) head += ` with maxspan=${q.maxspan.value}${q.maxspan.unit}`;
      return head + printStages(q.stages, q.until);
    }
    case 'sample': {
      let head = 'sample';
      if (q.by.length > 0) head += ` by ${printList(q.by)}`;
      return head + printStages(q.stages, null);
    }
    case 'join': {
      let head = 'join';
      if (q.by.length > 0) head += ` by ${printList(q.by)}`;
      return head + printStages(q.stages, q.until);
    }
    default:
      return assertNever(q);
  }
}

function printStages(stages: readonly Stage[], until: Stage | null): string {
  let out = '';
  for (const s of stages) out += `\n  ${printStage(s)}`;
  if (until) out += `\nuntil\n  ${printStage(until)}`;
  return out;
}

function printStage(s: Stage): string {
  let out = `${s.missing ? '![' : '['}${printFilter(s.filter)}]`;
  if (s.by.length > 0) out += ` by ${printList(s.by)}`;
  if (s.runs !== null) out += ` with runs=${s.runs}`;
  if (s.fork !== null) out += ` fork=${s.fork}`;
  return out;
}

export function printFilter(f: EventFilter): string {
  const category = f.category === null ? 'any' : isBareName(f.category) ? f.category : printString(f.category);
  return `${category} where ${printExpr(f.condition)}`;
}

function printPipe(p: Pipe): string {
  return p.args.length === 0 ? p.name : `${p.name} ${printList(p.args)}`;
}

function printList(list: readonly Expr[]): string {
  return list.map((e) => printExpr(e)).join(', ');
}

// Binding strength, loosest first. A child that binds looser than its slot needs parentheses.
const OR = 1;
const AND = 2;
const NOT = 3;
const CMP = 4;
const ADD = 5;
const MUL = 6;
const UNARY = 7;
const PRIMARY = 8;

function precedence(e: Expr): number {
  switch (e.kind) {
    case 'logical':
      return e.op === 'or' ? OR : AND;
    case 'not':
    case 'relationship':
      return NOT;
    case 'compare':
    case 'in':
    case 'match':
      return CMP;
    case 'arith':
      return e.op === '+' || e.op === '-' ? ADD : MUL;
    case 'negate':
      return UNARY;
    case 'number':
      return e.value < 0 || Object.is(e.value, -0) ? UNARY : PRIMARY;
    default:
      return PRIMARY;
  }
}

export function printExpr(e: Expr, min = OR): string {
  const text = printBare(e);
  return precedence(e) < min ? `(${text})` : text;
}

function printBare(e: Expr): string {
  switch (e.kind) {
    case 'string':
      return printString(e.value);
    case 'number':
      return printNumber(e.value, e.integer);
    case 'boolean':
      return e.value ? 'true' : 'false';
    case 'null':
      return 'null';
    case 'field':
      return printField(e);
    case 'not':
      return `not ${printExpr(e.operand, NOT)}`;
    case 'logical': {
      const p = e.op === 'or' ? OR : AND;
      return `${printExpr(e.left, p)} ${e.op} ${printExpr(e.right, p + 1)}`;
    }
    case 'compare':
      return `${printExpr(e.left, ADD)} ${e.op} ${printExpr(e.right, ADD)}`;
    case 'arith': {
      const p = e.op === '+' || e.op === '-' ? ADD : MUL;
      return `${printExpr(e.left, p)} ${e.op} ${printExpr(e.right, p + 1)}`;
    }
    case 'negate':
      // `-(1)` keeps a negation of a literal distinct from the literal -1
      return e.operand.kind === 'number' ? `-(${printBare(e.operand)})` : `-${printExpr(e.operand, UNARY)}`;
    case 'in':
      return `${printExpr(e.value, ADD)} ${e.negated ? 'not in' : e.insensitive ? 'in~' : 'in'} (${printList(e.list)})`;
    case 'match': {
      const op = e.op === ':' ? ' :' : ` ${e.op}`;
      const rhs = e.list ? `(${printList(e.patterns)})` : printExpr(e.patterns[0]!, UNARY);
      return `${printExpr(e.value, ADD)}${op} ${rhs}`;
    }
    case 'call':
      return `${e.name}${e.insensitive ? '~' : ''}(${printList(e.args)})`;
    case 'relationship':
      return `${e.relation} of [${printFilter(e.query)}]`;
    default:
      return assertNever(e);
  }
}

function isBareName(s: string): boolean {
  return /^[A-Za-z_@][A-Za-z0-9_@]*$/.test(s) && !KEYWORDS.has(s);
}

export function printField(f: FieldRef): string {
  let out = f.optional ? '?' : '';
  f.path.forEach((seg, i) => {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const name = isBareName(seg) ? seg : `\`${seg.replace(/`/g, '``')}\``;
      out += i === 0 ? name : `.${name}`;
    }
  });
  return out;
}

export function printNumber(value: number, integer: boolean): string {
  if (integer) return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
  const s = String(value);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export function printString(value: string): string {
  let out = '"';
  for (const ch of value) {
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      default: {
        const cp = ch.codePointAt(0)!;
        out += cp < 0x20 || cp === 0x7f ? `\\u{${cp.toString(16).padStart(2, '0')}}` : ch;
      }
    }
  }
  return `${out}"`;
}
