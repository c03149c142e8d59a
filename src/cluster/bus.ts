import { randomBytes } from 'node:crypto';
import { AckPolicy, connect, DeliverPolicy, type JetStreamClient, type JsMsg, type JetStreamManager, type NatsConnection } from 'nats';

/**
 * The cluster's event log on NATS JetStream: one stream, one subject per partition
 * (`vigil.events.<p>`), the events of one request for one partition in one message. A published
 * event is acknowledged once JetStream has stored its message (on a majority of its replicas); the
 * message id lets JetStream drop a retried publish within two minutes. The owner of a partition reads it in order from a checkpoint.
 */

export const STREAM = 'VIGIL_EVENTS';
const subjectOf = (p: number): string => `vigil.events.${p}`;

/** One event as it travels: its index, id and document text. */
export interface BusEvent {
  readonly index: string;
  readonly id: string;
  readonly json: string;
  /** An event sent on to a key partition: the rules it is for, and its times as the node that read it stored them. */
  readonly forwarded?: { readonly rules: readonly string[]; readonly ts: number | null; readonly ingested: number };
}

export interface BusMessage extends BusEvent {
  /** The stream's sequence number, and when the stream stored it (ms). */
  readonly seq: number;
  readonly time: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Events of one partition as one message: a line per event, its index and id as JSON strings, a
 * tab each, then its document text (bulk lines hold no raw line break; a JSON string no raw tab).
 * A forwarded event's line starts with what it was forwarded for, a JSON object and a tab.
 */
function encode(events: readonly BusEvent[]): Uint8Array {
  return enc.encode(events.map((e) => `${e.forwarded ? `${JSON.stringify(e.forwarded)}\t` : ''}${JSON.stringify(e.index)}\t${JSON.stringify(e.id)}\t${e.json}`).join('\n'));
}

export function decodeMessage(data: Uint8Array): BusEvent[] {
  const out: BusEvent[] = [];
  for (const line of dec.decode(data).split('\n')) {
    let from = 0;
    let forwarded: BusEvent['forwarded'];
    if (line.startsWith('{')) {
      from = line.indexOf('\t') + 1;
      if (from === 0) continue;
      forwarded = JSON.parse(line.slice(0, from - 1)) as BusEvent['forwarded'];
    }
    const a = line.indexOf('\t', from);
    const b = line.indexOf('\t', a + 1);
    if (a < 0 || b < 0) continue;
    const e = { index: JSON.parse(line.slice(from, a)) as string, id: JSON.parse(line.slice(a + 1, b)) as string, json: line.slice(b + 1) };
    out.push(forwarded ? { ...e, forwarded } : e);
  }
  return out;
}

export class EventBus {
  /** Message ids: this connection's prefix and a count (JetStream drops a retried publish by its id). */
  private readonly idPrefix = randomBytes(9).toString('base64url');
  private published = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /** Connects (reconnecting for ever when a server goes), and makes the stream if missing. */
  static async open(servers: readonly string[], replicas: number, name: string): Promise<EventBus> {
    const nc = await connect({ servers: [...servers], name, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 });
    const jsm = await nc.jetstreamManager();
    const bus = new EventBus(nc, nc.jetstream(), jsm);
    try {
      await jsm.streams.info(STREAM);
    } catch {
      try {
        await jsm.streams.add({ name: STREAM, subjects: ['vigil.events.*'], num_replicas: replicas, duplicate_window: 120e9, max_age: 7 * 86_400e9 });
      } catch (e) {
        // another node made it meanwhile
        await jsm.streams.info(STREAM).catch(() => {
          throw e;
        });
      }
    }
    return bus;
  }

