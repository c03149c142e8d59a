export * from './model.js';
export { RuleCodes } from './messages.js';
export { parseDateMath, parseDuration } from './date-math.js';
export { buildRule, type RuleSource, type BuiltRule } from './build-rule.js';
export { loadTomlRule } from './load-toml.js';
export { loadMarkdownRule, writeMarkdownRule } from './markdown.js';
export { loadNdjsonRules, writeNdjsonRules, type LoadedRules } from './ndjson.js';
export { loadRules, parseRuleFile, RULE_EXTENSIONS, type RuleFile, type LoadedRuleSet } from './load-rules.js';
export { thresholdParams, newTermsParams, threatMatchParams, typeParamsProblem, type ThresholdParams, type NewTermsParams, type ThreatMatchParams, type ThreatMappingEntry, type Params } from './rule-params.js';
