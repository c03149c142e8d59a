import { AckPolicy, connect, DeliverPolicy, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';

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
  read(partition: number, from: { afterSeq: number } | { sinceTime: number }, onBatch: (batch: BusMessage[]) => Promise<void>, onError: (e: Error) => void): { stop(): Promise<void>; phase(): string } {
    let stopped = false;
    let phase = 'starting';
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
          const consumer = await this.js.consumers.get(STREAM, made.name);
          let empty = 0;
          while (!stopped) {
            const batch: BusMessage[] = [];
            phase = 'fetching';
            const msgs = await consumer.fetch({ max_messages: 1000, expires: 1000, idle_heartbeat: 500 });
            // a pull whose server went may answer nothing, ever (and not end when stopped): past its
            // expiry and a margin it is given up, and the consumer made again after the last message handled
            let watchdog: NodeJS.Timeout | undefined;
            let timedOut = false;
            const collect = (async (): Promise<void> => {
              for await (const m of msgs) {
                if (timedOut) break;
                const e = decode(m.data);
                batch.push({ ...e, seq: m.seq, time: Math.floor(m.info.timestampNanos / 1e6) });
              }
            })();
            collect.catch(() => undefined);
            try {
              await Promise.race([
                collect,
                new Promise<void>((done) => {
                  watchdog = setTimeout(() => {
                    timedOut = true;
                    msgs.stop();
                    done();
                  }, 6000);
                }),
              ]);
            } finally {
              clearTimeout(watchdog);
            }
            if (timedOut) throw new Error(`partition ${partition}: a fetch got no answer; reading again after ${last}`);
            if (stopped) break;
            if (batch.length === 0 && ++empty >= 3) {
              // a consumer whose server went may answer empty pulls for ever: when it says messages
              // wait, or cannot say, it is made again
              empty = 0;
              phase = 'checking the consumer';
              const info = await consumer.info(false);
              if (info.num_pending > 0 || info.delivered.stream_seq > Math.max(0, last)) throw new Error(`partition ${partition}: the consumer stalled (${info.num_pending} messages waiting, delivered up to ${info.delivered.stream_seq}); reading again after ${last}`);
            }
            if (batch.length > 0) {
              empty = 0;
              phase = `handling ${batch.length} after ${last}`;
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
      phase: () => phase,
    };
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}
