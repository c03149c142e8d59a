export { createSpan, joinSpans, LineMap, type Span, type LineCol } from './span.js';
export {
  formatDiagnostics,
  hasErrors,
  diagnosticPosition,
  type Diagnostic,
  type Severity,
  type FormatOptions,
} from './diagnostic.js';
export { systemClock, ManualClock, nextTurn, type Clock } from './clock.js';
export { eventDocument, peekEventTimes, peekTimestamp, parseJsonObject, NOT_AN_OBJECT, type EventTimes } from './json-scan.js';
export { StringMemo, ownString } from './memo.js';
export { createIndexMatcher } from './index-pattern.js';
export { JsonProjector, projection, type Projection, type ProjectionNode } from './json-project.js';
