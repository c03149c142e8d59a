#!/usr/bin/env node
import { createProgram } from './program.js';

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
