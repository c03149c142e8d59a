/**
 * The checkpoint thread: copies committed pages from the WAL into the database file (and waits for
 * the disk) so that neither the writer thread nor the request thread pays for it. The other
 * connections run with automatic checkpoints off. Passive checkpoints never block a writer; a
 * committed write is durable in the WAL before any checkpoint, so this changes no guarantee.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, everyMs } = workerData as { file: string; everyMs: number };
const db = new Database(file);
db.pragma('busy_timeout = 10000');
db.pragma('wal_autocheckpoint = 0');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // busy or locked: the next round tries again
  }
}, everyMs);
parentPort!.on('message', () => {
  clearInterval(timer);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // another connection still reads: the WAL is checkpointed when the store is next opened
  }
  db.close();
  parentPort!.postMessage({ closed: true });
});
