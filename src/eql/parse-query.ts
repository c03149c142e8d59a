import { hasErrors, type Diagnostic } from '../core/index.js';
import { ecsSchema, type Schema } from '../ecs/index.js';
import type { Statement } from './ast.js';
import { checkStatement } from './checker.js';
import type { Dialect } from './lexer.js';
import { parse } from './parser.js';

export interface ParseQueryOptions {
  readonly dialect?: Dialect;
  /** Field schema for the checker; defaults to ECS. `null` skips field checks. */
  readonly schema?: Schema | null;
  /** Unknown fields become errors. */
  readonly strict?: boolean;
}

export interface ParsedQuery {
  /** Null when the text could not be parsed at all. */
  readonly ast: Statement | null;
  /** Lexical, syntax and semantic diagnostics, in source order. */
  readonly diagnostics: Diagnostic[];
  /** True when no diagnostic is an error. */
  readonly ok: boolean;
}

/** Parses and checks one EQL query. Never throws on input. */
export function parseQuery(text: string, options: ParseQueryOptions = {}): ParsedQuery {
  const dialect = options.dialect ?? 'elasticsearch';
  const parsed = parse(text, { dialect });
  const diagnostics = parsed.diagnostics;
  // semantic checks only on a syntactically clean tree: errors on a recovered tree would be noise
  if (parsed.ast && !hasErrors(diagnostics)) {
    const schema = options.schema === undefined ? (dialect === 'endgame' ? null : ecsSchema()) : options.schema;
    diagnostics.push(...checkStatement(parsed.ast, { schema, strict: options.strict, dialect }));
    diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  }
  return { ast: parsed.ast, diagnostics, ok: parsed.ast !== null && !hasErrors(diagnostics) };
}
