export { Vigil, esError, type VigilConfig, type IngestItem, type HttpAnswer } from './vigil.js';
export { RuleRegistry } from './rule-registry.js';
export { compileFilter, DslError } from './query-dsl.js';
// the hunt is a driver of its own (src/hunt); the service and the CLI reach it through here
export * from '../hunt/index.js';
