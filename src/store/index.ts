export * from './ports.js';
export { createIndexMatcher } from '../core/index.js';
export { openEventReader, openSqliteStore } from './sqlite/index.js';
