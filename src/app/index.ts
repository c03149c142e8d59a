export { Vigil, esError, type VigilConfig, type IngestItem, type HttpAnswer } from './vigil.js';
export { RuleRegistry } from './rule-registry.js';
export { compileFilter, DslError } from './query-dsl.js';
export { runHunt, expandInputs, compileHuntRules, defaultWorkers, type HuntOptions, type HuntResult, type HuntProgress, type BadLine, type ReadError } from './hunt.js';
