import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';

/** A NATS server of a test cluster (the machine's `nats-server`, JetStream on, its own store folder). */
export interface NatsServer {
  readonly name: string;
  readonly url: string;
  proc: ChildProcess;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Starts `n` NATS servers clustered with each other (JetStream clustered: a stream with 3 replicas
 * survives one server's loss), on ports from `base`; resolves once JetStream answers.
 */
export async function startNatsCluster(dir: string, n = 3, base = 20_000 + Math.floor(Math.random() * 20_000)): Promise<NatsServer[]> {
  const servers: NatsServer[] = [];
  const routes = Array.from({ length: n }, (_, i) => `nats://127.0.0.1:${base + 100 + i}`).join(',');
  for (let i = 0; i < n; i++) {
    const name = `s${i + 1}`;
    const store = join(dir, name);
    mkdirSync(store, { recursive: true });
    const args = ['-a', '127.0.0.1', '-p', String(base + i), '-n', name, '-js', '-sd', store, '--cluster_name', 'vigil-test', '--cluster', `nats://127.0.0.1:${base + 100 + i}`, '--routes', routes];
    const s: NatsServer = {
      name,
      url: `nats://127.0.0.1:${base + i}`,
      proc: null as unknown as ChildProcess,
      async kill() {
        if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
        const gone = new Promise((r) => s.proc.once('exit', r));
        s.proc.kill('SIGKILL');
        await gone;
      },
      async start() {
        s.proc = spawn('nats-server', args, { stdio: 'ignore' });
      },
    };
    await s.start();
    servers.push(s);
  }
  await jetStreamReady(servers.map((s) => s.url));
  return servers;
}

/** Waits until JetStream answers through the servers (a cluster elects its meta leader first). */
export async function jetStreamReady(urls: readonly string[], timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const nc = await connect({ servers: [...urls], timeout: 1000 });
      try {
        const jsm = await nc.jetstreamManager({ timeout: 2000 });
        await jsm.getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (e) {
      if (Date.now() > until) throw new Error(`JetStream did not become ready: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
