import { hasErrors, type Diagnostic } from '../core/index.js';
import type { Schema } from '../ecs/index.js';
import {
  compileExpr,
  compilePredicate,
  parseQuery,
  fieldName,
  type CompileContext,
  type Dialect,
  type Expr,
  type EventFilter,
  type Stage,
  type Statement,
  type TimeSpan,
  type Value,
} from '../eql/index.js';
import type { FieldGetter, FieldPath } from '../ecs/index.js';
import { ecsDateMapping, semanticsOf, type FieldMapping } from './mapping.js';
import { compareEvents, EventReader, type EngineEvent, type EventInput, type EventOptions, type EventText, type Verdict } from './event.js';
import { Heap } from './heap.js';
import { compilePipes, type PipeStep, type Result } from './pipes.js';
import { ECS_PROCESS_KEYS, ENDGAME_PROCESS_KEYS, ProcessTree, type ProcessKeys } from './relationships.js';
import { JoinMatcher, SampleMatcher, type SampleCounters } from './sample.js';
import { compareKeys, expandKeys, keyString, SequenceMatcher, type SequenceCounters, type StageSpec } from './sequence.js';

export interface QueryOptions extends EventOptions {
  readonly dialect?: Dialect;
  /** Endgame compatibility: `==`, `in`, comparisons and functions ignore case. */
  readonly caseInsensitive?: boolean;
  readonly schema?: Schema | null;
  /** Most results returned (after pipes); default unlimited. */
  readonly size?: number;
  /** Open partial sequences kept at most (default 1,000,000). */
  readonly maxOpenSequences?: number;
  /** Streaming: how far behind the newest event an event may arrive and still be ordered (ms). */
  readonly lateness?: number;
  /** Fields for `descendant of` / `child of` / `event of`. */
  readonly processKeys?: ProcessKeys;
  /** `sample`: samples per join key (default 1). */
  readonly maxSamplesPerKey?: number;
  /** `sample`: join keys holding a partial sample at most (default 1,000,000); the oldest loses its events beyond it. */
  readonly maxOpenSamples?: number;
  /**
   * Build the query's pipeline at compile time, so that mistakes surface there (default true).
   * False where another thread has already compiled the same query and this one may never run it.
   */
  readonly eager?: boolean;
}

export interface EventHit {
  readonly _index: string;
  readonly _id: string;
  readonly _source: Readonly<Record<string, unknown>>;
  readonly missing?: boolean;
}
export interface SequenceHit {
  readonly join_keys: Value[];
  readonly events: EventHit[];
}
/** Shaped as the `hits` of Elasticsearch's `_eql/search` response. */
export interface SearchHits {
  readonly total: { readonly value: number; readonly relation: 'eq' };
  readonly events?: EventHit[];
  readonly sequences?: SequenceHit[];
}

export interface MatcherCounters {
  eventsIn: number;
  matched: number;
  /** Events that arrived after later events had already been matched. */
  late: number;
  readonly sequence?: SequenceCounters;
  readonly sample?: SampleCounters;
}

/** Drives a compiled query one event at a time; events may arrive out of order within `lateness`. */
export interface Matcher {
  /** One event; with its verdict (see `CompiledQuery.judge`), matched without reading its document. */
  push(event: EventInput | EventText, verdict?: Verdict): Array<EventHit | SequenceHit>;
  flush(): Array<EventHit | SequenceHit>;
  /**
   * As `flush`, a piece at a time: matches at most `maxEvents` of the events it holds and answers
   * what they made, and whether the flush is done (then the query's end, as `flush`, came too). A
   * caller that calls it until done gets what one `flush` gives, and may answer others in between
   * (a batch's sequence holding a day of events sorted and fed them for seconds in one block).
   */
  flushSome(maxEvents: number): { readonly hits: Array<EventHit | SequenceHit>; readonly done: boolean };
  /**
   * Event time has reached `ts` (an event the caller did not push, because it cannot match, was
   * seen): events held for the lateness window up to it are matched now.
   */
  advance(ts: number): Array<EventHit | SequenceHit>;
  readonly counters: MatcherCounters;
  /** Partial sequences held right now (0 for other queries). */
  openSequences(): number;
  /**
   * A sequence holding nothing (no partial, no pending match, no event waiting to be ordered): an
   * event that matches only a later stage, an `until` or a missing stage after the first positive
   * one changes nothing and need not be pushed. Always false for other queries, and with lateness (an
   * event of a later stage may come before the one that starts its sequence).
   */
  idle(): boolean;
}

