/**
 * Wildcard patterns (`*` any run, `?` one character), matched without backtracking: the pattern is
 * cut at `*` into pieces; the first piece anchors at the start, the last at the end, and the middle
 * ones are found leftmost-first. Leftmost-first is optimal for `*`-only globs, so each piece is
 * searched once: time is O(text × longest piece), never exponential.
 */
export type StringMatcher = (s: string) => boolean;

export function compileWildcard(pattern: string, caseInsensitive: boolean): StringMatcher {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  if (!p.includes('*') && !p.includes('?')) {
    return caseInsensitive ? (s) => s.length === p.length && s.toLowerCase() === p : (s) => s === p;
  }
  const pieces = p.split('*');
  const first = pieces[0]!;
  const last = pieces.length > 1 ? pieces[pieces.length - 1]! : null;
  const middle = pieces.slice(1, -1).filter((x) => x.length > 0);
  const hasQ = p.includes('?');
  const minLen = pieces.reduce((a, x) => a + x.length, 0);

  // fast shapes: "abc*", "*abc", "*abc*"
  if (!hasQ && pieces.length === 2 && last === '') {
    return caseInsensitive ? (s) => s.toLowerCase().startsWith(first) : (s) => s.startsWith(first);
  }
  if (!hasQ && pieces.length === 2 && first === '') {
    return caseInsensitive ? (s) => s.toLowerCase().endsWith(last!) : (s) => s.endsWith(last!);
  }
  if (!hasQ && pieces.length === 3 && first === '' && last === '') {
    const mid = pieces[1]!;
    return caseInsensitive ? (s) => s.toLowerCase().includes(mid) : (s) => s.includes(mid);
  }

  const eqAt = (s: string, at: number, piece: string): boolean => {
    if (at + piece.length > s.length) return false;
    for (let k = 0; k < piece.length; k++) {
      const c = piece.charCodeAt(k);
      if (c !== 63 && c !== s.charCodeAt(at + k)) return false;
    }
    return true;
  };
  const find = (s: string, piece: string, from: number): number => {
    if (!hasQ || !piece.includes('?')) return s.indexOf(piece, from);
    for (let at = from; at + piece.length <= s.length; at++) if (eqAt(s, at, piece)) return at;
    return -1;
  };

  return (input: string): boolean => {
    const s = caseInsensitive ? input.toLowerCase() : input;
    if (s.length < minLen) return false;
    if (last === null) return s.length === first.length && eqAt(s, 0, first);
    if (!eqAt(s, 0, first)) return false;
    const endStart = s.length - last.length;
    if (endStart < first.length || !eqAt(s, endStart, last)) return false;
    let at = first.length;
    for (const piece of middle) {
      const found = find(s, piece, at);
      if (found < 0 || found + piece.length > endStart) return false;
      at = found + piece.length;
    }
    return true;
  };
}
