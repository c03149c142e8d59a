export { runHunt, runHuntSpooled, expandInputs, compileHuntRules, defaultWorkers, HuntScanner, type HuntOptions, type HuntResult, type SpooledHuntResult, type HuntProgress, type BadLine, type ReadError, type SkippedInput } from './hunt.js';
export { AlertSpool, groupText, HOLD_ALERTS, type AlertFields, type AlertGroup, type GroupDocs, type GroupText } from './alert-spool.js';
