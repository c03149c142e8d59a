import { compileWildcard } from '../../ecs/index.js';

/**
 * `_source` filtering as Elasticsearch does it: `false`, a pattern, a list of patterns, or
 * `{includes, excludes}`; a pattern names a full dotted path (with `*` wildcards) and keeps the
 * whole object under it. Also the `fields` option's flattened values.
 */
export interface SourceFilter {
  readonly enabled: boolean;
  readonly includes: readonly string[];
  readonly excludes: readonly string[];
}

const strings = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : String(v).split(',').filter(Boolean));

export function sourceFilterOf(body: unknown, includesParam?: unknown, excludesParam?: unknown): SourceFilter {
  let f: SourceFilter;
  if (body === false || body === 'false') f = { enabled: false, includes: [], excludes: [] };
  else if (body === undefined || body === true || body === 'true') f = { enabled: true, includes: [], excludes: [] };
  else if (typeof body === 'string' || Array.isArray(body)) f = { enabled: true, includes: strings(body), excludes: [] };
  else {
    const o = body as Record<string, unknown>;
    f = { enabled: true, includes: strings(o.includes ?? o.include), excludes: strings(o.excludes ?? o.exclude) };
  }
  if (includesParam !== undefined || excludesParam !== undefined) f = { enabled: true, includes: [...f.includes, ...strings(includesParam)], excludes: [...f.excludes, ...strings(excludesParam)] };
  return f;
}

export function applySourceFilter(source: Readonly<Record<string, unknown>>, f: SourceFilter): Record<string, unknown> | undefined {
  if (!f.enabled) return undefined;
  if (f.includes.length === 0 && f.excludes.length === 0) return source as Record<string, unknown>;
  const inc = f.includes.map((p) => compileWildcard(p, false));
  const exc = f.excludes.map((p) => compileWildcard(p, false));
  const included = (p: string): boolean => inc.length === 0 || inc.some((m) => m(p));
  const excluded = (p: string): boolean => exc.some((m) => m(p));
  // may a pattern match something below this path?
  const below = (p: string): boolean => inc.length === 0 || f.includes.some((pat) => pat.includes('*') || pat.startsWith(`${p}.`));
  const walk = (o: Record<string, unknown>, prefix: string, keepAll: boolean): Record<string, unknown> | undefined => {
    const out: Record<string, unknown> = {};
    let any = false;
    for (const [k, v] of Object.entries(o)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (excluded(p)) continue;
      const keep = keepAll || included(p);
      const sub = (x: unknown): unknown => {
        if (x && typeof x === 'object' && !Array.isArray(x)) return keep && exc.length === 0 ? x : keep || below(p) ? walk(x as Record<string, unknown>, p, keep) : undefined;
        if (Array.isArray(x)) {
          const arr = x.map(sub).filter((e) => e !== undefined);
          return arr.length > 0 || keep ? arr : undefined;
        }
        return keep ? x : undefined;
      };
      const r = sub(v);
      if (r !== undefined) {
        out[k] = r;
        any = true;
      }
    }
    return any || keepAll ? out : undefined;
  };
  return walk(source as Record<string, unknown>, '', false) ?? {};
}

/** Leaf values by full dotted path (arrays of values stay lists), as the `fields` option returns them. */
export function flatten(source: Readonly<Record<string, unknown>>): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  const put = (p: string, v: unknown): void => {
    const l = out.get(p);
    if (l) l.push(v);
    else out.set(p, [v]);
  };
  const walk = (v: unknown, p: string): void => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) for (const e of v) walk(e, p);
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, p ? `${p}.${k}` : k);
    else put(p, v);
  };
  walk(source, '');
  return out;
}

/** The `fields` option: the values of the fields the patterns name. */
export function fieldsOption(source: Readonly<Record<string, unknown>>, patterns: readonly string[]): Record<string, unknown[]> {
  const ms = patterns.map((p) => compileWildcard(p, false));
  const out: Record<string, unknown[]> = {};
  for (const [p, vals] of flatten(source)) if (ms.some((m) => m(p))) out[p] = vals;
  return out;
}

/** The field patterns of the `fields` and `docvalue_fields` options (names or `{field}` objects); null when none. */
export function optionFields(fields: unknown, docvalue: unknown): string[] | null {
  const names = [...(Array.isArray(fields) ? fields : []), ...(Array.isArray(docvalue) ? docvalue : [])].map((f) => (typeof f === 'string' ? f : String((f as { field?: unknown })?.field ?? '')));
  return names.length > 0 ? names.filter(Boolean) : null;
}
