import { randomUUID } from 'node:crypto';
import { diagnosticPosition, type Diagnostic } from '../core/index.js';
import { applyExceptions, describeExceptions, itemCondition } from '../detect/index.js';
import { compileStatement } from '../engine/index.js';
import type { Expr } from '../eql/index.js';
import { exceptionRefs, parseExceptionNdjson, writeExceptionNdjson, parseValueList, VALUE_LIST_TYPES, type ExceptionItem, type ExceptionList, type Rule, type ValueList, type ValueListType } from '../rules/index.js';
import type { AlertRow, Store } from '../store/index.js';

export interface LocatedError {
  readonly message: string;
  readonly line: number;
  readonly col: number;
  readonly file: string;
  readonly code: string;
}

export const located = (ds: readonly Diagnostic[], text: string, file: string): LocatedError[] =>
  ds.map((d) => ({ message: d.message, code: d.code, file: d.file ?? file, ...diagnosticPosition(d, text) }));

/** The rules that name `listId` in their exceptions_list. */
export const namesList = (rule: Rule, listId: string): boolean => exceptionRefs(rule.exceptions_list).some((x) => x.list_id === listId);

/** The id of a rule's default exception list (made when an exception is first added to the rule). */
export const ruleDefaultListId = (ruleId: string): string => `rule_default-${ruleId}`;

/** How far back a preview looks at stored alerts. */
export const PREVIEW_MS = 7 * 24 * 3_600_000;

/**
 * The exception lists, items and value lists in the store, applied to the rules (see
 * applyExceptions): the registry takes the rules through `apply` before it compiles them, so the
 * one engine drops excepted events in every mode. Imports and edits report located errors and keep
 * the rest.
 */
export class ExceptionBook {
  private cache: { changes: number; lists: ExceptionList[]; items: ExceptionItem[]; valueLists: Map<string, ValueList>; attached: Map<string, string[]> } | null = null;
  /** Items left out at the last `apply`, with why. */
  problems: string[] = [];
  /** When the next item expires (the rules are applied again then). */
  nextExpiry: number | null = null;

  constructor(private readonly store: Store) {}

  private data(): NonNullable<ExceptionBook['cache']> {
    const changes = this.store.exceptions.changes();
    if (this.cache && this.cache.changes === changes) return this.cache;
    const ex = this.store.exceptions;
    this.cache = {
      changes,
      lists: ex.lists() as unknown as ExceptionList[],
      items: ex.items() as unknown as ExceptionItem[],
      valueLists: new Map(ex.valueLists().map((v) => [v.id, { id: v.id, type: v.type as ValueListType, values: v.values }])),
      attached: ex.attached(),
    };
    return this.cache;
  }

  /** The rules with their exceptions (the lists they name, and those attached to them here). */
  apply(rules: readonly Rule[], now: number): Rule[] {
    const d = this.data();
    if (d.items.length === 0) {
      this.problems = [];
      this.nextExpiry = null;
      return rules.map((r) => (r.vigil_exceptions ? { ...r, vigil_exceptions: undefined } : r));
    }
    const withRefs = rules.map((r) => {
      const more = d.attached.get(r.rule_id);
      if (!more) return r;
      const have = new Set(exceptionRefs(r.exceptions_list).map((x) => x.list_id));
      const add = more.filter((id) => !have.has(id)).map((id) => ({ id, list_id: id, type: 'rule_default', namespace_type: 'single' }));
      return add.length ? { ...r, exceptions_list: [...(r.exceptions_list ?? []), ...add] } : r;
    });
    const out = applyExceptions(withRefs, d.items, d.valueLists, now);
    this.problems = out.problems;
    this.nextExpiry = out.nextExpiry;
    return out.rules;
  }

  /** The lists, each with its items and the rules that use it. */
  lists(rules: readonly Rule[]): Array<ExceptionList & { items: ExceptionItem[]; rules: Array<{ rule_id: string; name: string }> }> {
    const d = this.data();
    return d.lists.map((l) => ({
      ...l,
      items: d.items.filter((i) => i.list_id === l.list_id),
      rules: rules.filter((r) => namesList(r, l.list_id)).map((r) => ({ rule_id: r.rule_id, name: r.name })),
    }));
  }

  /** A rule's exceptions as its page shows them. */
  ruleView(rule: Rule): { lists: string[]; items: ExceptionItem[]; condition: string | null; note: string } {
    const d = this.data();
    const ids = [...new Set(exceptionRefs(rule.exceptions_list).map((x) => x.list_id))];
    const items = d.items.filter((i) => ids.includes(i.list_id));
    return {
      lists: ids,
      items,
      condition: describeExceptions(rule.vigil_exceptions),
      note: 'An event an exception matches is dropped before the rule sees it: in a sequence it breaks the sequence, as in Elastic Security. An item with vigil_stage applies to that stage only.',
    };
  }

  /** Lists (all, or those named) with their items, as Kibana exports them. */
  export(listIds?: readonly string[]): string {
    const d = this.data();
    const lists = listIds ? d.lists.filter((l) => listIds.includes(l.list_id)) : d.lists;
    return writeExceptionNdjson(lists, d.items);
  }

  valueLists(): Array<{ id: string; type: string; values: number }> {
    return [...this.data().valueLists.values()].map((v) => ({ id: v.id, type: v.type, values: v.values.length }));
  }

