import { randomBytes } from 'node:crypto';
import type { ForwardedEvent, IngestItem, RuleChange, RuleChangeResult, Vigil } from '../app/index.js';
import type { ForwardRequest } from '../stream/index.js';
import type { AlertRow, EventWriteResult } from '../store/index.js';
import type { EventBus, BusMessage } from './bus.js';
import { eventKey, partitionOf, partitionsFor } from './partition.js';
import { forwardTargets } from './rekey.js';
import type { ClusterState, Lease, SharedEntry } from './state.js';

export interface ClusterOptions {
  /** This node's name (unique in the cluster). */
  readonly node: string;
  readonly partitions: number;
  /** How long a lease lasts unless renewed (ms); renewed every third of it. */
  readonly leaseMs?: number;
  /** How long a node counts as live after its last heartbeat (ms). */
  readonly liveMs?: number;
  /** How far before its checkpoint a node that takes a partition over reads it again, to rebuild the state of sequences (ms). */
  readonly replayMs?: number;
  readonly log?: (line: string) => void;
  /**
   * Where alerts go (webhooks, files): through the cluster's outbox in PostgreSQL, so that each
   * alert is sent once by one node, whichever node wrote it and however often it was replayed.
   * Give every node the same outputs.
   */
  readonly outputs?: AlertOutputs;
  /** How long a node's claim on outbox alerts lasts before another node may send them (default 2 min). */
  readonly outboxClaimMs?: number;
  /** This node's users and API keys (Credentials), shared with every node through PostgreSQL. */
  readonly security?: SharedSecurity;
}

/** What a node needs of its users and keys to share them (see Credentials). */
export interface SharedSecurity {
  /** Takes the cluster's entries that differ from this node's (and are not being shared from here). */
  take(entries: readonly SharedEntry[]): number;
  confirmShared(entries: readonly SharedEntry[]): void;
  onLocalChange: ((entries: SharedEntry[]) => void) | null;
}

/**
 * Sends the cluster outbox's alerts to the outputs: claims a batch (any node may claim any alert
 * not sent and not under a live claim), delivers it, marks it sent; a batch that could not be
 * delivered is given back for a later round. Each alert goes out once, unless a node dies between
 * delivering and marking (then its claim lapses and another node sends the batch again).
 */
export class OutboxSender {
  readonly counts = { sent: 0, failed: 0 };

  constructor(
    private readonly state: ClusterState,
    private readonly node: string,
    private readonly outputs: AlertOutputs,
    private readonly claimMs: number,
  ) {}

  /** Sends until the outbox has nothing left to claim, a delivery fails, or `stop()` says so. */
  async send(stop: () => boolean = () => false): Promise<void> {
    while (!stop()) {
      const batch = await this.state.claimOutbox(this.node, this.claimMs);
      if (batch.length === 0) return;
      const ids = batch.map((b) => b.id);
      if (await this.outputs.deliver(batch.map((b) => b.doc))) this.counts.sent += await this.state.markSent(this.node, ids);
      else {
        this.counts.failed += ids.length;
        await this.state.unclaim(this.node, ids);
        return;
      }
    }
  }
}

/** What the node needs of the outputs (OutputDispatcher). */
export interface AlertOutputs {
  readonly any: boolean;
  deliver(docs: readonly unknown[]): Promise<boolean>;
  stats(): unknown[];
}

interface Held {
  /** 0 … P − 1: a host partition (events as sent); P … 2P − 1: a key partition (events forwarded to rules whose joins cross hosts). */
  readonly part: number;
  readonly epoch: number;
  reader: { stop(): Promise<void>; phase(): string } | null;
  /** when the lease was last renewed (this node's clock): past the lease, the node stops writing for it */
  renewed: number;
  events: number;
  /** the checkpoint it was taken at: until the reader is past it, the partition is replaying */
  readonly replayUntil: number;
  /** the last stream sequence handled */
  at: number;
}

