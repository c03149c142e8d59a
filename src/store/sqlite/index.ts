export { openEventReader, openSqliteStore } from './sqlite-store.js';
export { StoreDamagedError, type StoreReport } from './integrity.js';
export { checkStoreFolder, recoverStoreFolder } from './maintenance.js';
