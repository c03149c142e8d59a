export { ecsSchema, createSchema, valueTypeOf, type Schema, type ValueType } from './schema.js';
