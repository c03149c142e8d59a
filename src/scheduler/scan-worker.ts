/**
 * The scheduler's scan thread: the scan half of each pass (see PassScan), over a read-only
 * connection of its own, so that reading, projecting and scanning stored events run beside the
 * thread that feeds matchers and answers HTTP. It hands on only the events some rule may take, in
 * batches (see ScanBatch), at most `AHEAD` batches ahead of the feed.
 */
import { parentPort } from 'node:worker_threads';
import { activeRule, PassScan, ScheduledRuleSet, type PassWindow } from '../detect/index.js';
import type { Rule } from '../rules/index.js';
import { openEventReader, type ArrivalQuery, type EventReader, type SeqRange } from '../store/index.js';
import { BATCH_BYTES, BATCH_EVENTS, CREDITS, STOP, type ScanBatch, type ToScanThread } from './scan-protocol.js';

let reader: EventReader | null = null;
let readerFile = '';
let rules: ScheduledRuleSet | null = null;

function run(windows: readonly PassWindow[], q: ArrivalQuery & { readonly seq: SeqRange }, size: number, part: number, parts: number, control: Int32Array): void {
  if (!rules) throw new Error('no rules were given to the scan thread');
  const scan = new PassScan(rules, windows);
  const names: string[] = [];
  const nameNo = new Map<string, number>();
  let meta = new Float64Array(BATCH_EVENTS * 16);
  let m = 0;
  let ids: string[] = [];
  let bytes = new Uint8Array(BATCH_BYTES * 2);
  let at = 0;
  let range = 0;
  const send = (last: boolean): boolean => {
    // wait for the feed to take a batch when it is `AHEAD` batches behind
    while (Atomics.load(control, CREDITS) <= 0 && Atomics.load(control, STOP) === 0) Atomics.wait(control, CREDITS, 0, 500);
    if (Atomics.load(control, STOP) !== 0) return false;
    Atomics.sub(control, CREDITS, 1);
    // the batch's buffer is moved to the feed's thread, not copied
    const batch: ScanBatch = { type: 'batch', range, last, names: names.slice(), meta: meta.subarray(0, m), ids, bytes: bytes.subarray(0, at) };
    parentPort!.postMessage(batch, [meta.buffer, bytes.buffer]);
    meta = new Float64Array(BATCH_EVENTS * 16);
    m = 0;
    ids = [];
    bytes = new Uint8Array(BATCH_BYTES * 2);
    at = 0;
    return true;
  };
  let rows = 0;
  for (range = part; q.seq.after + range * size < q.seq.upTo; range += parts) {
    const after = q.seq.after + range * size;
    for (const e of reader!.scanArrivals({ ...q, seq: { after, upTo: Math.min(after + size, q.seq.upTo) } })) {
      if ((++rows & 4095) === 0 && Atomics.load(control, STOP) !== 0) return void parentPort!.postMessage({ type: 'stopped' });
      if (!scan.scan(e.index, e.ts, e.ingested ?? null, e.json)) continue;
      let n = nameNo.get(e.index);
      if (n === undefined) {
        nameNo.set(e.index, (n = names.length));
        names.push(e.index);
      }
      const size = scan.size;
      if (at + size > bytes.length) {
        const bigger = new Uint8Array(Math.max(bytes.length * 2, at + size));
        bigger.set(bytes.subarray(0, at));
        bytes = bigger;
      }
      bytes.set(scan.bytes, at);
      const hits = scan.hits;
      const codes = scan.codes;
      if (m + 8 + hits.length + codes.length > meta.length) {
        const bigger = new Float64Array(Math.max(meta.length * 2, m + 8 + hits.length + codes.length));
        bigger.set(meta.subarray(0, m));
        meta = bigger;
      }
      meta[m] = n;
      meta[m + 1] = e.version;
      meta[m + 2] = e.ts ?? NaN;
      meta[m + 3] = e.ingested ?? NaN;
      meta[m + 4] = at;
      meta[m + 5] = at + size;
      meta[m + 6] = hits.length;
      meta[m + 7] = codes.length;
      m += 8;
      for (const h of hits) meta[m++] = h;
      for (const c of codes) meta[m++] = c;
      ids.push(e.id);
      at += size;
      if ((ids.length >= BATCH_EVENTS || at >= BATCH_BYTES) && !send(false)) return void parentPort!.postMessage({ type: 'stopped' });
    }
    // every range ends with a batch, empty or not, so that the feed knows to go on to the next
    if (!send(true)) return void parentPort!.postMessage({ type: 'stopped' });
  }
  parentPort!.postMessage({ type: 'done', summary: scan.summary() });
}

parentPort!.on('message', (m: ToScanThread) => {
  try {
    if (m.type === 'rules') {
      rules = new ScheduledRuleSet(m.rules.map((r) => activeRule(r.rule as Rule, r.enabled, r.streaming)));
      parentPort!.postMessage({ type: 'ready' });
    } else if (m.type === 'pass') {
      if (!reader || readerFile !== m.file) {
        reader?.close();
        reader = openEventReader(m.file);
        readerFile = m.file;
      }
      run(m.windows, m.query, m.range, m.part, m.parts, new Int32Array(m.control));
    }
  } catch (e) {
    parentPort!.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});
