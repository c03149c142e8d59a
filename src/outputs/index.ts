export { OutputDispatcher, parseOutputSpec, type OutputSpec, type OutputStats, type OutputOptions } from './dispatcher.js';
