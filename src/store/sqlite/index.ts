export { openEventReader, openSqliteStore } from './sqlite-store.js';
