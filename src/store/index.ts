export * from './ports.js';
export { createIndexMatcher } from './index-pattern.js';
export { openSqliteStore } from './sqlite/index.js';
