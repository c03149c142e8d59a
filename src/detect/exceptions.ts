import { createHash } from 'node:crypto';
import type { EventFilter, Expr, FieldRef, Stage, Statement } from '../eql/index.js';
import { printExpr, rangeToCidrs } from '../eql/index.js';
import { exceptionRefs, type ExceptionEntry, type ExceptionItem, type Rule, type ValueList } from '../rules/index.js';

/**
 * Exceptions folded into a rule's query: an event that an exception item matches is dropped before
 * the rule sees it, as Elasticsearch drops it from the search. Every event filter of the query (an
 * event query's, each sequence or sample stage's, `until`'s) gets `and not (item or item …)`, so one
 * excepted event can break a sequence, as in Elastic Security. Because the exceptions become part of
 * the query, the one engine applies them alike in scheduled, streaming and hunt runs, and before
 * `max_signals` counts.
 */

const SPAN = { start: 0, end: 0 };

const field = (name: string): FieldRef => ({ kind: 'field', path: name.split('.'), optional: false, span: SPAN });
const str = (value: string): Expr => ({ kind: 'string', value, span: SPAN });
const not = (operand: Expr): Expr => ({ kind: 'not', operand, span: SPAN });
const and = (left: Expr, right: Expr): Expr => ({ kind: 'logical', op: 'and', left, right, span: SPAN });
const or = (left: Expr, right: Expr): Expr => ({ kind: 'logical', op: 'or', left, right, span: SPAN });
const all = (xs: readonly Expr[], join: (a: Expr, b: Expr) => Expr): Expr => xs.reduce((a, b) => join(a, b));

/** A value as the field may hold it: the string, and the number or boolean it spells (a term query matches either). */
function literals(v: string): Expr[] {
  const out: Expr[] = [str(v)];
  if (/^-?\d+(\.\d+)?$/.test(v)) out.push({ kind: 'number', value: Number(v), integer: !v.includes('.'), span: SPAN });
  if (v === 'true' || v === 'false') out.push({ kind: 'boolean', value: v === 'true', span: SPAN });
  return out;
}

const exists = (f: string): Expr => ({ kind: 'compare', op: '!=', left: field(f), right: { kind: 'null', span: SPAN }, span: SPAN });
const isIn = (f: string, values: readonly string[]): Expr => ({ kind: 'in', value: field(f), list: values.flatMap(literals), negated: false, insensitive: false, span: SPAN });

/**
 * An Elasticsearch wildcard pattern (`*`, `?`, `\` escaping the next character) as an EQL `like`
 * (case-sensitive, as the wildcard query); a pattern with no wildcard left is an equality.
 */
function wildcard(f: string, pattern: string): Expr | string {
  let out = '';
  let wild = false;
  let escapedWild = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      const next = pattern[++i]!;
      if (next === '*' || next === '?') escapedWild = true;
      out += next;
    } else {
      if (c === '*' || c === '?') wild = true;
      out += c;
    }
  }
  if (!wild) return isIn(f, [out]);
  if (escapedWild) return `a wildcard value with both wildcards and escaped '*' or '?' is not supported: ${JSON.stringify(pattern)}`;
  return { kind: 'match', op: 'like', value: field(f), patterns: [str(out)], list: false, span: SPAN };
}

