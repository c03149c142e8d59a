import { createFieldGetter, parseFieldPath, type FieldGetter } from '../ecs/index.js';
import type { Predicate, Relationship } from '../eql/index.js';

/** Field names that tie an event to its process and parent process. */
export interface ProcessKeys {
  readonly pid: string;
  readonly ppid: string;
}

export const ECS_PROCESS_KEYS: ProcessKeys = { pid: 'process.entity_id', ppid: 'process.parent.entity_id' };
export const ENDGAME_PROCESS_KEYS: ProcessKeys = { pid: 'unique_pid', ppid: 'unique_ppid' };

interface Tracker {
  readonly relation: Relationship['relation'];
  readonly filter: (source: unknown) => boolean;
  readonly matched: Set<string>;
}

/**
 * Endgame's `event of`, `child of` and `descendant of`: a process tree learnt from the events seen
 * so far, and for each relationship the processes whose events matched its filter.
 */
export class ProcessTree {
  private readonly parent = new Map<string, string>();
  private readonly trackers: Tracker[] = [];
  private readonly pid: FieldGetter;
  private readonly ppid: FieldGetter;

  constructor(keys: ProcessKeys, private readonly maxDepth = 256) {
    this.pid = createFieldGetter(parseFieldPath(keys.pid));
    this.ppid = createFieldGetter(parseFieldPath(keys.ppid));
  }

  /** Registers a relationship; `filter` tests the bracketed event query. */
  add(relation: Relationship['relation'], filter: (source: unknown) => boolean): Predicate {
    const t: Tracker = { relation, filter, matched: new Set() };
    this.trackers.push(t);
    return (source) => {
      const pid = keyOf(this.pid(source));
      // the event's own process's parent: learnt from the tree, or carried by the event
      const ppid = (pid !== null ? this.parent.get(pid) : undefined) ?? keyOf(this.ppid(source));
      if (relation === 'event') return pid !== null && t.matched.has(pid);
      if (relation === 'child') return ppid !== null && t.matched.has(ppid);
      let p = ppid;
      for (let d = 0; p !== null && d < this.maxDepth; d++) {
        if (t.matched.has(p)) return true;
        p = this.parent.get(p) ?? null;
      }
      return false;
    };
  }

  get active(): boolean {
    return this.trackers.length > 0;
  }

  /** Learns from one event, before the event itself is tested. */
  observe(source: unknown): void {
    const pid = keyOf(this.pid(source));
    if (pid === null) return;
    const ppid = keyOf(this.ppid(source));
    if (ppid !== null && ppid !== pid) this.parent.set(pid, ppid);
    for (const t of this.trackers) if (t.filter(source)) t.matched.add(pid);
  }
}

function keyOf(v: unknown): string | null {
  if (Array.isArray(v)) return v.length > 0 ? keyOf(v[0]) : null;
  return v === null || v === undefined ? null : String(v);
}
