/**
 * Value semantics for compiled EQL: three-valued logic, multi-valued fields, case rules.
 * A value is null, a string, a number, a boolean, or (for multi-valued fields) an array of those.
 */
export type Scalar = string | number | boolean | null;
export type Value = Scalar | readonly Value[] | Readonly<Record<string, unknown>>;

/** Normalises what a field getter returned: undefined → null. */
export function norm(v: unknown): Value {
  return v === undefined ? null : (v as Value);
}

/** True when `pred` holds for any element (multi-valued fields match when any value does). */
export function anyOf(v: Value, pred: (s: Scalar) => boolean | null): boolean | null {
  if (Array.isArray(v)) {
    let sawNull = false;
    for (const el of v as Value[]) {
      const r = anyOf(el, pred);
      if (r === true) return true;
      if (r === null) sawNull = true;
    }
    return sawNull || v.length === 0 ? null : false;
  }
  if (v !== null && typeof v === 'object') return null;
  return pred(v as Scalar);
}

/** The first scalar of a value (functions that take one value read multi-valued fields this way). */
export function first(v: Value): Scalar {
  if (Array.isArray(v)) return v.length === 0 ? null : first((v as Value[])[0]!);
  if (v !== null && typeof v === 'object') return null;
  return v as Scalar;
}

export function and3(a: boolean | null, b: () => boolean | null): boolean | null {
  if (a === false) return false;
  const r = b();
  if (r === false) return false;
  return a === null || r === null ? null : true;
}

export function or3(a: boolean | null, b: () => boolean | null): boolean | null {
  if (a === true) return true;
  const r = b();
  if (r === true) return true;
  return a === null || r === null ? null : false;
}

/** A value as a condition: booleans as they are, a multi-valued result true when any element is. */
export function toBool(v: Value): boolean | null {
  return anyOf(v, (s) => (typeof s === 'boolean' ? s : null));
}

/** A string read as a number the way a numeric field mapping would, or null. */
export function toNumber(s: Scalar): number | null {
  if (typeof s === 'number') return s;
  if (typeof s === 'string' && s.trim() !== '' && Number.isFinite(Number(s))) return Number(s);
  return null;
}

/**
 * Compares two scalars: <0, 0, >0, or null when they do not compare (null, or mismatched types).
 * Strings compare by UTF-16 code units, as Java does.
 */
export function compareScalars(a: Scalar, b: Scalar, caseInsensitive: boolean): number | null {
  // NaN (arithmetic over the infinities JSON's 1e400 reads as) is no number to compare: as null
  if (a === null || b === null || a !== a || b !== b) return null;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') {
    const x = caseInsensitive ? a.toLowerCase() : a;
    const y = caseInsensitive ? b.toLowerCase() : b;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  // a number against a numeric string: the string is read as the field mapping would read it
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x === null || y === null) return null;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return null;
}

/** Equality of scalars; for mismatched types false (not null), as a term query would say. */
export function equalScalars(a: Scalar, b: Scalar, caseInsensitive: boolean): boolean | null {
  if (a === null || b === null || a !== a || b !== b) return null;
  const c = compareScalars(a, b, caseInsensitive);
  return c === null ? false : c === 0;
}

/** Renders a scalar as EQL's string() does. */
export function scalarToString(s: Scalar): string | null {
  if (s === null) return null;
  if (typeof s === 'string') return s;
  return String(s);
}