export interface CompiledQuery {
  readonly ast: Statement;
  readonly kind: Statement['query']['kind'];
  /** Runs over a batch of events (any order) and returns Elasticsearch-shaped hits. */
  run(events: Iterable<EventInput>): SearchHits;
  createMatcher(overrides?: { lateness?: number }): Matcher;
  /**
   * What a stateful query's stages make of an event, for a matcher of the same query elsewhere
   * (see Verdict), with its fields read through `field`; null for queries whose matcher needs the
   * document itself (event queries, joins, relationships, a tiebreaker, index mappings, over 31
   * filters). `reads` are the fields it reads. `filters`: tests of the query's filters (the stages',
   * then until's) with the same answers, to run instead of its own (a rule set's generated ones).
   */
  judge(field: (path: FieldPath) => FieldGetter, filters?: ReadonlyArray<(source: unknown) => boolean>): Judge | null;
}

/** See `CompiledQuery.judge`. */
export interface Judge {
  readonly reads: readonly FieldPath[];
  /**
   * The verdict on a document; null when a join key would not read back as the same values.
   * `passed`: a filter already known to pass it (by the tests given to `CompiledQuery.judge`).
   */
  judge(source: unknown, passed?: number): Verdict | null;
}

export type CompileResult =
  | { readonly ok: true; readonly query: CompiledQuery; readonly diagnostics: Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: Diagnostic[] };

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function timeSpanMs(t: TimeSpan): number {
  return t.value * UNIT_MS[t.unit];
}

/** parse → check → compile. Never throws on input: problems come back as diagnostics. */
export function compileQuery(text: string, options: QueryOptions = {}): CompileResult {
  const dialect = options.dialect ?? 'elasticsearch';
  const parsed = parseQuery(text, { dialect, schema: options.schema });
  if (!parsed.ast || hasErrors(parsed.diagnostics)) return { ok: false, diagnostics: parsed.diagnostics };
  return { ok: true, query: compileStatement(parsed.ast, options), diagnostics: parsed.diagnostics };
}

/** Compiles a checked statement. */
export function compileStatement(ast: Statement, options: QueryOptions = {}): CompiledQuery {
  const build = (): Pipeline => new Pipeline(ast, options);
  if (options.eager !== false) build(); // compile eagerly so that mistakes surface here, not on the first event
  return {
    ast,
    kind: ast.query.kind,
    run(events: Iterable<EventInput>): SearchHits {
      const p = build();
      const m = p.matcher(Infinity);
      for (const e of events) m.push(e);
      const out = m.flush();
      const limited = options.size === undefined ? out : out.slice(0, options.size);
      return shapeHits(limited, ast.query.kind === 'event');
    },
    createMatcher(overrides?: { lateness?: number }): Matcher {
      return build().matcher(overrides?.lateness ?? options.lateness ?? 0);
    },
    judge(field: (path: FieldPath) => FieldGetter, filters?: ReadonlyArray<(source: unknown) => boolean>): Judge | null {
      const reads: FieldPath[] = [];
      const p = new Pipeline(ast, {
        ...options,
        field: (path) => {
          reads.push(path);
          return field(path);
        },
      });
      const judge = p.judge(filters);
      return judge && { reads, judge };
    },
  };
}

function shapeHits(results: Array<EventHit | SequenceHit>, events: boolean): SearchHits {
  const total = { value: results.length, relation: 'eq' as const };
  return events ? { total, events: results as EventHit[] } : { total, sequences: results as SequenceHit[] };
}

/** One compiled, stateful instance of a query: stage tests, matcher state, pipes. */
class Pipeline {
  private readonly reader: EventReader;
  private readonly tree: ProcessTree;
  private readonly ctx: CompileContext;
  private readonly process: (e: EngineEvent) => Result[];
  private readonly pipes: PipeStep[];
  private readonly flushInner: () => Result[];
  private readonly sequence: SequenceMatcher | null = null;
  private readonly sample: SampleMatcher | null = null;
  private readonly ci: boolean;
  /** Each filter's test and join key on a document, by the filter's place (the stages, then `until`). */
  private readonly filterFns: StageFns[] = [];

