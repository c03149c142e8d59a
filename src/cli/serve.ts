import { existsSync, mkdirSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vigil } from '../app/index.js';
import { DEFAULT_RULE_LIMITS } from '../detect/index.js';
import { ManualClock, systemClock, type Clock } from '../core/index.js';
import { OutputDispatcher, parseOutputSpec } from '../outputs/index.js';
import { parseDuration } from '../rules/index.js';
import { ClusterNode, ClusterState, EventBus, STREAM, streamRoute } from '../cluster/index.js';
import type { AlertRow } from '../store/index.js';
import { Credentials, createServer, readTls, selfSignedTls, UI_DIR, type TlsMaterial } from '../server/index.js';
import type { Io } from './program.js';

export interface ServeOpts {
  readonly data: string;
  readonly host: string;
  readonly port: string;
  readonly rules?: string[];
  readonly bundledRules: boolean;
  readonly streaming?: boolean;
  readonly output?: string[];
  readonly clock?: string;
  readonly retention?: string;
  readonly retentionSize?: string;
  readonly tick: string;
  readonly scanThreads?: string;
  readonly bodyLimit?: string;
  readonly requestTimeout?: string;
  readonly includeDeprecated?: boolean;
  readonly insecureNoAuth?: boolean;
  readonly indexingPressure?: string;
  readonly minRuleInterval?: string;
  readonly maxLookback?: string;
  readonly maxSignals?: string;
  readonly maxCatchUp?: string;
  readonly maxRules?: string;
  /** cluster mode: NATS servers (comma list) and the PostgreSQL state */
  readonly cluster?: string;
  readonly state?: string;
  readonly nodeName?: string;
  readonly partitions?: string;
  readonly replicas?: string;
  readonly replay?: string;
  readonly lease?: string;
  readonly outboxClaim?: string;
  readonly searchThreads?: string;
  readonly searchTimeout?: string;
  readonly ruleTimeout?: string;
  /** true: TLS (the data folder's self-signed certificate unless --tls-cert); false: plain HTTP; unset: TLS beyond loopback */
  readonly tls?: boolean;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly allowedHosts?: string[];
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The names the Host header may carry: loopback, this machine's name, the address listened on (all interfaces' for 0.0.0.0), and --allowed-hosts. */
function allowedHosts(listen: string, extra: readonly string[]): Set<string> | null {
  if (extra.includes('*')) return null;
  const bracket = (a: string): string => (a.includes(':') && !a.startsWith('[') ? `[${a}]` : a).toLowerCase();
  const names = new Set(['localhost', '127.0.0.1', '[::1]', hostname().toLowerCase(), bracket(listen), ...extra.map(bracket)]);
  if (listen === '0.0.0.0' || listen === '::') for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(bracket(a.address));
  return names;
}

/** The rules shipped with Vigil (`rules/` at the package root). */
export function bundledRulesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'rules');
}

function parseBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$/i.exec(text.trim());
  if (!m) return null;
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * unit);
}

