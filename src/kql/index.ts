export type { KqlQuery, KqlBool, KqlNot, KqlMatch, KqlExists, KqlRange, KqlNested, KqlText, KqlValue, KqlValueBool, KqlValueNot, KqlLiteral } from './ast.js';
export { literalText, hasWildcard } from './ast.js';
export { parseKql, KqlCodes, type ParsedKql } from './parser.js';
export { printKql } from './printer.js';
export { kqlStatement, kqlToEql, matchAllStatement, resolveDateMath, type FieldTypes, type KqlOptions, type KqlTranslation } from './to-eql.js';
export { ruleKqlStatement } from './rule-query.js';