  constructor(
    private readonly ast: Statement,
    private readonly options: QueryOptions,
  ) {
    const dialect = options.dialect ?? 'elasticsearch';
    this.ci = options.caseInsensitive === true;
    this.reader = new EventReader(options);
    this.tree = new ProcessTree(options.processKeys ?? (dialect === 'endgame' ? ENDGAME_PROCESS_KEYS : ECS_PROCESS_KEYS));
    const mappings = options.mappings ? [...options.mappings.values()] : null;
    this.ctx = {
      dialect,
      caseInsensitive: this.ci,
      field: options.field,
      isUnmapped: mappings ? (name) => mappings.every((m) => m.field(name) === undefined) : undefined,
      fieldSemantics: (name) => semanticsOf(this.fieldTypeOf(name)),
      relationship: (node) => {
        const f = this.filter(node.query);
        return this.tree.add(node.relation, (source) => f(source));
      },
    };
    const q = ast.query;
    switch (q.kind) {
      case 'event': {
        const f = this.filter(q.filter);
        this.process = (e) => (f(e.source) ? [{ event: e }] : []);
        this.flushInner = () => [];
        break;
      }
      case 'sequence': {
        const stages = this.stages(q.stages, q.by);
        const until = q.until ? this.stage(q.until, q.by, q.stages.length) : null;
        const m = new SequenceMatcher(stages, until, q.maxspan ? timeSpanMs(q.maxspan) : null, { maxOpen: options.maxOpenSequences });
        this.sequence = m;
        const toResult = (s: { joinKeys: Value[]; events: (EngineEvent | null)[] }): Result => ({ joinKeys: s.joinKeys, events: s.events });
        this.process = (e) => m.push(e).map(toResult);
        this.flushInner = () => m.flush().map(toResult);
        break;
      }
      case 'sample': {
        const m = new SampleMatcher(this.stages(q.stages, q.by), options.maxSamplesPerKey ?? 1, options.maxOpenSamples);
        this.sample = m;
        const found: Result[] = [];
        this.process = (e) => {
          found.push(...m.push(e));
          return [];
        };
        this.flushInner = () => [...found.splice(0), ...m.flush()].sort((a, b) => compareKeys(a.joinKeys ?? [], b.joinKeys ?? []));
        break;
      }
      case 'join': {
        const m = new JoinMatcher(this.stages(q.stages, q.by), q.until ? this.stage(q.until, q.by, q.stages.length) : null);
        this.process = (e) => m.push(e);
        this.flushInner = () => [];
        break;
      }
    }
    this.pipes = compilePipes(ast.pipes, this.ctx);
  }

  /**
   * A field's mapping, when every index mapping that maps it agrees; with no mappings, the ECS type of
   * an ECS date field (Elasticsearch's dialect), as the ECS index templates map it.
   */
  private fieldTypeOf(name: string): FieldMapping | undefined {
    const all = this.options.mappings;
    if (all && all.size > 0) {
      let found: FieldMapping | undefined;
      for (const m of all.values()) {
        const fm = m.resolved(name);
        if (!fm) continue;
        if (found && (found.type !== fm.type || found.format !== fm.format)) return undefined;
        found = fm;
      }
      return found;
    }
    return (this.options.dialect ?? 'elasticsearch') === 'endgame' ? undefined : ecsDateMapping(name);
  }

  private filter(f: EventFilter): (source: unknown) => boolean {
    const pred = compilePredicate(f.condition, this.ctx);
    const category = f.category;
    if (category === null) return (s) => pred(s) === true;
    const getCat = this.reader.category;
    const want = this.ci ? category.toLowerCase() : category;
    const ci = this.ci;
    const catOk = (v: unknown): boolean => {
      if (typeof v === 'string') return (ci ? v.toLowerCase() : v) === want;
      if (Array.isArray(v)) return v.some(catOk);
      return false;
    };
    return (s) => catOk(getCat(s)) && pred(s) === true;
  }

