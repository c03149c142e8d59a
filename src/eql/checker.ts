import type { Diagnostic, Severity, Span } from '../core/index.js';
import type { Schema, ValueType } from '../ecs/index.js';
import type { EventFilter, Expr, Stage, Statement } from './ast.js';
import { assertNever, fieldName } from './ast.js';
import { FUNCTIONS, lookupFunction } from './functions.js';
import type { Dialect } from './lexer.js';
import { Codes } from './messages.js';

export interface CheckOptions {
  /** Field types; null skips field checks (endgame tables have no schema). */
  readonly schema: Schema | null;
  /** Unknown fields are errors rather than warnings. */
  readonly strict?: boolean;
  readonly dialect?: Dialect;
}

/** Semantic checks over a parsed statement: functions, arity, argument and operand types, fields. */
export function checkStatement(ast: Statement, options: CheckOptions): Diagnostic[] {
  const checker = new Checker(options);
  checker.statement(ast);
  return checker.diagnostics;
}

const NUMERIC: ReadonlySet<ValueType> = new Set(['number', 'date']);

/** Types that cannot meet: comparing them is an error in Elasticsearch. */
function incompatible(a: ValueType, b: ValueType): boolean {
  const loose = (t: ValueType): boolean => t === 'unknown' || t === 'null';
  if (loose(a) || loose(b) || a === b) return false;
  const family = (t: ValueType): string => (NUMERIC.has(t) ? 'number' : t === 'ip' || t === 'date' ? 'string' : t);
  // dates and ips compare with strings written as literals
  if ((a === 'date' || a === 'ip') && b === 'string') return false;
  if ((b === 'date' || b === 'ip') && a === 'string') return false;
  return family(a) !== family(b);
}

class Checker {
  readonly diagnostics: Diagnostic[] = [];
  private readonly endgame: boolean;
  /** Names bound by arraySearch/arrayCount variables, which are not schema fields. */
  private readonly bound = new Set<string>();

  constructor(private readonly options: CheckOptions) {
    this.endgame = options.dialect === 'endgame';
  }

  private add(code: string, message: string, span: Span, severity: Severity = 'error'): void {
    this.diagnostics.push({ code, severity, message, span });
  }

  statement(s: Statement): void {
    const q = s.query;
    switch (q.kind) {
      case 'event':
        this.filter(q.filter);
        break;
      case 'sequence':
      case 'join':
      case 'sample': {
        q.by.forEach((e) => this.expr(e));
        const stages: Stage[] = [...q.stages];
        if (q.kind !== 'sample' && q.until) stages.push(q.until);
        for (const st of stages) {
          this.filter(st.filter);
          st.by.forEach((e) => this.expr(e));
        }
        const counts = new Set(stages.map((st) => st.by.length));
        if (counts.size > 1) {
          const odd = stages.find((st) => st.by.length !== stages[0]!.by.length)!;
          this.add(
            Codes.byKeyCount,
            `every stage needs the same number of join keys: the first has ${stages[0]!.by.length}, this one ${odd.by.length}`,
            odd.span,
          );
        }
        break;
      }
      default:
        assertNever(q);
    }
    for (const p of s.pipes) {
      for (const a of p.args) {
        // pipe arguments of unique_count/filter may name the pipe's own outputs (count, percent, events)
        if (p.name === 'filter' || p.name === 'head' || p.name === 'tail') this.withoutFieldChecks(() => this.expr(a));
        else this.expr(a);
      }
    }
  }

  private withoutFieldChecks(fn: () => void): void {
    const saved = this.fieldChecks;
    this.fieldChecks = false;
    try {
      fn();
    } finally {
      this.fieldChecks = saved;
    }
  }
  private fieldChecks = true;

  private filter(f: EventFilter): void {
    const t = this.expr(f.condition);
    if (t !== 'boolean' && t !== 'unknown' && t !== 'null') {
      this.add(Codes.notBoolean, `the condition after 'where' must be true or false, found a ${t}`, f.condition.span);
    }
  }

  private bool(e: Expr): void {
    const t = this.expr(e);
    if (t !== 'boolean' && t !== 'unknown' && t !== 'null') {
      this.add(Codes.notBoolean, `expected a true/false condition, found a ${t}`, e.span);
    }
  }

