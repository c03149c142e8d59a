import { createIndexMatcher } from '../core/index.js';
import type { CompiledQuery } from '../engine/index.js';
import type { Rule } from '../rules/index.js';

/** A rule ready to run: the model, its compiled query, and its schedule in milliseconds. */
export interface ActiveRule {
  readonly rule: Rule;
  readonly enabled: boolean;
  readonly streaming: boolean;
  /** Null when the rule cannot run (another rule type, or a query that does not compile). */
  readonly compiled: CompiledQuery | null;
  readonly problem: string | null;
  readonly intervalMs: number;
  readonly lookbackMs: number;
  readonly indexPatterns: readonly string[];
  /** Which stored time the window applies to. */
  readonly timeField: 'timestamp' | 'ingested';
}

/** Kibana's default `securitySolution:defaultIndex`, used when a rule names no index. */
export const DEFAULT_INDEX_PATTERNS = ['apm-*-transaction*', 'auditbeat-*', 'endgame-*', 'filebeat-*', 'logs-*', 'packetbeat-*', 'traces-apm*', 'winlogbeat-*', '-*elastic-cloud-logs-*'];

/** Whether a rule's query can run as events arrive (samples and pipes need the whole input). */
export function isStreamable(r: ActiveRule): boolean {
  const c = r.compiled;
  return c !== null && (c.kind === 'event' || c.kind === 'sequence') && c.ast.pipes.length === 0;
}

/** Whether the scheduler runs the rule: enabled and runnable, and not streaming (a rule set to stream that cannot is scheduled). */
export function isScheduled(r: ActiveRule): boolean {
  return r.enabled && r.compiled !== null && (!r.streaming || !isStreamable(r));
}

/** Whether an index name is one of the rule's indices, remembered per name (a pass asks per event). */
export function ruleIndexMatcher(r: ActiveRule): (index: string) => boolean {
  const match = createIndexMatcher(r.indexPatterns);
  const seen = new Map<string, boolean>();
  return (name) => {
    let v = seen.get(name);
    if (v === undefined) seen.set(name, (v = match(name)));
    return v;
  };
}
