export { openEventReader, openSqliteStore, openStoreReader } from './sqlite-store.js';
export { StoreDamagedError, type StoreReport } from './integrity.js';
export { checkStoreFolder, recoverStoreFolder } from './maintenance.js';
