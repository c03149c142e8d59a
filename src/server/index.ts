export { createServer, UI_DIR, type ServerOptions } from './server.js';
export { parseBulk, indexNameProblem, type BulkItem } from './es/bulk.js';
