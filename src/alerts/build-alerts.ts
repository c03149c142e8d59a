import { createHash } from 'node:crypto';
import { createFieldGetter, parseFieldPath } from '../ecs/index.js';
import type { Rule } from '../rules/index.js';
import type { AlertRow } from '../store/index.js';

/**
 * Turns an engine match into alert documents shaped like Kibana's alerts-as-data schema. Pure:
 * the same rule, events and times give the same documents; ids depend only on the rule and the
 * matched events (index, id, version), so overlapping windows and retries never duplicate an alert.
 */

export interface MatchedEvent {
  readonly index: string;
  readonly id: string;
  readonly version: number;
  readonly source: Readonly<Record<string, unknown>>;
  /** Epoch ms of the event's timestamp; null when it has none. */
  readonly time: number | null;
}

/** A value of a field as a threshold or new-terms rule groups by it. */
export type TermValue = string | number | boolean;

/** A group of a threshold rule that reached its threshold (Kibana's `threshold_result`). */
export interface ThresholdResult {
  readonly terms: ReadonlyArray<{ readonly field: string; readonly value: TermValue }>;
  readonly count: number;
  readonly cardinality: ReadonlyArray<{ readonly field: string; readonly value: number }>;
  /** The earliest and latest times of the events counted (epoch ms). */
  readonly from: number;
  readonly to: number;
}

/** An indicator an event matched (Kibana's `threat.enrichments` entry). */
export interface Enrichment {
  readonly indicator: Readonly<Record<string, unknown>>;
  readonly matched: { readonly atomic: TermValue; readonly field: string; readonly id: string; readonly index: string; readonly type: 'indicator_match_rule' };
  readonly feed: Readonly<Record<string, unknown>>;
}

export type RuleMatch =
  | { readonly kind: 'event'; readonly event: MatchedEvent }
  | { readonly kind: 'sequence'; readonly events: readonly MatchedEvent[] }
  | { readonly kind: 'threshold'; readonly result: ThresholdResult }
  | { readonly kind: 'new_terms'; readonly event: MatchedEvent; readonly terms: readonly TermValue[] }
  | { readonly kind: 'threat'; readonly event: MatchedEvent; readonly enrichments: readonly Enrichment[] };

export interface AlertContext {
  readonly rule: Rule;
  /** When the alert is written (epoch ms). */
  readonly now: number;
  readonly executionId: string;
}

