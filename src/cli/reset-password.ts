import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Credentials } from '../server/index.js';
import type { Io } from './program.js';

/** `vigil reset-password`: a new random password for a user of a data folder, printed once. */
export async function runResetPassword(io: Io, opts: { data: string; username: string }): Promise<number> {
  if (!existsSync(opts.data)) {
    io.err(`vigil reset-password: no data folder at ${resolve(opts.data)}\n`);
    return 2;
  }
  try {
    const creds = Credentials.open(opts.data);
    const password = await creds.resetPassword(opts.username);
    io.out(`New password for the ${opts.username} user, shown this once:\n\n    ${password}\n\n`);
    return 0;
  } catch (e) {
    io.err(`vigil reset-password: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
