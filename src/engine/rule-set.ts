import { createFieldGetter, parseFieldPath, type FieldGetter, type FieldPath } from '../ecs/index.js';
import { compilePredicate, type Expr, type EventFilter } from '../eql/index.js';
import type { CompiledQuery, EventHit, Matcher, SequenceHit } from './compile-query.js';
import type { EventInput } from './event.js';
import { LOW_CARDINALITY } from './raw-filter.js';

/**
 * Many rules in one pass. Event queries are indexed by event category and by one literal test each
 * must pass (an exact value, `in` list or wildcard-free `:` list on a field), so an event only meets
 * the rules that can match it; the candidate's full condition then decides. Sequences, samples and
 * queries with pipes get the events of the categories their stages name. Indexing never changes
 * results: `indexed: false` feeds every event to every rule, and the tests compare both paths.
 */
export interface RuleSetEntry<R> {
  readonly rule: R;
  readonly query: CompiledQuery;
  /** The field the query's category test reads (default `event.category`). */
  readonly eventCategoryField?: string;
}

export interface RuleSetHit<R> {
  readonly rule: R;
  readonly hit: EventHit | SequenceHit;
}

interface Slot<R> {
  readonly order: number;
  readonly rule: R;
  readonly matcher: Matcher;
  /** Event queries without pipes are answered by their filter directly (no matcher state). */
  readonly test: ((source: Record<string, unknown>) => boolean) | null;
}

interface LiteralKey {
  readonly field: readonly (string | number)[];
  readonly values: readonly string[];
}

export interface RuleSetStats {
  readonly rules: number;
  readonly indexed: number;
  readonly byCategoryOnly: number;
  readonly stateful: number;
}

/** Lower is better: selective fields first, then fewer values. */
function keyCost(k: { field: readonly (string | number)[]; values: readonly string[] }): number {
  const f = k.field.join('.');
  // the OS partition already narrows by host.os.type: a key on it adds nothing
  return (f === 'host.os.type' ? 5000 : LOW_CARDINALITY.has(f) ? 1000 : 0) + k.values.length;
}

function fieldOf(e: Expr): readonly (string | number)[] | null {
  return e.kind === 'field' && !e.optional ? e.path : null;
}

function strings(list: readonly Expr[]): string[] | null {
  const out: string[] = [];
  for (const x of list) {
    if (x.kind !== 'string') return null;
    out.push(x.value);
  }
  return out;
}

/**
 * A cover of a condition: literal tests such that any event satisfying the condition passes at
 * least one of them. `and` takes the cheapest cover among its sides, `or` needs both sides covered
 * and unites them; `==`, `in`, and wildcard-free `:`/`like`/`like~` give one test each.
 */
function cover(e: Expr): LiteralKey[] | null {
  switch (e.kind) {
    case 'logical': {
      const l = cover(e.left);
      const r = cover(e.right);
      if (e.op === 'or') return l && r ? [...l, ...r] : null;
      if (!l) return r;
      if (!r) return l;
      return coverCost(r) < coverCost(l) ? r : l;
    }
    case 'compare': {
      const f = e.op === '==' ? fieldOf(e.left) : null;
      return f && e.right.kind === 'string' ? [{ field: f, values: [e.right.value] }] : null;
    }
    case 'in': {
      const f = e.negated ? null : fieldOf(e.value);
      const vs = strings(e.list);
      return f && vs ? [{ field: f, values: vs }] : null;
    }
    case 'match': {
      if (e.op !== ':' && e.op !== 'like' && e.op !== 'like~') return null;
      const f = fieldOf(e.value);
      const vs = strings(e.patterns);
      return f && vs && vs.every((v) => !v.includes('*') && !v.includes('?')) ? [{ field: f, values: vs }] : null;
    }
    default:
      return null;
  }
}

function coverCost(c: readonly LiteralKey[]): number {
  return c.reduce((n, k) => n + keyCost(k), 0);
}

