/**
 * A search thread (see SearchThreads): answers search tasks over a read-only connection of its
 * own, so that a long search runs beside the thread that takes events and answers HTTP, and can
 * be stopped by ending the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Documents } from '../../app/index.js';
import { openStoreReader } from '../../store/index.js';
import { EsError } from './errors.js';
import { IndexCatalog } from './indices.js';
import { SearchBackend } from './search-backend.js';
import type { FromSearchThread, ToSearchThread } from './search-threads.js';

const reader = openStoreReader((workerData as { file: string }).file);
const documents = new Documents(reader);
const catalog = new IndexCatalog(documents);
const backend = new SearchBackend(documents, catalog);
let catalogSeen = -1;

parentPort!.on('message', (m: ToSearchThread) => {
  let answer: FromSearchThread;
  try {
    // mappings, templates or aliases changed on the server's thread: types are read again
    if (m.catalog !== catalogSeen) {
      catalog.touch();
      catalogSeen = m.catalog;
    }
    answer = { ok: true, value: backend.run(m.task, m.now) };
  } catch (e) {
    answer = e instanceof EsError ? { ok: false, status: e.status, type: e.type, reason: e.message, extra: e.extra } : { ok: false, status: 500, type: 'exception', reason: e instanceof Error ? e.message : String(e), extra: {} };
  }
  parentPort!.postMessage(answer);
});
