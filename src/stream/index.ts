export { StreamEngine } from './stream-engine.js';
