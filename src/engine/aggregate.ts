import { createFieldGetter, parseFieldPath, type FieldGetter } from '../ecs/index.js';

/**
 * The matchers of the rule types that aggregate a query's matches before they alert: threshold
 * (groups of events), new terms (values not seen before) and indicator match (events that carry an
 * indicator's value). Pure: drivers feed them the events a rule's query matched, in time order, and
 * give them the history they keep (the store's, or a hunt's own) through functions.
 */

/** A term: a scalar value of a field as Elasticsearch aggregates it. */
export type Term = string | number | boolean;

/** The most combinations an event's values make (arrays in several fields multiply). */
export const MAX_COMBINATIONS = 100;

/** A field's values in a document as terms: the value, or each scalar element of an array (nulls and objects dropped). */
export function termsOf(get: FieldGetter, source: unknown): Term[] {
  const v = get(source);
  const out: Term[] = [];
  const add = (x: unknown): void => {
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') {
      if (!out.includes(x)) out.push(x);
    } else if (Array.isArray(x)) for (const y of x) add(y);
  };
  add(v);
  return out;
}

/** Every combination of the fields' terms (the cross product, at most MAX_COMBINATIONS); none when a field has none. */
export function termCombinations(getters: readonly FieldGetter[], source: unknown): Term[][] {
  let combos: Term[][] = [[]];
  for (const g of getters) {
    const ts = termsOf(g, source);
    if (ts.length === 0) return [];
    const next: Term[][] = [];
    for (const c of combos) for (const t of ts) if (next.length < MAX_COMBINATIONS) next.push([...c, t]);
    combos = next;
  }
  return combos;
}

/** The key a combination of terms is kept under (the same in a hunt and in the store). */
export const termsKey = (terms: readonly Term[]): string => JSON.stringify(terms);

const gettersOf = (fields: readonly string[]): FieldGetter[] => fields.map((f) => createFieldGetter(parseFieldPath(f)));

/**
 * Reads the keys of the combinations of some fields' values in a document (see termCombinations,
 * termsKey): what threshold groups and new terms are kept under. A hunt's workers read them, so that
 * the thread that aggregates handles keys, not documents.
 */
export class TermsReader {
  private readonly getters: FieldGetter[];

  constructor(readonly fields: readonly string[]) {
    this.getters = gettersOf(fields);
  }

  keys(source: unknown): string[] {
    if (this.getters.length === 0) return [termsKey([])];
    return termCombinations(this.getters, source).map(termsKey);
  }
}

export interface ThresholdSpec {
  readonly fields: readonly string[];
  readonly value: number;
  readonly cardinality: ReadonlyArray<{ readonly field: string; readonly value: number }>;
}

/** A group that reached the threshold: Kibana's `threshold_result`, with the times of its events. */
export interface ThresholdBucket {
  readonly key: string;
  readonly terms: ReadonlyArray<{ readonly field: string; readonly value: Term }>;
  readonly count: number;
  readonly cardinality: ReadonlyArray<{ readonly field: string; readonly value: number }>;
  /** The earliest and latest times of the events counted (epoch ms). */
  readonly from: number;
  readonly to: number;
}

interface OpenBucket {
  readonly terms: Term[];
  /** Events at or before this time were counted by an earlier alert of the group (null: none). */
  readonly since: number | null;
  count: number;
  from: number;
  to: number;
  readonly distinct: Set<string> | null;
}

/**
 * Counts a threshold rule's matches per group of its fields' values (every combination of an
 * event's values, as Elasticsearch's terms aggregation buckets arrays; an event without a value in
 * a group-by field is in no group). `since` gives, per group, the latest event time an earlier
 * alert of the group counted: such events are not counted again (Kibana's threshold signal
 * history), so overlapping windows alert once for the same events.
 */
export class ThresholdCounter {
  private readonly groups: TermsReader;
  private readonly distinctReader: TermsReader | null;
  private readonly buckets = new Map<string, OpenBucket>();

