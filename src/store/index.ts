export * from './ports.js';
export { createIndexMatcher } from '../core/index.js';
export { openSqliteStore } from './sqlite/index.js';