/** The condition of one entry, or why it cannot be had. */
function entryCondition(e: ExceptionEntry, lists: ReadonlyMap<string, ValueList>, prefix = ''): Expr | string {
  const name = prefix + e.field;
  if (e.type === 'nested') {
    // entries of one nested object: read as fields under it (the same array element is not required)
    const parts = e.entries.map((x) => entryCondition(x, lists, `${name}.`));
    const bad = parts.find((p): p is string => typeof p === 'string');
    return bad ?? all(parts as Expr[], and);
  }
  let cond: Expr | string;
  switch (e.type) {
    case 'match':
      cond = isIn(name, [e.value]);
      break;
    case 'match_any':
      cond = isIn(name, e.value);
      break;
    case 'wildcard':
      cond = wildcard(name, e.value);
      break;
    case 'exists':
      cond = exists(name);
      break;
    case 'list': {
      const list = lists.get(e.list.id);
      if (!list) return `no value list '${e.list.id}'`;
      if (list.values.length === 0) cond = { kind: 'boolean', value: false, span: SPAN };
      else if (list.type === 'ip_range') cond = { kind: 'call', name: 'cidrMatch', insensitive: false, args: [field(name), ...list.values.flatMap(cidrsOf).map(str)], span: SPAN };
      else cond = isIn(name, list.values);
      break;
    }
  }
  if (typeof cond === 'string') return cond;
  // an entry on a missing field is false, not null (EQL's null would make `not` drop the event too,
  // where Elasticsearch's must_not keeps it)
  if (e.type !== 'exists') cond = and(exists(name), cond);
  return e.operator === 'excluded' ? not(cond) : cond;
}

/** A value list's range as cidrMatch takes it: CIDR blocks (a lone address is its own /32 or /128, `from-to` the blocks that cover it). */
function cidrsOf(v: string): string[] {
  if (v.includes('/')) return [v];
  const dash = v.indexOf('-');
  if (dash > 0) return rangeToCidrs(v.slice(0, dash), v.slice(dash + 1)) ?? [];
  return [`${v}/${v.includes(':') ? 128 : 32}`];
}

/** One item's condition: all its entries, limited to its operating systems. */
export function itemCondition(item: ExceptionItem, lists: ReadonlyMap<string, ValueList>): Expr | string {
  const parts = item.entries.map((e) => entryCondition(e, lists));
  const bad = parts.find((p): p is string => typeof p === 'string');
  if (bad !== undefined) return `exception item '${item.item_id}': ${bad}`;
  const cond = all(parts as Expr[], and);
  return item.os_types.length > 0 ? and(and(exists('host.os.type'), isIn('host.os.type', item.os_types)), cond) : cond;
}

export interface RuleExceptions {
  /** What excepts an event (any item), null when no item applies. */
  readonly condition: Expr | null;
  /** Items that apply. */
  readonly items: readonly ExceptionItem[];
  /** Items that could not be read into a condition (left out), each with why. */
  readonly problems: readonly string[];
  /** The next time an item expires (the rule must be compiled again then), or null. */
  readonly nextExpiry: number | null;
}

/** The condition of the items that apply at `now` (expired ones are left out). */
export function exceptionCondition(items: readonly ExceptionItem[], lists: ReadonlyMap<string, ValueList>, now: number): RuleExceptions {
  const used: ExceptionItem[] = [];
  const problems: string[] = [];
  let nextExpiry: number | null = null;
  // the same alternatives (OR of the items), arranged so that an event is rejected by few tests:
  // items of one value test on one field become one set lookup; items of one wildcard on one field
  // one pattern list; other items are grouped under a set lookup of a value test they all make
  const values = new Map<string, string[]>();
  const patterns = new Map<string, string[]>();
  const guarded = new Map<string, { values: string[]; conds: Expr[] }>();
  const rest: Expr[] = [];
  for (const item of items) {
    if (item.expire_time !== null && item.expire_time <= now) continue;
    if (item.expire_time !== null) nextExpiry = nextExpiry === null ? item.expire_time : Math.min(nextExpiry, item.expire_time);
    const c = itemCondition(item, lists);
    if (typeof c === 'string') {
      problems.push(c);
      continue;
    }
    used.push(item);
    const only = item.entries.length === 1 && item.os_types.length === 0 ? item.entries[0]! : null;
    if (only && (only.type === 'match' || only.type === 'match_any') && only.operator === 'included') {
      const l = values.get(only.field) ?? [];
      l.push(...(only.type === 'match' ? [only.value] : only.value));
      values.set(only.field, l);
      continue;
    }
    const w = only?.type === 'wildcard' && only.operator === 'included' ? wildcard(only.field, only.value) : null;
    if (only?.type === 'wildcard' && w !== null && typeof w !== 'string' && w.kind === 'match') {
      const l = patterns.get(only.field) ?? [];
      l.push(only.value);
      patterns.set(only.field, l);
      continue;
    }
    const g = guardOf(item);
    if (g) {
      const e = guarded.get(g.field) ?? { values: [], conds: [] };
      e.values.push(...g.values);
      e.conds.push(c);
      guarded.set(g.field, e);
    } else rest.push(c);
  }
  const conds: Expr[] = [];
  for (const [f, vs] of values) conds.push(and(exists(f), isIn(f, [...new Set(vs)])));
  for (const [f, ps] of patterns) {
    const likes = ps.map((p) => wildcard(f, p) as Extract<Expr, { kind: 'match' }>);
    conds.push(and(exists(f), { kind: 'match', op: 'like', value: field(f), patterns: likes.flatMap((m) => m.patterns), list: true, span: SPAN }));
  }
  for (const [f, g] of guarded) conds.push(g.conds.length === 1 ? g.conds[0]! : and(and(exists(f), isIn(f, [...new Set(g.values)])), all(g.conds, or)));
  conds.push(...rest);
  return { condition: conds.length ? shared(all(conds, or)) : null, items: used, problems, nextExpiry };
}

