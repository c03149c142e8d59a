import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './shared.js';

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `vigil` binary as a user would. */
export function vigil(args: string[], input?: string): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), ...args], {
    input,
    encoding: 'utf8',
    cwd: repoRoot,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
