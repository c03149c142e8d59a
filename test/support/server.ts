import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './shared.js';

export interface RunningServer {
  readonly url: string;
  /** the elastic user's password when the server printed one (a first start with authentication on) */
  readonly password: string | null;
  readonly proc: ChildProcess;
  readonly output: () => string;
  /** SIGTERM and wait for exit (or SIGKILL with `kill: true`). */
  stop(kill?: boolean): Promise<number | null>;
}

/**
 * Starts `vigil serve` as a child process on a free port and waits until it listens (the tests' and
 * the ingest benchmark's server; `nodeArgs` go to node, as `--cpu-prof` for a profile).
 */
export async function startServer(args: readonly string[], { nodeArgs = [], startTimeoutMs = 20_000, auth = false, env }: { nodeArgs?: readonly string[]; startTimeoutMs?: number; auth?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<RunningServer> {
  // the tests of other parts run without authentication; the security tests ask for it (auth: true)
  const proc = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'dist/src/cli/main.js'), 'serve', '--port', '0', ...(auth ? [] : ['--insecure-no-auth']), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil serve did not start:\n${out}`)), startTimeoutMs);
    const check = (): void => {
      const m = /ingest: (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`vigil serve exited:\n${out}`));
    });
  });
  return {
    url,
    password: /shown this once:\s+(\S+)/.exec(out)?.[1] ?? null,
    proc,
    output: () => out,
    async stop(kill = false) {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
      return exited;
    },
  };
}

export async function api<T = Record<string, unknown>>(url: string, path: string, init?: { method?: string; body?: unknown; raw?: string }): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, {
    method: init?.method ?? (init?.body !== undefined || init?.raw !== undefined ? 'POST' : 'GET'),
    headers: { 'content-type': init?.raw !== undefined ? 'application/x-ndjson' : 'application/json' },
    body: init?.raw ?? (init?.body !== undefined ? JSON.stringify(init.body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}