  constructor(
    readonly spec: ThresholdSpec,
    private readonly since: (key: string) => number | null = () => null,
  ) {
    this.groups = new TermsReader(spec.fields);
    const c = spec.cardinality[0];
    this.distinctReader = c ? new TermsReader([c.field]) : null;
  }

  /** The keys a document is counted under, and the keys of its values of the cardinality field (null: none asked). */
  keysOf(source: unknown): { keys: string[]; distinct: string[] | null } {
    return { keys: this.groups.keys(source), distinct: this.distinctReader ? this.distinctReader.keys(source) : null };
  }

  /** One matched event, at `time` (epoch ms). */
  add(source: unknown, time: number): void {
    const { keys, distinct } = this.keysOf(source);
    this.addKeys(keys, time, distinct);
  }

  /** One matched event by its keys (see keysOf). */
  addKeys(keys: readonly string[], time: number, distinct: readonly string[] | null): void {
    for (const key of keys) {
      let b = this.buckets.get(key);
      if (!b) this.buckets.set(key, (b = { terms: JSON.parse(key) as Term[], since: this.since(key), count: 0, from: Infinity, to: -Infinity, distinct: this.distinctReader ? new Set() : null }));
      if (b.since !== null && time <= b.since) continue;
      b.count++;
      if (time < b.from) b.from = time;
      if (time > b.to) b.to = time;
      if (b.distinct && distinct) for (const d of distinct) b.distinct.add(d);
    }
  }

