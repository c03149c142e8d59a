export { activeRule, aggregationOf, describeAggregation, compileKey, compileRule, stateScope, whyNotRunnable, type Aggregation, DEFAULT_INDEX_PATTERNS, isScheduled, isStreamable, ruleIndexMatcher, type ActiveRule } from './active-rule.js';
export { EventBridge, matchTime, writeMatches, type WriteOutcome } from './matches.js';
export { PassFeed, PassScan, passSpans, ScheduledRuleSet, SharedPass, type IndexRuleSet, type PassCandidate, type PassWindow, type ScanSummary, type WindowOutcome } from './shared-pass.js';
export { RuleAggregator, enrichmentOf, indicatorTest, loadIndicators, MAX_TERMS_PER_RULE } from './aggregate-matches.js';
export { applyExceptions, describeExceptions, exceptionCondition, itemCondition, ruleStatement, withExceptions, type RuleExceptions } from './exceptions.js';
export { suppressionGroup, suppressionParams, type SuppressionParams, type SuppressionTerms } from './suppression.js';
export { DEFAULT_RULE_LIMITS, limitedSchedule, limitProblems, type RuleLimits } from './limits.js';
