import { Worker } from 'node:worker_threads';
import type { PassFeed, PassWindow, ScanSummary, ScheduledRuleSet } from '../detect/index.js';
import type { ArrivalQuery, SeqRange } from '../store/index.js';
import { AHEAD, CREDITS, RANGE, STOP, type FromScanThread, type ScanBatch, type ToScanThread } from './scan-protocol.js';

/** One scan thread (see scan-worker.ts): started on first use, it keeps the rules' index until they change. */
class ScanWorker {
  private worker: Worker | null = null;
  private rulesOf: ScheduledRuleSet | null = null;
  private ready: Promise<void> | null = null;
  private onMessage: ((m: FromScanThread) => void) | null = null;
  private onFail: ((e: Error) => void) | null = null;

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./scan-worker.js', import.meta.url));
    w.on('message', (m: FromScanThread) => this.onMessage?.(m));
    const fail = (e: Error): void => {
      if (this.worker === w) {
        this.worker = null;
        this.rulesOf = null;
      }
      this.onFail?.(e);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`a scan thread exited (${code})`)));
    w.unref();
    this.worker = w;
    return w;
  }

  /** The exchange under way, if any: the next waits for it (the thread answers messages in turn). */
  private last: Promise<unknown> = Promise.resolve();
  private closed = false;

  /**
   * Sends a message once the exchange before it has its answer; resolves with the thread's answer
   * (batches go to `onBatch` meanwhile), rejects on its error. One exchange at a time: an answer can
   * then only be the answer to the message it follows.
   */
  private exchange(msg: ToScanThread, onBatch: (b: ScanBatch) => void): Promise<FromScanThread> {
    const next = this.last.then(() => this.send(msg, onBatch));
    this.last = next.catch(() => undefined);
    return next;
  }

  private send(msg: ToScanThread, onBatch: (b: ScanBatch) => void): Promise<FromScanThread> {
    if (this.closed) return Promise.reject(new Error('the scan thread is closed'));
    const w = this.start();
    return new Promise<FromScanThread>((resolve, reject) => {
      const settle = (): void => {
        this.onMessage = null;
        this.onFail = null;
        w.unref();
      };
      this.onMessage = (m) => {
        if (m.type === 'batch') return onBatch(m);
        settle();
        if (m.type === 'error') reject(new Error(`scan thread: ${m.message}`));
        else resolve(m);
      };
      this.onFail = (e) => {
        settle();
        reject(e);
      };
      w.ref();
      w.postMessage(msg);
    });
  }

  /** Gives the thread the rules (it compiles them and builds their index), unless it has them. */
  rules(set: ScheduledRuleSet): Promise<void> {
    if (this.rulesOf === set && this.ready && this.worker) return this.ready;
    this.rulesOf = set;
    const ready = this.exchange({ type: 'rules', rules: set.rules.map((r) => ({ rule: r.rule, enabled: r.enabled, streaming: r.streaming })) }, () => undefined).then(
      () => undefined,
      (e: unknown) => {
        if (this.ready === ready) this.rulesOf = null;
        throw e;
      },
    );
    this.ready = ready;
    return ready;
  }

  pass(msg: ToScanThread & { type: 'pass' }, onBatch: (b: ScanBatch) => void): Promise<FromScanThread> {
    return this.exchange(msg, onBatch);
  }

  async close(): Promise<void> {
    // an exchange still waiting its turn must not start the thread again
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    // the process is held until the thread has ended (the thread is unref'd when idle, and its exit
    // unrefs it again): without it a process could end with this promise pending
    if (w) {
      const hold = setInterval(() => undefined, 1000);
      try {
        await w.terminate();
      } finally {
        clearInterval(hold);
      }
    }
  }
}

/**
 * The scheduler's scan threads: the scan half of a pass runs there, over connections of their own,
 * and the events they hand on are fed to the pass's feed half here, a batch per turn of the event
 * loop, so that the server answers between batches. The threads take turns by ranges of arrival
 * order, and the feed takes the ranges in order, so every matcher gets its events in arrival order
 * as on one thread; a thread is at most `AHEAD` batches ahead of the feed.
 */
export class ScanThreads {
  private readonly workers: ScanWorker[];
  private controls: Int32Array[] = [];

  constructor(
    private readonly file: string,
    count: number,
    /** Arrival sequence numbers per range (see RANGE). */
    private readonly range = RANGE,
  ) {
    this.workers = Array.from({ length: Math.max(1, count) }, () => new ScanWorker());
  }

  get count(): number {
    return this.workers.length;
  }

  /**
   * Starts the threads and gives them the rules ahead of the next pass (compiling them takes a
   * thread most of a second for Elastic's whole corpus). Does nothing while a pass runs.
   */
  prepare(set: ScheduledRuleSet): void {
    if (this.controls.length > 0) return;
    for (const w of this.workers) w.rules(set).catch(() => undefined);
  }

