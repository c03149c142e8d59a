export { EsError } from './errors.js';
export { registerEs, registerEsHooks } from './routes.js';
