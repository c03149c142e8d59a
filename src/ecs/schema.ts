import { createRequire } from 'node:module';

/** The value types EQL reasons about; Elasticsearch field types collapse onto these. */
export type ValueType = 'string' | 'number' | 'boolean' | 'date' | 'ip' | 'object' | 'geo' | 'null' | 'unknown';

/** Field types by dotted name. The checker asks it; it never reads events. */
export interface Schema {
  /** The value type of a field, or undefined when the schema does not know it. */
  fieldType(name: string): ValueType | undefined;
}

const ES_TYPES: Record<string, ValueType> = {
  keyword: 'string',
  constant_keyword: 'string',
  wildcard: 'string',
  text: 'string',
  match_only_text: 'string',
  version: 'string',
  long: 'number',
  integer: 'number',
  short: 'number',
  byte: 'number',
  double: 'number',
  float: 'number',
  half_float: 'number',
  scaled_float: 'number',
  unsigned_long: 'number',
  date: 'date',
  date_nanos: 'date',
  ip: 'ip',
  boolean: 'boolean',
  object: 'object',
  nested: 'object',
  flattened: 'object',
  geo_point: 'geo',
};

/** Maps an Elasticsearch mapping type (`keyword`, `long`, …) to an EQL value type. */
export function valueTypeOf(esType: string): ValueType {
  return ES_TYPES[esType] ?? 'unknown';
}

/** A schema from a flat map of field name → Elasticsearch type. */
export function createSchema(fields: Readonly<Record<string, string>>): Schema {
  const map = new Map<string, ValueType>();
  for (const [name, type] of Object.entries(fields)) map.set(name, valueTypeOf(type));
  return {
    fieldType(name: string): ValueType | undefined {
      return map.get(name);
    },
  };
}

let ecs: Schema | undefined;
let ecsTypes: Map<string, string> | undefined;

/** Each ECS field's Elasticsearch type (`keyword`, `long`, `match_only_text`…), multi-fields included. */
function ecsTypeMap(): Map<string, string> {
  if (ecsTypes) return ecsTypes;
  const { EcsFlat } = createRequire(import.meta.url)('@elastic/ecs') as typeof import('@elastic/ecs');
  const m = new Map<string, string>();
  for (const def of Object.values(EcsFlat) as Array<{ flat_name: string; type: string; multi_fields?: Array<{ flat_name: string; type: string }> }>) {
    m.set(def.flat_name, def.type);
    for (const mf of def.multi_fields ?? []) m.set(mf.flat_name, mf.type);
  }
  return (ecsTypes = m);
}

/** The Elasticsearch type ECS gives a field, or undefined for a field ECS does not define. */
export function ecsFieldType(name: string): string | undefined {
  return ecsTypeMap().get(name);
}

/**
 * The ECS fields (multi-fields left out) whose names a KQL field-name pattern matches (`*` for any
 * run of characters, dots included, as Kibana expands it against an index's fields), sorted.
 */
export function ecsFieldsMatching(pattern: string): string[] {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  const out: string[] = [];
  for (const [name, type] of ecsTypeMap()) if (re.test(name) && type !== 'object' && type !== 'nested' && !isMultiField(name)) out.push(name);
  return out.sort();
}

let multi: Set<string> | undefined;
function isMultiField(name: string): boolean {
  if (!multi) {
    const { EcsFlat } = createRequire(import.meta.url)('@elastic/ecs') as typeof import('@elastic/ecs');
    multi = new Set();
    for (const def of Object.values(EcsFlat) as Array<{ multi_fields?: Array<{ flat_name: string }> }>) for (const mf of def.multi_fields ?? []) multi.add(mf.flat_name);
  }
  return multi.has(name);
}

/**
 * ECS as published in `@elastic/ecs` (EcsFlat), with each field's multi-fields (`process.name.text`).
 * The package is loaded when the schema is first asked for: it is 20 ms of every start (each hunt
 * worker's, and every command's) that checks no query against ECS.
 */
export function ecsSchema(): Schema {
  if (ecs) return ecs;
  ecs = createSchema(Object.fromEntries(ecsTypeMap()));
  return ecs;
}
