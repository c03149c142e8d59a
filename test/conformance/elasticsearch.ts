/**
 * Elasticsearch's own EQL tables (../shared/conformance/elasticsearch), in Elasticsearch's dialect,
 * on data indexed the way Elasticsearch would index it with its `.mapping`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { compileQuery, IndexMapping, type EventHit, type QueryOptions, type SequenceHit } from '../../src/engine/index.js';
import { requireShared } from '../support/shared.js';
import { loadEndgameEvents, type CaseResult } from './endgame.js';

interface EsCase {
  readonly name: string;
  readonly query: string;
  readonly expected_event_ids: number[] | number[][];
  readonly join_keys?: unknown[];
  readonly size?: number;
}

const dir = (): string => requireShared('conformance/elasticsearch');

/** A `.data` file: a JSON array that may carry `//` comment lines. */
export function loadData(name: string): Record<string, unknown>[] {
  const text = readFileSync(join(dir(), 'data', `${name}.data`), 'utf8');
  const json = text
    .split('\n')
    .filter((l) => !l.trim().startsWith('//'))
    .join('\n');
  return JSON.parse(json) as Record<string, unknown>[];
}

export function loadMapping(name: string): IndexMapping {
  return IndexMapping.fromJson(JSON.parse(readFileSync(join(dir(), 'data', `${name}.mapping`), 'utf8')));
}

function flatten(hits: Array<EventHit | SequenceHit>): { ids: number[]; keys: string[] } {
  const ids: number[] = [];
  const keys: string[] = [];
  for (const h of hits) {
    if ('events' in h) {
      for (const e of h.events) ids.push(e.missing ? -1 : Number(e._id));
      for (const k of h.join_keys) keys.push(k === null ? 'null' : String(k));
    } else ids.push(Number((h as EventHit)._id));
  }
  return { ids, keys };
}

function runTable(file: string, events: Array<Record<string, unknown>>, options: QueryOptions): CaseResult[] {
  const table = parseToml(readFileSync(join(dir(), file), 'utf8')) as unknown as { queries: EsCase[] };
  return table.queries.map((q) => {
    const id = `${file}#${q.name}`;
    const compiled = compileQuery(q.query, { ...options, size: q.size });
    if (!compiled.ok) {
      return { id, pass: false, detail: `rejected: ${compiled.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}` };
    }
    const hits = compiled.query.run(events);
    const got = flatten([...(hits.events ?? []), ...(hits.sequences ?? [])]);
    const alternatives: number[][] = Array.isArray(q.expected_event_ids[0]) ? (q.expected_event_ids as number[][]) : [q.expected_event_ids as number[]];
    const idsOk = alternatives.some((a) => JSON.stringify(a) === JSON.stringify(got.ids));
    const keysWant = q.join_keys?.map((k) => String(k));
    const keysOk = keysWant === undefined || JSON.stringify(keysWant) === JSON.stringify(got.keys);
    const pass = idsOk && keysOk;
    return {
      id,
      pass,
      detail: pass ? '' : `want ${JSON.stringify(q.expected_event_ids)}${keysWant ? ` keys ${JSON.stringify(keysWant)}` : ''} got ${JSON.stringify(got.ids)} keys ${JSON.stringify(got.keys)}: ${q.query.trim()}`,
    };
  });
}

const FILETIME_EPOCH = 116444736000000000;

/** additional_test_queries.toml on the endgame corpus: id serial_event_id, category event_type. */
export function runAdditionalQueries(): CaseResult[] {
  return runTable('additional_test_queries.toml', loadEndgameEvents(), {
    timestampField: 'timestamp',
    parseTimestamp: (v) => (typeof v === 'number' ? (v - FILETIME_EPOCH) / 10_000 : NaN),
    eventCategoryField: 'event_type',
    tiebreakerField: 'serial_event_id',
    idField: 'serial_event_id',
  });
}

/** test_missing_events.toml: id and tiebreaker `sequence`, category through the alias. */
export function runMissingEvents(): CaseResult[] {
  const index = 'missing-events';
  return runTable(
    'test_missing_events.toml',
    loadData(index).map((e) => ({ _index: index, _source: e })),
    { mappings: new Map([[index, loadMapping(index)]]), tiebreakerField: 'event.sequence', idField: 'sequence' },
  );
}

/** test_sample.toml: the three sample indices searched together; id `id`. */
export function runSamples(): CaseResult[] {
  const names = ['sample1', 'sample2', 'sample3'];
  const events = names.flatMap((n) => loadData(n).map((e) => ({ _index: n, _source: e })));
  return runTable('test_sample.toml', events, { mappings: new Map(names.map((n) => [n, loadMapping(n)])), idField: 'id' });
}