/**
 * One Vigil node of a cluster: `_bulk` publishes each event to the partition of its host on NATS
 * JetStream and answers once JetStream stored it; the node holds the partitions rendezvous hashing
 * gives it among the live nodes, under leases in PostgreSQL with fencing epochs, and feeds each
 * one's events, in order from its checkpoint, to its own Vigil (store and every streaming rule).
 * Alerts go to PostgreSQL once each (their ids are deterministic, so a replay writes nothing new)
 * before the checkpoint moves past their events.
 */
export class ClusterNode {
  private readonly held = new Map<number, Held>();
  private readonly leaseMs: number;
  private readonly liveMs: number;
  private readonly replayMs: number;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopping = false;
  /** alerts made by the local engine, not yet in PostgreSQL */
  private pending: AlertRow[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private counts = { published: 0, consumed: 0, forwarded: 0, forwarded_in: 0, forwarded_repeats: 0, unroutable: 0, alerts_written: 0, alerts_taken: 0, security_taken: 0, lease_losses: 0, errors: 0 };
  /**
   * Forwarded events this node matched, per key partition (event → stream time): a partition taken
   * over reads its replay window again, and an event the last holder sent on again (it died before
   * its checkpoint) comes twice; a sequence must not take either twice.
   */
  private readonly forwardedSeen = new Map<number, Map<string, number>>();
  private sending: Promise<void> | null = null;
  private readonly outbox: OutboxSender | null;
  /** The last change of the cluster's rule log applied here, and results of this node's own changes. */
  private ruleSeq = 0;
  private ruleSync: Promise<void> = Promise.resolve();
  private readonly ruleResults = new Map<number, RuleChangeResult | Error>();
  private lastError: string | null = null;
  private live: string[] = [];
  private idCounter = 0;
  private readonly idPrefix = randomBytes(6).toString('base64url');

  constructor(
    private readonly vigil: Vigil,
    private readonly state: ClusterState,
    private readonly bus: EventBus,
    private readonly opts: ClusterOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.liveMs = opts.liveMs ?? 8_000;
    this.replayMs = opts.replayMs ?? 3_600_000;
    this.outbox = opts.outputs?.any ? new OutboxSender(state, opts.node, opts.outputs, opts.outboxClaimMs ?? 120_000) : null;
    if (opts.security) opts.security.onLocalChange = (entries) => void this.shareSecurity(entries);
  }

  /** A user or key changed here (the API, or `vigil reset-password` on this node's folder): to PostgreSQL, retried until it is there. */
  private async shareSecurity(entries: SharedEntry[]): Promise<void> {
    for (;;) {
      try {
        await this.state.putSecurity(entries);
        break;
      } catch (e) {
        this.fail(e);
        if (this.stopping) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.opts.security?.confirmShared(entries);
  }

  /** Where the local engine's alerts go (VigilConfig.alertSink). */
  readonly alertSink = (alerts: readonly AlertRow[]): void => {
    for (const a of alerts) this.pending.push(a);
  };

  private url = '';

  /** Joins the cluster (`url`: where this node answers, for the node list) and takes its partitions. */
  async start(url: string): Promise<void> {
    this.url = url;
    await this.state.heartbeat(this.opts.node, url);
    // the rules as the cluster has changed them, before any event is read
    await this.syncRules();
    await this.tick();
    const every = Math.max(200, Math.floor(this.leaseMs / 6));
    this.timer = setInterval(() => void this.tick(), every);
    // the heartbeat on a timer of its own: a round held up (a hand-over waits for a batch being sent
    // on while a NATS server is gone) must not make the other nodes think this one is dead
    this.beat = setInterval(() => void this.heartbeat(), every);
  }

  private beat: NodeJS.Timeout | null = null;
  private beating = false;

  private async heartbeat(): Promise<void> {
    if (this.beating || this.stopping) return;
    this.beating = true;
    try {
      await this.state.heartbeat(this.opts.node, this.url);
    } catch (e) {
      this.fail(e);
    } finally {
      this.beating = false;
    }
  }

  /** A new id for an event that came without one: unique across nodes (a node prefix and a count). */
  private newId(): string {
    return `${this.idPrefix}${(this.idCounter++).toString(36).padStart(8, '0')}`;
  }

  /**
   * `_bulk`'s writes in cluster mode: each event published to its partition, answered created once
   * JetStream stored it (it is stored and matched by the partition's owner soon after).
   */
  readonly ingest = async (items: readonly IngestItem[]): Promise<EventWriteResult[]> => {
    const events = items.map((it) => {
      let source = it.source ?? null;
      if (!source) {
        try {
          const v = JSON.parse(it.json) as unknown;
          source = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
        } catch {
          source = null;
        }
      }
      return { index: it.index, id: it.id ?? this.newId(), json: it.json, source, partition: partitionOf(eventKey(source, it.json), this.opts.partitions) };
    });
    const out: EventWriteResult[] = new Array<EventWriteResult>(events.length);
    const good: typeof events = [];
    const at: number[] = [];
    events.forEach((e, i) => {
      if (e.source === null) out[i] = { ok: false, index: e.index, id: e.id, status: 400, type: 'document_parsing_exception', reason: 'the document is not a JSON object' };
      else {
        good.push(e);
        at.push(i);
      }
    });
    const errors = await this.bus.publish(good);
    errors.forEach((err, k) => {
      const e = good[k]!;
      out[at[k]!] = err === null ? { ok: true, index: e.index, id: e.id, version: 1, seq: 0, created: true } : { ok: false, index: e.index, id: e.id, status: 503, type: 'unavailable_shards_exception', reason: `the event log did not store the event: ${err}` };
      if (err === null) this.counts.published++;
    });
    return out;
  };

  /**
   * A change to the rules through this node's API: appended to the cluster's log, then applied here
   * with every change before it, in the log's order, as every other node applies them (within a
   * round); this node's result.
   */
  readonly ruleChange = async (change: RuleChange): Promise<RuleChangeResult> => {
    const seq = await this.state.logRuleChange(this.opts.node, change);
    while (this.ruleSeq < seq) await this.syncRules();
    const r = this.ruleResults.get(seq);
    this.ruleResults.delete(seq);
    if (!r) throw new Error(`rule change ${seq} was not applied here`);
    if (r instanceof Error) throw r;
    return r;
  };

  /** Alerts triaged through this node's API: their state as this node now holds them, to PostgreSQL for every node. */
  readonly alertsTriaged = async (ids: readonly string[]): Promise<void> => {
    const rows: AlertRow[] = [];
    for (const id of ids) {
      const a = this.vigil.store.alerts.get(id);
      if (a) rows.push(a);
    }
    // an alert still waiting for PostgreSQL goes there as it is when it is written (see flushAlerts)
    await this.state.setTriage(rows);
  };

  /**
   * Takes the alerts every node wrote or triaged into this node's store, so that its API and UI show
   * the cluster's alerts. A revision is taken when a statement starts and seen when it commits, so
   * one may show after a later one: each pull reads again from where a pull at least 10 s before had
   * got to (what it reads again changes nothing).
   */
  private pullAlerts(): void {
    if (this.pulling || this.stopping) return;
    const run = async (): Promise<void> => {
      const now = Date.now();
      while (this.revMarks.length > 1 && this.revMarks[1]!.at <= now - 10_000) this.revMarks.shift();
      // the newest mark at least 10 s old (the oldest, in a node's first 10 s)
      let rev = this.revMarks[0]?.rev ?? 0;
      let last = rev;
      for (;;) {
        const got = await this.state.alertsAfter(rev);
        this.counts.alerts_taken += this.vigil.takeAlerts(got.rows).length;
        last = Math.max(last, got.last);
        rev = got.last;
        if (got.rows.length < 1000) break;
      }
      this.revMarks.push({ at: now, rev: last });
    };
    this.pulling = run()
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        this.pulling = null;
      });
  }

  private pulling: Promise<void> | null = null;
  /** Where alert pulls had got to, and when (see pullAlerts). */
  private readonly revMarks: Array<{ at: number; rev: number }> = [];

  /** Applies the rule log's changes made since the last (one sync at a time). */
  private syncRules(): Promise<void> {
    const run = async (): Promise<void> => {
      for (;;) {
        const changes = await this.state.ruleChangesAfter(this.ruleSeq);
        for (const c of changes) {
          let r: RuleChangeResult | Error;
          try {
            r = this.vigil.applyRuleChange(c.change as RuleChange);
          } catch (e) {
            // a change this node cannot apply is skipped (and said; its API call answers the error), not retried for ever
            this.fail(e);
            r = e instanceof Error ? e : new Error(String(e));
          }
          this.ruleSeq = c.seq;
          this.ruleResults.set(c.seq, r);
        }
        // results of other nodes' changes are not asked for: keep those of the last 1,000 changes
        for (const k of this.ruleResults.keys()) if (k < this.ruleSeq - 1000) this.ruleResults.delete(k);
        if (changes.length < 1000) return;
      }
    };
    this.ruleSync = this.ruleSync.then(run, run);
    return this.ruleSync;
  }

  /** One round: heartbeat, then the leases this node should hold taken, renewed or given up. */
  private tick(): Promise<void> {
    if (this.ticking || this.stopping) return this.ticking ?? Promise.resolve();
    this.ticking = this.round()
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        this.ticking = null;
      });
    return this.ticking;
  }

  private fail(e: unknown): void {
    this.counts.errors++;
    this.lastError = e instanceof Error ? e.message : String(e);
  }

  private async round(): Promise<void> {
    const now = Date.now();
    // a lease not renewed for its whole length may be another node's by now: stop writing for it
    for (const h of [...this.held.values()]) if (now - h.renewed > this.leaseMs) await this.drop(h, 'its lease lapsed (PostgreSQL unreachable?)');
    await this.state.heartbeat(this.opts.node, this.url);
    await this.syncRules();
    // users and keys changed through other nodes (a few rows: read whole)
    if (this.opts.security) this.counts.security_taken += this.opts.security.take(await this.state.securityEntries());
    this.live = await this.state.liveNodes(this.liveMs);
    if (!this.live.includes(this.opts.node)) this.live.push(this.opts.node);
    const want = new Set(partitionsFor(this.opts.node, this.live, 2 * this.opts.partitions));
    for (const h of [...this.held.values()]) {
      if (!want.has(h.part)) {
        // another node should hold it now (one joined): hand it over at a checkpoint
        await this.drop(h, null);
        await this.state.release(h.part, this.opts.node, h.epoch);
        continue;
      }
      if (await this.state.renew(h.part, this.opts.node, h.epoch, this.leaseMs)) h.renewed = Date.now();
      else {
        this.counts.lease_losses++;
        await this.drop(h, 'another node took its lease');
      }
    }
    // alerts of scheduled rules (made outside any batch) go out here
    void this.flushAlerts();
    this.sendOutbox();
    this.pullAlerts();
    for (const part of want) {
      if (this.held.has(part) || this.stopping) continue;
      const lease = await this.state.acquire(part, this.opts.node, this.leaseMs, this.liveMs);
      if (lease) this.take(part, lease);
    }
  }

  /** Starts reading a partition just leased: from its checkpoint, or a replay window before it when it comes from another node. */
  private take(part: number, lease: Lease): void {
    const h: Held = { part, epoch: lease.epoch, reader: null, renewed: Date.now(), events: 0, replayUntil: lease.checkpoint, at: 0 };
    this.held.set(part, h);
    const fresh = lease.checkpoint === 0;
    const from = fresh ? { afterSeq: 0 } : lease.previous === this.opts.node ? { afterSeq: lease.checkpoint } : { sinceTime: Math.max(0, lease.checkpointTime - this.replayMs) };
    h.reader = this.bus.read(part, from, (batch) => this.handle(h, batch), (e) => this.fail(e));
  }

  private async drop(h: Held, why: string | null): Promise<void> {
    if (this.held.get(h.part) === h) this.held.delete(h.part);
    if (why) this.opts.log?.(`cluster: partition ${h.part} left: ${why}`);
    await h.reader?.stop();
  }

  /**
   * A batch of a held partition: stored and matched here (a key partition's events only matched, for
   * the rules they were sent for), the events of rules that run at a key partition sent on, its
   * alerts written to PostgreSQL, then the checkpoint moved (fenced).
   */
  private async handle(h: Held, batch: BusMessage[]): Promise<void> {
    if (this.held.get(h.part) !== h) throw new Error(`partition ${h.part} is no longer held`);
    if (h.part >= this.opts.partitions) await this.matchForwarded(h, batch);
    else {
      // events up to the checkpoint a replay starts behind were sent on by the node that read them first
      const k = h.replayUntil > 0 ? batch.findIndex((m) => m.seq > h.replayUntil) : 0;
      const replayed = k < 0 ? batch : batch.slice(0, k);
      const fresh = k < 0 ? [] : batch.slice(k);
      const items = (ms: BusMessage[]): IngestItem[] => ms.map((m) => ({ op: 'create', index: m.index, id: m.id, json: m.json }));
      // an event already stored here (a replay) is refused as a conflict and matched no second time
      if (replayed.length > 0) await this.vigil.ingest(items(replayed));
      if (fresh.length > 0) {
        const forwards: ForwardRequest[] = [];
        const written = await this.vigil.ingest(items(fresh), forwards);
        // events this node stored before and reads again (a batch that failed half-way, a partition
        // taken back after its lease lapsed): sent on again, since the first time may not have come
        // to it (the key partition takes each event once)
        const again = fresh.filter((_, i) => !written[i]!.ok && written[i]!.status === 409);
        if (again.length > 0) forwards.push(...this.vigil.forwardsOf(items(again)));
        if (forwards.length > 0) await this.forward(h, forwards);
      }
    }
    await this.flushAlerts();
    const last = batch[batch.length - 1]!;
    const ok = await this.state.checkpoint(h.part, this.opts.node, h.epoch, last.seq, last.time);
    h.events += batch.length;
    h.at = last.seq;
    // a key partition's events are counted as forwarded_in (each event once)
    if (h.part < this.opts.partitions) this.counts.consumed += batch.length;
    if (!ok) {
      this.counts.lease_losses++;
      void this.drop(h, 'another node took its lease');
      throw new Error(`partition ${h.part}: lease lost`);
    }
  }

  /**
   * Sends the events of forwarded rules' stages to their keys' partitions, an event once per
   * partition with every rule it goes there for; tried until JetStream stores them or the host
   * partition is no longer this node's (its next holder reads the batch again and sends them).
   */
  private async forward(h: Held, forwards: readonly ForwardRequest[]): Promise<void> {
    const P = this.opts.partitions;
    const out = new Map<string, { index: string; id: string; json: string; partition: number; rules: string[]; ts: number | null; ingested: number }>();
    for (const f of forwards) {
      const targets = forwardTargets(f.rule, f.source, P);
      if (targets === null) {
        this.counts.unroutable++;
        continue;
      }
      for (const t of targets) {
        const key = `${P + t}\u0000${f.event.index}\u0000${f.event.id}`;
        const o = out.get(key);
        if (o) o.rules.push(f.rule.rule.rule_id);
        else out.set(key, { index: f.event.index, id: f.event.id, json: f.event.json, partition: P + t, rules: [f.rule.rule.rule_id], ts: f.event.ts, ingested: f.event.ingested ?? 0 });
      }
    }
    let left = [...out.values()].map((o) => ({ index: o.index, id: o.id, json: o.json, partition: o.partition, forwarded: { rules: o.rules, ts: o.ts, ingested: o.ingested } }));
    while (left.length > 0) {
      const errors = await this.bus.publish(left);
      const failed = left.filter((_, i) => errors[i] !== null);
      this.counts.forwarded += left.length - failed.length;
      left = failed;
      if (failed.length === 0) break;
      this.fail(new Error(`sending ${failed.length} events on to key partitions: ${errors.find((e) => e !== null)}`));
      // a partition handed over meanwhile: its next holder reads the batch again (no checkpoint moved) and sends them
      if (this.held.get(h.part) !== h || this.stopping) throw new Error(`partition ${h.part}: left before its events were sent on`);
    }
  }

  /** A key partition's batch: each event matched once on this node, for the rules it was sent for. */
  private async matchForwarded(h: Held, batch: readonly BusMessage[]): Promise<void> {
    let seen = this.forwardedSeen.get(h.part);
    if (!seen) this.forwardedSeen.set(h.part, (seen = new Map()));
    const events: ForwardedEvent[] = [];
    for (const m of batch) {
      if (!m.forwarded) continue;
      const key = `${m.index}\u0000${m.id}`;
      if (seen.has(key)) {
        this.counts.forwarded_repeats++;
        continue;
      }
      seen.set(key, m.time);
      events.push({ index: m.index, id: m.id, json: m.json, ts: m.forwarded.ts, ingested: m.forwarded.ingested, rules: new Set(m.forwarded.rules) });
    }
    this.counts.forwarded_in += events.length;
    await this.vigil.matchForwarded(events);
    // what no replay reaches any more is forgotten
    if (seen.size > 10_000) {
      const last = batch[batch.length - 1]!.time;
      for (const [k, t] of seen) if (t < last - this.replayMs - 600_000) seen.delete(k);
    }
  }

  /**
   * Writes the pending alerts to PostgreSQL (one writer at a time), retried until it works, the node
   * stops, or `until` (ms since the epoch) has passed.
   */
  private flushAlerts(until = Infinity): Promise<void> {
    const run = async (): Promise<void> => {
      while (this.pending.length > 0 && !this.stopping && Date.now() < until) {
        const take = this.pending.slice(0, 1000);
        try {
          // as the alerts are here now: one triaged before it reached PostgreSQL goes with its triage
          const now = take.map((a) => this.vigil.store.alerts.get(a.id) ?? a);
          this.counts.alerts_written += await this.state.insertAlerts(this.opts.node, now, this.opts.outputs?.any === true);
          this.pending.splice(0, take.length);
        } catch (e) {
          this.fail(e);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    this.flushing = this.flushing.then(run, run);
    return this.flushing;
  }

  /** Sends the outbox's alerts (see OutboxSender), one round at a time. */
  private sendOutbox(): void {
    if (!this.outbox || this.sending || this.stopping) return;
    this.sending = this.outbox
      .send(() => this.stopping)
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        this.sending = null;
      });
  }

  status(): Record<string, unknown> {
    return {
      node: this.opts.node,
      partitions: this.opts.partitions,
      live_nodes: this.live,
      held: [...this.held.values()].map((h) => ({ partition: h.part, kind: h.part < this.opts.partitions ? 'host' : 'key', epoch: h.epoch, events: h.events, replaying: h.at < h.replayUntil, reading: h.reader?.phase() ?? null })).sort((a, b) => a.partition - b.partition),
      pending_alerts: this.pending.length,
      ...this.counts,
      ...(this.outbox ? { outbox: this.outbox.counts, outputs: this.opts.outputs!.stats() } : {}),
      last_error: this.lastError,
    };
  }

  /**
   * Leaves the cluster: stops reading, writes what is pending (for at most 5 s: what is not written
   * then is made again by the node that replays the partition), gives the leases up at once.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.beat) clearInterval(this.beat);
    await this.ticking;
    await Promise.all([...this.held.values()].map((h) => this.drop(h, null)));
    await this.flushAlerts(Date.now() + 5000).catch(() => undefined);
    this.stopping = true;
    // a batch being delivered is waited for a little; unmarked, its claim lapses and another node sends it
    await Promise.race([this.sending, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.state.leave(this.opts.node).catch(() => undefined);
  }
}
