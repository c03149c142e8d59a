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
export {
  compileQuery,
  type QueryOptions,
  type CompiledQuery,
  type CompileResult,
  type Matcher,
  type SearchHits,
  type EventHit,
  type SequenceHit,
  type EventInput,
  type EventOptions,
  IndexMapping,
  type FieldMapping,
} from './engine/index.js';
export { loadRules, writeMarkdownRule, writeNdjsonRules, type Rule, type LoadedRuleSet } from './rules/index.js';
export { ecsSchema, createSchema, type Schema } from './ecs/index.js';
