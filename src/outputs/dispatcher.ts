import { appendFile } from 'node:fs/promises';

/**
 * Alert outputs: a webhook (JSON array per batch), a file (NDJSON, appended) and stdout (NDJSON).
 * Each output has its own bounded queue drained in the background; a failing output is retried
 * with exponential backoff and never slows ingest or rule runs. What a full queue or exhausted
 * retries lose is counted, not hidden.
 */
export type OutputSpec = { readonly kind: 'webhook'; readonly url: string } | { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdout' };

export interface OutputStats {
  readonly output: string;
  sent: number;
  failedAttempts: number;
  dropped: number;
  queued: number;
  lastError: string | null;
}

export interface OutputOptions {
  readonly maxQueue?: number;
  readonly batchSize?: number;
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly write?: (s: string) => void;
}

/**
 * A webhook URL as it may be shown (health, logs): its origin only. Webhook paths and queries carry
 * tokens (Slack's /services/T…/B…/secret), and user info carries passwords.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/…' : ''}`;
  } catch {
    return '(a webhook URL)';
  }
}

export function parseOutputSpec(text: string): OutputSpec {
  if (text === 'stdout' || text === '-') return { kind: 'stdout' };
  if (/^https?:\/\//.test(text)) return { kind: 'webhook', url: text };
  if (text.startsWith('webhook:')) return { kind: 'webhook', url: text.slice(8) };
  if (text.startsWith('file:')) return { kind: 'file', path: text.slice(5) };
  return { kind: 'file', path: text };
}

class Output {
  private queue: unknown[] = [];
  private draining = false;
  private closed = false;
  readonly stats: OutputStats;

  constructor(
    private readonly spec: OutputSpec,
    private readonly o: Required<Omit<OutputOptions, 'write'>> & { write: (s: string) => void },
  ) {
    this.stats = { output: spec.kind === 'webhook' ? `webhook ${redactUrl(spec.url)}` : spec.kind === 'file' ? `file ${spec.path}` : 'stdout', sent: 0, failedAttempts: 0, dropped: 0, queued: 0, lastError: null };
  }

  enqueue(docs: readonly unknown[]): void {
    this.queue.push(...docs);
    const over = this.queue.length - this.o.maxQueue;
    if (over > 0) {
      this.queue.splice(0, over);
      this.stats.dropped += over;
    }
    this.stats.queued = this.queue.length;
    if (!this.draining) void this.drain();
  }

  private async send(batch: unknown[]): Promise<void> {
    const s = this.spec;
    if (s.kind === 'stdout') this.o.write(batch.map((d) => `${JSON.stringify(d)}\n`).join(''));
    else if (s.kind === 'file') await appendFile(s.path, batch.map((d) => `${JSON.stringify(d)}\n`).join(''));
    else {
      const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`webhook answered ${res.status}`);
    }
  }

  /** Sends a batch, retried with backoff; whether it got through. */
  async attempt(batch: unknown[]): Promise<boolean> {
    for (let attempt = 1; attempt <= this.o.maxAttempts && !this.closed; attempt++) {
      try {
        await this.send(batch);
        this.stats.sent += batch.length;
        return true;
      } catch (e) {
        this.stats.failedAttempts++;
        this.stats.lastError = e instanceof Error ? e.message : String(e);
        if (attempt < this.o.maxAttempts) await sleep(Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (attempt - 1)));
      }
    }
    return false;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.slice(0, this.o.batchSize);
        const done = await this.attempt(batch);
        // the batch may have been trimmed by overflow while we waited: remove what is still ours
        const still = this.queue.slice(0, batch.length).every((d, i) => d === batch[i]);
        if (still) this.queue.splice(0, batch.length);
        if (!done) this.stats.dropped += batch.length;
        this.stats.queued = this.queue.length;
      }
    } finally {
      this.draining = false;
    }
  }

  async idle(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while ((this.draining || this.queue.length > 0) && Date.now() < end) await sleep(10);
    return this.queue.length === 0;
  }

  close(): void {
    this.closed = true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class OutputDispatcher {
  private readonly outputs: Output[];

  constructor(specs: readonly OutputSpec[], options: OutputOptions = {}) {
    const o = {
      maxQueue: options.maxQueue ?? 100_000,
      batchSize: options.batchSize ?? 500,
      maxAttempts: options.maxAttempts ?? 8,
      baseDelayMs: options.baseDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      write: options.write ?? ((s: string) => void process.stdout.write(s)),
    };
    this.outputs = specs.map((s) => new Output(s, o));
  }

  send(docs: readonly unknown[]): void {
    if (docs.length === 0) return;
    for (const out of this.outputs) out.enqueue(docs);
  }

  /**
   * Sends documents to every output now, past the queues (each output retried with backoff); true
   * once every output took them. For a caller that records what was delivered (cluster mode's
   * outbox), where `send` forgets.
   */
  async deliver(docs: readonly unknown[]): Promise<boolean> {
    const batch = [...docs];
    const r = await Promise.all(this.outputs.map((o) => o.attempt(batch)));
    return r.every(Boolean);
  }

  /** Whether any output is configured. */
  get any(): boolean {
    return this.outputs.length > 0;
  }

  stats(): OutputStats[] {
    return this.outputs.map((o) => ({ ...o.stats }));
  }

  /** Waits until every queue is empty (or the timeout passes). */
  async idle(timeoutMs = 5000): Promise<boolean> {
    const r = await Promise.all(this.outputs.map((o) => o.idle(timeoutMs)));
    return r.every(Boolean);
  }

  close(): void {
    for (const o of this.outputs) o.close();
  }
}
