import { createSpan, joinSpans, type Diagnostic, type Span } from '../core/index.js';
import type {
  CompareOp,
  EventFilter,
  Expr,
  FieldSegment,
  MatchOp,
  Pipe,
  PipeName,
  Query,
  Stage,
  Statement,
  TimeSpan,
  TimeUnit,
} from './ast.js';
import { PIPE_NAMES } from './ast.js';
import { lex, type Dialect } from './lexer.js';
import { Codes } from './messages.js';
import { KEYWORDS, type Token } from './token.js';

export interface ParseOptions {
  /** `elasticsearch` (default) follows Elasticsearch's grammar; `endgame` also accepts `=`, single quotes, bare pipe args. */
  readonly dialect?: Dialect;
}

export interface ParseResult {
  /** Null only when nothing usable could be parsed. */
  readonly ast: Statement | null;
  readonly diagnostics: Diagnostic[];
}

const TIME_UNITS: ReadonlySet<string> = new Set(['ms', 's', 'm', 'h', 'd']);
const COMPARE_OPS: ReadonlySet<string> = new Set(['==', '!=', '<', '<=', '>', '>=']);
const MAX_DEPTH = 200;

/** Thrown inside the parser to unwind to the nearest recovery point; never escapes `parse`. */
class SyntaxFailure {
  constructor(readonly diagnostic: Diagnostic) {}
}

/** Parses one EQL statement. Never throws on input: every problem is a diagnostic. */
export function parse(source: string, options: ParseOptions = {}): ParseResult {
  const dialect = options.dialect ?? 'elasticsearch';
  const { tokens, diagnostics } = lex(source, dialect);
  const parser = new Parser(tokens, dialect, diagnostics);
  const ast = parser.parseStatement();
  diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  return { ast, diagnostics };
}

