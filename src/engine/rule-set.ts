import { StringMemo } from '../core/index.js';
import { createFieldGetter, parseFieldPath, type FieldGetter, type FieldPath } from '../ecs/index.js';
import { childExprs, compileGeneratedFilter, type Expr, type EventFilter, type FieldRef } from '../eql/index.js';
import { isDirect, isStateful, needsState, queryFilters, statefulCode, StatefulRules, type RuleSetEntry, type RuleSetHit, type StatefulCode, type StatefulRulesOptions } from './stateful-rules.js';
import type { EventInput, Verdict } from './event.js';
import { ecsSemantics } from './mapping.js';
import { PieceAutomaton } from './pieces.js';
import { LOW_CARDINALITY, literalCover, type LeafTest } from './literal-cover.js';

interface Slot<R> {
  readonly order: number;
  readonly rule: R;
  /** An event query without pipes: answered by its filter, no matcher state. */
  readonly direct: boolean;
  /** A stateful rule's verdict on the current event, on a rule set that scans (see `scan`); `passed`: a filter it passed. */
  judge: ((source: unknown, passed: number) => Verdict | null) | null;
  /** The event number this rule was last handed, so that it gets each event once. */
  fed: number;
  /** Its filters tested so far (see `testsByRule`). */
  tests: number;
}

/**
 * One filter of one rule; `test` null when it needs engine state (relationships): then every event
 * goes to the rule's matcher. The test's code is generated when first called (it replaces itself):
 * many filters never meet an event that passes their cover.
 */
interface Unit<R> {
  readonly slot: Slot<R>;
  test: ((source: Record<string, unknown>) => boolean) | null;
  /** A sequence filter that matters only while the sequence holds something. */
  readonly gated: boolean;
  /** Its filter's place in the rule (the stages, then `until`). */
  readonly place: number;
  /**
   * Facts the event must have before the test is worth calling (see `gateOf`): groups, each its
   * length then its fact numbers, of which every group needs one. Null: none.
   */
  gate: Int32Array | null;
}

interface LiteralKey {
  readonly field: readonly (string | number)[];
  readonly values: readonly string[];
  /** exact: one of the folded values; piece: the folded value contains one; present: the field is not null. */
  readonly kind: 'exact' | 'piece' | 'present';
  /** Exact values written as numbers. */
  readonly numeric?: boolean;
}

export interface RuleSetStats {
  readonly rules: number;
  /** Event queries whose filter has a cover. */
  readonly indexed: number;
  /** Event queries tested on every event of their category. */
  readonly byCategoryOnly: number;
  readonly stateful: number;
}

/** Pieces shorter than this match too much to be worth indexing. */
const MIN_PIECE = 3;

/** Fields nearly every event of their kind has: that one is present says little. */
const COMMON = new Set([
  '@timestamp', 'message', 'process.name', 'process.executable', 'process.command_line', 'process.args', 'process.args_count', 'process.pid', 'process.entity_id',
  'process.working_directory', 'process.parent.name', 'process.parent.executable', 'process.parent.command_line', 'process.parent.args', 'process.parent.args_count',
  'process.parent.pid', 'process.parent.entity_id', 'user.name', 'user.id', 'file.path', 'file.name', 'file.extension', 'file.directory', 'source.ip', 'source.port',
  'destination.ip', 'destination.port', 'registry.path', 'registry.key', 'registry.value', 'dns.question.name', 'host.name', 'host.id', 'host.ip',
]);

/** Lower is better: selective fields first, exact values before pieces before presence, then fewer values. */
function keyCost(k: LiteralKey): number {
  const f = k.field.join('.');
  if (LOW_CARDINALITY.has(f) || f.startsWith('event.') || f.startsWith('data_stream.') || f.startsWith('agent.')) return 1000 * k.values.length;
  if (k.kind === 'present') return COMMON.has(f) ? 900 : 20;
  return k.values.reduce((n, v) => n + (k.kind === 'piece' ? (v.length < 5 ? 8 : 2) : 1), 0);
}

/** The field must be present (not null) for the test to hold. */
function present(field: readonly (string | number)[]): LiteralKey[] {
  return [{ field, values: [''], kind: 'present' }];
}

/**
 * A string literal as an exact key, or null when a field value of another type could equal it
 * without having the same text (a number written otherwise than JavaScript prints it).
 */
function exactKey(v: string): string | null {
  const n = Number(v);
  if (v.trim() !== '' && !Number.isNaN(n) && String(n) !== v) return null;
  return v.toLowerCase();
}

/** Short pieces are still selective when they hold a character outside ASCII (`*\u{202E}*`). */
const selective = (piece: string): boolean => {
  if (piece.length >= MIN_PIECE) return true;
  for (let i = 0; i < piece.length; i++) if (piece.charCodeAt(i) > 127) return true;
  return false;
};

/** The longest run of a wildcard pattern without `*` or `?`, folded; null when too short. */
function pieceOf(pattern: string): string | null {
  let best = '';
  for (const run of pattern.split(/[*?]/)) if (run.length > best.length || (run.length === best.length && selective(run))) best = run;
  return best.length > 0 && selective(best) ? best.toLowerCase() : null;
}