/** `vigil serve`: runs until SIGINT/SIGTERM. Exit code 2 on bad options. */
export async function runServe(io: Io, opts: ServeOpts): Promise<number> {
  let clock: Clock = systemClock;
  if (opts.clock !== undefined) {
    const t = opts.clock === 'now' ? Date.now() : Date.parse(opts.clock);
    if (!Number.isFinite(t)) {
      io.err(`vigil serve: --clock takes an ISO time or 'now', not '${opts.clock}'\n`);
      return 2;
    }
    clock = new ManualClock(t);
  }
  const requestTimeoutMs = opts.requestTimeout === undefined ? 300_000 : parseDuration(opts.requestTimeout);
  if (requestTimeoutMs === null || requestTimeoutMs <= 0) {
    io.err(`vigil serve: --request-timeout takes a duration like 5m, not '${opts.requestTimeout}'\n`);
    return 2;
  }
  const retention: { maxAgeMs?: number; maxBytes?: number } = {};
  if (opts.retention) {
    const ms = parseDuration(opts.retention);
    if (ms === null) {
      io.err(`vigil serve: --retention takes a duration like 30d, not '${opts.retention}'\n`);
      return 2;
    }
    retention.maxAgeMs = ms;
  }
  if (opts.retentionSize) {
    const b = parseBytes(opts.retentionSize);
    if (b === null) {
      io.err(`vigil serve: --retention-size takes a size like 10gb, not '${opts.retentionSize}'\n`);
      return 2;
    }
    retention.maxBytes = b;
  }
  let scanThreads: number | undefined;
  if (opts.scanThreads !== undefined) {
    scanThreads = Number(opts.scanThreads);
    if (!Number.isInteger(scanThreads) || scanThreads < 0 || scanThreads > 64) {
      io.err(`vigil serve: --scan-threads takes a whole number from 0 to 64, not '${opts.scanThreads}'\n`);
      return 2;
    }
  }
  let searchThreads: number | undefined;
  if (opts.searchThreads !== undefined) {
    searchThreads = Number(opts.searchThreads);
    if (!Number.isInteger(searchThreads) || searchThreads < 1 || searchThreads > 64) {
      io.err(`vigil serve: --search-threads takes a whole number from 1 to 64, not '${opts.searchThreads}'\n`);
      return 2;
    }
  }
  const durations: { searchTimeout?: number; ruleTimeout?: number } = {};
  for (const [opt, key, value] of [['--search-timeout', 'searchTimeout', opts.searchTimeout], ['--rule-timeout', 'ruleTimeout', opts.ruleTimeout]] as const) {
    if (value === undefined) continue;
    const ms = parseDuration(value);
    if (ms === null || ms <= 0) {
      io.err(`vigil serve: ${opt} takes a duration like 60s, not '${value}'\n`);
      return 2;
    }
    durations[key] = ms;
  }
  const heapLimit = getHeapStatistics().heap_size_limit;
  const sizes: { bodyLimit?: number; pressure?: number } = {};
  for (const [opt, key, value] of [['--body-limit', 'bodyLimit', opts.bodyLimit], ['--indexing-pressure', 'pressure', opts.indexingPressure]] as const) {
    if (value === undefined) continue;
    const pct = key === 'pressure' ? /^(\d+(?:\.\d+)?)%$/.exec(value.trim()) : null;
    const b = pct ? Math.floor((heapLimit * Number(pct[1])) / 100) : parseBytes(value);
    if (b === null || b <= 0 || !Number.isFinite(b)) {
      io.err(`vigil serve: ${opt} takes a size like 100mb${key === 'pressure' ? ' or a percentage of the heap like 10%' : ''}, not '${value}'\n`);
      return 2;
    }
    sizes[key] = b;
  }
  const loopback = isLoopback(opts.host);
  if (opts.insecureNoAuth && !loopback) {
    io.err(`vigil serve: refusing to listen on ${opts.host} without authentication: --insecure-no-auth is for loopback addresses only (127.0.0.1, ::1, localhost)\n`);
    return 2;
  }
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    io.err('vigil serve: --tls-cert and --tls-key go together\n');
    return 2;
  }
  let credentials: Credentials | null = null;
  let firstPassword: string | null = null;
  let tls: TlsMaterial | null = null;
  try {
    mkdirSync(opts.data, { recursive: true });
    if (!opts.insecureNoAuth) {
      credentials = Credentials.open(opts.data);
      // a cluster node takes the cluster's users, or makes them when it is the first (below)
      if (opts.cluster === undefined) firstPassword = await credentials.bootstrap(process.env.VIGIL_ELASTIC_PASSWORD || undefined);
    }
    if (opts.tlsCert !== undefined && opts.tlsKey !== undefined) tls = readTls(opts.tlsCert, opts.tlsKey);
    else if (opts.tls === true || (opts.tls === undefined && !loopback)) tls = await selfSignedTls(opts.data, [opts.host, ...(opts.allowedHosts ?? [])]);
  } catch (e) {
    io.err(`vigil serve: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const limits = { ...DEFAULT_RULE_LIMITS };
  for (const [opt, key, value] of [['--min-rule-interval', 'minIntervalMs', opts.minRuleInterval], ['--max-lookback', 'maxLookbackMs', opts.maxLookback]] as const) {
    if (value === undefined) continue;
    const ms = parseDuration(value);
    if (ms === null || ms <= 0) {
      io.err(`vigil serve: ${opt} takes a duration like 1m, not '${value}'\n`);
      return 2;
    }
    limits[key] = ms;
  }
  for (const [opt, key, value] of [['--max-signals', 'maxSignals', opts.maxSignals], ['--max-catch-up', 'maxCatchUpWindows', opts.maxCatchUp], ['--max-rules', 'maxRules', opts.maxRules]] as const) {
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < (key === 'maxCatchUpWindows' ? 0 : 1) || n > 10_000_000) {
      io.err(`vigil serve: ${opt} takes a whole number${key === 'maxCatchUpWindows' ? '' : ' from 1'} up to 10,000,000, not '${value}'\n`);
      return 2;
    }
    limits[key] = n;
  }
  // cluster mode: the event log on NATS JetStream, the shared state in PostgreSQL
  if ((opts.cluster === undefined) !== (opts.state === undefined)) {
    io.err('vigil serve: --cluster (NATS) and --state (PostgreSQL) go together\n');
    return 2;
  }
  let outboxClaimMs: number | null = 120_000;
  let cluster: { state: ClusterState; bus: EventBus; partitions: number; replayMs: number; node: string; leaseMs: number } | null = null;
  let sink: ((alerts: readonly AlertRow[]) => void) | null = null;
  if (opts.cluster !== undefined && opts.state !== undefined) {
    const partitions = Number(opts.partitions ?? 64);
    const replicas = Number(opts.replicas ?? 1);
    const replayMs = opts.replay === undefined ? 3_600_000 : parseDuration(opts.replay);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 4096) {
      io.err(`vigil serve: --partitions takes a whole number from 1 to 4096, not '${opts.partitions}'\n`);
      return 2;
    }
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
      io.err(`vigil serve: --replicas takes a whole number from 1 to 5, not '${opts.replicas}'\n`);
      return 2;
    }
    const leaseMs = opts.lease === undefined ? 10_000 : parseDuration(opts.lease);
    if (leaseMs === null || leaseMs < 1000) {
      io.err(`vigil serve: --lease takes a duration of 1s or more, not '${opts.lease}'\n`);
      return 2;
    }
    outboxClaimMs = opts.outboxClaim === undefined ? 120_000 : parseDuration(opts.outboxClaim);
    if (outboxClaimMs === null || outboxClaimMs < 1000) {
      io.err(`vigil serve: --outbox-claim takes a duration of 1s or more, not '${opts.outboxClaim}'\n`);
      return 2;
    }
    if (replayMs === null || replayMs < 0) {
      io.err(`vigil serve: --replay takes a duration like 1h, not '${opts.replay}'\n`);
      return 2;
    }
    const node = opts.nodeName ?? `${hostname()}-${process.pid}`;
    try {
      const state = await ClusterState.open(opts.state, partitions);
      const bus = await EventBus.open(opts.cluster.split(',').map((x) => x.trim()).filter(Boolean), replicas, `vigil ${node}`).catch(async (e: unknown) => {
        await state.close();
        throw e;
      });
      cluster = { state, bus, partitions, replayMs, node, leaseMs };
      if (credentials) {
        // the cluster's users and API keys are every node's: the first node makes `elastic`
        const creds = credentials;
        const made = await state.bootstrapSecurity(async () => {
          firstPassword = await creds.bootstrap(process.env.VIGIL_ELASTIC_PASSWORD || undefined);
          return creds.entries();
        });
        if (!made.made) creds.take(made.entries);
      }
    } catch (e) {
      io.err(`vigil serve: cluster: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
  }
  const rulePaths = [...(opts.bundledRules ? [bundledRulesDir()] : []), ...(opts.rules ?? [])];
  const vigil = await Vigil.open({
    dataDir: opts.data,
    rulePaths,
    clock,
    streamingDefault: opts.streaming === true,
    // in cluster mode alerts reach the outputs through the cluster's outbox (once per alert id)
    outputs: cluster ? [] : (opts.output ?? []).map(parseOutputSpec),
    retention,
    log: (s) => io.err(`${s}\n`),
    scanThreads,
    includeDeprecated: opts.includeDeprecated === true,
    ruleLimits: limits,
    ruleBudgetMs: durations.ruleTimeout,
    alertSink: (alerts) => sink?.(alerts),
    // in cluster mode a sequence whose joins cross hosts runs where its join key's events meet
    ...(cluster ? { streamRoute } : {}),
  });
  const clusterNode = cluster ? new ClusterNode(vigil, cluster.state, cluster.bus, { node: cluster.node, partitions: cluster.partitions, replayMs: cluster.replayMs, leaseMs: cluster.leaseMs, liveMs: Math.round(cluster.leaseMs * 0.8), log: (l) => io.err(`${l}\n`), outputs: new OutputDispatcher((opts.output ?? []).map(parseOutputSpec)), outboxClaimMs: outboxClaimMs ?? 120_000, ...(credentials ? { security: credentials } : {}) }) : null;
  if (clusterNode) sink = clusterNode.alertSink;
  for (const p of vigil.startupProblems) io.err(`${p}\n`);
  const server = await createServer(vigil, {
    bodyLimit: sizes.bodyLimit,
    requestTimeoutMs,
    indexingPressureBytes: sizes.pressure,
    searchThreads,
    searchBudgetMs: durations.searchTimeout,
    searchHeapMb: Math.max(256, Math.floor(heapLimit / 4 / 1024 / 1024)),
    security: { credentials, allowedHosts: allowedHosts(opts.host, opts.allowedHosts ?? []), secureCookie: tls !== null },
    ...(tls ? { tls: { key: tls.key, cert: tls.cert } } : {}),
    ...(cluster && clusterNode ? { cluster: { ingest: clusterNode.ingest, status: () => clusterNode.status(), alerts: (q) => cluster.state.alerts(q), leases: () => cluster.state.leases(), ruleChange: clusterNode.ruleChange, alertsTriaged: clusterNode.alertsTriaged } } : {}),
  });
  const listened = await server.listen({ host: opts.host, port: Number(opts.port) });
  // the address as listened on (listen answers one of the addresses, 127.0.0.1 for 0.0.0.0)
  const port = new URL(listened).port;
  const shown = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  const address = `${tls ? 'https' : 'http'}://${shown}:${port}`;
  const rules = vigil.registry.rules;
  const security: string[] = [];
  if (!credentials) {
    security.push(
      '  !!!!! AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this address can read every event and alert,',
      '  !!!!! change rules and close alerts. For local experiments only.',
    );
  } else if (firstPassword) {
    security.push(
      '  Authentication is on. The password of the elastic user (admin), shown this once:',
      '',
      `      ${firstPassword}`,
      '',
      `  Make a new one with: vigil reset-password --data ${opts.data}   (only hashes are kept, in ${Credentials.fileIn(resolve(opts.data))})`,
      '  Shippers and clients: basic auth as elastic, or an API key from POST /_security/api_key.',
    );
  } else security.push(`  Authentication is on (users in ${Credentials.fileIn(resolve(opts.data))}; vigil reset-password --data ${opts.data} if the password is lost).`);
  if (clusterNode && cluster) {
    await clusterNode.start(address);
    security.unshift(`  cluster: node ${cluster.node}, ${cluster.partitions} partitions over ${opts.cluster} (JetStream stream ${STREAM}), state in PostgreSQL${cluster.state.schema ? ` (schema ${cluster.state.schema})` : ''}`);
  }
  if (tls) security.push(`  TLS: ${tls.source === 'given' ? tls.certFile : `a certificate of the data folder's own CA, ${tls.source === 'made' ? 'made now' : 'made on first start'} (CA: ${tls.certFile})`}; CA SHA-256 fingerprint ${tls.fingerprint}`);
  else if (!loopback) security.push('  !!!!! TLS IS OFF (--no-tls) on a non-loopback address: passwords and events cross the network in clear.');
  if (opts.host === '0.0.0.0' || opts.host === '::') security.push(`  Listening on all interfaces (${opts.host}): reachable from other machines.`);
  io.out(
    [
      `Vigil is running (data in ${resolve(opts.data)}${clock instanceof ManualClock ? `, manual clock at ${new Date(clock.now()).toISOString()}` : ''})`,
      `  rules:  ${rules.length} loaded, ${rules.filter((r) => r.enabled && r.compiled).length} enabled and runnable, ${vigil.stream.active} streaming${vigil.deprecatedLeftOut > 0 ? ` (${vigil.deprecatedLeftOut} deprecated left out: --include-deprecated loads them)` : ''}`,
      `  ingest: ${address}  (Elasticsearch API: POST /_bulk, /{index}/_doc, /{index}/_eql/search)`,
      `  API:    ${address}/api/alerts, /api/rules, /api/runs, /api/health`,
      `  UI:     ${address}/ui/${existsSync(join(UI_DIR, 'index.html')) ? '' : '  (not built: npm run build:ui)'}`,
      ...security,
      '',
    ].join('\n'),
  );
  const tickMs = Math.max(10, Number(opts.tick) || 1000);
  const tick = (): void => {
    vigil.tick().catch((e: unknown) => io.err(`vigil: scheduler: ${e instanceof Error ? e.message : String(e)}\n`));
  };
  const timer = clock instanceof ManualClock ? null : setInterval(tick, tickMs);
  if (!(clock instanceof ManualClock)) tick();
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  if (timer) clearInterval(timer);
  if (clusterNode && cluster) {
    await clusterNode.stop();
    await cluster.bus.close();
    await cluster.state.close();
  }
  // detection first: a pass under way (and a request moving the manual clock) ends at its next pause
  await vigil.halt();
  await server.close();
  await vigil.close();
  io.err('vigil: stopped\n');
  return 0;
}


