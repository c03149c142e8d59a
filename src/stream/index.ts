export { StreamEngine, type ForwardRequest, type PushOptions, type StreamRoute } from './stream-engine.js';
