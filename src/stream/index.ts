export { StreamEngine, isStreamable } from './stream-engine.js';