  /**
   * The scan half of a pass over the events `query` selects between `bounds`, each event handed on
   * given to `feed`; the scan's summary, or null when stopped on the way. Rejects when a thread fails
   * (the caller may then run the pass on its own thread).
   */
  async run(set: ScheduledRuleSet, windows: readonly PassWindow[], query: ArrivalQuery, bounds: SeqRange, feed: PassFeed, sliceMs = 20, stopped: () => boolean = () => false): Promise<ScanSummary | null> {
    await Promise.all(this.workers.map((w) => w.rules(set)));
    const parts = this.workers.length;
    const controls = this.workers.map(() => {
      const c = new Int32Array(new SharedArrayBuffer(8));
      c[CREDITS] = AHEAD;
      return c;
    });
    this.controls = controls;
    // batches that came before their range's turn, by range
    const waiting = new Map<number, ScanBatch[]>();
    let next = 0;
    // the place in the first waiting batch the feed has reached, in `meta` and in events (a batch is fed
    // over several turns when it takes long)
    let at: FeedPlace = { meta: 0, event: 0 };
    let failed: unknown = null;
    let scheduled = false;
    /**
     * Feeds waiting batches in range order for at most `sliceMs`, then gives the event loop a turn
     * (feeding 4 batches of a heavy sequence at once kept the server from answering for a second).
     */
    const drain = (): void => {
      scheduled = false;
      if (failed !== null) return;
      const start = performance.now();
      const over = (): boolean => performance.now() - start >= sliceMs;
      try {
        for (let l = waiting.get(next); l && l.length > 0; l = waiting.get(next)) {
          const batch = l[0]!;
          at = feedBatch(batch, feed, at, over);
          if (at.meta < batch.meta.length) break;
          l.shift();
          at = { meta: 0, event: 0 };
          // the thread of the batch may send another
          const c = controls[batch.range % parts]!;
          Atomics.add(c, CREDITS, 1);
          Atomics.notify(c, CREDITS);
          if (batch.last) waiting.delete(next++);
          if (over()) break;
        }
      } catch (e) {
        failed = e;
        this.stop();
        return;
      }
      if ((waiting.get(next)?.length ?? 0) > 0) schedule();
    };
    const schedule = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(drain);
    };
    const take = (b: ScanBatch): void => {
      if (failed !== null) return;
      const list = waiting.get(b.range);
      if (list) list.push(b);
      else waiting.set(b.range, [b]);
      if (b.range === next) schedule();
    };
    try {
      const ends = await Promise.all(
        this.workers.map((w, part) => w.pass({ type: 'pass', file: this.file, windows, query: { ...query, seq: bounds }, range: this.range, part, parts, control: controls[part]!.buffer as SharedArrayBuffer }, take)),
      );
      if (ends.some((m) => m.type !== 'done')) return null;
      // every batch has come (a thread's batches come before its end): feed what still waits
      while (failed === null && (waiting.get(next)?.length ?? 0) > 0) {
        await new Promise<void>((done) => setImmediate(done));
        if (stopped()) return null;
        if (!scheduled) drain();
      }
      if (failed !== null) throw failed instanceof Error ? failed : new Error(String(failed));
      const summaries = ends.map((m) => (m as { summary: ScanSummary }).summary);
      return {
        searched: windows.map((_, i) => summaries.reduce((n, s) => n + s.searched[i]!, 0)),
        tests: summaries[0]!.tests.map((_, r) => summaries.reduce((n, s) => n + s.tests[r]!, 0)),
        scanMs: summaries.reduce((n, s) => n + s.scanMs, 0),
      };
    } catch (e) {
      this.stop();
      throw e;
    } finally {
      this.controls = [];
    }
  }

  /** Asks a running scan to stop (each thread answers `stopped` soon after). */
  stop(): void {
    for (const c of this.controls) {
      Atomics.store(c, STOP, 1);
      Atomics.notify(c, CREDITS);
    }
  }

  async close(): Promise<void> {
    this.stop();
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/** A place in a batch: in its `meta`, and the event's number (its place in `ids`). */
interface FeedPlace {
  readonly meta: number;
  readonly event: number;
}

/**
 * Hands the events of a batch from place `from` to the feed half, each document parsed only if some
 * window takes it, until the batch ends or `over()` says the turn is up (it is asked every 32
 * events); answers the place reached (`meta` at `meta.length`: the batch is done).
 */
function feedBatch(b: ScanBatch, feed: PassFeed, from: FeedPlace, over: () => boolean): FeedPlace {
  const { meta, names, ids } = b;
  const text = Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
  let k = from.event;
  let i = from.meta;
  while (i < meta.length) {
    const ts = meta[i + 2]!;
    const ingested = meta[i + 3]!;
    const start = meta[i + 4]!;
    const end = meta[i + 5]!;
    const nHits = meta[i + 6]!;
    const nCodes = meta[i + 7]!;
    const e = { index: names[meta[i]!]!, id: ids[k]!, version: meta[i + 1]!, ts: Number.isNaN(ts) ? null : ts, ingested: Number.isNaN(ingested) ? null : ingested };
    const at = i + 8;
    feed.take(e, meta.subarray(at, at + nHits), meta.subarray(at + nHits, at + nHits + nCodes), () => JSON.parse(text.toString('utf8', start, end)) as Record<string, unknown>);
    i = at + nHits + nCodes;
    k++;
    if ((k & 31) === 0 && i < meta.length && over()) break;
  }
  return { meta: i, event: k };
}
