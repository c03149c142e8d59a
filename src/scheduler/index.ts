export { planExecution, nextDue, type Plan, type PlannedWindow } from './plan.js';
export { DEFAULT_INDEX_PATTERNS, type ActiveRule } from './active-rule.js';
export { executeRule, writeMatches, EventBridge, type ExecutionResult } from './execute-rule.js';
export { Scheduler, type SchedulerDeps } from './scheduler.js';