  /**
   * Publishes events to their partitions; per event, null once JetStream stored it, or why not.
   * A failed publish is tried again (with the same message id, so never stored twice) until
   * `deadlineMs` has passed: a NATS server that went leaves its clients to reconnect elsewhere.
   */
  async publish(events: ReadonlyArray<BusEvent & { readonly partition: number }>, deadlineMs = 15_000): Promise<Array<string | null>> {
    const until = Date.now() + deadlineMs;
    // one message per partition (a bulk of 1,000 events is at most one message per partition, not 1,000)
    const groups = new Map<number, number[]>();
    events.forEach((e, i) => {
      const g = groups.get(e.partition);
      if (g) g.push(i);
      else groups.set(e.partition, [i]);
    });
    const out: Array<string | null> = new Array<string | null>(events.length).fill(null);
    const one = async (partition: number, at: readonly number[]): Promise<void> => {
      const data = encode(at.map((i) => events[i]!));
      const msgID = `${this.idPrefix}-${(this.published++).toString(36)}`;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.js.publish(subjectOf(partition), data, { msgID, timeout: 5000 });
          return;
        } catch (err) {
          if (Date.now() > until) {
            for (const i of at) out[i] = err instanceof Error ? err.message : String(err);
            return;
          }
          await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        }
      }
    };
    await Promise.all([...groups].map(([p, at]) => one(p, at)));
    return out;
  }

  /**
   * Reads a partition in order from `from` (a sequence number after which to start, or a stream
   * time to start at), a batch at a time, each batch handed to `onBatch` before the next is
   * fetched; until `stop()`. A failure (a server gone, a consumer lost) starts reading again after
   * the last message handled.
   */
  read(partition: number, from: { afterSeq: number } | { sinceTime: number }, onBatch: (batch: BusMessage[]) => Promise<void>, onError: (e: Error) => void): { stop(): Promise<void>; phase(): string } {
    let stopped = false;
    let phase = 'starting';
    // this reader's consumer now
    let name: string | null = null;
    let last = 'afterSeq' in from ? from.afterSeq : -1;
    const startTime = 'sinceTime' in from ? from.sinceTime : 0;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        try {
          // a pull consumer of our own (not the client's ordered consumer, which moves itself on after a
          // server is lost): where it starts is always where this reader is, and it goes when idle
          const start =
            last >= 0
              ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }
              : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(startTime).toISOString() };
          phase = 'making a consumer';
          const made = await this.jsm.consumers.add(STREAM, { ...start, filter_subject: subjectOf(partition), ack_policy: AckPolicy.None, inactive_threshold: 30e9, mem_storage: true, num_replicas: 1 });
          name = made.name;
          const consumer = await this.js.consumers.get(STREAM, made.name);
          let empty = 0;
          // the consumer's count of what it sent: a message it sent that never came (a pull that expired
          // on this side first drops what arrives after; with no acks the server does not send it again)
          // shows as a jump, and the consumer is made again after the last message handled
          let got = 0;
          // messages come as the consumer pushes them (up to 1,000 ahead): a batch is what has come when
          // the last one was handled, so a quiet partition's event is handled at once
          const messages = await consumer.consume({ max_messages: 1000, idle_heartbeat: 1000 });
          const buf: JsMsg[] = [];
          const signal: { wake: (() => void) | null } = { wake: null };
          let ended = false;
          let failure: unknown = null;
          void (async () => {
            try {
              for await (const m of messages) {
                buf.push(m);
                signal.wake?.();
              }
            } catch (e) {
              failure = e;
            }
            ended = true;
            signal.wake?.();
          })();
          try {
            while (!stopped) {
              if (buf.length === 0) {
                phase = 'waiting';
                await new Promise<void>((done) => {
                  const t = setTimeout(done, 1000);
                  signal.wake = () => {
                    clearTimeout(t);
                    done();
                  };
                });
                signal.wake = null;
                if (stopped) break;
                if (buf.length === 0 && ended) throw failure instanceof Error ? failure : new Error(`partition ${partition}: the consumer ended`);
                if (buf.length === 0) {
                  // a consumer whose server went may say nothing for ever: when it says messages wait,
                  // that it sent some that never came, or cannot say, it is made again
                  if (++empty >= 5) {
                    empty = 0;
                    phase = 'checking the consumer';
                    const info = await consumer.info(false);
                    if (info.num_pending > 0 || info.delivered.consumer_seq > got) throw new Error(`partition ${partition}: the consumer stalled (${info.num_pending} messages waiting, ${info.delivered.consumer_seq - got} sent that did not come); reading again after ${last}`);
                  }
                  continue;
                }
              }
              empty = 0;
              const batch: BusMessage[] = [];
              for (const m of buf.splice(0, 1000)) {
                if (m.info.deliverySequence !== got + 1) throw new Error(`partition ${partition}: a message the consumer sent did not come; reading again after ${last}`);
                got = m.info.deliverySequence;
                const time = Math.floor(m.info.timestampNanos / 1e6);
                for (const e of decodeMessage(m.data)) batch.push({ ...e, seq: m.seq, time });
              }
              if (batch.length === 0) continue;
              phase = `handling ${batch.length} after ${last}`;
              await onBatch(batch);
              last = batch[batch.length - 1]!.seq;
            }
          } finally {
            messages.stop();
          }
        } catch (e) {
          // the consumer given up is deleted (it would go by itself when idle, but not before many piled up)
          if (name) void this.jsm.consumers.delete(STREAM, name).catch(() => undefined);
          name = null;
          if (stopped) break;
          onError(e instanceof Error ? e : new Error(String(e)));
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    const running = loop();
    return {
      stop: async () => {
        stopped = true;
        await running;
        if (name) await this.jsm.consumers.delete(STREAM, name).catch(() => undefined);
      },
      phase: () => phase,
    };
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}