  /** Imports Kibana's exception list export; what cannot be read is reported where it is. */
  import(text: string, file: string): { lists: number; items: number; errors: LocatedError[] } {
    const known = new Set(this.data().lists.map((l) => l.list_id));
    const r = parseExceptionNdjson(text, file, known);
    this.store.transaction(() => {
      for (const l of r.lists) this.store.exceptions.putList(l.list_id, l as unknown as Record<string, unknown>);
      for (const i of r.items) this.store.exceptions.putItem(i.item_id, i.list_id, i as unknown as Record<string, unknown>);
    });
    return { lists: r.lists.length, items: r.items.length, errors: located(r.diagnostics, text, file) };
  }

  /**
   * Reads one item as the API gives it (Kibana's item fields); with `ruleId` and no list, it goes to
   * the rule's default list, made and attached to the rule when missing.
   */
  readItem(body: Record<string, unknown>, ruleId: string | null): { ok: true; item: ExceptionItem } | { ok: false; error: string } {
    const listId = typeof body.list_id === 'string' && body.list_id ? body.list_id : ruleId ? ruleDefaultListId(ruleId) : null;
    if (listId === null) return { ok: false, error: 'give list_id, or rule_id for the rule’s own list' };
    const line = JSON.stringify({ ...body, item_id: typeof body.item_id === 'string' && body.item_id ? body.item_id : randomUUID(), list_id: listId, name: typeof body.name === 'string' && body.name ? body.name : 'exception' });
    const r = parseExceptionNdjson(line, 'item', new Set([listId]));
    if (r.items.length === 0) return { ok: false, error: r.diagnostics.map((d) => d.message).join('; ') || 'not an exception item' };
    return { ok: true, item: r.items[0]! };
  }

  /** Stores an item (see readItem); a rule's default list is made and attached to it when missing. */
  addItem(item: ExceptionItem, ruleId: string | null): void {
    this.store.transaction(() => {
      if (!this.data().lists.some((l) => l.list_id === item.list_id)) {
        const isDefault = ruleId !== null && item.list_id === ruleDefaultListId(ruleId);
        const list: ExceptionList = { list_id: item.list_id, name: isDefault ? `Exceptions of ${ruleId}` : item.list_id, description: '', type: isDefault ? 'rule_default' : 'detection', namespace_type: 'single' };
        this.store.exceptions.putList(list.list_id, list as unknown as Record<string, unknown>);
      }
      if (ruleId !== null) this.store.exceptions.attach(ruleId, item.list_id);
      this.store.exceptions.putItem(item.item_id, item.list_id, item as unknown as Record<string, unknown>);
    });
  }

  removeItem(itemId: string): boolean {
    return this.store.exceptions.removeItem(itemId);
  }

  removeList(listId: string): boolean {
    return this.store.exceptions.removeList(listId);
  }

  /** Stores a value list (a value per line); bad lines are reported and left out. */
  importValueList(id: string, type: string, text: string): { ok: true; values: number; errors: LocatedError[] } | { ok: false; error: string } {
    if (!/^[\w.-]{1,200}$/.test(id)) return { ok: false, error: 'list_id: letters, digits, _ . - (at most 200)' };
    if (!(VALUE_LIST_TYPES as readonly string[]).includes(type)) return { ok: false, error: `type must be one of ${VALUE_LIST_TYPES.join(', ')}` };
    const r = parseValueList(id, type as ValueListType, text, id);
    this.store.exceptions.putValueList(id, type, r.list.values);
    return { ok: true, values: r.list.values.length, errors: located(r.diagnostics, text, id) };
  }

  /**
   * The stored alerts an item would have excepted: of the given rules, created since `since`, those
   * whose event (or, for a sequence, one of its events) the item matches. Building blocks count
   * through their sequence's alert.
   */
  matchingAlerts(item: ExceptionItem, ruleIds: readonly string[], since: number | undefined): { ids: string[]; examined: number } | { error: string } {
    const cond = itemCondition(item, this.data().valueLists);
    if (typeof cond === 'string') return { error: cond };
    const test = eventTest(cond);
    const rows: AlertRow[] = [];
    for (let offset = 0; ; offset += 5000) {
      const page = this.store.alerts.search({ ruleId: [...ruleIds], from: since, size: 5000, offset, sort: 'time', order: 'asc' }).alerts;
      rows.push(...page);
      if (page.length < 5000) break;
    }
    const hit = new Set<string>();
    let examined = 0;
    for (const a of rows) {
      const bb = a.buildingBlock;
      if (!bb) examined++;
      if (!test(a.doc)) continue;
      hit.add(bb && a.groupId ? `group:${a.groupId}` : a.id);
    }
    // a building block that matches stands for its sequence's alert
    const ids = rows.filter((a) => !a.buildingBlock && (hit.has(a.id) || (a.groupId !== null && hit.has(`group:${a.groupId}`)))).map((a) => a.id);
    return { ids, examined };
  }

}

/** A test of one document against a condition, through the engine (an event query over `any`). */
function eventTest(cond: Expr): (doc: Record<string, unknown>) => boolean {
  const span = { start: 0, end: 0 };
  const q = compileStatement({ kind: 'statement', query: { kind: 'event', filter: { kind: 'filter', category: null, condition: cond, span }, span }, pipes: [], span });
  return (doc) => (q.run([{ _index: 'alerts', _id: 'x', _source: doc }]).events?.length ?? 0) > 0;
}
