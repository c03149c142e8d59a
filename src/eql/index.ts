export * from './ast.js';
export { lex, type Dialect, type LexResult } from './lexer.js';
export { parse, parseExpression, type ParseOptions, type ParseResult } from './parser.js';
export { printStatement, printQuery, printExpr, printFilter, printString } from './printer.js';
export { checkStatement, type CheckOptions } from './checker.js';
export { FUNCTIONS, lookupFunction, type FunctionSignature, type ParamSpec } from './functions.js';
export { Codes, type Code } from './messages.js';
export { parseQuery, type ParseQueryOptions, type ParsedQuery } from './parse-query.js';
