export { DEFAULT_INDEX_PATTERNS, isScheduled, isStreamable, ruleIndexMatcher, type ActiveRule } from './active-rule.js';
export { EventBridge, writeMatches, type WriteOutcome } from './matches.js';
export { ScheduledRuleSet, SharedPass, type PassWindow, type WindowOutcome } from './shared-pass.js';
