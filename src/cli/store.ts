import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkStoreFolder, recoverStoreFolder, type StoreReport } from '../store/index.js';
import type { Io } from './program.js';

const summary = (r: StoreReport): string =>
  [
    `  events stored:             ${r.events?.toLocaleString('en-US') ?? 'unreadable'}`,
    `  alerts stored:             ${r.alerts?.toLocaleString('en-US') ?? 'unreadable'}`,
    `  event writes it holds:     ${r.ackedWrites?.toLocaleString('en-US') ?? 'unreadable'}`,
    `  acknowledged (ledger):     ${r.ledger ? `${r.ledger.writes.toLocaleString('en-US')} (${r.ledger.at}, ${r.ledger.clean ? 'clean stop' : 'not stopped cleanly'})` : 'no ledger'}`,
  ].join('\n');

/** `vigil store check`: exit 0 when sound, 1 when damaged, 2 when it cannot look. */
export function runStoreCheck(io: Io, opts: { data: string }): number {
  if (!existsSync(opts.data)) {
    io.err(`vigil store check: no data folder at ${resolve(opts.data)}\n`);
    return 2;
  }
  const r = checkStoreFolder(opts.data);
  if (r.problems.length === 0) {
    io.out(`the store in ${resolve(opts.data)} is sound\n${summary(r)}\n`);
    return 0;
  }
  io.out(`the store in ${resolve(opts.data)} is damaged:\n${r.problems.map((p) => `  - ${p}`).join('\n')}\n${summary(r)}\nTo recover: copy the folder first; then restore it from a backup, or accept the loss with: vigil store recover --data ${opts.data}\n`);
  return 1;
}

/** `vigil store recover`: sets a damaged WAL aside and accepts the loss (exit 0 when the store is then sound). */
export function runStoreRecover(io: Io, opts: { data: string }): number {
  if (!existsSync(opts.data)) {
    io.err(`vigil store recover: no data folder at ${resolve(opts.data)}\n`);
    return 2;
  }
  const { actions, report } = recoverStoreFolder(opts.data);
  io.out(`${actions.map((a) => `- ${a}`).join('\n')}\n${report.problems.length === 0 ? 'the store is now sound' : `still damaged:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`}\n${summary(report)}\n`);
  return report.problems.length === 0 ? 0 : 1;
}
