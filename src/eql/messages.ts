/**
 * The catalogue of EQL diagnostic codes. Codes are stable: tests and users match on them.
 * 1xxx: lexical, 2xxx: syntax, 3xxx: semantic (checker).
 */
export const Codes = {
  unexpectedCharacter: 'EQL1001',
  unterminatedString: 'EQL1002',
  invalidEscape: 'EQL1003',
  singleQuotedString: 'EQL1004',
  invalidNumber: 'EQL1005',
  unterminatedComment: 'EQL1006',
  unterminatedQuotedField: 'EQL1007',
  newlineInString: 'EQL1008',

  unexpectedToken: 'EQL2001',
  expectedExpression: 'EQL2002',
  sequenceTooShort: 'EQL2003',
  maxspanWithoutUnit: 'EQL2004',
  unknownTimeUnit: 'EQL2005',
  singleEquals: 'EQL2006',
  unknownPipe: 'EQL2007',
  badPipeArgument: 'EQL2008',
  badRuns: 'EQL2009',
  emptyPipe: 'EQL2010',
  unknownParameter: 'EQL2011',
  missingEventNotAllowed: 'EQL2012',
  extension: 'EQL2013',
  chainedComparison: 'EQL2014',
  keywordAsField: 'EQL2015',
  emptyList: 'EQL2016',
  duplicateParameter: 'EQL2017',
  allStagesMissing: 'EQL2018',
  trailingInput: 'EQL2019',
  tooDeep: 'EQL2020',

  unknownFunction: 'EQL3001',
  wrongArity: 'EQL3002',
  argumentType: 'EQL3003',
  argumentNotConstant: 'EQL3004',
  noInsensitiveVariant: 'EQL3005',
  unknownField: 'EQL3006',
  comparisonTypes: 'EQL3007',
  patternNotString: 'EQL3008',
  invalidRegex: 'EQL3009',
  byKeyCount: 'EQL3010',
  notBoolean: 'EQL3011',
  fieldNotQueryable: 'EQL3012',
} as const;

export type Code = (typeof Codes)[keyof typeof Codes];