/** Parses a lone expression (used by conformance tables of expressions). */
export function parseExpression(source: string, options: ParseOptions = {}): { ast: Expr | null; diagnostics: Diagnostic[] } {
  const dialect = options.dialect ?? 'elasticsearch';
  const { tokens, diagnostics } = lex(source, dialect);
  const parser = new Parser(tokens, dialect, diagnostics);
  const ast = parser.parseLoneExpression();
  return { ast, diagnostics };
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly dialect: Dialect,
    private readonly diagnostics: Diagnostic[],
  ) {}

  // ---- token helpers

  private get tok(): Token {
    return this.tokens[this.pos]!;
  }
  private peek(k = 1): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.tok;
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private isOp(text: string, t: Token = this.tok): boolean {
    return t.kind === 'op' && t.text === text;
  }
  private isWord(text: string, t: Token = this.tok): boolean {
    return t.kind === 'ident' && t.text === text;
  }
  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of input';
    if (t.kind === 'string') return `string ${JSON.stringify(t.text)}`;
    if (t.kind === 'quoted') return `\`${t.text}\``;
    return `'${t.text}'`;
  }
  private fail(code: string, message: string, span: Span = this.tok.span): never {
    throw new SyntaxFailure({ code, severity: 'error', message, span: widen(span) });
  }
  private report(code: string, message: string, span: Span, severity: Diagnostic['severity'] = 'error'): void {
    this.diagnostics.push({ code, severity, message, span: widen(span) });
  }
  private expectOp(text: string, context: string): Token {
    if (!this.isOp(text)) this.fail(Codes.unexpectedToken, `expected '${text}' ${context}, found ${this.describe(this.tok)}`);
    return this.next();
  }
  private expectWord(text: string, context: string): Token {
    if (!this.isWord(text)) this.fail(Codes.unexpectedToken, `expected '${text}' ${context}, found ${this.describe(this.tok)}`);
    return this.next();
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(Codes.tooDeep, `query nests deeper than ${MAX_DEPTH} levels`);
  }
  private leave(): void {
    this.depth--;
  }

  /** Runs `fn`; on a syntax failure records it, skips to a token `stop` accepts, and returns null. */
  private recover<T>(fn: () => T, stop: (t: Token) => boolean): T | null {
    const depth = this.depth;
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof SyntaxFailure)) throw e;
      this.depth = depth;
      this.diagnostics.push(e.diagnostic);
      while (this.tok.kind !== 'eof' && !stop(this.tok)) this.pos++;
      return null;
    }
  }

  // ---- statements

  parseStatement(): Statement | null {
    const start = this.tok.span;
    const query = this.recover(
      () => this.parseQuery(),
      (t) => this.isOp('|', t),
    );
    const pipes: Pipe[] = [];
    while (this.isOp('|')) {
      const pipe = this.recover(
        () => this.parsePipe(),
        (t) => this.isOp('|', t),
      );
      if (pipe) pipes.push(pipe);
    }
    if (this.tok.kind !== 'eof') {
      this.report(Codes.trailingInput, `unexpected ${this.describe(this.tok)} after the end of the query`, this.tok.span);
    }
    if (!query) return null;
    const end = pipes.length > 0 ? pipes[pipes.length - 1]!.span : query.span;
    return { kind: 'statement', query, pipes, span: joinSpans(start, end) };
  }

  parseLoneExpression(): Expr | null {
    const e = this.recover(
      () => this.parseExpr(),
      () => false,
    );
    if (e && this.tok.kind !== 'eof') {
      this.report(Codes.trailingInput, `unexpected ${this.describe(this.tok)} after the end of the expression`, this.tok.span);
    }
    return e;
  }

  private parseQuery(): Query {
    const t = this.tok;
    if (this.isWord('sequence')) return this.parseSequence();
    if (this.isWord('sample')) return this.parseSample();
    if (this.isWord('join')) return this.parseJoin();
    if (t.kind === 'eof') this.fail(Codes.expectedExpression, 'empty query: expected an event query such as `process where true`');
    const filter = this.parseEventFilter();
    return { kind: 'event', filter, span: filter.span };
  }

  private parseEventFilter(): EventFilter {
    const t = this.tok;
    let category: string | null;
    if (this.isWord('any')) {
      category = null;
      this.next();
    } else if (t.kind === 'string') {
      category = t.text;
      this.next();
    } else if (t.kind === 'ident' && !KEYWORDS.has(t.text) && !t.text.endsWith('~')) {
      category = t.text;
      this.next();
    } else if (this.isWord('where')) {
      this.fail(Codes.unexpectedToken, "expected an event category (or 'any') before 'where'");
    } else {
      this.fail(Codes.unexpectedToken, `expected an event category, 'sequence', 'sample' or 'join', found ${this.describe(t)}`);
    }
    this.expectWord('where', 'after the event category');
    const condition = this.parseExpr();
    return { kind: 'filter', category, condition, span: joinSpans(t.span, condition.span) };
  }

  private parseSequence(): Query {
    const kw = this.next();
    let by: Expr[] = [];
    let maxspan: TimeSpan | null = null;
    let seenBy = false;
    // `sequence by k with maxspan=1h` or `sequence with maxspan=1h by k`
    for (;;) {
      if (this.isWord('by')) {
        if (seenBy) this.fail(Codes.duplicateParameter, "'by' given twice");
        seenBy = true;
        this.next();
        by = this.parseExprList();
      } else if (this.isWord('with')) {
        if (maxspan) this.fail(Codes.duplicateParameter, "'maxspan' given twice");
        this.next();
        maxspan = this.parseMaxspan();
      } else break;
    }
    const stages = this.parseStages('sequence');
    let until: Stage | null = null;
    if (this.isWord('until')) {
      this.next();
      until = this.parseStage('until');
    }
    const span = joinSpans(kw.span, (until ?? stages[stages.length - 1] ?? kw).span);
    this.checkStageCount('sequence', stages, span);
    return { kind: 'sequence', by, maxspan, stages, until, span };
  }

  private parseSample(): Query {
    const kw = this.next();
    let by: Expr[] = [];
    if (this.isWord('by')) {
      this.next();
      by = this.parseExprList();
    }
    const stages = this.parseStages('sample');
    if (this.isWord('until')) this.fail(Codes.unexpectedToken, "'until' is not allowed in a sample");
    const span = joinSpans(kw.span, (stages[stages.length - 1] ?? kw).span);
    // Elasticsearch accepts a sample of one stage, unlike sequences
    if (stages.length === 0) this.fail(Codes.sequenceTooShort, 'a sample needs at least one [stage]', span);
    return { kind: 'sample', by, stages, span };
  }

  private parseJoin(): Query {
    const kw = this.next();
    let by: Expr[] = [];
    if (this.isWord('by')) {
      this.next();
      by = this.parseExprList();
    }
    const stages = this.parseStages('join');
    let until: Stage | null = null;
    if (this.isWord('until')) {
      this.next();
      until = this.parseStage('until');
    }
    const span = joinSpans(kw.span, (until ?? stages[stages.length - 1] ?? kw).span);
    this.checkStageCount('join', stages, span);
    this.report(Codes.extension, "'join' is an endgame EQL extension; Elasticsearch rejects it", kw.span, 'info');
    return { kind: 'join', by, stages, until, span };
  }

  private checkStageCount(what: string, stages: Stage[], span: Span): void {
    // `[x] with runs=3` counts as three stages
    const count = stages.reduce((n, s) => n + (s.runs ?? 1), 0);
    if (count < 2) this.report(Codes.sequenceTooShort, `a ${what} needs at least two [stages], found ${count}`, span);
    if (stages.length > 0 && stages.every((s) => s.missing)) {
      this.report(Codes.allStagesMissing, `a ${what} needs at least one stage that is not a missing event ![…]`, span);
    }
  }

  private parseMaxspan(): TimeSpan {
    const kw = this.tok;
    if (!this.isWord('maxspan')) {
      this.fail(Codes.unknownParameter, `unknown parameter ${this.describe(kw)}: expected 'maxspan'`);
    }
    this.next();
    this.expectOp('=', "after 'maxspan'");
    const num = this.tok;
    if (num.kind !== 'integer' && num.kind !== 'decimal') {
      this.fail(Codes.unexpectedToken, `expected a time span such as 5m after 'maxspan=', found ${this.describe(num)}`);
    }
    this.next();
    if (num.kind === 'decimal') this.fail(Codes.unknownTimeUnit, `decimal time span [${num.text}] is not supported`, num.span);
    const unitTok = this.tok;
    if (unitTok.kind !== 'ident' || KEYWORDS.has(unitTok.text)) {
      this.fail(Codes.maxspanWithoutUnit, `no time unit given, did you mean [${num.text}s]? Use ms, s, m, h or d`, num.span);
    }
    if (!TIME_UNITS.has(unitTok.text)) {
      this.fail(Codes.unknownTimeUnit, `unknown time unit [${unitTok.text}]: use ms, s, m, h or d`, unitTok.span);
    }
    this.next();
    return { value: num.number!, unit: unitTok.text as TimeUnit, span: joinSpans(num.span, unitTok.span) };
  }

  private parseStages(owner: 'sequence' | 'sample' | 'join'): Stage[] {
    const stages: Stage[] = [];
    while (this.isOp('[') || this.isOp('![')) {
      const stage = this.recover(
        () => this.parseStage(owner),
        (t) => this.isOp('[', t) || this.isOp('![', t) || this.isWord('until', t) || this.isOp('|', t),
      );
      if (stage) stages.push(stage);
    }
    if (stages.length === 0 && !this.isOp('|') && this.tok.kind !== 'eof') {
      this.fail(Codes.unexpectedToken, `expected '[' to open a ${owner} stage, found ${this.describe(this.tok)}`);
    }
    return stages;
  }

  private parseStage(owner: 'sequence' | 'sample' | 'join' | 'until'): Stage {
    const open = this.tok;
    const missing = this.isOp('![');
    if (!missing && !this.isOp('[')) this.fail(Codes.unexpectedToken, `expected '[' to open a stage, found ${this.describe(open)}`);
    this.next();
    if (missing && owner !== 'sequence') {
      this.report(Codes.missingEventNotAllowed, `missing events ![…] are only allowed in a sequence, not in ${owner === 'until' ? "'until'" : `a ${owner}`}`, open.span);
    }
    const filter = this.parseEventFilter();
    const close = this.expectOp(']', 'to close the stage');
    let by: Expr[] = [];
    let runs: number | null = null;
    let fork: boolean | null = null;
    let end: Span = close.span;
    for (;;) {
      if (this.isWord('by')) {
        if (by.length > 0) this.fail(Codes.duplicateParameter, "'by' given twice for one stage");
        this.next();
        by = this.parseExprList();
        end = by[by.length - 1]!.span;
      } else if (this.isWord('with') && this.isWord('runs', this.peek())) {
        if (runs !== null) this.fail(Codes.duplicateParameter, "'runs' given twice");
        this.next();
        const name = this.next();
        this.expectOp('=', "after 'runs'");
        const value = this.tok;
        if (value.kind !== 'integer') this.fail(Codes.badRuns, `expected a whole number after 'runs=', found ${this.describe(value)}`);
        this.next();
        if (value.number! < 1 || value.number! > 100) {
          this.report(Codes.badRuns, `runs must be between 1 and 100, found ${value.text}`, value.span);
        }
        runs = value.number!;
        end = joinSpans(name.span, value.span);
      } else if (this.isWord('fork') && this.isOp('=', this.peek())) {
        this.next();
        this.next();
        const v = this.tok;
        if (!this.isWord('true') && !this.isWord('false')) this.fail(Codes.unexpectedToken, `expected true or false after 'fork=', found ${this.describe(v)}`);
        this.next();
        fork = v.text === 'true';
        end = v.span;
        if (this.dialect === 'elasticsearch') this.report(Codes.extension, "'fork' is an endgame EQL extension", v.span, 'info');
      } else if (this.isWord('with')) {
        this.next();
        this.fail(Codes.unknownParameter, `unknown stage parameter ${this.describe(this.tok)}: expected 'runs'`);
      } else break;
    }
    return { kind: 'stage', filter, by, runs, missing, fork, span: joinSpans(open.span, end) };
  }

  private parseExprList(): Expr[] {
    const list = [this.parseExpr()];
    while (this.isOp(',')) {
      this.next();
      list.push(this.parseExpr());
    }
    return list;
  }

  // ---- pipes

  private parsePipe(): Pipe {
    const bar = this.next();
    const nameTok = this.tok;
    if (nameTok.kind !== 'ident' || this.isOp('|', nameTok)) {
      this.fail(Codes.emptyPipe, `expected a pipe name after '|', found ${this.describe(nameTok)}`, nameTok.kind === 'eof' ? bar.span : nameTok.span);
    }
    this.next();
    const name = nameTok.text;
    if (!(PIPE_NAMES as readonly string[]).includes(name)) {
      this.fail(Codes.unknownPipe, `unknown pipe '${name}': expected one of ${PIPE_NAMES.join(', ')}`, nameTok.span);
    }
    const args: Expr[] = [];
    while (!this.isOp('|') && this.tok.kind !== 'eof') {
      if (args.length > 0) {
        if (this.isOp(',')) this.next();
        else if (this.dialect === 'elasticsearch' && name !== 'sort' && name !== 'unique' && name !== 'count' && name !== 'unique_count') {
          this.fail(Codes.unexpectedToken, `expected ',' or '|' after a pipe argument, found ${this.describe(this.tok)}`);
        }
      }
      args.push(this.parseExpr());
    }
    const span = joinSpans(bar.span, args.length > 0 ? args[args.length - 1]!.span : nameTok.span);
    const pipe: Pipe = { kind: 'pipe', name: name as PipeName, args, span };
    this.checkPipe(pipe, nameTok.span);
    return pipe;
  }

  private checkPipe(pipe: Pipe, nameSpan: Span): void {
    if (pipe.name === 'head' || pipe.name === 'tail') {
      const a = pipe.args[0];
      if (pipe.args.length === 0 && this.dialect === 'endgame') return; // endgame defaults to 1
      if (pipe.args.length !== 1 || a === undefined || a.kind !== 'number' || !a.integer || a.value < 0) {
        this.report(Codes.badPipeArgument, `'${pipe.name}' takes one non-negative whole number`, a?.span ?? nameSpan);
      }
      return;
    }
    if (pipe.name === 'filter' && pipe.args.length !== 1) {
      this.report(Codes.badPipeArgument, "'filter' takes exactly one condition", pipe.args[1]?.span ?? nameSpan);
    }
    if (pipe.name === 'window') {
      this.report(Codes.unknownPipe, "'window' is not supported", nameSpan);
    }
    if (this.dialect === 'elasticsearch') {
      this.report(Codes.extension, `pipe '${pipe.name}' is an endgame EQL extension; Elasticsearch only has head and tail`, nameSpan, 'info');
    }
  }

  // ---- expressions

  private parseExpr(): Expr {
    this.enter();
    try {
      return this.parseOr();
    } finally {
      this.leave();
    }
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.isWord('or')) {
      this.next();
      const right = this.parseAnd();
      left = { kind: 'logical', op: 'or', left, right, span: joinSpans(left.span, right.span) };
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    while (this.isWord('and')) {
      this.next();
      const right = this.parseNot();
      left = { kind: 'logical', op: 'and', left, right, span: joinSpans(left.span, right.span) };
    }
    return left;
  }

  private parseNot(): Expr {
    const t = this.tok;
    if (this.isWord('not')) {
      this.next();
      this.enter();
      try {
        const operand = this.parseNot();
        return { kind: 'not', operand, span: joinSpans(t.span, operand.span) };
      } finally {
        this.leave();
      }
    }
    if (t.kind === 'ident' && (t.text === 'descendant' || t.text === 'child' || t.text === 'event') && this.isWord('of', this.peek())) {
      this.next();
      this.next();
      this.expectOp('[', `after '${t.text} of'`);
      this.enter();
      try {
        const query = this.parseEventFilter();
        const close = this.expectOp(']', `to close '${t.text} of [...]'`);
        if (this.dialect === 'elasticsearch') {
          this.report(Codes.extension, `'${t.text} of' is an endgame EQL extension; Elasticsearch rejects it`, t.span, 'info');
        }
        return { kind: 'relationship', relation: t.text, query, span: joinSpans(t.span, close.span) };
      } finally {
        this.leave();
      }
    }
    return this.parseComparison();
  }

  private parseComparison(): Expr {
    const left = this.parseAdditive();
    const t = this.tok;
    let result: Expr = left;
    if (t.kind === 'op' && (COMPARE_OPS.has(t.text) || t.text === '=')) {
      this.next();
      if (t.text === '=' && this.dialect === 'elasticsearch') {
        this.report(Codes.singleEquals, "use '==' to compare, not '='", t.span);
      }
      const op: CompareOp = t.text === '=' ? '==' : (t.text as CompareOp);
      const right = this.parseAdditive();
      result = { kind: 'compare', op, left, right, span: joinSpans(left.span, right.span) };
    } else if (this.isWord('not') && this.isWord('in', this.peek())) {
      this.next();
      this.next();
      const list = this.parseList('in');
      result = { kind: 'in', value: left, list: list.items, negated: true, insensitive: false, span: joinSpans(left.span, list.span) };
    } else if (this.isWord('in') || this.isWord('in~')) {
      this.next();
      const list = this.parseList(t.text);
      result = { kind: 'in', value: left, list: list.items, negated: false, insensitive: t.text === 'in~', span: joinSpans(left.span, list.span) };
    } else if (this.dialect === 'endgame' && this.isOp(':') && this.peek().kind === 'ident' && this.isOp('(', this.peek(2))) {
      // endgame method syntax: `value:func(args)` is `func(value, args)`
      this.next();
      const call = this.parseCall() as Extract<Expr, { kind: 'call' }>;
      result = { ...call, args: [left, ...call.args], span: joinSpans(left.span, call.span) };
    } else if (this.isOp('!:')) {
      // `a !: b` is `not a : b`
      this.next();
      const m = this.parseMatchRight(':', left);
      result = { kind: 'not', operand: m, span: m.span };
    } else if (this.isOp(':') || this.isWord('like') || this.isWord('like~') || this.isWord('regex') || this.isWord('regex~')) {
      this.next();
      result = this.parseMatchRight(t.text as MatchOp, left);
    }
    const after = this.tok;
    if (result !== left && after.kind === 'op' && (COMPARE_OPS.has(after.text) || after.text === ':' || after.text === '=' || after.text === '!:')) {
      this.fail(Codes.chainedComparison, `comparisons do not chain: wrap one side in parentheses before ${this.describe(after)}`);
    }
    return result;
  }

  private parseMatchRight(op: MatchOp, left: Expr): Expr {
    {
      if (this.isOp('(')) {
        const list = this.parseList(op);
        return { kind: 'match', op, value: left, patterns: list.items, list: true, span: joinSpans(left.span, list.span) };
      }
      const pattern = this.parseUnary();
      return { kind: 'match', op, value: left, patterns: [pattern], list: false, span: joinSpans(left.span, pattern.span) };
    }
  }

  private parseList(what: string): { items: Expr[]; span: Span } {
    const open = this.expectOp('(', `to open the list after '${what}'`);
    if (this.isOp(')')) this.fail(Codes.emptyList, `the list after '${what}' is empty`, joinSpans(open.span, this.tok.span));
    const items = this.parseExprList();
    const close = this.expectOp(')', `to close the list after '${what}'`);
    return { items, span: joinSpans(open.span, close.span) };
  }

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.next().text as '+' | '-';
      const right = this.parseMultiplicative();
      left = { kind: 'arith', op, left, right, span: joinSpans(left.span, right.span) };
    }
    return left;
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = this.next().text as '*' | '/' | '%';
      const right = this.parseUnary();
      left = { kind: 'arith', op, left, right, span: joinSpans(left.span, right.span) };
    }
    return left;
  }

  private parseUnary(): Expr {
    const t = this.tok;
    if (this.isOp('-') || this.isOp('+')) {
      this.next();
      const n = this.tok;
      // fold a sign written against a number into the literal, as Elasticsearch does
      if ((n.kind === 'integer' || n.kind === 'decimal') && !n.spaceBefore) {
        this.next();
        const value = t.text === '-' ? -n.number! : n.number!;
        return { kind: 'number', value, integer: n.kind === 'integer', span: joinSpans(t.span, n.span) };
      }
      this.enter();
      try {
        const operand = this.parseUnary();
        if (t.text === '+') return operand;
        return { kind: 'negate', operand, span: joinSpans(t.span, operand.span) };
      } finally {
        this.leave();
      }
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    switch (t.kind) {
      case 'string':
        this.next();
        return { kind: 'string', value: t.text, span: t.span };
      case 'integer':
      case 'decimal': {
        this.next();
        if (!Number.isFinite(t.number)) this.report(Codes.invalidNumber, `number ${t.text} is out of range`, t.span);
        return { kind: 'number', value: t.number!, integer: t.kind === 'integer', span: t.span };
      }
      case 'quoted':
        return this.parseField(false, t.span);
      case 'ident': {
        if (t.text === 'true' || t.text === 'false') {
          this.next();
          return { kind: 'boolean', value: t.text === 'true', span: t.span };
        }
        if (t.text === 'null') {
          this.next();
          return { kind: 'null', span: t.span };
        }
        if (this.isOp('(', this.peek()) && !this.peek().spaceBefore) return this.parseCall();
        if (KEYWORDS.has(t.text) || (t.text.endsWith('~') && KEYWORDS.has(t.text.slice(0, -1)))) {
          this.fail(
            t.text === 'where' || t.text === 'by' ? Codes.unexpectedToken : Codes.keywordAsField,
            `expected an expression, found keyword '${t.text}'${t.text === 'where' || t.text === 'by' ? '' : '; quote a field of that name with backquotes'}`,
          );
        }
        if (this.isOp('(', this.peek())) return this.parseCall();
        return this.parseField(false, t.span);
      }
      case 'op': {
        if (t.text === '(') {
          this.next();
          const inner = this.parseExpr();
          this.expectOp(')', 'to close the parenthesis');
          return inner;
        }
        if (t.text === '?') {
          this.next();
          const f = this.tok;
          if (f.kind !== 'ident' && f.kind !== 'quoted') this.fail(Codes.unexpectedToken, `expected a field name after '?', found ${this.describe(f)}`);
          return this.parseField(true, t.span);
        }
        break;
      }
      default:
        break;
    }
    this.fail(Codes.expectedExpression, `expected an expression, found ${this.describe(t)}`);
  }

  private parseCall(): Expr {
    const nameTok = this.next();
    this.next(); // (
    const insensitive = nameTok.text.endsWith('~');
    const name = insensitive ? nameTok.text.slice(0, -1) : nameTok.text;
    const args: Expr[] = [];
    if (!this.isOp(')')) {
      args.push(...this.parseExprList());
    }
    const close = this.expectOp(')', `to close the call to ${name}`);
    return { kind: 'call', name, insensitive, args, span: joinSpans(nameTok.span, close.span) };
  }

  private parseField(optional: boolean, start: Span): Expr {
    const path: FieldSegment[] = [];
    const first = this.next();
    if (first.kind === 'ident' && first.text.endsWith('~')) {
      this.fail(Codes.unexpectedToken, `'~' may only follow a function name or an operator`, first.span);
    }
    path.push(first.text);
    let end = first.span;
    for (;;) {
      if (this.isOp('.') && !this.tok.spaceBefore) {
        const dot = this.next();
        const seg = this.tok;
        if ((seg.kind !== 'ident' && seg.kind !== 'quoted') || seg.spaceBefore || (seg.kind === 'ident' && seg.text.endsWith('~'))) {
          this.fail(Codes.unexpectedToken, `expected a field name after '.', found ${this.describe(seg)}`, seg.kind === 'eof' ? dot.span : seg.span);
        }
        this.next();
        path.push(seg.text);
        end = seg.span;
      } else if (this.isOp('[') && !this.tok.spaceBefore) {
        this.next();
        const idx = this.tok;
        if (idx.kind !== 'integer') this.fail(Codes.unexpectedToken, `expected an array index after '[', found ${this.describe(idx)}`);
        this.next();
        const close = this.expectOp(']', 'to close the array index');
        path.push(idx.number!);
        end = close.span;
      } else break;
    }
    return { kind: 'field', path, optional, span: joinSpans(start, end) };
  }
}

function widen(span: Span): Span {
  return span.end > span.start ? span : createSpan(span.start, span.start + 1);
}