/**
 * Field values shared by every rule that reads them while one event is evaluated: each distinct
 * field is read from the document once per event, however many rules test it.
 */
class FieldCache {
  private readonly ids = new Map<string, number>();
  private values: unknown[] = [];
  private stamps: number[] = [];
  private current: unknown = null;
  private generation = 0;

  getter = (path: FieldPath): FieldGetter => {
    const key = path.join('\u0000');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
      this.values.push(undefined);
      this.stamps.push(-1);
    }
    const slot = id;
    const raw = createFieldGetter(path);
    return (source) => {
      if (source !== this.current) return raw(source);
      if (this.stamps[slot] === this.generation) return this.values[slot];
      const v = raw(source);
      this.values[slot] = v;
      this.stamps[slot] = this.generation;
      return v;
    };
  };

  /** Starts a new event. */
  reset(source: unknown): void {
    this.current = source;
    this.generation++;
  }
}

/** The OS types a condition requires (`host.os.type` ==, in, : without wildcards), or null. */
function osTypes(e: Expr): string[] | null {
  if (e.kind === 'logical' && e.op === 'and') return osTypes(e.left) ?? osTypes(e.right);
  const c = cover(e);
  if (c && c.length === 1 && c[0]!.field.join('.') === 'host.os.type') return [...new Set(c[0]!.values.map((v) => v.toLowerCase()))];
  return null;
}

/** The event filter as one function, with the engine's category rule (case-sensitive, any element). */
function directTest(f: EventFilter, categoryField: string, fields: FieldCache): ((source: Record<string, unknown>) => boolean) | null {
  let pred: (s: unknown) => unknown;
  try {
    pred = compilePredicate(f.condition, { dialect: 'elasticsearch', field: fields.getter });
  } catch {
    return null; // needs engine state (relationships): the matcher handles it
  }
  const want = f.category;
  if (want === null) return (s) => pred(s) === true;
  const getCat = fields.getter(parseFieldPath(categoryField));
  const ok = (v: unknown): boolean => (typeof v === 'string' ? v === want : Array.isArray(v) ? v.some(ok) : false);
  return (s) => ok(getCat(s)) && pred(s) === true;
}

const lower = (v: unknown, out: string[]): void => {
  if (typeof v === 'string') out.push(v.toLowerCase());
  else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
  else if (Array.isArray(v)) for (const x of v) lower(x, out);
};

export class RuleSet<R> {
  private readonly slots: Slot<R>[] = [];
  /** category → rules that take every event of it ('' = any category). */
  private readonly always = new Map<string, Slot<R>[]>();
  /** category → field key → { getter, value → rules }. */
  private readonly byValue = new Map<string, Map<string, { get: FieldGetter; values: Map<string, Slot<R>[]> }>>();
  private readonly getCategory: FieldGetter;
  private readonly fields = new FieldCache();
  private readonly getOs = createFieldGetter(['host', 'os', 'type']);
  readonly stats: RuleSetStats;