  /**
   * One filter of a stateful query (the `index`-th: the stages, then `until`). An event with a verdict
   * is matched by it; any other by its document.
   */
  private stage(st: Stage, shared: readonly Stage['by'][number][], index: number): StageSpec {
    const f = this.filter(st.filter);
    const exprs = [...shared, ...st.by];
    const keys = exprs.map((k) => this.keyExpr(k));
    // Elasticsearch: an event whose key is null takes no part, unless the key is an optional field
    // (or not a field); endgame joins on null keys, and on a multi-valued key as one value
    const es = (this.options.dialect ?? 'elasticsearch') !== 'endgame';
    const nullable = exprs.map((k) => !es || k.kind !== 'field' || k.optional);
    const allNullable = nullable.every(Boolean);
    const keysOk = allNullable ? null : (s: unknown): boolean => keys.every((k, i) => nullable[i] || k(s) !== null);
    const fns: StageFns = {
      test: keysOk === null ? f : (s) => f(s) && keysOk(s),
      keysOk,
      key: (s) => keys.map((k) => k(s)),
    };
    this.filterFns[index] = fns;
    const bit = index < 31 ? 1 << index : 0;
    return {
      matches: (e) => (e.verdict ? (e.verdict.mask & bit) !== 0 : fns.test(e.source)),
      keys: (e) => {
        const k = e.verdict?.keys[index];
        // a sequence without keys has the key '' (keyString of none)
        return expandKeys(k === undefined ? fns.key(e.source) : k === '' ? [] : (JSON.parse(k) as Value[]), nullable, es);
      },
      missing: st.missing,
      fork: st.fork === true,
    };
  }

  /**
   * A join key's value: a sequence's `date` field prints as an ISO date (Elasticsearch's sequence
   * join_keys), a sample's as epoch milliseconds (its composite buckets).
   */
  private keyExpr(k: Expr): (s: unknown) => Value {
    const get = compileExpr(k, this.ctx);
    if (this.ast.query.kind !== 'sequence' || k.kind !== 'field') return get;
    const type = this.fieldTypeOf(fieldName(k));
    if (type?.type !== 'date') return get;
    const iso = (v: Value): Value => (typeof v === 'number' && Number.isFinite(v) ? new Date(v).toISOString() : Array.isArray(v) ? v.map(iso) : v);
    return (s) => iso(get(s));
  }

  private stages(list: readonly Stage[], shared: readonly Stage['by'][number][]): StageSpec[] {
    const out: StageSpec[] = [];
    list.forEach((st, i) => {
      const spec = this.stage(st, shared, i);
      for (let r = 0; r < (st.runs ?? 1); r++) out.push(spec);
    });
    return out;
  }

  /**
   * See `CompiledQuery.judge`: the verdict of this query's filters on a document, or null where it
   * cannot stand for them; `filters`, when given, are tests of the same filters to run instead of its own.
   */
  judge(filters?: ReadonlyArray<(source: unknown) => boolean>): ((source: unknown, passed?: number) => Verdict | null) | null {
    const kind = this.ast.query.kind;
    const fns = this.filterFns;
    if ((kind !== 'sequence' && kind !== 'sample') || this.tree.active || !this.reader.judgeable || fns.length > 31) return null;
    if (filters && filters.length !== fns.length) throw new Error(`judge: ${filters.length} filter tests for ${fns.length} filters`);
    return (source, passed) => {
      let mask = 0;
      const keys: Array<string | undefined> = [];
      for (let i = 0; i < fns.length; i++) {
        const f = fns[i]!;
        if (filters ? !((i === passed || filters[i]!(source)) && (f.keysOk === null || f.keysOk(source))) : !f.test(source)) continue;
        const values = f.key(source);
        if (!readsBack(values)) return null;
        mask |= 1 << i;
        keys[i] = keyString(values);
      }
      return { ts: this.reader.timeOf(source), mask, keys };
    };
  }