/** Keys for a list of literal patterns on a field (`:`, `like`, `like~`), or null. */
function patternKeys(field: readonly (string | number)[], list: readonly Expr[], wildcards: boolean): LiteralKey[] | null {
  const exact: string[] = [];
  const pieces: string[] = [];
  let numeric = false;
  for (const x of list) {
    if (x.kind === 'number') {
      exact.push(String(x.value));
      numeric = true;
      continue;
    }
    if (x.kind !== 'string') return null;
    if (wildcards && /[*?]/.test(x.value)) {
      const p = pieceOf(x.value);
      if (p === null) return null;
      pieces.push(p);
    } else {
      const k = exactKey(x.value);
      if (k === null) return null;
      exact.push(k);
    }
  }
  const out: LiteralKey[] = [];
  if (exact.length) out.push({ field, values: exact, kind: 'exact', numeric });
  if (pieces.length) out.push({ field, values: pieces, kind: 'piece' });
  return out;
}

/**
 * A leaf's literal test as index keys (see literal-cover.ts): exact values (folded, so that a
 * case-sensitive test is covered too) and numbers; the longest piece of wildcard patterns and the
 * text of startsWith and the like; else, where the test needs the field, its presence.
 */
function leafKeys(t: LeafTest): LiteralKey[] | null {
  switch (t.kind) {
    case 'present':
      return present(t.field);
    case 'contains':
      return t.text.length > 0 && selective(t.text) ? [{ field: t.field, values: [t.text.toLowerCase()], kind: 'piece' }] : null;
    case 'values':
      if (t.compare === 'regex') return present(t.field);
      if (t.compare === 'wildcard') return patternKeys(t.field, t.list, true) ?? present(t.field);
      return patternKeys(t.field, t.list, false) ?? (t.list.some((x) => x.kind === 'null') ? null : present(t.field));
  }
}

/** Covers by condition: a condition's cover never changes, and a rule set is built again whenever a rule is switched on or off. */
const covers = new WeakMap<Expr, LiteralKey[] | null>();

/**
 * A cover of a condition for the index: keys such that any event satisfying the condition passes at
 * least one of them, each a necessary condition on one field.
 */
function cover(e: Expr): LiteralKey[] | null {
  let c = covers.get(e);
  if (c === undefined) covers.set(e, (c = literalCover(e, leafKeys, coverCost)));
  return c;
}

/** A cover as text, to tell covers apart. */
const keyTexts = new WeakMap<readonly LiteralKey[], string>();
const keysText = (keys: readonly LiteralKey[]): string => {
  let t = keyTexts.get(keys);
  if (t === undefined) keyTexts.set(keys, (t = JSON.stringify(keys.map((k) => [k.field, k.kind, [...k.values].sort(), k.numeric === true]))));
  return t;
};

function coverCost(c: readonly LiteralKey[]): number {
  return c.reduce((n, k) => n + keyCost(k), 0);
}

/**
 * Field values shared by every rule that reads them while one event is evaluated: each distinct
 * field is read from the document once per event, however many rules test it. An event may also
 * come as its fields alone (`fill`, from a projection): then a field not given is absent.
 */
class FieldCache {
  private readonly ids = new Map<string, number>();
  private values: unknown[] = [];
  private stamps: number[] = [];
  private current: unknown = null;
  private generation = 0;
  /** The current event is its given fields: any other is absent. */
  private complete = false;

  /** The slot of a field. */
  idOf(path: FieldPath): number {
    const key = JSON.stringify(path);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
      this.values.push(undefined);
      this.stamps.push(-1);
    }
    return id;
  }

  getter = (path: FieldPath): FieldGetter => {
    const slot = this.idOf(path);
    const raw = createFieldGetter(path);
    // a field below an array position, when only the fields above positions were given
    const prefix = plainPrefix(path);
    const inner = prefix.length < path.length ? { above: this.getter(prefix), rest: createFieldGetter(path.slice(prefix.length)) } : null;
    return (source) => {
      if (source !== this.current) return raw(source);
      if (this.stamps[slot] === this.generation) return this.values[slot];
      const v = !this.complete ? raw(source) : inner === null ? undefined : inner.rest(inner.above(source));
      this.values[slot] = v;
      this.stamps[slot] = this.generation;
      return v;
    };
  };

  /** Starts a new event, read from its document. */
  reset(source: unknown): void {
    this.current = source;
    this.generation++;
    this.complete = false;
  }

  /** Starts a new event given as fields: `values[k]` for each k in the first `count` of `filled` is the field of slot `ids[k]`. */
  fill(token: unknown, values: readonly unknown[], filled: ArrayLike<number>, count: number, ids: readonly number[]): void {
    this.current = token;
    ++this.generation;
    this.complete = true;
    this.fillMore(values, filled, count, ids);
  }

  /** More fields of the event given as fields (as `fill` takes them). */
  fillMore(values: readonly unknown[], filled: ArrayLike<number>, count: number, ids: readonly number[]): void {
    const g = this.generation;
    for (let i = 0; i < count; i++) {
      const k = filled[i]!;
      const id = ids[k]!;
      this.values[id] = values[k];
      this.stamps[id] = g;
    }
  }
}

