import { ecsFieldType } from '../ecs/index.js';
import { parseIp, type FieldSemantics, type Scalar } from '../eql/index.js';

/**
 * An Elasticsearch index mapping, as far as EQL semantics depend on it: field types decide how
 * values compare and print (an `ip` compares as an address, a `date` with a custom `format` is
 * epoch milliseconds, a `long` given as a string is a number), and `alias` fields read another field.
 * Documents are typed once, when they are read; the original `_source` is kept for output.
 */
export interface FieldMapping {
  readonly type: string;
  readonly format?: string;
  /** For `alias`: the field it reads. */
  readonly path?: string;
  /** The value an explicit null is searched as (`_source` keeps the null). */
  readonly nullValue?: unknown;
}

export class IndexMapping {
  private readonly fields = new Map<string, FieldMapping>();

  /** Accepts `{ "properties": … }` or `{ "mappings": { "properties": … } }`. */
  static fromJson(json: unknown): IndexMapping {
    const m = new IndexMapping();
    const root = json as { mappings?: { properties?: unknown }; properties?: unknown };
    m.walk((root.mappings?.properties ?? root.properties ?? {}) as Record<string, unknown>, '');
    return m;
  }

  private walk(props: Record<string, unknown>, prefix: string): void {
    for (const [name, def] of Object.entries(props)) {
      const d = def as { type?: string; format?: string; path?: string; null_value?: unknown; properties?: Record<string, unknown> };
      const full = prefix ? `${prefix}.${name}` : name;
      if (d.properties) this.walk(d.properties, full);
      if (d.type) this.fields.set(full, { type: d.type, format: d.format, path: d.path, nullValue: d.null_value ?? undefined });
    }
  }

  field(name: string): FieldMapping | undefined {
    return this.fields.get(name);
  }

  /** The mapping a field is read through: an alias's target's. */
  resolved(name: string): FieldMapping | undefined {
    const fm = this.fields.get(name);
    return fm?.type === 'alias' && fm.path ? this.fields.get(fm.path) : fm;
  }

  /** A typed copy of a document: mapped values converted, alias fields filled in (as dotted keys). */
  apply(source: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...source };
    for (const [name, fm] of this.fields) {
      if (fm.type === 'alias') continue;
      const v = readPath(source, name);
      if (v === undefined) continue;
      const typed = Array.isArray(v) ? v.map((x) => typedValue(x, fm)) : typedValue(v, fm);
      writePath(out, name, typed);
    }
    for (const [name, fm] of this.fields) {
      if (fm.type !== 'alias' || !fm.path) continue;
      const v = readPath(out, fm.path);
      if (v !== undefined) writePath(out, name, v);
    }
    return out;
  }
}

function readPath(o: Readonly<Record<string, unknown>>, name: string): unknown {
  if (name in o) return o[name];
  let cur: unknown = o;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Writes a value at a dotted path, copying the objects on the way so the original stays intact. */
function writePath(o: Record<string, unknown>, name: string, value: unknown): void {
  if (name in o || !name.includes('.')) {
    o[name] = value;
    return;
  }
  const parts = name.split('.');
  let cur = o;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    const copy = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    cur[part] = copy;
    cur = copy;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** A value as searched: an explicit null as the mapping's `null_value`, when it has one. */
function typedValue(v: unknown, fm: FieldMapping): unknown {
  return v === null && fm.nullValue !== undefined ? convert(fm.nullValue, fm) : convert(v, fm);
}

const INTEGER_TYPES = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long']);
const FLOAT_TYPES = new Set(['double', 'float', 'half_float', 'scaled_float']);

export function convert(v: unknown, fm: FieldMapping): unknown {
  if (v === null) return null;
  switch (fm.type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'version':
      return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
    case 'boolean':
      if (v === 'true') return true;
      if (v === 'false') return false;
      return v;
    case 'ip': {
      if (typeof v !== 'string') return v;
      const ip = parseIp(v);
      return ip ? formatIp(ip.v6, ip.value) : v;
    }
    case 'date': {
      const ms = parseDate(v, fm.format);
      return Number.isNaN(ms) ? v : ms;
    }
    case 'date_nanos':
      return nanosText(v, fm.format) ?? v;
    default:
      if (INTEGER_TYPES.has(fm.type) || FLOAT_TYPES.has(fm.type)) {
        if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) {
          const n = Number(v);
          return INTEGER_TYPES.has(fm.type) ? Math.trunc(n) : n;
        }
      }
      return v;
  }
}

/** Canonical text of an address: dotted IPv4, or RFC 5952 compressed lowercase IPv6. */
export function formatIp(v6: boolean, value: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Epoch milliseconds of a date value: numbers and numeric strings are epoch millis; with a custom
 * `format` (Java pattern letters y M d H m s S) the text is read by it, in UTC; otherwise ISO 8601.
 */
export function parseDate(v: unknown, format?: string): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const formats = (format ?? '').split('||').map((f) => f.trim()).filter((f) => f !== '' && f !== 'strict_date_optional_time' && f !== 'epoch_millis');
  for (const f of formats) {
    const ms = parseWithPattern(v, f);
    if (!Number.isNaN(ms)) return ms;
  }
  if (/^-?\d+$/.test(v)) return Number(v);
  return Date.parse(v);
}

function parseWithPattern(text: string, pattern: string): number {
  const parts: Record<string, number> = { y: 1970, M: 1, d: 1, H: 0, m: 0, s: 0, S: 0 };
  let re = '^';
  const order: string[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    let j = i;
    while (j < pattern.length && pattern[j] === c) j++;
    const run = j - i;
    if ('yMdHmsS'.includes(c)) {
      re += `(\\d{${run === 4 || c === 'y' ? `${Math.min(run, 4)},4` : `1,${run === 3 ? 3 : 2}`}})`;
      order.push(c);
    } else re += pattern.slice(i, j).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    i = j;
  }
  const m = new RegExp(`${re}$`).exec(text);
  if (!m) return NaN;
  order.forEach((c, k) => (parts[c] = Number(m[k + 1])));
  return Date.UTC(parts.y!, parts.M! - 1, parts.d!, parts.H!, parts.m!, parts.s!, parts.S!);
}

const ISO_FRACTION = /^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)[.,](\d{1,9})(Z|[+-]\d\d:?\d\d)?$/;

