import { Worker } from 'node:worker_threads';
import { EsError } from './errors.js';
import { isStateful, type SearchTask } from './search-backend.js';

export interface ToSearchThread {
  readonly task: SearchTask;
  readonly now: number;
  /** The catalog's change count (see IndexCatalog.changes): the thread reads types again when it moves. */
  readonly catalog: number;
}

export type FromSearchThread =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly type: string; readonly reason: string; readonly extra: Readonly<Record<string, unknown>> };

export interface SearchThreadOptions {
  /** The store's file (read by each thread over a connection of its own). */
  readonly file: string;
  /** How many threads search at once (default 2). */
  readonly threads?: number;
  /** How long one search may run before its thread is stopped, ms (default 60 s). */
  readonly budgetMs?: number;
  /** Heap one thread may use, MiB; a search past it fails with 429 circuit_breaking_exception. */
  readonly heapMb?: number;
  /** Searches waiting for a thread, at most (Elasticsearch's search queue: 1,000); past it, 429. */
  readonly queue?: number;
}

interface Job {
  readonly msg: ToSearchThread;
  readonly stateful: boolean;
  readonly resolve: (v: Record<string, unknown>) => void;
  readonly reject: (e: Error) => void;
  /** the client's signal, and what to undo once the job is settled */
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  timer: NodeJS.Timeout | null;
  slot: Slot | null;
}

interface Slot {
  readonly place: number;
  worker: Worker | null;
  job: Job | null;
}

export interface SearchThreadStats {
  readonly threads: number;
  readonly budget_ms: number;
  readonly running: number;
  readonly queued: number;
  readonly searches: number;
  /** stopped by the budget */
  readonly timed_out: number;
  /** stopped because the client left */
  readonly cancelled: number;
  /** threads that ran out of heap */
  readonly out_of_memory: number;
}

/**
 * The search APIs' threads: each search runs on one of a few threads of their own, so that the
 * server keeps taking events and answering while it runs, and a search is stopped (its thread ended
 * and started again) when it runs past its budget or its client leaves. Searches that keep or read
 * state between requests (scroll contexts, points in time) all run on the first thread, which keeps
 * that state; stopping that thread drops it (as Elasticsearch's contexts expire).
 */
export class SearchThreads {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private readonly budgetMs: number;
  private readonly maxQueue: number;
  private closed = false;
  private counts = { searches: 0, timed_out: 0, cancelled: 0, out_of_memory: 0 };

  constructor(private readonly options: SearchThreadOptions) {
    this.slots = Array.from({ length: Math.max(1, options.threads ?? 2) }, (_, place) => ({ place, worker: null, job: null }));
    this.budgetMs = options.budgetMs ?? 60_000;
    this.maxQueue = options.queue ?? 1000;
  }

  stats(): SearchThreadStats {
    return { threads: this.slots.length, budget_ms: this.budgetMs, running: this.slots.filter((s) => s.job).length, queued: this.queue.length, ...this.counts };
  }

  /** Answers a search task, or rejects with the EsError to answer (budget, client gone, queue full). */
  run(task: SearchTask, now: number, catalog: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new EsError(503, 'node_closed_exception', 'the server is stopping'));
    if (signal?.aborted) return Promise.reject(cancelled());
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new EsError(429, 'es_rejected_execution_exception', `rejected execution of search: ${this.queue.length} searches are waiting (queue capacity ${this.maxQueue})`));
    }
    return new Promise((resolve, reject) => {
      const job: Job = { msg: { task, now, catalog }, stateful: isStateful(task), resolve, reject, signal, onAbort: null, timer: null, slot: null };
      if (signal) {
        job.onAbort = () => this.cancel(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.counts.searches++;
      this.queue.push(job);
      this.pump();
    });
  }

  /** Gives waiting jobs to free threads: stateful jobs to the first only, the others to any, the first last. */
  private pump(): void {
    for (let i = 0; i < this.queue.length; ) {
      const job = this.queue[i]!;
      const slot = job.stateful ? (this.slots[0]!.job ? undefined : this.slots[0]) : [...this.slots].reverse().find((s) => !s.job);
      if (!slot) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.start(slot, job);
    }
  }

  private start(slot: Slot, job: Job): void {
    slot.job = job;
    job.slot = slot;
    const w = slot.worker ?? this.spawn(slot);
    w.ref();
    job.timer = setTimeout(() => {
      this.counts.timed_out++;
      this.stopSlot(slot, new EsError(504, 'search_timeout_exception', `the search ran past the server's budget of ${seconds(this.budgetMs)} (--search-timeout) and was stopped`));
    }, this.budgetMs);
    w.postMessage(job.msg);
  }

  private spawn(slot: Slot): Worker {
    const heap = this.options.heapMb;
    const w = new Worker(new URL('./search-worker.js', import.meta.url), { workerData: { file: this.options.file }, ...(heap ? { resourceLimits: { maxOldGenerationSizeMb: heap } } : {}) });
    slot.worker = w;
    w.unref();
    w.on('message', (m: FromSearchThread) => {
      const job = slot.job;
      if (slot.worker !== w || !job) return;
      this.settle(slot, job);
      if (m.ok) job.resolve(m.value);
      else job.reject(new EsError(m.status, m.type, m.reason, m.extra));
      this.pump();
    });
    const gone = (err: Error | null): void => {
      if (slot.worker !== w) return;
      slot.worker = null;
      const job = slot.job;
      if (!job) return;
      this.settle(slot, job);
      const oom = err !== null && (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      if (oom) this.counts.out_of_memory++;
      job.reject(
        oom
          ? new EsError(429, 'circuit_breaking_exception', `[search] the search needed more than the ${this.options.heapMb} MiB a search thread may hold`, { bytes_limit: (this.options.heapMb ?? 0) * 1024 * 1024, durability: 'TRANSIENT' })
          : new EsError(500, 'exception', `the search thread failed: ${err?.message ?? 'it exited'}`),
      );
      this.pump();
    };
    w.on('error', (e) => gone(e));
    w.on('exit', () => gone(null));
    return w;
  }

  /** The job leaves its thread (and its timer, and its client's signal). */
  private settle(slot: Slot, job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    job.timer = null;
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    job.onAbort = null;
    job.slot = null;
    slot.job = null;
    slot.worker?.unref();
  }

  /** Ends the slot's thread, failing its job with `why`; the next job starts a new thread. */
  private stopSlot(slot: Slot, why: EsError): void {
    const job = slot.job;
    const w = slot.worker;
    slot.worker = null;
    if (job) {
      this.settle(slot, job);
      job.reject(why);
    }
    if (w) void w.terminate();
    this.pump();
  }

  /** The client left: a waiting job is dropped, a running one's thread stopped. */
  private cancel(job: Job): void {
    this.counts.cancelled++;
    const at = this.queue.indexOf(job);
    if (at >= 0) {
      this.queue.splice(at, 1);
      job.onAbort = null;
      job.reject(cancelled());
    } else if (job.slot) this.stopSlot(job.slot, cancelled());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new EsError(503, 'node_closed_exception', 'the server is stopping'));
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        s.worker = null;
        if (s.job) {
          const job = s.job;
          this.settle(s, job);
          job.reject(new EsError(503, 'node_closed_exception', 'the server is stopping'));
        }
        if (w) await w.terminate();
      }),
    );
  }
}

const cancelled = (): EsError => new EsError(400, 'task_cancelled_exception', 'the client closed the connection: the search was stopped');

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