  /**
   * `lateness`: how far (ms) an event may arrive behind the newest one and still be put in order for
   * sequences and samples (default: all input is ordered before matching, which holds it in memory).
   */
  constructor(entries: ReadonlyArray<RuleSetEntry<R>>, options: { indexed?: boolean; eventCategoryField?: string; lateness?: number } = {}) {
    const indexed = options.indexed !== false;
    this.getCategory = createFieldGetter(parseFieldPath(options.eventCategoryField ?? 'event.category'));
    let nIndexed = 0;
    let nCategory = 0;
    let nStateful = 0;
    for (const entry of entries) {
      const { rule, query } = entry;
      const stateful = query.kind !== 'event' || query.ast.pipes.length > 0;
      // stateful rules keep events in order; event queries answer at once
      const slot: Slot<R> = {
        order: this.slots.length,
        rule,
        matcher: query.createMatcher({ lateness: stateful ? (options.lateness ?? Infinity) : 0 }),
        test: stateful || query.ast.query.kind !== 'event' ? null : directTest(query.ast.query.filter, entry.eventCategoryField ?? 'event.category', this.fields),
      };
      this.slots.push(slot);
      if (!indexed) {
        this.add(this.always, '', slot);
        continue;
      }
      const q = query.ast.query;
      // each filter (the query's, or every stage's and until's) is indexed on its own; an event
      // reaches the rule when any of them can match it, and the matcher decides
      const filters: EventFilter[] = q.kind === 'event' ? [q.filter] : [...q.stages.map((st) => st.filter), ...('until' in q && q.until ? [q.until.filter] : [])];
      if (stateful) nStateful++;
      let allKeyed = true;
      for (const f of filters) {
        // an OS test in the top-level `and` chain narrows the rule to events of those OS types
        const os = osTypes(f.condition);
        const cats = os ? os.map((o) => `${(f.category ?? '').toLowerCase()}|${o}`) : [(f.category ?? '').toLowerCase()];
        for (const cat of cats) {
          const keys = cover(f.condition);
          if (!keys) {
            allKeyed = false;
            this.add(this.always, cat, slot);
            continue;
          }
          let byField = this.byValue.get(cat);
          if (!byField) this.byValue.set(cat, (byField = new Map()));
          for (const key of keys) {
            const fieldKey = key.field.join('\u0000');
            let entry = byField.get(fieldKey);
            if (!entry) byField.set(fieldKey, (entry = { get: this.fields.getter(key.field), values: new Map() }));
            for (const v of new Set(key.values.map((x) => x.toLowerCase()))) {
              const list = entry.values.get(v) ?? [];
              if (list[list.length - 1] !== slot) list.push(slot);
              entry.values.set(v, list);
            }
          }
        }
      }
      if (!stateful) {
        if (allKeyed) nIndexed++;
        else nCategory++;
      }
    }
    this.stats = { rules: this.slots.length, indexed: nIndexed, byCategoryOnly: nCategory, stateful: nStateful };
  }

  private add(m: Map<string, Slot<R>[]>, k: string, s: Slot<R>): void {
    const l = m.get(k) ?? [];
    l.push(s);
    m.set(k, l);
  }

  /** Feeds one event to the rules that can match it; returns the hits it completes. */
  push(event: EventInput, out: Array<RuleSetHit<R>>): void {
    const source = ('_source' in event && event._source ? event._source : event) as Record<string, unknown>;
    this.fields.reset(source);
    const base: string[] = [''];
    lower(this.getCategory(source), base);
    const osv: string[] = [];
    lower(this.getOs(source), osv);
    const cats = osv.length === 0 ? base : [...base, ...base.flatMap((c) => osv.map((o) => `${c}|${o}`))];
    const seen = new Set<Slot<R>>();
    const vals: string[] = [];
    for (const c of cats) {
      const a = this.always.get(c);
      if (a) for (const s of a) seen.add(s);
      const byField = this.byValue.get(c);
      if (!byField) continue;
      for (const { get, values } of byField.values()) {
        vals.length = 0;
        lower(get(source), vals);
        for (const v of vals) {
          const l = values.get(v);
          if (l) for (const s of l) seen.add(s);
        }
      }
    }
    // rules meet the event in their load order, so output order does not depend on the index
    const slots = seen.size > 1 ? [...seen].sort((x, y) => x.order - y.order) : seen;
    for (const s of slots) {
      if (s.test) {
        if (s.test(source)) out.push({ rule: s.rule, hit: { _index: (event as { _index?: string })._index ?? '', _id: (event as { _id?: string })._id ?? '', _source: source } });
      } else for (const hit of s.matcher.push(event)) out.push({ rule: s.rule, hit });
    }
  }

  /** Ends the input: stateful rules report what they found. */
  flush(out: Array<RuleSetHit<R>>): void {
    for (const s of this.slots) for (const hit of s.matcher.flush()) out.push({ rule: s.rule, hit });
  }
}
