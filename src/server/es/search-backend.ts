import type { Documents } from '../../app/index.js';
import { eqlSearch } from './eql.js';
import { badRequest, EsError } from './errors.js';
import type { IndexCatalog } from './indices.js';
import { SearchService, type DocSource } from './search.js';

type Params = Readonly<Record<string, string | undefined>>;

/**
 * One search request as the search threads take it: plain data (it crosses threads), the body as
 * the text that came (parsed where the search runs: a body nested 20,000 deep would overflow the
 * stack of the copy between threads), answered by SearchBackend.run.
 */
export interface SearchTask {
  readonly op: 'search' | 'count' | 'scroll' | 'clearScroll' | 'openPit' | 'closePit' | 'msearch' | 'eql';
  /** the path's index expression, if any */
  readonly index: string | null;
  readonly body: string;
  readonly params: Params;
}

/**
 * Whether the task reads or makes state kept between requests (scroll contexts, points in time):
 * such tasks all go to one thread, the one that keeps that state. (A body that only mentions
 * "pit" goes there too; that costs nothing but a turn.)
 */
export function isStateful(t: SearchTask): boolean {
  if (t.op === 'scroll' || t.op === 'clearScroll' || t.op === 'openPit' || t.op === 'closePit') return true;
  if (t.op === 'search') return t.params.scroll !== undefined || /"pit"\s*:/.test(t.body);
  return false;
}

/** A request body's JSON (undefined when empty), or the 400 Elasticsearch answers. */
export function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest('x_content_parse_exception', `Failed to parse request body: ${(e as Error).message}`);
  }
}

/** The stored documents as `_search` reads them. */
export function docSource(documents: Documents, catalog: IndexCatalog, now: () => number): DocSource {
  return {
    now,
    typeOf: catalog.typeOf,
    resolve: (expr, o) => catalog.resolve(expr, o),
    *scanRaw(indices, b) {
      if (indices.length === 0) return;
      for (const e of documents.scan(indices, b)) yield { index: e.index, id: e.id, seq: e.seq, version: e.version, json: e.json };
    },
    *scan(indices, b) {
      for (const r of this.scanRaw!(indices, b)) yield { index: r.index, id: r.id, seq: r.seq, version: r.version, source: JSON.parse(r.json) as Record<string, unknown> };
    },
    get(index, id) {
      const e = documents.get(index, id);
      return e ? { index, id, seq: e.seq, version: e.version, source: JSON.parse(e.json) as Record<string, unknown> } : null;
    },
    maxSeq: () => documents.lastSeq(),
  };
}

/**
 * The read side of the search APIs (`_search`, `_count`, `_msearch`, scroll, point in time,
 * `_eql/search`) over one connection's view of the store: the same code answers on the server's
 * thread (a store in memory) and on the search threads.
 */
export class SearchBackend {
  private now = 0;
  private readonly service: SearchService;

  constructor(
    private readonly documents: Documents,
    private readonly catalog: IndexCatalog,
  ) {
    this.service = new SearchService(docSource(documents, catalog, () => this.now));
  }

  run(task: SearchTask, now: number): Record<string, unknown> {
    this.now = now;
    const s = this.service;
    const p = task.params;
    switch (task.op) {
      case 'search':
        return s.search(task.index, parseBody(task.body), p);
      case 'count':
        return s.count(task.index ?? '_all', parseBody(task.body), p);
      case 'scroll':
        return s.scroll(parseBody(task.body), p);
      case 'clearScroll':
        return s.clearScroll(parseBody(task.body), p);
      case 'openPit':
        return s.openPit(task.index ?? '', p);
      case 'closePit':
        return s.closePit(parseBody(task.body));
      case 'msearch':
        return this.msearch(task.index, task.body.split('\n').filter((l) => l.trim() !== ''));
      case 'eql':
        return eqlSearch(this.documents, this.catalog, task.index ?? '', parseBody(task.body), now);
    }
  }

  private msearch(index: string | null, lines: readonly string[]): Record<string, unknown> {
    const t0 = performance.now();
    if (lines.length === 0) throw badRequest('action_request_validation_exception', 'Validation Failed: 1: no requests added;');
    const responses: unknown[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      try {
        const head = JSON.parse(lines[i]!) as { index?: string | string[] };
        const body = lines[i + 1] !== undefined ? (JSON.parse(lines[i + 1]!) as unknown) : {};
        const idx = head.index ?? index;
        responses.push({ ...this.service.search(Array.isArray(idx) ? idx.join(',') : idx, body, {}), status: 200 });
      } catch (e) {
        if (e instanceof EsError) responses.push({ ...e.body() });
        else responses.push(badRequest('x_content_parse_exception', (e as Error).message).body());
      }
    }
    return { took: Math.round(performance.now() - t0), responses };
  }
}
