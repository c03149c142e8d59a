/**
 * The writer thread: owns the write connection for event batches so that SQLite's work runs on
 * its own core while the main thread parses and matches the next requests. A batch is committed
 * before its results are posted back, so an acknowledged write is in the WAL.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createEventWriter, packResults, prepareDatabase, unpackBatch, type PackedBatch } from './sqlite-store.js';

const db = new Database((workerData as { file: string }).file);
prepareDatabase(db);
db.pragma('wal_autocheckpoint = 0'); // the checkpoint thread does it
const write = createEventWriter(db);
parentPort!.on('message', (m: { id: number; batch: PackedBatch } | { close: true }) => {
  if ('close' in m) {
    db.close();
    parentPort!.postMessage({ closed: true });
    return;
  }
  try {
    parentPort!.postMessage({ id: m.id, results: packResults(write(unpackBatch(m.batch))) });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