  private expr(e: Expr): ValueType {
    switch (e.kind) {
      case 'string':
        return 'string';
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'field':
        return this.field(e);
      case 'not':
        this.bool(e.operand);
        return 'boolean';
      case 'logical':
        this.bool(e.left);
        this.bool(e.right);
        return 'boolean';
      case 'compare': {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        if (incompatible(l, r)) {
          this.add(Codes.comparisonTypes, `cannot compare a ${l} with a ${r}`, e.span);
        }
        return 'boolean';
      }
      case 'arith': {
        for (const side of [e.left, e.right]) {
          const t = this.expr(side);
          if (t !== 'number' && t !== 'unknown' && t !== 'null') {
            this.add(Codes.argumentType, `arithmetic '${e.op}' needs numbers, found a ${t}`, side.span);
          }
        }
        return 'number';
      }
      case 'negate': {
        const t = this.expr(e.operand);
        if (t !== 'number' && t !== 'unknown' && t !== 'null') {
          this.add(Codes.argumentType, `'-' needs a number, found a ${t}`, e.operand.span);
        }
        return 'number';
      }
      case 'in': {
        const v = this.expr(e.value);
        for (const item of e.list) {
          const t = this.expr(item);
          if (incompatible(v, t)) this.add(Codes.comparisonTypes, `cannot compare a ${v} with a ${t} in a list`, item.span);
        }
        return 'boolean';
      }
      case 'match': {
        const v = this.expr(e.value);
        // `:` also compares numbers (`serial_event_id / 2 : 41`); like and regex need text
        if (e.op !== ':' && v !== 'string' && v !== 'unknown' && v !== 'null' && v !== 'ip' && !this.endgame) {
          this.add(Codes.argumentType, `'${e.op}' matches text, but the left side is a ${v}`, e.value.span);
        }
        for (const pat of e.patterns) {
          // `:` also compares other values (`serial_event_id / 2 : 41`, `x : null`, `true : f(x)`)
          if (e.op === ':' && pat.kind !== 'string') {
            this.expr(pat);
            continue;
          }
          if (pat.kind !== 'string') {
            this.expr(pat);
            this.add(Codes.patternNotString, `the pattern after '${e.op}' must be a string literal`, pat.span);
          } else if (e.op === 'regex' || e.op === 'regex~') {
            this.regex(pat.value, pat.span);
          }
        }
        return 'boolean';
      }
      case 'call':
        return this.call(e);
      case 'relationship':
        this.filter(e.query);
        return 'boolean';
      default:
        return assertNever(e);
    }
  }

  private regex(pattern: string, span: Span): void {
    try {
      new RegExp(pattern.replace(/\(\?[imsx]+\)/g, ''), 'u');
    } catch (err) {
      try {
        new RegExp(pattern);
      } catch {
        this.add(Codes.invalidRegex, `invalid regular expression: ${(err as Error).message}`, span);
      }
    }
  }

  private field(e: Extract<Expr, { kind: 'field' }>): ValueType {
    const schema = this.options.schema;
    const base = e.path.filter((s): s is string => typeof s === 'string').join('.');
    if (this.bound.has(String(e.path[0]))) return 'unknown';
    if (!schema || !this.fieldChecks) return 'unknown';
    const t = schema.fieldType(base);
    if (t === undefined) {
      if (!e.optional) {
        const strict = this.options.strict === true;
        this.add(
          Codes.unknownField,
          `unknown field [${fieldName(e)}]${strict ? '' : ' (not in the schema; mark it ?field if it may be absent)'}`,
          e.span,
          strict ? 'error' : 'warning',
        );
      }
      return 'unknown';
    }
    if (t === 'object' || t === 'geo') {
      this.add(Codes.fieldNotQueryable, `field [${fieldName(e)}] is of type ${t} and cannot be compared directly`, e.span, 'warning');
      return 'unknown';
    }
    return t;
  }

  private call(e: Extract<Expr, { kind: 'call' }>): ValueType {
    // Elasticsearch resolves function names regardless of case (cidrmatch is cidrMatch)
    const sig = lookupFunction(e.name, true);
    if (!sig) {
      e.args.forEach((a) => this.expr(a));
      const hint = suggest(e.name);
      this.add(Codes.unknownFunction, `unknown function [${e.name}]${hint ? `, did you mean [${hint}]?` : ''}`, e.span);
      return 'unknown';
    }
    if (sig.extension && !this.endgame) {
      this.add(Codes.extension, `function [${sig.name}] is an endgame EQL extension; Elasticsearch rejects it`, e.span, 'info');
    }
    if (e.insensitive && !sig.insensitive) {
      this.add(Codes.noInsensitiveVariant, `function [${sig.name}] has no case-insensitive form [${sig.name}~]`, e.span);
    }
    const max = sig.rest ? Infinity : sig.params.length;
    if (e.args.length < sig.minArgs || e.args.length > max) {
      const want =
        sig.rest ? `at least ${sig.minArgs}` : sig.minArgs === sig.params.length ? `${sig.minArgs}` : `${sig.minArgs} to ${sig.params.length}`;
      this.add(Codes.wrongArity, `function [${sig.name}] takes ${want} argument${want === '1' ? '' : 's'}, found ${e.args.length}`, e.span);
    }
    const binds = sig.name === 'arraySearch' || sig.name === 'arrayCount';
    e.args.forEach((arg, i) => {
      const spec = sig.params[Math.min(i, sig.params.length - 1)]!;
      if (binds && i === 1 && arg.kind === 'field') {
        this.bound.add(String(arg.path[0]));
        return;
      }
      const t = this.expr(arg);
      if (!spec.types.includes('any') && t !== 'unknown' && t !== 'null' && !spec.types.includes(t)) {
        const nth = ['first', 'second', 'third', 'fourth'][i] ?? `${i + 1}th`;
        this.add(Codes.argumentType, `${nth} argument of [${sig.name}] must be a ${spec.types.join(' or ')}, found a ${t}`, arg.span);
      }
      if (spec.constant && arg.kind === 'field') {
        this.add(Codes.argumentNotConstant, `argument [${spec.name}] of [${sig.name}] must be a constant, not a field`, arg.span);
      }
    });
    return sig.returns;
  }
}

/** The known function name nearest to `name` (case-insensitive edit distance ≤ 3). */
function suggest(name: string): string | undefined {
  let best: string | undefined;
  let bestDist = 4;
  for (const known of FUNCTIONS.keys()) {
    const d = editDistance(name.toLowerCase(), known.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = known;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