/** An alert as the store keeps it: its document plus the columns searches filter on. */
export type BuiltAlert = AlertRow;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A stable UUID-shaped id for a rule, derived from its rule_id (Kibana's saved-object id plays this role). */
export function ruleUuid(ruleId: string): string {
  const h = createHash('sha1').update(`vigil-rule:${ruleId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

const eventKey = (e: MatchedEvent): string => `${e.index}\u0000${e.id}\u0000${e.version}`;

/** The id an alert for this match gets (the sequence alert's id for a sequence). */
export function matchAlertId(ruleId: string, m: RuleMatch): string {
  switch (m.kind) {
    case 'event':
    case 'threat':
      return sha256(`event\u0000${ruleId}\u0000${eventKey(m.event)}`);
    case 'sequence':
      return sha256(`sequence\u0000${ruleId}\u0000${m.events.map(eventKey).join('\u0001')}`);
    case 'new_terms':
      return sha256(`new_terms\u0000${ruleId}\u0000${eventKey(m.event)}\u0000${JSON.stringify(m.terms)}`);
    case 'threshold':
      // the group and its first event's time: the same events give the same id in any window
      return sha256(`threshold\u0000${ruleId}\u0000${JSON.stringify(m.result.terms.map((t) => [t.field, t.value]))}\u0000${m.result.from}`);
  }
}

/** Sets a dotted field in a document as nested objects. */
function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = doc;
  for (const p of parts.slice(0, -1)) {
    const next = o[p];
    if (next && typeof next === 'object' && !Array.isArray(next)) o = next as Record<string, unknown>;
    else o = o[p] = {};
  }
  o[parts[parts.length - 1]!] = value;
}

const get = (path: string): ((s: unknown) => unknown) => createFieldGetter(parseFieldPath(path));
const getters = {
  host: get('host.name'),
  user: get('user.name'),
  process: get('process.name'),
  executable: get('process.executable'),
  parent: get('process.parent.name'),
  category: get('event.category'),
  event: get('event'),
  file: get('file.name'),
  srcIp: get('source.ip'),
  dstIp: get('destination.ip'),
  dstPort: get('destination.port'),
};

function first(v: unknown): string | null {
  if (Array.isArray(v)) return v.length > 0 ? first(v[0]) : null;
  if (v === null || v === undefined) return null;
  if (typeof v === 'object') return null;
  return String(v);
}

/** Kibana-style reason: "process event with process mysql, parent process bash, by root on web-1 created high alert …". */
export function alertReason(rule: Rule, source: Readonly<Record<string, unknown>> | null, sequence: boolean): string {
  const parts: string[] = [];
  let head = sequence ? 'sequence' : 'event';
  if (source) {
    const cat = first(getters.category(source));
    if (cat && !sequence) head = `${cat} event`;
    const p = first(getters.process(source)) ?? first(getters.executable(source));
    if (p) parts.push(`process ${p}`);
    const pp = first(getters.parent(source));
    if (pp) parts.push(`parent process ${pp}`);
    const f = first(getters.file(source));
    if (f) parts.push(`file ${f}`);
    const s = first(getters.srcIp(source));
    if (s) parts.push(`source ${s}`);
    const d = first(getters.dstIp(source));
    if (d) parts.push(`destination ${d}${first(getters.dstPort(source)) ? `:${first(getters.dstPort(source))}` : ''}`);
  }
  let text = parts.length ? `${head} with ${parts.join(', ')}` : head;
  const user = source ? first(getters.user(source)) : null;
  const host = source ? first(getters.host(source)) : null;
  if (user) text += ` by ${user}`;
  if (host) text += ` on ${host}`;
  return `${text} created ${rule.severity} alert ${rule.name}.`;
}

/** "42 events by host.name web-1 (distinct user.name: 5) created high alert …". */
function thresholdReason(rule: Rule, r: ThresholdResult): string {
  const by = r.terms.length ? ` by ${r.terms.map((t) => `${t.field} ${String(t.value)}`).join(', ')}` : '';
  const card = r.cardinality.map((c) => ` (distinct ${c.field}: ${c.value})`).join('');
  return `${r.count} events${by}${card} created ${rule.severity} alert ${rule.name}.`;
}

/**
 * The rule's fields of an alert, made once per rule and execution and shared by its alerts (they
 * are read, never changed): a hunt that raised 300,000 alerts of one rule hashed its uuid 300,000
 * times.
 */
const ruleFieldsMade = new WeakMap<Rule, { executionId: string; fields: Readonly<Record<string, unknown>> }>();

function ruleFields(ctx: AlertContext): Readonly<Record<string, unknown>> {
  const made = ruleFieldsMade.get(ctx.rule);
  if (made !== undefined && made.executionId === ctx.executionId) return made.fields;
  const fields = makeRuleFields(ctx);
  ruleFieldsMade.set(ctx.rule, { executionId: ctx.executionId, fields });
  return fields;
}

function makeRuleFields(ctx: AlertContext): Record<string, unknown> {
  const r = ctx.rule;
  return {
    'kibana.alert.rule.uuid': ruleUuid(r.rule_id),
    'kibana.alert.rule.rule_id': r.rule_id,
    'kibana.alert.rule.name': r.name,
    'kibana.alert.rule.description': r.description,
    'kibana.alert.rule.type': r.type,
    'kibana.alert.rule.rule_type_id': `siem.${r.type}Rule`,
    'kibana.alert.rule.category': r.type === 'eql' ? 'Event Correlation Rule' : r.type,
    'kibana.alert.rule.consumer': 'siem',
    'kibana.alert.rule.producer': 'siem',
    'kibana.alert.rule.severity': r.severity,
    'kibana.alert.rule.risk_score': r.risk_score,
    'kibana.alert.rule.interval': r.interval,
    'kibana.alert.rule.from': r.from,
    'kibana.alert.rule.to': r.to,
    'kibana.alert.rule.max_signals': r.max_signals,
    'kibana.alert.rule.tags': r.tags,
    'kibana.alert.rule.references': r.references,
    'kibana.alert.rule.author': r.author,
    'kibana.alert.rule.license': r.license ?? null,
    'kibana.alert.rule.version': r.version,
    'kibana.alert.rule.threat': r.threat,
    'kibana.alert.rule.false_positives': r.false_positives,
    'kibana.alert.rule.parameters': { query: r.query, language: r.language ?? r.type, index: r.index ?? [], timestamp_override: r.timestamp_override ?? null },
    'kibana.alert.rule.execution.uuid': ctx.executionId,
    'kibana.alert.severity': r.severity,
    'kibana.alert.risk_score': r.risk_score,
    'kibana.alert.status': 'active',
    'kibana.alert.workflow_status': 'open',
    'kibana.alert.depth': 1,
    'kibana.space_ids': ['default'],
    'kibana.version': '8.17.0',
  };
}

function originalEvent(source: Readonly<Record<string, unknown>>): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  const ev = source.event;
  if (ev && typeof ev === 'object' && !Array.isArray(ev)) Object.assign(out, ev as Record<string, unknown>);
  for (const [k, v] of Object.entries(source)) if (k.startsWith('event.')) out[k.slice(6)] = v;
  return Object.keys(out).length ? out : null;
}

/** The source's own fields, with `event.kind` set to `signal` as Kibana does. */
function sourceFields(source: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...source };
  const ev = source.event;
  if (ev && typeof ev === 'object' && !Array.isArray(ev)) out.event = { ...(ev as Record<string, unknown>), kind: 'signal' };
  else out['event.kind'] = 'signal';
  delete out['kibana'];
  return out;
}

const iso = (t: number | null): string | null => (t === null || !Number.isFinite(t) ? null : new Date(t).toISOString());

function oneAlert(
  ctx: AlertContext,
  id: string,
  ev: MatchedEvent | null,
  source: Readonly<Record<string, unknown>>,
  originalTime: number | null,
  extra: Record<string, unknown>,
  groupId: string | null,
  buildingBlock: boolean,
): BuiltAlert {
  const r = ctx.rule;
  const now = new Date(ctx.now).toISOString();
  // the fields are set one by one on the copy of the source, in the order (and with the overwrites)
  // of spreading them into one literal, which costs several times more for documents this large
  const doc = sourceFields(source);
  doc['@timestamp'] = now;
  const rf = ruleFields(ctx);
  for (const k in rf) doc[k] = rf[k];
  doc['kibana.alert.uuid'] = id;
  doc['kibana.alert.start'] = now;
  doc['kibana.alert.last_detected'] = now;
  doc['kibana.alert.original_time'] = iso(originalTime);
  doc['kibana.alert.reason'] = alertReason(r, ev ? ev.source : source, !ev);
  for (const k in extra) doc[k] = extra[k];
  const oe = ev ? originalEvent(ev.source) : null;
  if (oe) doc['kibana.alert.original_event'] = oe;
  if (buildingBlock) doc['kibana.alert.building_block_type'] = 'default';
  else if (r.building_block_type) doc['kibana.alert.building_block_type'] = r.building_block_type;
  return {
    id,
    ruleId: r.rule_id,
    created: ctx.now,
    originalTime,
    severity: r.severity,
    risk: r.risk_score,
    status: 'open',
    host: first(getters.host(source)),
    user: first(getters.user(source)),
    process: first(getters.process(source)) ?? first(getters.executable(source)),
    groupId,
    buildingBlock,
    doc,
  };
}

const ancestor = (e: MatchedEvent): Record<string, unknown> => ({ id: e.id, index: e.index, depth: 0, type: 'event' });

/** Fields with equal values in every event (deeply), as Kibana keeps on a sequence's alert. */
export function commonFields(sources: ReadonlyArray<Readonly<Record<string, unknown>>>): Record<string, unknown> {
  if (sources.length === 0) return {};
  const [head, ...rest] = sources;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(head!)) {
    const others = rest.map((s) => s[k]);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (others.every((o) => o && typeof o === 'object' && !Array.isArray(o))) {
        const inner = commonFields([v as Record<string, unknown>, ...(others as Array<Record<string, unknown>>)]);
        if (Object.keys(inner).length) out[k] = inner;
      }
    } else if (others.every((o) => JSON.stringify(o) === JSON.stringify(v))) out[k] = v;
  }
  return out;
}

/**
 * Alerts for one match. An event gives one alert. A sequence gives a building-block alert per
 * event (in order) and then one alert for the sequence holding the fields all events share,
 * linked by `kibana.alert.group.id`.
 */
export function buildAlerts(ctx: AlertContext, m: RuleMatch): BuiltAlert[] {
  const ruleId = ctx.rule.rule_id;
  const id = matchAlertId(ruleId, m);
  if (m.kind === 'event') {
    const e = m.event;
    return [oneAlert(ctx, id, e, e.source, e.time, { 'kibana.alert.ancestors': [ancestor(e)] }, null, false)];
  }
  if (m.kind === 'new_terms') {
    const e = m.event;
    return [oneAlert(ctx, id, e, e.source, e.time, { 'kibana.alert.ancestors': [ancestor(e)], 'kibana.alert.new_terms': m.terms }, null, false)];
  }
  if (m.kind === 'threat') {
    const e = m.event;
    const source = { ...e.source, threat: { ...((e.source.threat as Record<string, unknown> | undefined) ?? {}), enrichments: m.enrichments } };
    return [oneAlert(ctx, id, e, source, e.time, { 'kibana.alert.ancestors': [ancestor(e)] }, null, false)];
  }
  if (m.kind === 'threshold') {
    // as Kibana's: a document of the group's values at its latest event's time, and the result
    const r = m.result;
    const source: Record<string, unknown> = {};
    for (const t of r.terms) setPath(source, t.field, t.value);
    const result = { terms: r.terms, count: r.count, from: iso(r.from), cardinality: r.cardinality };
    return [oneAlert(ctx, id, null, source, r.to, { 'kibana.alert.threshold_result': result, 'kibana.alert.ancestors': [], 'kibana.alert.reason': thresholdReason(ctx.rule, r) }, null, false)];
  }
  const groupId = sha256(`group\u0000${id}`);
  const blocks = m.events.map((e, i) =>
    oneAlert(
      ctx,
      sha256(`block\u0000${id}\u0000${i}`),
      e,
      e.source,
      e.time,
      { 'kibana.alert.ancestors': [ancestor(e)], 'kibana.alert.group.id': groupId, 'kibana.alert.group.index': i },
      groupId,
      true,
    ),
  );
  const times = m.events.map((e) => e.time).filter((t): t is number => t !== null);
  const shell = oneAlert(
    ctx,
    id,
    null,
    commonFields(m.events.map((e) => e.source)),
    times.length ? Math.min(...times) : null,
    {
      'kibana.alert.ancestors': blocks.map((b) => ({ id: b.id, index: '.alerts-security.alerts-default', depth: 1, type: 'signal' })),
      'kibana.alert.group.id': groupId,
      'kibana.alert.reason': alertReason(ctx.rule, commonFields(m.events.map((e) => e.source)), true),
    },
    groupId,
    false,
  );
  return [...blocks, shell];
}
