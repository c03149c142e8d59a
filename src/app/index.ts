export { Vigil, ALERTS_INDEX, type VigilConfig, type IngestItem, type ForwardedEvent, type RuleChange, type RuleChangeResult } from './vigil.js';
export { RuleRegistry } from './rule-registry.js';
export { countRules, ruleState, selectRules, RULE_SORTS, RULE_STATES, type RuleCounts, type RuleListQuery, type RuleState, type RuleSummary } from './rule-list.js';
// the hunt is a driver of its own (src/hunt); the service and the CLI reach it through here
export * from '../hunt/index.js';
export { Documents } from './documents.js';
