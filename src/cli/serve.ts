import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vigil } from '../app/index.js';
import { ManualClock, systemClock, type Clock } from '../core/index.js';
import { parseOutputSpec } from '../outputs/index.js';
import { parseDuration } from '../rules/index.js';
import { createServer, UI_DIR } from '../server/index.js';
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
  const rulePaths = [...(opts.bundledRules ? [bundledRulesDir()] : []), ...(opts.rules ?? [])];
  const vigil = await Vigil.open({
    dataDir: opts.data,
    rulePaths,
    clock,
    streamingDefault: opts.streaming === true,
    outputs: (opts.output ?? []).map(parseOutputSpec),
    retention,
    log: (s) => io.err(`${s}\n`),
    scanThreads,
    includeDeprecated: opts.includeDeprecated === true,
  });
  for (const p of vigil.startupProblems) io.err(`${p}\n`);
  const bodyLimit = opts.bodyLimit ? parseBytes(opts.bodyLimit) : null;
  const server = await createServer(vigil, { bodyLimit: bodyLimit ?? undefined, requestTimeoutMs });
  const address = await server.listen({ host: opts.host, port: Number(opts.port) });
  const rules = vigil.registry.rules;
  io.out(
    [
      `Vigil is running (data in ${resolve(opts.data)}${clock instanceof ManualClock ? `, manual clock at ${new Date(clock.now()).toISOString()}` : ''})`,
      `  rules:  ${rules.length} loaded, ${rules.filter((r) => r.enabled && r.compiled).length} enabled and runnable, ${vigil.stream.active} streaming${vigil.deprecatedLeftOut > 0 ? ` (${vigil.deprecatedLeftOut} deprecated left out: --include-deprecated loads them)` : ''}`,
      `  ingest: ${address}  (Elasticsearch API: POST /_bulk, /{index}/_doc, /{index}/_eql/search)`,
      `  API:    ${address}/api/alerts, /api/rules, /api/runs, /api/health`,
      `  UI:     ${address}/ui/${existsSync(join(UI_DIR, 'index.html')) ? '' : '  (not built: npm run build:ui)'}`,
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
  // detection first: a pass under way (and a request moving the manual clock) ends at its next pause
  await vigil.halt();
  await server.close();
  await vigil.close();
  io.err('vigil: stopped\n');
  return 0;
}


