import { createFieldGetter, parseFieldPath, type FieldGetter } from '../../ecs/index.js';
import { parseIp } from '../../eql/index.js';

type IpAddress = NonNullable<ReturnType<typeof parseIp>>;
import { parseDate } from './date-math.js';

/** A stored document as searches see it. */
export interface Doc {
  readonly index: string;
  readonly id: string;
  readonly seq: number;
  readonly version: number;
  readonly source: Readonly<Record<string, unknown>>;
}

/** How a field's values compare: by its mapped type, or by each value's JSON type when unmapped. */
export type Kind = 'keyword' | 'text' | 'number' | 'date' | 'ip' | 'boolean' | 'dynamic' | 'object';

export function kindOfType(esType: string | undefined): Kind {
  switch (esType) {
    case undefined:
      return 'dynamic';
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'version':
    case 'flattened':
      return 'keyword';
    case 'text':
    case 'match_only_text':
    case 'search_as_you_type':
      return 'text';
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'double':
    case 'float':
    case 'half_float':
    case 'scaled_float':
    case 'unsigned_long':
      return 'number';
    case 'date':
    case 'date_nanos':
      return 'date';
    case 'ip':
      return 'ip';
    case 'boolean':
      return 'boolean';
    case 'object':
    case 'nested':
    case 'flattened_object':
      return 'object';
    default:
      return 'keyword';
  }
}

/** Field types by index (mapping, then ECS); undefined: not mapped. */
export type TypeOf = (index: string, field: string) => string | undefined;

/**
 * A field as queries read it: its values in a document (arrays flattened; `x.keyword` and `x.text`
 * multi-fields read `x`), and its kind in the document's index.
 */
export class FieldRef {
  private readonly get: FieldGetter;
  private readonly parent: FieldGetter | null;
  private readonly kinds = new Map<string, Kind>();
  private readonly forcedKind: Kind | null;

  constructor(
    readonly name: string,
    private readonly typeOf: TypeOf,
  ) {
    this.get = createFieldGetter(parseFieldPath(name));
    const m = /^(.+)\.(keyword|text)$/.exec(name);
    this.parent = m ? createFieldGetter(parseFieldPath(m[1]!)) : null;
    this.forcedKind = m ? (m[2] === 'keyword' ? 'keyword' : 'text') : null;
  }

  values(doc: Doc): unknown[] {
    let v = this.get(doc.source);
    if (v === undefined && this.parent) v = this.parent(doc.source);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return [v];
    return v.flat(Infinity).filter((x) => x !== null && x !== undefined);
  }

  kind(index: string): Kind {
    let k = this.kinds.get(index);
    if (k === undefined) {
      const t = this.typeOf(index, this.name);
      k = t === undefined && this.forcedKind ? this.forcedKind : kindOfType(t);
      this.kinds.set(index, k);
    }
    return k;
  }
}

/** The standard analyzer, near enough: lower-cased runs of letters and digits. */
export function analyze(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+(?:['.][\p{L}\p{N}_]+)*/gu) ?? [];
}

/** A value's kind when the field is not mapped. */
export function dynamicKind(v: unknown): Kind {
  return typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : typeof v === 'object' ? 'object' : 'keyword';
}

/** A value as sorting and aggregations order it: numbers for number and date kinds, else text. */
export function sortable(v: unknown, kind: Kind, now: number): number | string | null {
  const k = kind === 'dynamic' ? dynamicKind(v) : kind;
  switch (k) {
    case 'number': {
      const n = typeof v === 'number' ? v : Number(v);
      return Number.isNaN(n) ? null : n;
    }
    case 'date':
      try {
        return parseDate(v, now);
      } catch {
        return null;
      }
    case 'boolean':
      return v === true || v === 'true' ? 1 : 0;
    case 'object':
      return null;
    default:
      return String(v);
  }
}

export function ipOf(v: unknown): IpAddress | null {
  return typeof v === 'string' ? parseIp(v) : null;
}
