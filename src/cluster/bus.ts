import { connect, DeliverPolicy, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';

/**
 * The cluster's event log on NATS JetStream: one stream, one subject per partition
 * (`vigil.events.<p>`). A published event is acknowledged once JetStream has stored it (on a
 * majority of its replicas); its message id lets JetStream drop a retried publish within two
 * minutes. The owner of a partition reads it in order from a checkpoint.
 */

export const STREAM = 'VIGIL_EVENTS';
const subjectOf = (p: number): string => `vigil.events.${p}`;

/** One event as it travels: its index, id and document text. */
export interface BusEvent {
  readonly index: string;
  readonly id: string;
  readonly json: string;
}

export interface BusMessage extends BusEvent {
  /** The stream's sequence number, and when the stream stored it (ms). */
  readonly seq: number;
  readonly time: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function encode(e: BusEvent): Uint8Array {
  return enc.encode(`${e.index}\n${e.id}\n${e.json}`);
}

function decode(data: Uint8Array): BusEvent {
  const text = dec.decode(data);
  const a = text.indexOf('\n');
  const b = text.indexOf('\n', a + 1);
  return { index: text.slice(0, a), id: text.slice(a + 1, b), json: text.slice(b + 1) };
}

export class EventBus {
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
    const one = async (e: BusEvent & { partition: number }): Promise<string | null> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.js.publish(subjectOf(e.partition), encode(e), { msgID: `${e.index}/${e.id}`, timeout: 5000 });
          return null;
        } catch (err) {
          if (Date.now() > until) return err instanceof Error ? err.message : String(err);
          await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        }
      }
    };
    return Promise.all(events.map(one));
  }

  /**
   * Reads a partition in order from `from` (a sequence number after which to start, or a stream
   * time to start at), a batch at a time, each batch handed to `onBatch` before the next is
   * fetched; until `stop()`. A failure (a server gone, a consumer lost) starts reading again after
   * the last message handled.
   */
  read(partition: number, from: { afterSeq: number } | { sinceTime: number }, onBatch: (batch: BusMessage[]) => Promise<void>, onError: (e: Error) => void): { stop(): Promise<void> } {
    let stopped = false;
    let last = 'afterSeq' in from ? from.afterSeq : -1;
    const startTime = 'sinceTime' in from ? from.sinceTime : 0;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        try {
          const opts =
            last >= 0
              ? { filterSubjects: subjectOf(partition), deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 }
              : { filterSubjects: subjectOf(partition), deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(startTime).toISOString() };
          const consumer = await this.js.consumers.get(STREAM, opts);
          while (!stopped) {
            const batch: BusMessage[] = [];
            const msgs = await consumer.fetch({ max_messages: 1000, expires: 1000 });
            for await (const m of msgs) {
              const e = decode(m.data);
              batch.push({ ...e, seq: m.seq, time: Math.floor(m.info.timestampNanos / 1e6) });
            }
            if (stopped) break;
            if (batch.length > 0) {
              await onBatch(batch);
              last = batch[batch.length - 1]!.seq;
            }
          }
        } catch (e) {
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
      },
    };
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}
