export { planExecution, nextDue, type Plan, type PlannedWindow } from './plan.js';
export { Scheduler, type SchedulerDeps } from './scheduler.js';
