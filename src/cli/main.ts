#!/usr/bin/env node
import { createProgram } from './program.js';

// a reader that stops early (`vigil hunt … | head`) closes the pipe: the output is no longer wanted,
// which is no error of ours (as for other command-line tools, no message)
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const program = createProgram({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
});
program.parseAsync(process.argv).then(
  () => {},
  (e: unknown) => {
    process.stderr.write(`vigil: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
