import { toNumber, type Expr, type EventFilter, type Stage, type Statement } from '../eql/index.js';
import { LOW_CARDINALITY, literalCover, type LeafTest } from './literal-cover.js';

/**
 * A test on an event's JSON text, before it is parsed: strings of which at least one must occur in
 * the text of any event the query can match (an exact value `"mysql"` with its quotes, the longest
 * literal piece of a wildcard pattern, a category). An event that contains none of them cannot
 * match, so it is neither parsed nor fed to the rule. The test only ever says "maybe" too often:
 *
 * - values that the engine could compare as numbers or booleans ("100", "true") give no string;
 * - case-insensitive strings are looked for in the lowercased text, and only ASCII ones;
 * - a text with `\u` or `\/` escapes may spell a value differently, so it always passes.
 */
export interface Needle {
  /** What to look for in the text: `"value"` (a whole JSON string) or a piece of one. */
  readonly text: string;
  readonly insensitive: boolean;
  /** The needle is a whole JSON string token (`text` is it with its quotes). */
  readonly exact?: boolean;
  /** Found through a field whose values are few (event.type, host.os.type…): a weak test. */
  readonly common?: boolean;
}

export { LOW_CARDINALITY };

export interface RawFilter {
  /** At least one of these occurs in any event that can match; null: any event can. */
  readonly needles: readonly Needle[] | null;
  test(text: RawText): boolean;
}

/**
 * One event's JSON text, with what filters ask of it computed once however many rules ask: the
 * lowercased text, and the set of its string tokens (raw, as written between the quotes).
 */
export class RawText {
  /** `\u` or `\/` escapes may spell a value differently: every filter passes such a text. */
  readonly escaped: boolean;
  private lowered: string | undefined;
  private tokenSet: Set<string> | undefined;
  private lowerTokenSet: Set<string> | undefined;

  constructor(readonly text: string) {
    this.escaped = text.includes('\\u') || text.includes('\\/');
  }

  private pieces: Map<string, boolean> | undefined;
  private lowerPieces: Map<string, boolean> | undefined;

  lower(): string {
    return (this.lowered ??= this.text.toLowerCase());
  }

  /** Whether the text contains `piece` (remembered: many rules look for the same pieces). */
  has(piece: string): boolean {
    const m = (this.pieces ??= new Map());
    let r = m.get(piece);
    if (r === undefined) m.set(piece, (r = this.text.includes(piece)));
    return r;
  }

  /** Whether the lowercased text contains `piece` (given in lowercase). */
  hasLower(piece: string): boolean {
    const m = (this.lowerPieces ??= new Map());
    let r = m.get(piece);
    if (r === undefined) m.set(piece, (r = this.lower().includes(piece)));
    return r;
  }

  tokens(): Set<string> {
    if (this.tokenSet) return this.tokenSet;
    const out = new Set<string>();
    const s = this.text;
    let i = s.indexOf('"');
    while (i >= 0) {
      let j = s.indexOf('"', i + 1);
      // a quote preceded by an odd number of backslashes is inside the string
      while (j > 0) {
        let k = j - 1;
        while (k > i && s.charCodeAt(k) === 92) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j = s.indexOf('"', j + 1);
      }
      if (j < 0) break;
      out.add(s.slice(i + 1, j));
      i = s.indexOf('"', j + 1);
    }
    return (this.tokenSet = out);
  }

  lowerTokens(): Set<string> {
    if (this.lowerTokenSet) return this.lowerTokenSet;
    const out = new Set<string>();
    for (const t of this.tokens()) out.add(t.toLowerCase());
    return (this.lowerTokenSet = out);
  }
}

const ASCII = /^[\x20-\x7e]*$/;
const NUMBERISH = /^[-+0-9.eE]*$/;

/** The JSON spelling of a string's characters, without the quotes. */
const jsonChars = (s: string): string => JSON.stringify(s).slice(1, -1);

/** Whether the engine could match this literal against a non-string value (number, boolean). */
function notOnlyString(s: string): boolean {
  const t = s.trim().toLowerCase();
  return toNumber(s) !== null || NUMBERISH.test(t) || t === 'true' || t === 'false' || t === 'null' || t.includes('infinity') || t.includes('nan');
}

function exact(value: string, insensitive: boolean): Needle | null {
  if (notOnlyString(value)) return null;
  if (insensitive && !ASCII.test(value)) return null;
  const text = `"${jsonChars(insensitive ? value.toLowerCase() : value)}"`;
  return { text, insensitive, exact: true };
}

/** The longest literal piece of a `*`/`?` pattern, quoted at an anchored end. */
function wildcard(pattern: string, insensitive: boolean): Needle | null {
  if (!pattern.includes('*') && !pattern.includes('?')) return exact(pattern, insensitive);
  const pieces = pattern.split(/[*?]/);
  let best = -1;
  for (let k = 0; k < pieces.length; k++) if (best < 0 || pieces[k]!.length > pieces[best]!.length) best = k;
  const piece = pieces[best]!;
  if (piece.length < 2 || notOnlyString(piece)) return null;
  if (insensitive && !ASCII.test(piece)) return null;
  let text = jsonChars(insensitive ? piece.toLowerCase() : piece);
  if (best === 0) text = `"${text}`;
  if (best === pieces.length - 1) text = `${text}"`;
  return { text, insensitive };
}

function all(values: readonly Expr[], f: (v: string) => Needle | null): Needle[] | null {
  const out: Needle[] = [];
  for (const v of values) {
    if (v.kind !== 'string') return null;
    const n = f(v.value);
    if (!n) return null;
    out.push(n);
  }
  return out.length ? out : null;
}

