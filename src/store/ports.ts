/**
 * Storage ports. The service talks to storage only through these interfaces; `sqlite/` is the
 * default adapter. Documents cross the port as JSON text so that adapters never re-encode them.
 */

export type WriteOp = 'index' | 'create';

export interface EventWrite {
  readonly op: WriteOp;
  readonly index: string;
  /** Absent: the store assigns one. */
  readonly id?: string;
  /** The document exactly as received (JSON object text). */
  readonly json: string;
  /** Epoch ms of the timestamp field, null when absent or unreadable. */
  readonly ts: number | null;
  /** Epoch ms of `event.ingested`, or arrival time. */
  readonly ingested: number;
}

export type EventWriteResult =
  | { readonly ok: true; readonly index: string; readonly id: string; readonly version: number; readonly seq: number; readonly created: boolean }
  | { readonly ok: false; readonly index: string; readonly id: string; readonly status: number; readonly type: string; readonly reason: string };

export interface StoredEvent {
  readonly index: string;
  readonly id: string;
  readonly version: number;
  readonly seq: number;
  readonly ts: number | null;
  /** Epoch ms of `event.ingested` or arrival, where the reader has it (scans do). */
  readonly ingested?: number;
  readonly json: string;
  /** The parsed document when the caller already has it (saves a parse). */
  readonly source?: Readonly<Record<string, unknown>>;
}

export interface EventScan {
  /** Index patterns as Elasticsearch reads them: comma lists, `*`, `-exclusions`. */
  readonly patterns: readonly string[];
  /** Exclusive lower bound, epoch ms. */
  readonly after?: number;
  /** Inclusive upper bound, epoch ms. */
  readonly upTo?: number;
  /** Which time the bounds apply to: the event's timestamp (default) or its ingest time. */
  readonly timeField?: 'timestamp' | 'ingested';
}

/** Exclusive lower and inclusive upper bound, epoch ms. */
export interface TimeRange {
  readonly after: number;
  readonly upTo: number;
}