/** A value test every event the item matches passes (an included match or match_any, nested ones too). */
function guardOf(item: ExceptionItem): { field: string; values: readonly string[] } | null {
  for (const e of item.entries) {
    if ((e.type === 'match' || e.type === 'match_any') && e.operator === 'included') return { field: e.field, values: e.type === 'match' ? [e.value] : e.value };
    if (e.type === 'nested') {
      for (const x of e.entries) if ((x.type === 'match' || x.type === 'match_any') && x.operator === 'included') return { field: `${e.field}.${x.field}`, values: x.type === 'match' ? [x.value] : x.value };
    }
  }
  return null;
}

/** The condition marked as shared by many rules (compiled once, see Logical.shared). */
function shared(cond: Expr): Expr {
  if (cond.kind === 'logical') return { ...cond, shared: true };
  return { kind: 'logical', op: 'and', left: cond, right: { kind: 'boolean', value: true, span: SPAN }, span: SPAN, shared: true };
}

/**
 * The statement with `and not (condition)` on every event filter, and a stage's own condition on
 * that stage's filter (stages from 1; an event query's filter is stage 1; `until` takes only the
 * condition of every filter).
 */
export function withExceptions(statement: Statement, condition: Expr | null, stages: ReadonlyArray<{ readonly stage: number; readonly condition: Expr }> = []): Statement {
  const onStage = (k: number | null): Expr | null => {
    const own = k === null ? [] : stages.filter((s) => s.stage === k).map((s) => s.condition);
    const all = [...(condition ? [condition] : []), ...own];
    return all.length === 0 ? null : all.reduce((a, b) => or(a, b));
  };
  const filter = (f: EventFilter, k: number | null): EventFilter => {
    const c = onStage(k);
    return c ? { ...f, condition: and(f.condition, not(c)) } : f;
  };
  const stage = (s: Stage, k: number | null): Stage => ({ ...s, filter: filter(s.filter, k) });
  const q = statement.query;
  switch (q.kind) {
    case 'event':
      return { ...statement, query: { ...q, filter: filter(q.filter, 1) } };
    case 'sequence':
      return { ...statement, query: { ...q, stages: q.stages.map((s, i) => stage(s, i + 1)), until: q.until ? stage(q.until, null) : null } };
    case 'sample':
    case 'join':
      return { ...statement, query: { ...q, stages: q.stages.map((s, i) => stage(s, i + 1)), ...('until' in q ? { until: q.until ? stage(q.until, null) : null } : {}) } };
  }
}