  matcher(lateness: number): Matcher {
    const heap = new Heap<EngineEvent>((a, b) => compareEvents(a, b) < 0);
    const results: Result[] = [];
    const counters: MatcherCounters = { eventsIn: 0, matched: 0, late: 0, sequence: this.sequence?.counters, sample: this.sample?.counters };
    const hasPipes = this.ast.pipes.length > 0;
    let newest = -Infinity;
    let last: EngineEvent | null = null;
    const shape = (r: Result): EventHit | SequenceHit => shapeResult(r);
    // in a batch (lateness without end: sorted at the flush), a sequence whose first stage is positive
    // keeps its other events aside and at the flush sorts and feeds only those after its earliest
    // first-stage event: the rest could change nothing. A first stage is often rare, and sorting every
    // event of a later or missing stage took seconds of a scheduled cycle over the corpus.
    const batchSequence = lateness === Infinity && this.sequence?.startsAtFirstStage === true && !this.tree.active ? this.sequence : null;
    const aside: EngineEvent[] = [];
    const feed = (e: EngineEvent): Result[] => {
      // an event later than the lateness allows is still matched, but counted: order may suffer
      if (last && compareEvents(e, last) < 0) counters.late++;
      last = e;
      if (this.tree.active) this.tree.observe(e.source);
      return this.process(e);
    };
    /** Matches the held events that the lateness lets go (at the end, flushSome takes the rest). */
    const release = (): Result[] => {
      const out: Result[] = [];
      while (heap.size > 0 && heap.peek()!.ts <= newest - lateness) out.push(...feed(heap.pop()!));
      return out;
    };
    const emit = (rs: Result[]): Array<EventHit | SequenceHit> => {
      counters.matched += rs.length;
      if (hasPipes) {
        results.push(...rs);
        return [];
      }
      return rs.map(shape);
    };
    let flushing = false;
    const flushSome = (maxEvents: number): { hits: Array<EventHit | SequenceHit>; done: boolean } => {
      if (!flushing) {
        flushing = true;
        if (aside.length > 0) {
          const first = heap.size > 0 ? heap.peek()! : null;
          if (first) for (const x of aside) if (compareEvents(x, first) > 0) heap.push(x);
          aside.length = 0;
        }
      }
      const rs: Result[] = [];
      for (let n = 0; heap.size > 0 && n < maxEvents; n++) for (const r of feed(heap.pop()!)) rs.push(r);
      if (heap.size > 0) return { hits: emit(rs), done: false };
      flushing = false;
      for (const r of this.flushInner()) rs.push(r);
      const out = emit(rs);
      if (!hasPipes) return { hits: out, done: true };
      let piped = results.splice(0);
      for (const step of this.pipes) piped = step(piped);
      return { hits: piped.map(shape), done: true };
    };
    return {
      counters,
      openSequences: () => this.sequence?.openSequences ?? 0,
      // with lateness, an event of a later stage may come before the one that starts its sequence: never idle
      idle: () => lateness === 0 && heap.size === 0 && this.sequence !== null && this.sequence.idle && !this.tree.active,
      push: (input, verdict) => {
        counters.eventsIn++;
        const e = verdict ? this.reader.readJudged(input, verdict) : this.reader.read(input);
        if (!Number.isNaN(e.ts) && e.ts > newest) newest = e.ts;
        if (lateness === 0 && (last === null || compareEvents(last, e) <= 0)) return emit(feed(e));
        if (batchSequence && !batchSequence.opens(e)) {
          aside.push(e);
          return [];
        }
        heap.push(e);
        return lateness === Infinity ? [] : emit(release());
      },
      advance: (ts) => {
        if (!(ts > newest)) return [];
        newest = ts;
        return lateness === Infinity || heap.size === 0 ? [] : emit(release());
      },
      flushSome,
      flush: () => {
        const all: Array<EventHit | SequenceHit> = [];
        for (;;) {
          const r = flushSome(Infinity);
          for (const h of r.hits) all.push(h);
          if (r.done) return all;
        }
      },
    };
  }
}

/** A filter of a stateful query on a document: whether it passes, and its join key values. */
interface StageFns {
  readonly test: (source: unknown) => boolean;
  /** For a sample, whether the keys that must not be null are not (null: none must). */
  readonly keysOk: ((source: unknown) => boolean) | null;
  readonly key: (source: unknown) => Value[];
}

/**
 * Whether join key values come back the same from their `keyString` (JSON): strings, booleans,
 * null, finite numbers but -0, and arrays of them.
 */
function readsBack(values: readonly unknown[]): boolean {
  for (const v of values) {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || Object.is(v, -0)) return false;
      continue;
    }
    if (!Array.isArray(v) || !readsBack(v)) return false;
  }
  return true;
}

function hit(e: EngineEvent): EventHit {
  return { _index: e.index, _id: e.id, _source: e.original };
}

const MISSING: EventHit = { _index: '', _id: '', _source: {}, missing: true };

function shapeResult(r: Result): EventHit | SequenceHit {
  if (r.event) return hit(r.event);
  if (r.events) return { join_keys: r.joinKeys ?? [], events: r.events.map((e) => (e ? hit(e) : MISSING)) };
  return { _index: '', _id: '', _source: { ...r.extra } };
}