export interface IndexInfo {
  readonly name: string;
  readonly docs: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

/** Which events `scanArrivals` reads: of the indices the patterns name, in either time range. */
export interface ArrivalQuery {
  readonly patterns: readonly string[];
  readonly timestamp?: TimeRange;
  readonly ingested?: TimeRange;
  /** Only events that arrived in this range of sequence numbers (see arrivalBounds). */
  readonly seq?: SeqRange;
}

/** Arrival sequence numbers `(after, upTo]`. */
export interface SeqRange {
  readonly after: number;
  readonly upTo: number;
}

/** Reads stored events on a thread other than the store's, through a connection of its own. */
export interface EventReader {
  /** As EventStore.scanArrivals. */
  scanArrivals(q: ArrivalQuery): IterableIterator<StoredEvent>;
  close(): void;
}

export interface EventStore {
  /** Writes a batch atomically and durably; one result per write, in order. */
  write(batch: readonly EventWrite[]): EventWriteResult[];
  /** The same, possibly on another thread; batches are applied in call order. */
  writeAsync(batch: readonly EventWrite[]): Promise<EventWriteResult[]>;
  get(index: string, id: string): StoredEvent | null;
  /** Events in time order (then arrival order), by the scan's time field. */
  scan(scan: EventScan): IterableIterator<StoredEvent>;
  /**
   * Events of the indices whose timestamp lies in `timestamp`, or whose ingest time lies in
   * `ingested` (bounds as in EventScan; an absent range selects nothing), in arrival order. One read
   * serves rules that window by either time. The iterator holds no statement open between events: a
   * caller may pause it, and use the store, between two of them.
   */
  scanArrivals(q: ArrivalQuery): IterableIterator<StoredEvent>;
  /**
   * The sequence numbers `scanArrivals` would read between: from before the first event in either
   * range to the last event stored (null: no event is in either range). Readers may split them.
   */
  arrivalBounds(q: ArrivalQuery): SeqRange | null;
  /**
   * The file another thread may open with the adapter's `openEventReader` to read the events this
   * store has committed (null: the store cannot be shared, as one in memory).
   */
  readerFile(): string | null;
  /**
   * Events whose field (dotted path) equals `value`, at or before `upTo`, newest first; with `and`,
   * only those whose other field equals, or is an array holding, its value too.
   */
  findByField(path: string, value: string, upTo: number | null, limit: number, and?: { path: string; value: string }): StoredEvent[];
  /** Deletes a document; its sequence number and version, or null when there was none. */
  remove(index: string, id: string): { seq: number; version: number } | null;
  /** Deletes indices and their documents; how many documents went. */
  dropIndices(names: readonly string[]): number;
  /** The newest sequence number given (0: none yet). */
  lastSeq(): number;
  /** Index names matching the patterns. */
  resolve(patterns: readonly string[]): string[];
  indices(): IndexInfo[];
  count(): number;
  /** Retention: drops events with a timestamp before `ts`; returns how many. */
  deleteBefore(ts: number): number;
  /** Retention by size: drops the oldest events until at most `keep` remain. */
  trimTo(keep: number): number;
}

export interface AlertRow {
  readonly id: string;
  readonly ruleId: string;
  readonly created: number;
  readonly originalTime: number | null;
  readonly severity: string;
  readonly risk: number;
  readonly status: string;
  readonly host: string | null;
  readonly user: string | null;
  readonly process: string | null;
  readonly groupId: string | null;
  readonly buildingBlock: boolean;
  readonly doc: Record<string, unknown>;
  /** Who the alert is assigned to (null: nobody). */
  readonly assignee?: string | null;
}

export interface SuppressionGroup {
  readonly alertId: string;
  readonly start: number;
  readonly end: number;
  /** Matches suppressed into the alert (not counting the alert's own). */
  readonly count: number;
}

export interface AlertQuery {
  readonly status?: readonly string[];
  readonly severity?: readonly string[];
  readonly ruleId?: readonly string[];
  readonly host?: string;
  readonly user?: string;
  readonly groupId?: string;
  /**
   * Free text, matched in the alert's event fields (the source event's values, host, user,
   * process, rule name), not in the rule's own parameters (its query, description, references).
   */
  readonly text?: string;
  /** Alerts assigned to this user ('' for unassigned ones). */
  readonly assignee?: string;
  /**
   * Values of the alert document's fields (the source event's, nested or with dotted names, and
   * the alert's own): each alert must have `value` in `path` (an array holding it counts), or must
   * not when `negate`. Values compare as text.
   */
  readonly fields?: ReadonlyArray<{ readonly path: string; readonly value: string; readonly negate?: boolean }>;
  /** Epoch ms bounds on the alert's original (event) time, inclusive. */
  readonly from?: number;
  readonly to?: number;
  readonly buildingBlocks?: boolean;
  readonly sort?: 'time' | 'severity' | 'risk' | 'rule' | 'host' | 'created';
  readonly order?: 'asc' | 'desc';
  readonly size?: number;
  readonly offset?: number;
}

export interface AlertStore {
  /** Inserts the alerts that are not stored yet; returns the ids actually written. */
  insert(alerts: readonly AlertRow[]): string[];
  /**
   * Takes the triage state (status, assignee, document) of alerts held here from `alerts` (another
   * node's copy); the ids that changed.
   */
  setTriage(alerts: readonly AlertRow[]): string[];
  /** Alert suppression: the groups known among `keys` (their alert, time span and matches counted). */
  suppressionGroups(keys: readonly string[]): Map<string, SuppressionGroup>;
  /** Which of these match ids were counted into a group already. */
  suppressedMatches(ids: readonly string[]): Set<string>;
  /**
   * Records a group, new or grown: its alert, time span, count of matches suppressed and the match
   * ids counted; the alert's document gets Kibana's `kibana.alert.suppression.*` fields.
   */
  recordSuppression(g: SuppressionGroup & { readonly key: string; readonly matchIds: readonly string[]; readonly terms: unknown }): void;
  has(ids: readonly string[]): Set<string>;
  get(id: string): AlertRow | null;
  search(q: AlertQuery): { total: number; alerts: AlertRow[] };
  /**
   * Sets the workflow status; `reason` (closing only: false_positive, duplicate, benign,
   * true_positive, …) and `note` go with it, as Kibana's workflow_reason and a note of Vigil's.
   */
  setStatus(ids: readonly string[], status: string, at: number, extra?: { reason?: string | null; note?: string | null; by?: string | null }): number;
  /** Assigns the alerts to `assignee` (null: unassigns). */
  assign(ids: readonly string[], assignee: string | null, at: number): number;
  /**
   * The filtered alerts grouped by rule, host or user: each group's count, highest severity and
   * span of event time, largest groups first.
   */
  groups(q: AlertQuery, by: 'rule' | 'host' | 'user', size: number): { total: number; groups: AlertGroup[] };
  /** Per rule, its alerts the list shows (not building blocks) and all its alerts. */
  countsByRule(): Map<string, { shown: number; all: number }>;
  /** Counts by severity, rule and time bucket over the filtered alerts (bucketMs 0: one fitting their time span). */
  stats(
    q: AlertQuery,
    bucketMs: number,
  ): {
    bucketMs: number;
    bySeverity: Record<string, number>;
    byRule: Array<{ ruleId: string; count: number }>;
    overTime: Array<{ t: number; severity: string; count: number }>;
    /** Per time bucket and rule, for the 10 rules with most alerts. */
    overTimeByRule: Array<{ t: number; ruleId: string; count: number }>;
  };
  count(): number;
}

export interface AlertGroup {
  /** The rule id, host name or user name (null: alerts without one). */
  readonly key: string | null;
  readonly count: number;
  readonly severity: string;
  readonly maxRisk: number;
  readonly first: number | null;
  readonly last: number | null;
  /** How many of the group's alerts are open. */
  readonly open: number;
}

export interface StoredRule {
  readonly ruleId: string;
  readonly enabled: boolean;
  readonly streaming: boolean;
  readonly origin: string;
  /** The rule record (Kibana field names). */
  readonly body: Record<string, unknown>;
  readonly updated: number;
}

export interface RuleStore {
  list(): StoredRule[];
  get(ruleId: string): StoredRule | null;
  /** Inserts or replaces the body; keeps `enabled`/`streaming` of a rule already stored unless given. */
  upsert(rule: { ruleId: string; body: Record<string, unknown>; origin: string; enabled?: boolean; streaming?: boolean; updated: number }): void;
  setFlags(ruleId: string, flags: { enabled?: boolean; streaming?: boolean }): boolean;
  /** Forgets a rule (its runs and alerts stay); false when there was none. */
  remove(ruleId: string): boolean;
}

export interface RunRecord {
  readonly ruleId: string;
  readonly executionId: string;
  readonly kind: 'scheduled' | 'catch-up' | 'streaming';
  readonly started: number;
  readonly durationMs: number;
  /**
   * The rule's share of CPU time in the pass that ran it (ms): its own matcher's time, plus the
   * shared scan's time in proportion to the filter tests of its own that the scan ran.
   */
  readonly cpuMs: number;
  readonly windowFrom: number;
  readonly windowTo: number;
  readonly searched: number;
  readonly matches: number;
  readonly written: number;
  readonly existing: number;
  readonly dropped: number;
  readonly gapMs: number;
  readonly status: 'succeeded' | 'partial failure' | 'failed';
  readonly error: string | null;
}

export interface GapRecord {
  readonly ruleId: string;
  readonly from: number;
  readonly to: number;
  readonly detected: number;
  readonly filled: number | null;
}

export interface RunStore {
  record(run: RunRecord): void;
  runs(q: { ruleId?: string; size?: number; offset?: number }): { total: number; runs: Array<RunRecord & { id: number }> };
  /** Per rule, its runs since `since` (epoch ms of their start), their CPU time and events examined. */
  costs(since: number): Map<string, { runs: number; cpuMs: number; events: number }>;
  /** The end of the time the rule has covered (its last execution's window end). */
  coveredUntil(ruleId: string): number | null;
  setCoveredUntil(ruleId: string, t: number): void;
  addGap(gap: GapRecord): number;
  fillGap(id: number, at: number): void;
  gaps(ruleId?: string): Array<GapRecord & { id: number }>;
  /** Per rule, its latest run (one query for the rules list). */
  lastRuns(): Map<string, RunRecord & { id: number }>;
  /** Per rule, how many gaps were recorded and how many are not filled yet. */
  gapCounts(): Map<string, { total: number; unfilled: number }>;
  /** Every rule's covered time. */
  coveredAll(): Map<string, number>;
  /** A count that moves whenever a run or a gap is recorded or a gap filled (for caches of the above). */
  changes(): number;
}

/** When a combination of values was seen (epoch ms). */
export interface TermsSighting {
  readonly first: number;
  readonly last: number;
}

/**
 * What aggregating rules remember between executions, per scope (a rule's state, named by the rule
 * and what its state depends on) and key (a combination of values): new terms' first and latest
 * sightings, threshold groups' latest counted event.
 */
export interface TermsStore {
  get(scope: string, key: string): TermsSighting | null;
  /** Every sighting of a scope (for a scope small enough to read at once). */
  all(scope: string): Map<string, TermsSighting>;
  put(scope: string, entries: Iterable<[string, TermsSighting]>): void;
  count(scope: string): number;
  /** Forgets sightings whose latest is before `before`, then the oldest beyond `max`; returns how many went. */
  prune(scope: string, before: number, max: number): number;
  drop(scope: string): void;
}

/** Everything the service stores, behind one handle. */
/**
 * Exception lists and their items, value lists, and the lists Vigil attached to rules beyond their
 * own `exceptions_list` (a rule's default list, made when an exception is added to it), as JSON.
 */
export interface ExceptionStore {
  lists(): Array<Record<string, unknown>>;
  items(): Array<Record<string, unknown>>;
  putList(listId: string, body: Record<string, unknown>): void;
  putItem(itemId: string, listId: string, body: Record<string, unknown>): void;
  removeItem(itemId: string): boolean;
  /** Removes the list and its items. */
  removeList(listId: string): boolean;
  valueLists(): Array<{ id: string; type: string; values: string[] }>;
  putValueList(id: string, type: string, values: readonly string[]): void;
  removeValueList(id: string): boolean;
  /** Per rule, the lists attached to it here. */
  attached(): Map<string, string[]>;
  attach(ruleId: string, listId: string): void;
  /** A count that moves with every change above (for caches). */
  changes(): number;
}

export interface Store {
  readonly events: EventStore;
  readonly alerts: AlertStore;
  readonly rules: RuleStore;
  readonly runs: RunStore;
  readonly exceptions: ExceptionStore;
  readonly terms: TermsStore;
  /** Small named settings (index mappings, templates), as JSON text. */
  readonly meta: { get(key: string): string | null; put(key: string, value: string): void; remove(key: string): boolean; list(prefix: string): Array<{ key: string; value: string }> };
  /** Runs `fn` in one transaction where the adapter supports it. */
  transaction<T>(fn: () => T): T;
  /** Bytes on disk. */
  size(): number;
  close(): Promise<void>;
}