/**
 * A `date_nanos` value as fixed-width UTC text with nine fraction digits
 * (`2023-01-02T03:04:05.123456789Z`), whose order as text is its order in time (years 0–9999): how
 * Vigil keeps the nanoseconds that epoch milliseconds would lose. Null when the value is no date.
 */
export function nanosText(v: unknown, format?: string): string | null {
  let ms: number;
  let fraction = '';
  const m = typeof v === 'string' ? ISO_FRACTION.exec(v) : null;
  if (m) {
    ms = Date.parse(`${m[1]!.replace(' ', 'T')}${normaliseZone(m[3])}`);
    fraction = m[2]!;
  } else {
    ms = parseDate(v, format);
    if (Number.isNaN(ms)) return null;
    fraction = String(((ms % 1000) + 1000) % 1000).padStart(3, '0');
    ms -= ((ms % 1000) + 1000) % 1000;
  }
  if (Number.isNaN(ms)) return null;
  const whole = new Date(ms).toISOString();
  if (whole.length !== 24) return null; // beyond year 9999
  return `${whole.slice(0, 19)}.${fraction.padEnd(9, '0')}Z`;
}

function normaliseZone(z: string | undefined): string {
  if (!z || z === 'Z') return 'Z';
  return z.length === 5 ? `${z.slice(0, 3)}:${z.slice(3)}` : z;
}

const SEMVER = /^(\d+(?:\.\d+)*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Order of two `version` values, as Elasticsearch sorts them: numeric parts as numbers, a pre-release
 * before its release (its identifiers numeric below alphanumeric, each kind in its own order), and
 * text that is no version after every version, in text order.
 */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (!x || !y) return x ? -1 : y ? 1 : a < b ? -1 : 1;
  const xs = x[1]!.split('.');
  const ys = y[1]!.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    if (i >= xs.length) return -1;
    if (i >= ys.length) return 1;
    const c = compareDigits(xs[i]!, ys[i]!);
    if (c !== 0) return c;
  }
  const xp = x[2];
  const yp = y[2];
  if (xp === undefined || yp === undefined) {
    if (xp !== yp) return xp === undefined ? 1 : -1;
  } else {
    const xi = xp.split('.');
    const yi = yp.split('.');
    for (let i = 0; i < Math.max(xi.length, yi.length); i++) {
      if (i >= xi.length) return -1;
      if (i >= yi.length) return 1;
      const p = xi[i]!;
      const q = yi[i]!;
      const pn = /^\d+$/.test(p);
      const qn = /^\d+$/.test(q);
      const c = pn && qn ? compareDigits(p, q) : pn ? -1 : qn ? 1 : p < q ? -1 : p > q ? 1 : 0;
      if (c !== 0) return c;
    }
  }
  return a < b ? -1 : 1;
}

/** Two runs of digits compared as numbers of any length. */
function compareDigits(a: string, b: string): number {
  const p = a.replace(/^0+(?=\d)/, '');
  const q = b.replace(/^0+(?=\d)/, '');
  if (p.length !== q.length) return p.length < q.length ? -1 : 1;
  return p < q ? -1 : p > q ? 1 : 0;
}

const naturalOrder = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * How a field of this mapping compares with a literal, where that is not as its JSON value: a
 * `date` as epoch milliseconds read with the mapping's formats, a `date_nanos` as `nanosText`, a
 * `version` by `compareVersions`. Undefined for every other type.
 */
export function semanticsOf(fm: FieldMapping | undefined): FieldSemantics | undefined {
  switch (fm?.type) {
    case 'date':
      return {
        read: (v: Scalar) => {
          if (typeof v === 'number') return v;
          const ms = parseDate(v, fm.format);
          return Number.isNaN(ms) ? null : ms;
        },
        compare: naturalOrder,
      };
    case 'date_nanos':
      return { read: (v: Scalar) => nanosText(v, fm.format), compare: naturalOrder };
    case 'version':
      return { read: (v: Scalar) => (typeof v === 'string' ? v : null), compare: (a, b) => compareVersions(String(a), String(b)) };
    default:
      return undefined;
  }
}

/** An ECS date field's type, as the ECS index templates map it (Elasticsearch's dialect, no index mapping given). */
export function ecsDateMapping(name: string): FieldMapping | undefined {
  const t = ecsFieldType(name);
  return t === 'date' || t === 'date_nanos' ? { type: t } : undefined;
}

/** The comparison semantics of an ECS date field, for documents no index mapping types. */
export function ecsSemantics(name: string): FieldSemantics | undefined {
  return semanticsOf(ecsDateMapping(name));
}