/** A field path up to its first array position (`process.args[1]` → process.args). */
function plainPrefix(path: readonly (string | number)[]): readonly string[] {
  const i = path.findIndex((x) => typeof x !== 'string');
  return (i < 0 ? path : path.slice(0, i)) as readonly string[];
}

/** The fields a condition reads (up to an array position), for the walk's trie. */
function fieldsRead(e: Expr, out: Array<readonly string[]>): void {
  if (e.kind === 'field') {
    out.push(plainPrefix(e.path));
    return;
  }
  if (e.kind === 'logical' && e.shared) {
    // a condition many rules share (their exceptions, maybe a 100,000-value list): walked once
    let fields = sharedFieldsRead.get(e);
    if (!fields) {
      fields = [];
      for (const c of childExprs(e)) fieldsRead(c, fields);
      sharedFieldsRead.set(e, fields);
    }
    out.push(...fields);
    return;
  }
  for (const c of childExprs(e)) fieldsRead(c, out);
}
const sharedFieldsRead = new WeakMap<Expr, Array<readonly string[]>>();

/** Writes a value's folded strings (each element of an array) into `out` from `n`; returns the new count. */
const lower = (v: unknown, out: string[], n: number): number => {
  if (typeof v === 'string') out[n++] = v.toLowerCase();
  else if (typeof v === 'number' || typeof v === 'boolean') out[n++] = String(v);
  else if (Array.isArray(v)) for (const x of v) n = lower(x, out, n);
  return n;
};

