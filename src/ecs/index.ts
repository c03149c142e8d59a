export { ecsSchema, ecsFieldType, ecsFieldsMatching, createSchema, valueTypeOf, type Schema, type ValueType } from './schema.js';
export { createFieldGetter, parseFieldPath, type FieldGetter, type FieldPath } from './field-access.js';
export { compileWildcard, type StringMatcher } from './wildcard.js';
