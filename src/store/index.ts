export * from './ports.js';
export { createIndexMatcher } from '../core/index.js';
export { checkStoreFolder, openEventReader, openSqliteStore, openStoreReader, recoverStoreFolder, StoreDamagedError, type StoreReport } from './sqlite/index.js';
