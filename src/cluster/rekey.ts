/**
 * Sequences whose joins cross hosts, in a cluster. Events are partitioned by host, so a sequence
 * joined on the host (or on something only one host has, as a process's entity id) completes on
 * the node that holds the host's partition. One joined on a user, an address or a cloud id may
 * take its stages from hosts on several nodes: the node that reads an event matching one of its
 * stages sends it on to a second kind of partition, chosen by the join key's value, whose holder
 * alone runs that rule. Pure: every node computes the same answers from the same inputs.
 */
import type { ActiveRule } from '../detect/index.js';
import { createFieldGetter } from '../ecs/index.js';
import { expandKeys, keyString, type CompiledQuery, type Judge } from '../engine/index.js';
import { fieldName, type Expr, type Statement, type Value } from '../eql/index.js';
import type { StreamRoute } from '../stream/index.js';
import { fnv1a } from './partition.js';

/**
 * Fields whose value belongs to one host: events that agree on one of them came from one host, so
 * from one partition (`eventKey` keys by host, else by agent).
 */
export const HOST_SCOPED_FIELDS: ReadonlySet<string> = new Set(['host.id', 'host.name', 'host.hostname', 'agent.id', 'process.entity_id', 'process.parent.entity_id', 'process.group_leader.entity_id', 'process.session_leader.entity_id', 'process.entry_leader.entity_id']);

const hostScoped = (e: Expr): boolean => e.kind === 'field' && HOST_SCOPED_FIELDS.has(fieldName(e));

/**
 * Whether a query's joins stay within one host: an event query, or a sequence (sample, join) with a
 * join position that every stage (and `until`) fills with a host-scoped field. Anything else (no
 * join key at all, or keys such as `user.name` or `source.ip`) may join events of several hosts.
 */
export function joinsWithinHost(statement: Statement): boolean {
  const q = statement.query;
  if (q.kind === 'event') return true;
  const stages = [...q.stages, ...('until' in q && q.until ? [q.until] : [])];
  const keysOf = stages.map((st) => [...q.by, ...st.by]);
  const width = Math.min(...keysOf.map((k) => k.length));
  for (let j = 0; j < width; j++) if (keysOf.every((k) => hostScoped(k[j]!))) return true;
  return false;
}

/**
 * Per filter of a stateful query (its stages, then `until`), which join key values may be null and
 * still join, as the engine has it for Elasticsearch (see `expandKeys`): a key that is not a field,
 * or an optional one.
 */
function nullableKeys(statement: Statement): boolean[][] {
  const q = statement.query;
  if (q.kind === 'event') return [];
  const stages = [...q.stages, ...('until' in q && q.until ? [q.until] : [])];
  return stages.map((st) => [...q.by, ...st.by].map((k) => k.kind !== 'field' || k.optional));
}

/**
 * The keys an event joins under at a stage, from its join key's values (their `keyString`, '' for a
 * sequence without keys), expanded as the engine expands them (a multi-valued value under each of
 * its distinct values, several under every combination); each a key string.
 */
export function expandedKeys(key: string, nullable: readonly boolean[]): string[] {
  if (key === '') return [''];
  return expandKeys(JSON.parse(key) as Value[], nullable, true).map(keyString);
}

/**
 * The key partition (0 … partitions − 1, counted after the host partitions) that runs `ruleId` for
 * a join key: the key's value decides, so that every event of one key meets at one node whichever
 * host it came from; a sequence without keys has one partition, its rule's.
 */
export function keyPartition(ruleId: string, key: string, partitions: number): number {
  return fnv1a(key === '' ? `rule:${ruleId}` : `key:${key}`) % partitions;
}

const judges = new WeakMap<CompiledQuery, { readonly judge: Judge; readonly nullable: boolean[][] } | null>();

/**
 * What a query's stages make of a document (which pass, their join keys), and which of each stage's
 * keys may be null, made once per query; null where the engine cannot say (see CompiledQuery.judge).
 */
function judgeOf(q: CompiledQuery): { readonly judge: Judge; readonly nullable: boolean[][] } | null {
  let j = judges.get(q);
  if (j === undefined) {
    const judge = q.kind === 'sequence' ? q.judge(createFieldGetter) : null;
    judges.set(q, (j = judge ? { judge, nullable: nullableKeys(q.ast) } : null));
  }
  return j;
}

/**
 * Where a streaming rule runs in a cluster: a sequence whose joins may cross hosts is forwarded
 * to its join key's partition; every other rule runs on the node that reads the event, and so does
 * a rule over alerts only (every node holds every alert). (A sequence
 * whose stages the engine cannot judge apart from its matcher, as one with a tiebreaker, stays
 * local: its joins then complete only within a host.)
 */
export function streamRoute(r: ActiveRule): StreamRoute {
  const q = r.compiled;
  // a rule over alerts only runs where it is: every node holds every alert (and a copy of each in its alerts index)
  if (r.indexPatterns.every((p) => p.startsWith('.alerts-security') || p.startsWith('.siem-signals'))) return 'local';
  return q !== null && q.kind === 'sequence' && !joinsWithinHost(q.ast) && judgeOf(q) !== null ? 'forward' : 'local';
}

/**
 * The key partitions (0 … partitions − 1) a forwarded rule's event goes to: one per distinct join
 * key of each stage it passes (none when it passes none); null when its keys cannot be read back
 * (then it is not sent).
 */
export function forwardTargets(r: ActiveRule, source: unknown, partitions: number): number[] | null {
  const j = r.compiled ? judgeOf(r.compiled) : null;
  const v = j?.judge.judge(source) ?? null;
  if (v === null) return null;
  const out = new Set<number>();
  for (let i = 0; i < v.keys.length; i++) {
    if ((v.mask & (1 << i)) === 0) continue;
    for (const k of expandedKeys(v.keys[i] ?? '', j!.nullable[i] ?? [])) out.add(keyPartition(r.rule.rule_id, k, partitions));
  }
  return [...out];
}
