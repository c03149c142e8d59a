import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { eventDocument, formatDiagnostics } from '../core/index.js';
import { compileQuery, type EventHit, type SequenceHit } from '../engine/index.js';
import type { Dialect } from '../eql/index.js';
import type { Io } from './program.js';

export interface QueryOpts {
  readonly format: string;
  readonly dialect: string;
  readonly timestampField: string;
  readonly eventCategoryField: string;
  readonly tiebreakerField?: string;
  readonly size?: string;
}

/** Exit codes: 0 done, 1 the query is invalid, 2 usage or unreadable file, 3 some input lines were bad. */
export async function runQuery(io: Io, text: string, files: string[], opts: QueryOpts, stdin: Readable): Promise<number> {
  if (opts.format !== 'json' && opts.format !== 'table') {
    io.err(`vigil query: unknown format '${opts.format}' (json or table)\n`);
    return 2;
  }
  const compiled = compileQuery(text, {
    dialect: opts.dialect as Dialect,
    timestampField: opts.timestampField,
    eventCategoryField: opts.eventCategoryField,
    tiebreakerField: opts.tiebreakerField,
    size: opts.size === undefined ? undefined : Number(opts.size),
  });
  if (!compiled.ok) {
    io.err(`${formatDiagnostics(compiled.diagnostics, text, { file: '<query>' })}\n`);
    return 1;
  }
  const q = compiled.query;
  const limit = opts.size === undefined ? Infinity : Number(opts.size);
  // event queries without pipes stream; anything that needs order or all results runs as a batch
  const streaming = q.kind === 'event' && q.ast.pipes.length === 0;
  const matcher = q.createMatcher({ lateness: streaming ? 0 : Infinity });
  let printed = 0;
  const table = opts.format === 'table';
  if (table) io.out(`${tableHeader(q.kind === 'event')}\n`);
  const print = (hits: Array<EventHit | SequenceHit>): void => {
    for (const h of hits) {
      if (printed >= limit) return;
      printed++;
      io.out(`${table ? tableRow(h) : JSON.stringify(h)}\n`);
    }
  };
  let bad = 0;
  const inputs = files.length === 0 ? ['-'] : files;
  for (const file of inputs) {
    let stream: Readable;
    if (file === '-') stream = stdin;
    else {
      stream = createReadStream(file);
      const opened = await new Promise<Error | null>((resolve) => {
        stream.once('open', () => resolve(null));
        stream.once('error', (e) => resolve(e));
      });
      if (opened) {
        io.err(`vigil query: cannot read ${file}: ${opened.message}\n`);
        return 2;
      }
    }
    const name = file === '-' ? '<stdin>' : file;
    let line = 0;
    for await (const read of createInterface({ input: stream, crlfDelay: Infinity })) {
      line++;
      // a byte order mark (as Windows tools write) opens the file, not the first event
      const raw = line === 1 && read.charCodeAt(0) === 0xfeff ? read.slice(1) : read;
      if (raw.trim() === '') continue;
      let doc: unknown;
      try {
        doc = JSON.parse(raw);
      } catch (e) {
        bad++;
        io.err(`${name}:${line}: bad JSON, line skipped: ${(e as Error).message}\n`);
        continue;
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        bad++;
        io.err(`${name}:${line}: not a JSON object, line skipped\n`);
        continue;
      }
      // the hit's _id says where the event came from; a line that is an Elasticsearch hit holds its document
      print(matcher.push({ _index: '', _id: `${name}:${line}`, _source: eventDocument(doc as Record<string, unknown>) }));
    }
  }
  print(matcher.flush());
  if (bad > 0) io.err(`${bad} bad line${bad === 1 ? '' : 's'} skipped\n`);
  return bad > 0 ? 3 : 0;
}

const COLUMNS = ['@timestamp', 'event.category', 'host.name', 'user.name', 'process.name'];

function get(o: unknown, path: string): string {
  let cur: unknown = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    const rec = cur as Record<string, unknown>;
    cur = p in rec ? rec[p] : rec[path];
  }
  if (cur === undefined || cur === null) return '';
  return Array.isArray(cur) ? cur.join(',') : typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

function tableHeader(events: boolean): string {
  return events ? ['_id', ...COLUMNS].join('\t') : ['join_keys', 'events'].join('\t');
}

function tableRow(h: EventHit | SequenceHit): string {
  if ('events' in h) return [JSON.stringify(h.join_keys), h.events.map((e) => (e.missing ? '(missing)' : e._id)).join(' → ')].join('\t');
  return [h._id, ...COLUMNS.map((c) => get(h._source, c))].join('\t');
}
