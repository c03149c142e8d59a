/** Vigil's public library surface. */
export { formatDiagnostics, hasErrors, LineMap, type Diagnostic, type Span, type Severity } from './core/index.js';
export {
  parseQuery,
  printStatement,
  stripSpans,
  Codes,
  type ParseQueryOptions,
  type ParsedQuery,
  type Statement,
  type Expr,
  type Query,
} from './eql/index.js';
export { ecsSchema, createSchema, type Schema } from './ecs/index.js';
