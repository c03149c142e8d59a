/**
 * A hunt worker thread: every rule, over the chunks of input it is handed. It answers each with the
 * alerts of event queries, the events stateful rules take (for the main thread to feed in order),
 * the number of events and the bad lines.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RuleIndex } from '../engine/index.js';
import type { HuntChunk } from './hunt-input.js';
import { compileCheckedRules, HuntScanner, type HuntWorkerReply, type HuntWorkerSetup } from './hunt.js';

const setup = workerData as HuntWorkerSetup;
const scanner = new HuntScanner(new RuleIndex(compileCheckedRules(setup.rules), { indexed: setup.indexed, judge: setup.verdicts }), setup.index ?? 'hunt', setup.now, setup.window);

parentPort!.on('message', (m: { id: number; chunk: HuntChunk }) => {
  try {
    const result = scanner.chunk(m.chunk);
    // the bytes go back without a copy: candidates may point into them, and the buffer is read into again
    const transfer: ArrayBuffer[] = [];
    if (result.bytes) transfer.push(result.bytes.buffer as ArrayBuffer);
    if (result.stateful.length) transfer.push(result.stateful.buffer as ArrayBuffer);
    if (result.times.length) transfer.push(result.times.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: m.id, result } satisfies HuntWorkerReply, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies HuntWorkerReply);
  }
});
