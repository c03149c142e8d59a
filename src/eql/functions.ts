import type { ValueType } from '../ecs/index.js';

/** An argument's accepted types; `any` accepts everything. */
export type ArgType = ValueType | 'any';

export interface ParamSpec {
  readonly name: string;
  readonly types: readonly ArgType[];
  /** Elasticsearch requires this argument to be a literal (foldable). */
  readonly constant?: boolean;
}

/**
 * A function's signature: read by the checker (arity, types) and by the compiler (to pick the
 * implementation). `rest` repeats the last parameter.
 */
export interface FunctionSignature {
  readonly name: string;
  readonly params: readonly ParamSpec[];
  readonly minArgs: number;
  readonly rest: boolean;
  readonly returns: ValueType;
  /** Has a `name~` case-insensitive form. */
  readonly insensitive: boolean;
  /** Endgame-only: Elasticsearch does not offer it. */
  readonly extension: boolean;
}

const STR: readonly ArgType[] = ['string'];
const NUM: readonly ArgType[] = ['number'];
const ANY: readonly ArgType[] = ['any'];

function sig(
  name: string,
  params: ParamSpec[],
  returns: ValueType,
  opts: { min?: number; rest?: boolean; insensitive?: boolean; extension?: boolean } = {},
): FunctionSignature {
  return {
    name,
    params,
    minArgs: opts.min ?? params.length,
    rest: opts.rest ?? false,
    returns,
    insensitive: opts.insensitive ?? false,
    extension: opts.extension ?? false,
  };
}

const p = (name: string, types: readonly ArgType[], constant = false): ParamSpec => ({ name, types, constant });

/** Every function EQL knows, keyed by the exact (case-sensitive) name. */
export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map(
  [
    sig('add', [p('left', NUM), p('right', NUM)], 'number'),
    sig('between', [p('source', STR), p('left', STR), p('right', STR), p('greedy', ['boolean'], true)], 'string', { min: 3, insensitive: true }),
    sig('cidrMatch', [p('source', ['ip', 'string']), p('cidr', STR, true)], 'boolean', { rest: true }),
    sig('concat', [p('value', ANY)], 'string', { rest: true }),
    sig('divide', [p('dividend', NUM), p('divisor', NUM)], 'number'),
    sig('endsWith', [p('source', STR), p('suffix', STR)], 'boolean', { insensitive: true }),
    sig('indexOf', [p('source', STR), p('substring', STR), p('start', NUM)], 'number', { min: 2, insensitive: true }),
    sig('length', [p('source', STR)], 'number'),
    sig('modulo', [p('dividend', NUM), p('divisor', NUM)], 'number'),
    sig('multiply', [p('left', NUM), p('right', NUM)], 'number'),
    sig('number', [p('source', STR), p('base', NUM)], 'number', { min: 1 }),
    sig('startsWith', [p('source', STR), p('prefix', STR)], 'boolean', { insensitive: true }),
    sig('string', [p('value', ANY)], 'string'),
    sig('stringContains', [p('source', STR), p('substring', STR)], 'boolean', { insensitive: true }),
    sig('substring', [p('source', STR), p('start', NUM), p('end', NUM)], 'string', { min: 2 }),
    sig('subtract', [p('left', NUM), p('right', NUM)], 'number'),
    // endgame extensions
    sig('arrayContains', [p('array', ANY), p('value', ANY)], 'boolean', { rest: true, extension: true }),
    sig('arrayCount', [p('array', ANY), p('variable', ANY), p('condition', ['boolean', 'unknown'])], 'number', { extension: true }),
    sig('arraySearch', [p('array', ANY), p('variable', ANY), p('condition', ['boolean', 'unknown'])], 'boolean', { extension: true }),
    sig('match', [p('source', STR), p('pattern', STR, true)], 'boolean', { rest: true, extension: true }),
    sig('matchLite', [p('source', STR), p('pattern', STR, true)], 'boolean', { rest: true, extension: true }),
    sig('safe', [p('value', ANY)], 'unknown', { extension: true }),
    sig('wildcard', [p('source', STR), p('pattern', STR, true)], 'boolean', { rest: true, extension: true }),
  ].map((s) => [s.name, s]),
);

/** Finds a function by name; endgame names are case-insensitive, so a fallback lookup ignores case. */
export function lookupFunction(name: string, ignoreCase = false): FunctionSignature | undefined {
  const exact = FUNCTIONS.get(name);
  if (exact || !ignoreCase) return exact;
  const lower = name.toLowerCase();
  for (const s of FUNCTIONS.values()) if (s.name.toLowerCase() === lower) return s;
  return undefined;
}