  /** The groups that reached the threshold (and the cardinality), by their latest event's time, then key. */
  reached(): ThresholdBucket[] {
    const out: ThresholdBucket[] = [];
    const c = this.spec.cardinality[0];
    for (const [key, b] of this.buckets) {
      if (b.count < this.spec.value) continue;
      if (c && b.distinct!.size < c.value) continue;
      out.push({
        key,
        terms: this.spec.fields.map((field, i) => ({ field, value: b.terms[i]! })),
        count: b.count,
        cardinality: c ? [{ field: c.field, value: b.distinct!.size }] : [],
        from: b.from,
        to: b.to,
      });
    }
    return out.sort((a, b) => a.to - b.to || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

/** When a combination of terms was seen: its first and latest sighting (epoch ms). */
export interface TermsSighting {
  readonly first: number;
  readonly last: number;
}

export interface NewTermsSpec {
  readonly fields: readonly string[];
  /** How long a sighting keeps a combination known, ms. */
  readonly historyMs: number;
}

/**
 * Tells, for a new-terms rule's matches in time order, which combinations of its fields' values are
 * new: not seen within the history window before the event. It keeps each combination's first and
 * latest sighting; `lookup` gives those kept from before (the store's table, or none), and
 * `changes` what this tracker learnt, to keep. A combination counts as seen at time t when its
 * first sighting is at or before t and its latest within the window before t (a combination seen
 * long ago and again only after t is taken as seen: the table keeps two times, not every sighting).
 */
export class NewTermsTracker {
  private readonly reader: TermsReader;
  private readonly known = new Map<string, TermsSighting | null>();
  private readonly changed = new Set<string>();

  constructor(
    readonly spec: NewTermsSpec,
    private readonly lookup: (key: string) => TermsSighting | null = () => null,
  ) {
    this.reader = new TermsReader(spec.fields);
  }

  /** The keys of the combinations an event's fields make. */
  keysOf(source: unknown): string[] {
    return this.reader.keys(source);
  }

  private sighting(key: string): TermsSighting | null {
    let s = this.known.get(key);
    if (s === undefined) this.known.set(key, (s = this.lookup(key)));
    return s;
  }

  private record(key: string, time: number): void {
    const s = this.sighting(key);
    const next = s === null ? { first: time, last: time } : { first: Math.min(s.first, time), last: Math.max(s.last, time) };
    if (s === null || next.first !== s.first || next.last !== s.last) {
      this.known.set(key, next);
      this.changed.add(key);
    }
  }

  /** A matched event at `time`: the combinations new at that time (then known). */
  observe(source: unknown, time: number): Term[][] {
    return this.observeKeys(this.keysOf(source), time).map((k) => JSON.parse(k) as Term[]);
  }

  /** A matched event at `time` by its keys (see keysOf): the keys new at that time (then known). */
  observeKeys(keys: readonly string[], time: number): string[] {
    const fresh: string[] = [];
    for (const key of keys) {
      const s = this.sighting(key);
      if (s === null || s.first > time || s.last < time - this.spec.historyMs) fresh.push(key);
      this.record(key, time);
    }
    return fresh;
  }

  /** A matched event of the history, before the rule's windows: known from then on, never new. */
  learn(source: unknown, time: number): void {
    for (const key of this.keysOf(source)) this.record(key, time);
  }

  /** The sightings learnt or moved since the tracker began, to keep. */
  *changes(): IterableIterator<[string, TermsSighting]> {
    for (const key of this.changed) yield [key, this.known.get(key)!];
  }
}

export interface ThreatMappingSpec {
  /** Groups of entries (event field, indicator field); an event matches an indicator when every entry of a group does. */
  readonly mapping: ReadonlyArray<ReadonlyArray<{ readonly field: string; readonly value: string }>>;
}

/** An indicator document, where it is stored. */
export interface IndicatorDoc {
  readonly index: string;
  readonly id: string;
  readonly source: Readonly<Record<string, unknown>>;
}

/** An event's match with one indicator: Kibana's `threat.enrichments[].matched`. */
export interface IndicatorMatch {
  readonly indicator: IndicatorDoc;
  /** The event's value that matched (of the group's first entry, as Kibana reports it). */
  readonly atomic: Term;
  /** The event field that matched. */
  readonly field: string;
}

/**
 * The indicators of an indicator-match rule, indexed by their values per mapping group, to match
 * events against: an event matches an indicator when, for some group, each entry's event field
 * holds a value of the indicator's field (arrays: any element).
 */
export class IndicatorIndex {
  private readonly groups: Array<{ event: FieldGetter[]; indicator: FieldGetter[]; fields: string[]; byKey: Map<string, IndicatorDoc[]> }>;
  /** Indicators added. */
  size = 0;

  constructor(spec: ThreatMappingSpec) {
    this.groups = spec.mapping.map((g) => ({ event: gettersOf(g.map((e) => e.field)), indicator: gettersOf(g.map((e) => e.value)), fields: g.map((e) => e.field), byKey: new Map<string, IndicatorDoc[]>() }));
  }

  /** Adds an indicator. */
  add(doc: IndicatorDoc): void {
    this.size++;
    for (const g of this.groups) {
      for (const terms of termCombinations(g.indicator, doc.source)) {
        const key = termsKey(terms);
        const list = g.byKey.get(key);
        if (list === undefined) g.byKey.set(key, [doc]);
        else if (list[list.length - 1] !== doc) list.push(doc);
      }
    }
  }

  /**
   * The keys an event is looked up under, per mapping group (see matchKeys): what a hunt's workers
   * read of an event, so that the thread that matches handles keys, not documents.
   */
  eventKeys(source: unknown): string[][] {
    return this.groups.map((g) => termCombinations(g.event, source).map(termsKey));
  }

  /** The indicators an event matches, by its keys per group (see eventKeys). */
  matchKeys(keys: readonly (readonly string[])[]): IndicatorMatch[] {
    const out: IndicatorMatch[] = [];
    const seen = new Set<IndicatorDoc>();
    this.groups.forEach((g, i) => {
      for (const key of keys[i] ?? []) {
        const docs = g.byKey.get(key);
        if (!docs) continue;
        for (const d of docs) {
          if (seen.has(d)) continue;
          seen.add(d);
          out.push({ indicator: d, atomic: (JSON.parse(key) as Term[])[0]!, field: g.fields[0]! });
        }
      }
    });
    return out;
  }

  /** The indicators an event matches, each once (in the order of the groups, then of the indicators' addition). */
  matches(source: unknown): IndicatorMatch[] {
    return this.matchKeys(this.eventKeys(source));
  }
}