/** Sorts the first n unit numbers in place (insertion sort for the usual short, nearly sorted lists). */
function sortNumbers(a: Int32Array, n: number): void {
  if (n > 32) {
    a.subarray(0, n).sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
}

/** The index of one field within a category: units by exact (folded) value, by piece, by presence. */
interface FieldIndex {
  readonly exact: Map<string, number[]>;
  readonly pieces: Map<string, number[]>;
  readonly present: number[];
  /** Some exact key is a number: string values that read as numbers are looked up as numbers too. */
  numeric: boolean;
  automaton: PieceAutomaton | null;
  /**
   * The exact keys that are numbers as JavaScript prints them, by number: a number value's key is
   * its printed form, so this finds it without printing and hashing the text. Null when pieces
   * must scan the text too.
   */
  byNumber: Map<number, number[]> | null;
  /** String value → the units its exact values and pieces mark (see `indexString`). */
  readonly memo: StringMemo<Int32Array>;
  /** What `memo` remembers for a value (`unitsOf`): made once per field, not a closure per lookup. */
  readonly units: (value: string) => Int32Array;
}

/** Values a field's memo holds before it starts again, and lookups before it may be given up (see StringMemo). */
const MEMO_SIZE = 8192;
const MEMO_TRIAL = 16384;
const NONE = new Int32Array(0);

/**
 * Indexed fields as a trie of path segments, walked along the event's own keys: each value is
 * visited once per event (however many rules index it), and absent fields cost nothing.
 */
interface FieldNode {
  readonly next: Map<string, FieldNode>;
  /** The index of the field that ends here. */
  fi: FieldIndex | null;
}

export interface RuleIndexOptions {
  /** false: every event goes to every rule's own matcher (the plain path the tests compare with). */
  readonly indexed?: boolean;
  readonly eventCategoryField?: string;
  /** The stateful rules' codes come with verdicts (see `scan`, Verdict). Default false. */
  readonly judge?: boolean;
}

/** Options of a whole rule set: its index's and its matchers'. */
export type RuleSetOptions = RuleIndexOptions & StatefulRulesOptions;

/** Fields of an event given as fields: `values[k]` for each k of the first `filledCount` of `filled` (see `RuleSet.scanFields`). */
export interface GivenFields {
  readonly values: readonly unknown[];
  readonly filled: ArrayLike<number>;
  readonly filledCount: number;
}

/** What stands for an event given as its fields (`RuleSet.scanFields`), as its source. */
export const FIELDS_ONLY: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * Many rules in one pass: the index half of the multi-rule engine (see StatefulRules for the other).
 * Every filter of every rule (an event query's, each stage and `until` of a
 * sequence or sample) is a unit; units are indexed by a cover — literal tests of which any event the
 * filter matches passes one: exact values (`==`, `in`, wildcard-free `:`, numbers), the longest
 * literal piece of wildcard patterns and of startsWith/endsWith/stringContains, or the presence of a
 * field a comparison needs. One walk of the event's keys along a trie of indexed fields finds them:
 * a hash lookup per exact value, one Aho–Corasick scan per folded string. An event meets only the
 * units whose cover it passes; a unit is tested only when its gate opens (the covers of the other
 * `and` terms of its condition, see `gateOf`), and then its full filter decides. An event query
 * answers at once; a stateful rule (sequence, sample, pipes) gets only the events that pass one of
 * its filters, and a sequence's later stages only while it holds something (see `Matcher.idle`),
 * so matchers see few events. Indexing never changes results: `indexed: false` feeds every event
 * to every rule's own matcher, and the tests compare both paths.
 */
export class RuleIndex<R> {
  private readonly slots: Slot<R>[] = [];
  private readonly units: Unit<R>[] = [];
  /** category (folded; '' = any) → units met by every event of it (no cover). */
  private readonly always = new Map<string, number[]>();
  private readonly root: FieldNode = { next: new Map(), fi: null };
  /** Per unit, its filter's category number (0: any); per category name, its number. */
  private readonly unitCat: number[] = [];
  private readonly catIds = new Map<string, number>([['', 0]]);
  /** The category numbers of the current event (the first `nCatIds`). */
  private readonly eventCatIds: number[] = [];
  private nCatIds = 0;
  /** Indexed fields with array positions in their path (`args[1]`): read with a getter. */
  private readonly positional: Array<{ readonly get: FieldGetter; readonly fi: FieldIndex }> = [];
  private readonly byField = new Map<string, FieldIndex>();
  private readonly eventCats: string[] = [];
  private readonly getCategory: FieldGetter;
  /** Every field `scan` reads (see `fieldsScanned`). */
  private readonly scanned = new Set<readonly string[]>();
  private readonly fields = new FieldCache();
  /** Per unit, the event number it was last put among the candidates. */
  private readonly marked: Int32Array;
  /** Facts of gates (see `gateOf`): their numbers, and per fact the event number that last passed it. */
  private readonly factIds = new Map<string, number>();
  private readonly factStamp: Int32Array;
  /** The units the current event meets (the first `nCandidates`; each at most once). */
  private readonly candidates: Int32Array;
  private nCandidates = 0;
  private eventNo = 0;
  /** Filters tested so far (see `testsRun`). */
  private tests = 0;
  /** The event being scanned, and whether the walk met a dotted key in it. */
  private current: unknown = null;
  private dotted = false;
  /** The current event came as its fields (`scanFields`). */
  private given = false;
  /** Whether some stateful rule's codes come with verdicts (see `judging`). */
  private judges = false;
  /** The fields scanned (see `fieldsScanned`); per field, its slot in the field cache and its index. */
  private readonly scannedList: Array<readonly string[]>;
  private readonly scannedIds: number[];
  /** The fields verdicts read that are not scanned (see `fieldsJudged`), and their slots in the field cache. */
  private readonly judged = new Set<readonly string[]>();
  private readonly judgedList: Array<readonly string[]>;
  private readonly judgedIds: number[];
  /** For an event given as fields: its judged fields, when they are wanted (see `scanFields`). */
  private moreFields: (() => GivenFields | null) | undefined;
  /** The event number whose judged fields were read, and whether they could be. */
  private judgedFor = -1;
  private judgedOk = false;
  private readonly scannedIndex: Array<FieldIndex | null>;
  readonly stats: RuleSetStats;

  constructor(entries: ReadonlyArray<RuleSetEntry<R>>, options: RuleIndexOptions = {}) {
    const indexed = options.indexed !== false;
    const categoryPath = parseFieldPath(options.eventCategoryField ?? 'event.category');
    this.getCategory = this.fields.getter(categoryPath);
    this.scanned.add(plainPrefix(categoryPath));
    let nIndexed = 0;
    let nCategory = 0;
    let nStateful = 0;
    for (const entry of entries) {
      const { rule, query } = entry;
      const stateful = isStateful(query);
      if (stateful) nStateful++;
      const q = query.ast.query;
      const catField = entry.eventCategoryField ?? 'event.category';
      // each filter (the query's, or every stage's and until's) is a unit of its own
      const filters = queryFilters(query);
      // a sequence's filters that only matter while it holds something (see Matcher.idle)
      const firstPositive = q.kind === 'sequence' ? q.stages.findIndex((st) => !st.missing) : -1;
      const gated = filters.map((_, i) => q.kind === 'sequence' && firstPositive >= 0 && i > firstPositive);
      const direct = isDirect(query, indexed);
      // a rule with a filter that needs engine state sees every event, as one matcher
      const whole = !indexed || filters.some((f) => needsState(f.condition));
      const slot: Slot<R> = {
        order: this.slots.length,
        rule,
        direct,
        judge: null,
        fed: -1,
        tests: 0,
      };
      this.slots.push(slot);
      if (whole) {
        // unindexed, or a filter with relationships: its matcher sees every event (the process tree needs them all)
        this.alwaysFor('').push(this.unit(slot, null, false));
        if (indexed && !stateful) nCategory++;
        continue;
      }
      let allKeyed = true;
      const tests: Array<(source: unknown) => boolean> = [];
      filters.forEach((f, i) => {
        const u = this.filterUnit(slot, f, catField, gated[i]!, i);
        const unit = this.units[u]!;
        tests.push((source) => unit.test!(source as Record<string, unknown>));
        const keys = cover(f.condition);
        const cat = (f.category ?? '').toLowerCase();
        if (!this.catIds.has(cat)) this.catIds.set(cat, this.catIds.size);
        this.unitCat[u] = this.catIds.get(cat)!;
        if (!keys) {
          allKeyed = false;
          this.alwaysFor(cat).push(u);
          return;
        }
        this.units[u]!.gate = this.gateOf(f.condition, keys);
        for (const key of keys) {
          const fi = this.fieldIndex(key.field);
          if (key.kind === 'present') {
            if (fi.present[fi.present.length - 1] !== u) fi.present.push(u);
            continue;
          }
          if (key.numeric) fi.numeric = true;
          const m = key.kind === 'piece' ? fi.pieces : fi.exact;
          for (const v of new Set(key.values)) {
            const list = m.get(v) ?? [];
            if (list[list.length - 1] !== u) list.push(u);
            m.set(v, list);
          }
        }
      });
      if (!stateful) {
        if (allKeyed) nIndexed++;
        else nCategory++;
      } else if (options.judge === true) {
        // a rule set that only scans works out the verdicts of stateful rules, for the one that feeds
        // them (on another thread) to match by, with the filters' tests made here; the fields they
        // read beyond those scanned are read only for events that get a verdict (see `fieldsJudged`)
        const judge = query.judge(this.fields.getter, tests);
        if (judge) {
          for (const p of judge.reads) this.judged.add(plainPrefix(p));
          slot.judge = judge.judge;
          this.judges = true;
        }
      }
    }
    for (const fi of this.byField.values()) {
      if (fi.pieces.size) fi.automaton = new PieceAutomaton([...fi.pieces.keys()], [...fi.pieces.values()]);
      else {
        fi.byNumber = new Map();
        for (const [key, list] of fi.exact) if (String(Number(key)) === key) fi.byNumber.set(Number(key), list);
      }
    }
    this.marked = new Int32Array(this.units.length).fill(-1);
    this.candidates = new Int32Array(this.units.length);
    this.factStamp = new Int32Array(this.factIds.size).fill(-1);
    const seen = new Map<string, readonly string[]>();
    for (const p of this.scanned) seen.set(JSON.stringify(p), p);
    this.scannedList = [...seen.values()];
    this.scannedIds = this.scannedList.map((p) => this.fields.idOf(p));
    const judged = new Map<string, readonly string[]>();
    for (const p of this.judged) if (!seen.has(JSON.stringify(p))) judged.set(JSON.stringify(p), p);
    this.judgedList = [...judged.values()];
    this.judgedIds = this.judgedList.map((p) => this.fields.idOf(p));
    this.scannedIndex = this.scannedList.map((p) => this.byField.get(p.join('\u0000')) ?? null);
    this.stats = { rules: this.slots.length, indexed: nIndexed, byCategoryOnly: nCategory, stateful: nStateful };
  }

  private alwaysFor(cat: string): number[] {
    let l = this.always.get(cat);
    if (!l) this.always.set(cat, (l = []));
    return l;
  }

  private fieldIndex(path: readonly (string | number)[]): FieldIndex {
    const key = path.join('\u0000');
    let fi = this.byField.get(key);
    if (fi) return fi;
    const made: FieldIndex = { exact: new Map(), pieces: new Map(), present: [], numeric: false, automaton: null, byNumber: null, memo: new StringMemo(MEMO_SIZE, MEMO_TRIAL), units: (x) => this.unitsOf(x, made) };
    fi = made;
    this.byField.set(key, fi);
    if (path.some((x) => typeof x === 'number')) {
      this.positional.push({ get: this.fields.getter(path), fi });
      this.scanned.add(plainPrefix(path));
    } else this.trieNode(path as readonly string[]).fi = fi;
    return fi;
  }

  /** The trie's node of a field `scan` reads (made when new). */
  private trieNode(path: readonly string[]): FieldNode {
    this.scanned.add(path);
    let node = this.root;
    for (const seg of path) {
      let n = node.next.get(seg);
      if (!n) node.next.set(seg, (n = { next: new Map(), fi: null }));
      node = n;
    }
    return node;
  }

  /**
   * The gate of a filter: the covers of the other conjuncts of its condition (its top-level `and`s)
   * that hold exact values or presence, each as facts the index records when an event passes them.
   * A test runs only when every group has a fact the event passed: a cover is necessary for its
   * conjunct, and every conjunct for the condition, so the gate only skips tests that would fail.
   * The index finds an event's candidates by one cover; most fail on another (the operating system,
   * `event.type`, `event.action`), which the gate answers without running the filter.
   */
  private gateOf(condition: Expr, primary: readonly LiteralKey[]): Int32Array | null {
    const conjuncts: Expr[] = [];
    const split = (e: Expr): void => {
      if (e.kind === 'logical' && e.op === 'and') {
        split(e.left);
        split(e.right);
      } else conjuncts.push(e);
    };
    split(condition);
    const seen = new Set([keysText(primary)]);
    const out: number[] = [];
    for (const c of conjuncts) {
      const keys = cover(c);
      // pieces would need the values scanned for them; presence of a field nearly every event has says little
      if (!keys || keys.some((k) => k.kind === 'piece' || (k.kind === 'present' && COMMON.has(k.field.join('.'))))) continue;
      const text = keysText(keys);
      if (seen.has(text)) continue;
      seen.add(text);
      const facts = new Set<number>();
      for (const key of keys) {
        const fi = this.fieldIndex(key.field);
        if (key.kind === 'present') {
          const f = this.fact(`${key.field.join('\u0000')}\u0001`, fi.present);
          facts.add(f);
          continue;
        }
        if (key.numeric) fi.numeric = true;
        for (const v of key.values) {
          let list = fi.exact.get(v);
          if (!list) fi.exact.set(v, (list = []));
          facts.add(this.fact(`${key.field.join('\u0000')}\u0002${v}`, list));
        }
      }
      out.push(facts.size, ...facts);
    }
    return out.length ? Int32Array.from(out) : null;
  }

  /** The number of a fact (a field's exact value, or its presence), made when new: its list gets its mark. */
  private fact(key: string, list: number[]): number {
    let f = this.factIds.get(key);
    if (f === undefined) {
      f = this.factIds.size;
      this.factIds.set(key, f);
      // facts go in the index's lists as negative numbers (see `mark`)
      list.push(~f);
    }
    return f;
  }

  /** Whether the current event passed a fact of every group of a gate. */
  private opens(gate: Int32Array): boolean {
    const stamp = this.factStamp;
    const no = this.eventNo;
    for (let i = 0; i < gate.length; ) {
      const end = i + 1 + gate[i]!;
      let ok = false;
      for (i++; i < end; i++) if (stamp[gate[i]!] === no) {
        ok = true;
        i = end;
        break;
      }
      if (!ok) return false;
    }
    return true;
  }

  private unit(slot: Slot<R>, test: Unit<R>['test'], gated: boolean, place = 0): number {
    this.units.push({ slot, test, gated, place, gate: null });
    this.unitCat.push(0);
    return this.units.length - 1;
  }

  /**
   * The unit of an event filter. Its test is the filter with the engine's category rule
   * (case-sensitive, any element) as generated code, made on the first call. The fields it reads go
   * into the walk's trie, so that the walk sees every object those reads pass through: when none
   * has a dotted key, a read that finds nothing is an absent field (see `absent`).
   */
  private filterUnit(slot: Slot<R>, f: EventFilter, categoryField: string, gated: boolean, place: number): number {
    const catPath = parseFieldPath(categoryField);
    const reads: Array<readonly string[]> = [plainPrefix(catPath)];
    fieldsRead(f.condition, reads);
    // a gated filter is never tested here (its matcher tests it), so its reads need no walk
    if (!gated) for (const p of reads) if (p.length > 0) this.trieNode(p);
    const u = this.unit(slot, null, gated, place);
    const unit = this.units[u]!;
    const category = f.category === null ? null : { field: { kind: 'field', path: catPath, optional: false, span: f.span } satisfies FieldRef, value: f.category };
    unit.test = (source) => {
      unit.test = compileGeneratedFilter(f.condition, { dialect: 'elasticsearch', fieldSemantics: ecsSemantics, field: this.fields.getter, absent: this.absent, fieldsOnly: FIELDS_ONLY }, category);
      return unit.test(source);
    };
    return u;
  }

  /**
   * The current event has no dotted key on any path a filter reads: a nested read that finds nothing
   * is absent. (An event given as fields has no document to read: every read goes to the getter.)
   */
  private readonly absent = (source: unknown): boolean => source === this.current && !this.dotted && !this.given;

  private readonly mark = (u: number): void => {
    if (u < 0) {
      // a fact (see `fact`)
      this.factStamp[~u] = this.eventNo;
      return;
    }
    if (this.marked[u] === this.eventNo) return;
    const c = this.unitCat[u]!;
    if (c !== 0) {
      const ids = this.eventCatIds;
      let k = this.nCatIds - 1;
      while (k >= 0 && ids[k] !== c) k--;
      if (k < 0) return;
    }
    this.marked[u] = this.eventNo;
    this.candidates[this.nCandidates++] = u;
  };

  private readonly vals: string[] = [];

  /** Walks an object's keys along the field trie (dotted keys walk several levels). */
  private walk(o: Record<string, unknown>, node: FieldNode): void {
    for (const k in o) {
      let child = node.next.get(k);
      if (child === undefined && k.includes('.')) {
        this.dotted = true;
        child = node;
        for (const part of k.split('.')) if (!(child = child.next.get(part))) break;
      }
      if (child) this.visit(o[k], child);
    }
  }

  private visit(v: unknown, node: FieldNode): void {
    if (v === null || v === undefined) return;
    if (node.fi) this.index(v, node.fi);
    if (node.next.size === 0 || typeof v !== 'object') return;
    if (!Array.isArray(v)) this.walk(v as Record<string, unknown>, node);
    else for (const el of v) if (el !== null && typeof el === 'object' && !Array.isArray(el)) this.walk(el as Record<string, unknown>, node);
  }

  /** Marks the units whose keys on this field the value passes. */
  private index(v: unknown, fi: FieldIndex): void {
    for (const u of fi.present) this.mark(u);
    if (fi.exact.size === 0 && fi.automaton === null) return;
    if (typeof v === 'string') this.indexString(v, fi);
    else if (typeof v === 'number' && fi.byNumber !== null) this.indexNumber(v, fi.byNumber);
    else if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'string') this.indexString(x, fi);
      else if (typeof x === 'number' && fi.byNumber !== null) this.indexNumber(x, fi.byNumber);
      else if (x !== null && (typeof x !== 'object' || Array.isArray(x))) this.indexFolded(x, fi, this.mark);
    } else this.indexFolded(v, fi, this.mark);
  }

  /** What `indexFolded` marks for a number on a field without pieces: the key that is its printed form. */
  private indexNumber(n: number, byNumber: Map<number, number[]>): void {
    const l = byNumber.get(n);
    if (l !== undefined) for (const u of l) this.mark(u);
  }

  /**
   * A string's units, remembered per field: the values a field takes repeat (process names, paths,
   * actions), and what a value passes never changes. Bounded; given up on a field whose values
   * rarely repeat (command lines), where remembering costs more than it saves.
   */
  private indexString(s: string, fi: FieldIndex): void {
    if (!fi.memo.active) return this.indexFolded(s, fi, this.mark);
    const units = fi.memo.get(s, fi.units);
    for (let i = 0; i < units.length; i++) this.mark(units[i]!);
  }

  /** The units a string's exact values and pieces mark on a field, each once (what its memo remembers). */
  private unitsOf(s: string, fi: FieldIndex): Int32Array {
    const found: number[] = [];
    this.indexFolded(s, fi, (u) => {
      if (found[found.length - 1] !== u) found.push(u);
    });
    return found.length === 0 ? NONE : Int32Array.from(found);
  }

  /** The exact values and pieces a value passes, folded (strings lowercased, each element of an array). */
  private indexFolded(v: unknown, fi: FieldIndex, mark: (u: number) => void): void {
    const vals = this.vals;
    const n = lower(v, vals, 0);
    for (let i = 0; i < n; i++) {
      const s = vals[i]!;
      if (fi.exact.size) {
        const l = fi.exact.get(s);
        if (l) for (const u of l) mark(u);
        if (fi.numeric) {
          const n = s.trim() === '' ? NaN : Number(s);
          const l2 = Number.isFinite(n) && String(n) !== s ? fi.exact.get(String(n)) : undefined;
          if (l2) for (const u of l2) mark(u);
        }
      }
      fi.automaton?.scan(s, mark);
    }
  }

  /**
   * Tests one event against the filters it can meet. Event queries that match go to `out`; each
   * stateful rule with a filter it passes gets one code in `stateful`, for `feed` (here or, in
   * order, on another thread), and, with `verdicts` (on a rule set with `judge`), its verdict there.
   */
  scan(event: EventInput, out: Array<RuleSetHit<R>>, stateful: StatefulCode[], verdicts?: Array<Verdict | null>): void {
    const source = ('_source' in event && event._source ? event._source : event) as Record<string, unknown>;
    this.fields.reset(source);
    this.begin(source, false);
    this.walk(source, this.root);
    this.indexPositional(source);
    this.decide(event, source, out, stateful, verdicts);
  }

  /**
   * `scan` for an event given as its fields (a projection, see `fieldsScanned`): `values[k]`, for
   * each k in the first `count` of `filled`, is the value of the k-th field scanned; every other
   * field is absent, and no key of the event held a dot. Its hits carry `FIELDS_ONLY` as their
   * source, for the caller to replace with the document. `judgedFields` gives the event's fields
   * that verdicts read (`fieldsJudged`), or null when it cannot (the event then gets no verdicts).
   */
  scanFields(
    values: readonly unknown[],
    filled: ArrayLike<number>,
    count: number,
    event: { readonly _index?: string; readonly _id?: string },
    out: Array<RuleSetHit<R>>,
    stateful: StatefulCode[],
    verdicts?: Array<Verdict | null>,
    judgedFields?: () => GivenFields | null,
  ): void {
    const source = FIELDS_ONLY;
    this.fields.fill(source, values, filled, count, this.scannedIds);
    this.moreFields = judgedFields;
    this.begin(source, true);
    const byField = this.scannedIndex;
    for (let i = 0; i < count; i++) {
      const k = filled[i]!;
      const fi = byField[k];
      const v = values[k];
      if (fi !== null && fi !== undefined && v !== undefined && v !== null) this.index(v, fi);
    }
    this.indexPositional(source);
    this.decide(event, source, out, stateful, verdicts);
  }

  /** Starts an event: the units every event of its categories meets. */
  private begin(source: Record<string, unknown>, given: boolean): void {
    this.current = source;
    this.dotted = false;
    this.given = given;
    this.eventNo++;
    this.nCandidates = 0;
    const cats = this.eventCats;
    const n = lower(this.getCategory(source), cats, 0);
    const ids = this.eventCatIds;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const id = this.catIds.get(cats[i]!);
      if (id !== undefined && id !== 0) ids[k++] = id;
    }
    this.nCatIds = k;
    const any = this.always.get('');
    if (any) for (const u of any) this.mark(u);
    for (let i = 0; i < n; i++) {
      const c = cats[i]!;
      const a = c === '' ? undefined : this.always.get(c);
      if (a) for (const u of a) this.mark(u);
    }
  }

  private indexPositional(source: Record<string, unknown>): void {
    for (const { get, fi } of this.positional) {
      const v = get(source);
      if (v !== undefined && v !== null) this.index(v, fi);
    }
  }

  /**
   * Tests the candidates: hits of event queries to `out`, codes of stateful rules to `stateful`, and
   * with each code, when `verdicts` is given, its verdict there (null: none; see `Verdict`).
   */
  private decide(event: { readonly _index?: string; readonly _id?: string }, source: Readonly<Record<string, unknown>>, out: Array<RuleSetHit<R>>, stateful: StatefulCode[], verdicts: Array<Verdict | null> | undefined): void {
    const cand = this.candidates;
    const n = this.nCandidates;
    const no = this.eventNo;
    if (n === 0) return;
    // units in rule order (a rule's in filter order), so output order does not depend on the index
    if (n > 1) sortNumbers(cand, n);
    for (let i = 0; i < n; i++) {
      const u = cand[i]!;
      const unit = this.units[u]!;
      const { slot, gated } = unit;
      if (slot.fed === no) continue;
      // an event that fails the gate fails the filter (gated ones too: no use to the matcher)
      if (unit.gate !== null && !this.opens(unit.gate)) continue;
      // a gated filter is left to the matcher, which gets the event only while it holds something;
      // a rule's ungated filters come before its gated ones, so the first that passes decides
      if (!gated && unit.test !== null) {
        this.tests++;
        slot.tests++;
        if (!unit.test(source)) continue;
      }
      slot.fed = no;
      if (slot.direct) out.push({ rule: slot.rule, hit: { _index: event._index ?? '', _id: event._id ?? '', _source: source } });
      else {
        stateful.push(statefulCode(slot.order, gated));
        // an event of a gated filter only: the rule may not want it (and its other tests are not run)
        if (verdicts) verdicts.push(!gated && slot.judge !== null && this.judgedRead() ? slot.judge(source, unit.place) : null);
      }
    }
  }

  /** Whether some stateful rule's codes come with verdicts (see `scan`). */
  get judging(): boolean {
    return this.judges;
  }

  /**
   * Whether the fields verdicts read are at hand for the current event: always for a document; for an
   * event given as fields, once they are read (`fieldsJudged`, asked of the caller at the event's first
   * verdict). False: the event gets no verdicts.
   */
  private judgedRead(): boolean {
    if (!this.given || this.judgedList.length === 0) return true;
    if (this.judgedFor !== this.eventNo) {
      this.judgedFor = this.eventNo;
      const f = this.moreFields?.() ?? null;
      this.judgedOk = f !== null;
      if (f) this.fields.fillMore(f.values, f.filled, f.filledCount, this.judgedIds);
    }
    return this.judgedOk;
  }

  /**
   * The fields the verdicts of stateful rules read beyond `fieldsScanned` (as paths up to an array
   * position), which an event given as fields supplies only when asked: `scanFields` takes a function
   * that gives them, in this order, when the event's first verdict is worked out.
   */
  fieldsJudged(): ReadonlyArray<readonly string[]> {
    return this.judgedList;
  }

  /**
   * Every field `scan` reads from an event, as paths up to an array position: its answers depend on
   * these alone, so an event that holds only them (with their whole values, nested, dotted or in
   * arrays as in the document) gets the same answers and codes. `scanFields` takes the fields in
   * this order. The hits of event queries carry the event as given.
   */
  fieldsScanned(): ReadonlyArray<readonly string[]> {
    return this.scannedList;
  }

  /** How many times a filter was tested (what the index and the gates leave to test). */
  testsRun(): number {
    return this.tests;
  }

  /** Per rule, in entry order, its filters tested so far: what the rule costs the scan. */
  testsByRule(): number[] {
    return this.slots.map((s) => s.tests);
  }


}

