export { createServer, UI_DIR, type ServerOptions } from './server.js';
export { parseBulk, indexNameProblem, type BulkItem } from './es/bulk.js';
export { NO_SECURITY, Credentials, readTls, selfSignedTls, type SecurityConfig, type SecurityEntry, type TlsMaterial } from './security/index.js';