/**
 * Lower is better: no low-cardinality field, then whole values (a set lookup per event) over
 * pieces (a substring search each), then a long shortest string, then fewer strings.
 */
function weakness(ns: readonly Needle[]): number {
  let min = Infinity;
  let common = false;
  let pieces = false;
  for (const n of ns) {
    min = Math.min(min, n.text.length);
    common ||= n.common === true;
    pieces ||= n.exact !== true;
  }
  return (common ? 1e6 : 0) + (pieces ? 5e5 : 0) - Math.min(min, 100) * 100 + ns.length;
}

const marked = (ns: Needle[] | null, common: boolean): Needle[] | null => (ns && common ? ns.map((n) => ({ ...n, common: true })) : ns);

function better(a: Needle[] | null, b: Needle[] | null): Needle[] | null {
  if (!a) return b;
  if (!b) return a;
  return weakness(b) < weakness(a) ? b : a;
}

/**
 * A leaf's literal test as strings to look for (see literal-cover.ts): equal values and wildcard
 * patterns that are strings; not numbers, regular expressions, a field's presence nor the pieces of
 * startsWith and the like.
 */
function leafNeedles(t: LeafTest, equalsInsensitive: boolean): Needle[] | null {
  if (t.kind !== 'values' || t.compare === 'regex') return null;
  const insensitive = t.insensitive || equalsInsensitive;
  const found = all(t.list, (v) => (t.compare === 'wildcard' ? wildcard(v, insensitive) : exact(v, insensitive)));
  return marked(found, LOW_CARDINALITY.has(t.field.join('.')));
}

function needles(e: Expr, equalsInsensitive: boolean): Needle[] | null {
  return literalCover(e, (t) => leafNeedles(t, equalsInsensitive), weakness);
}

function filterNeedles(f: EventFilter, equalsInsensitive: boolean): Needle[] | null {
  const byCondition = needles(f.condition, equalsInsensitive);
  const category = f.category !== null ? exact(f.category, false) : null;
  return better(byCondition, category ? [{ ...category, common: true }] : null);
}

function stagesNeedles(stages: readonly (Stage | null)[], equalsInsensitive: boolean): Needle[] | null {
  const out: Needle[] = [];
  for (const s of stages) {
    if (!s) continue;
    const n = filterNeedles(s.filter, equalsInsensitive);
    if (!n) return null;
    out.push(...n);
  }
  return out;
}

/** The filter that lets every event through. */
export const PASS_ALL: RawFilter = { needles: null, test: () => true };

/**
 * The raw-text test of a query. `equalsInsensitive` for dialects whose `==` ignores case
 * (endgame); the service and hunt use Elasticsearch's.
 */
export function rawFilterOf(ast: Statement, options: { equalsInsensitive?: boolean } = {}): RawFilter {
  const ci = options.equalsInsensitive === true;
  const q = ast.query;
  const found = q.kind === 'event' ? filterNeedles(q.filter, ci) : stagesNeedles([...q.stages, 'until' in q ? q.until : null], ci);
  if (!found || found.length === 0) return PASS_ALL;
  return rawFilterFrom(found);
}

/** Needles past which a union of raw filters costs more per event than parsing it and asking the rule set. */
const UNION_NEEDLES = 64;

/**
 * The raw filter of several rules at once: a text passes when it may match any of them. Passes all
 * when one of them has no needles, or when they have too many to be worth testing.
 */
export function unionRawFilter(filters: readonly RawFilter[]): RawFilter {
  const all: Needle[] = [];
  for (const f of filters) {
    if (f.needles === null) return PASS_ALL;
    all.push(...f.needles);
  }
  if (all.length === 0 || all.length > UNION_NEEDLES) return PASS_ALL;
  return rawFilterFrom(all);
}

function rawFilterFrom(found: readonly Needle[]): RawFilter {
  const uniq = (xs: Needle[]): string[] => [...new Set(xs.map((n) => (n.exact ? n.text.slice(1, -1) : n.text)))];
  const exactCs = uniq(found.filter((n) => n.exact && !n.insensitive));
  const exactCi = uniq(found.filter((n) => n.exact && n.insensitive));
  const pieceCs = uniq(found.filter((n) => !n.exact && !n.insensitive));
  const pieceCi = uniq(found.filter((n) => !n.exact && n.insensitive));
  // a few whole values are found by searching the text for them with their quotes; many by the
  // text's set of string tokens (built once per event, worth it when rules ask for many values)
  const FEW = 4;
  const quoted = (xs: string[]): string[] => xs.map((v) => `"${v}"`);
  const fewCs = exactCs.length <= FEW ? quoted(exactCs) : null;
  const fewCi = exactCi.length <= FEW ? quoted(exactCi) : null;
  return {
    needles: found,
    test(t) {
      if (t.escaped) return true;
      if (fewCs) {
        for (const q of fewCs) if (t.has(q)) return true;
      } else {
        const tokens = t.tokens();
        for (const v of exactCs) if (tokens.has(v)) return true;
      }
      if (fewCi) {
        for (const q of fewCi) if (t.hasLower(q)) return true;
      } else {
        const tokens = t.lowerTokens();
        for (const v of exactCi) if (tokens.has(v)) return true;
      }
      for (const p of pieceCs) if (t.has(p)) return true;
      for (const p of pieceCi) if (t.hasLower(p)) return true;
      return false;
    },
  };
}