/**
 * The multi-rule engine whole: the index (`RuleIndex`) and the stateful rules' matchers
 * (`StatefulRules`) over the same entries, for a driver that scans and feeds on one thread (the
 * stream). The hunt and the scheduler's passes use the halves apart, on different threads.
 */
export class RuleSet<R> {
  readonly index: RuleIndex<R>;
  readonly matchers: StatefulRules<R>;
  private readonly codes: StatefulCode[] = [];

  constructor(entries: ReadonlyArray<RuleSetEntry<R>>, options: RuleSetOptions = {}) {
    this.index = new RuleIndex(entries, options);
    this.matchers = new StatefulRules(entries, options);
  }

  /** See RuleIndex.scan. */
  scan(event: EventInput, out: Array<RuleSetHit<R>>, stateful: StatefulCode[]): void {
    this.index.scan(event, out, stateful);
  }

  /** Feeds one event to the rules that can match it; hits it completes go to `out`. */
  push(event: EventInput, out: Array<RuleSetHit<R>>): void {
    const codes = this.codes;
    codes.length = 0;
    this.index.scan(event, out, codes);
    for (const c of codes) if (this.matchers.wants(c)) this.matchers.feed(c, event, out);
  }

  /** Ends the input: stateful rules report what they found. */
  flush(out: Array<RuleSetHit<R>>): void {
    this.matchers.flush(out);
  }
}

/** The index keys of one filter condition and their cost (for diagnostics and tests); null when it has none. */
export function coverOf(condition: Expr): { keys: Array<{ field: string; kind: string; values: readonly string[] }>; cost: number } | null {
  const c = cover(condition);
  return c && { keys: c.map((k) => ({ field: k.field.join('.'), kind: k.kind, values: k.values })), cost: coverCost(c) };
}