/** The conditions in EQL, as the rule view shows what is excepted. */
export function describeExceptions(ex: Rule['vigil_exceptions'] | null | undefined): string | null {
  if (!ex) return null;
  const lines: string[] = [];
  if (ex.condition) lines.push(`not (${printExpr(ex.condition)})`);
  for (const s of ex.stages) lines.push(`stage ${s.stage} only: not (${printExpr(s.condition)})`);
  return lines.length ? lines.join('\n') : null;
}

/** The rule's statement with its exceptions (see Rule.vigil_exceptions) folded in. */
export function ruleStatement(rule: Rule, statement: Statement): Statement {
  return rule.vigil_exceptions ? withExceptions(statement, rule.vigil_exceptions.condition, rule.vigil_exceptions.stages) : statement;
}

/**
 * The rules with the exception items that apply to each: those of the lists its `exceptions_list`
 * names (shared detection lists, its rule-default list, the endpoint list), unexpired at `now`.
 * Items that cannot be read (a value list that is missing) are left out and reported; the other
 * items and rules are unaffected.
 */
export function applyExceptions(
  rules: readonly Rule[],
  items: readonly ExceptionItem[],
  valueLists: ReadonlyMap<string, ValueList>,
  now: number,
): { rules: Rule[]; problems: string[]; nextExpiry: number | null; excepted: number } {
  const byList = new Map<string, ExceptionItem[]>();
  for (const it of items) {
    const l = byList.get(it.list_id) ?? [];
    l.push(it);
    byList.set(it.list_id, l);
  }
  const problems = new Set<string>();
  let nextExpiry: number | null = null;
  let excepted = 0;
  // rules naming the same lists share one condition
  const memo = new Map<string, { condition: Expr | null; stages: Array<{ stage: number; condition: Expr }>; items: number; problems: readonly string[]; nextExpiry: number | null; hash: string }>();
  const out = rules.map((rule) => {
    const ids = [...new Set(exceptionRefs(rule.exceptions_list).map((r) => r.list_id))].filter((id) => byList.has(id)).sort();
    if (ids.length === 0) return rule.vigil_exceptions ? { ...rule, vigil_exceptions: undefined } : rule;
    const key = ids.join('\n');
    let ex = memo.get(key);
    if (!ex) {
      const mine = ids.flatMap((id) => byList.get(id)!);
      // items of every filter, and per stage those of one stage only
      const c = exceptionCondition(mine.filter((i) => i.stage === null), valueLists, now);
      const stages: Array<{ stage: number; condition: Expr }> = [];
      const problemsHere = [...c.problems];
      let expiry = c.nextExpiry;
      let count = c.items.length;
      for (const k of [...new Set(mine.map((i) => i.stage).filter((x): x is number => x !== null))].sort((a, b) => a - b)) {
        const sc = exceptionCondition(mine.filter((i) => i.stage === k), valueLists, now);
        problemsHere.push(...sc.problems);
        if (sc.nextExpiry !== null) expiry = expiry === null ? sc.nextExpiry : Math.min(expiry, sc.nextExpiry);
        count += sc.items.length;
        if (sc.condition) stages.push({ stage: k, condition: sc.condition });
      }
      // printed once per set of lists (a 100,000-value list prints to megabytes)
      const printed = [c.condition ? printExpr(c.condition) : '', ...stages.map((x) => `${x.stage}:${printExpr(x.condition)}`)].join('\n');
      memo.set(key, (ex = { condition: c.condition, stages, items: count, problems: problemsHere, nextExpiry: expiry, hash: createHash('sha256').update(printed).digest('hex').slice(0, 16) }));
    }
    for (const p of ex.problems) problems.add(p);
    if (ex.nextExpiry !== null) nextExpiry = nextExpiry === null ? ex.nextExpiry : Math.min(nextExpiry, ex.nextExpiry);
    if (ex.condition === null && ex.stages.length === 0) return rule.vigil_exceptions ? { ...rule, vigil_exceptions: undefined } : rule;
    excepted++;
    return { ...rule, vigil_exceptions: { condition: ex.condition, stages: ex.stages, items: ex.items, key: ex.hash } };
  });
  return { rules: out, problems: [...problems], nextExpiry, excepted };
}
