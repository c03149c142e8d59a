/**
 * Reads a field from an event the way Elasticsearch sees documents: `process.parent.name` is found
 * as nested objects, as one dotted key, or any mix (`{"process": {"parent.name": …}}`); arrays of
 * objects along the way fan out into a multi-valued result.
 */
export type FieldPath = readonly (string | number)[];
export type FieldGetter = (source: unknown) => unknown;

export function createFieldGetter(path: FieldPath): FieldGetter {
  const n = path.length;
  // joined[i][j] = path[i..j) joined with dots, for dotted-key lookups
  const joined: string[][] = [];
  for (let i = 0; i < n; i++) {
    joined.push([]);
    let key = '';
    for (let j = i; j < n; j++) {
      const seg = path[j];
      if (typeof seg !== 'string') break;
      key = j === i ? seg : `${key}.${seg}`;
      joined[i]![j + 1] = key;
    }
  }
  const simple = path.every((s) => typeof s === 'string');

  const get = (o: unknown, i: number): unknown => {
    if (i === n) return o;
    if (o === null || typeof o !== 'object') return undefined;
    const seg = path[i]!;
    if (typeof seg === 'number') return Array.isArray(o) ? get(o[seg], i + 1) : undefined;
    if (Array.isArray(o)) {
      const out: unknown[] = [];
      for (const el of o) {
        const v = get(el, i);
        if (v === undefined) continue;
        if (Array.isArray(v)) out.push(...v);
        else out.push(v);
      }
      return out.length === 0 ? undefined : out;
    }
    const rec = o as Record<string, unknown>;
    const row = joined[i]!;
    for (let j = i + 1; j <= n && row[j] !== undefined; j++) {
      const key = row[j]!;
      // own keys only: `__proto__` names a field, never the object's prototype
      const v = key === '__proto__' && !Object.hasOwn(rec, key) ? undefined : rec[key];
      if (v === undefined) continue;
      const r = get(v, j);
      if (r !== undefined) return r;
    }
    return undefined;
  };

  if (simple && n === 1 && path[0] !== '__proto__') {
    const key = path[0] as string;
    return (source) => (source !== null && typeof source === 'object' ? (source as Record<string, unknown>)[key] : undefined);
  }
  return (source) => get(source, 0);
}

/** Splits a dotted field name into a path (`a.b[1]` → ["a", "b", 1]). */
export function parseFieldPath(name: string): FieldPath {
  const out: (string | number)[] = [];
  for (const part of name.split('.')) {
    const m = /^(.*?)((?:\[\d+\])+)$/.exec(part);
    if (m) {
      if (m[1]) out.push(m[1]);
      for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
    } else out.push(part);
  }
  return out;
}
