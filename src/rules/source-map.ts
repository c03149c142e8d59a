/**
 * Maps offsets in a decoded string value back to offsets in the file it was read from, so that a
 * query error points at the file's own line and column.
 */
export type OffsetMap = (decodedOffset: number) => number;

export type Quoting = 'literal' | 'toml-basic' | 'json';

/**
 * Builds the map for a string whose raw body (between the quotes) starts at `rawStart` in the file.
 * `literal` bodies map one to one; `toml-basic` and `json` bodies decode escapes.
 */
export function createOffsetMap(file: string, rawStart: number, rawEnd: number, quoting: Quoting, expected: string): OffsetMap {
  if (quoting === 'literal') return (i) => rawStart + i;
  const offsets: number[] = [];
  let i = rawStart;
  while (i < rawEnd) {
    const c = file[i]!;
    if (c !== '\\') {
      const cp = file.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      for (let k = 0; k < w; k++) offsets.push(i + k);
      i += w;
      continue;
    }
    const next = file[i + 1];
    if (next === 'u' || next === 'U') {
      const len = next === 'u' ? 4 : 8;
      const cp = parseInt(file.slice(i + 2, i + 2 + len), 16);
      const w = cp > 0xffff ? 2 : 1;
      for (let k = 0; k < w; k++) offsets.push(i);
      i += 2 + len;
      continue;
    }
    if (quoting === 'toml-basic' && (next === '\n' || next === ' ' || next === '\t' || next === '\r')) {
      // line-ending backslash: the newline and following whitespace vanish
      let j = i + 1;
      while (j < rawEnd && /\s/.test(file[j]!)) j++;
      i = j;
      continue;
    }
    offsets.push(i);
    i += 2;
  }
  if (offsets.length !== expected.length) return (k) => rawStart + Math.min(k, rawEnd - rawStart);
  offsets.push(rawEnd);
  return (k) => offsets[Math.min(k, offsets.length - 1)]!;
}
