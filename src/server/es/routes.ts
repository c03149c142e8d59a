import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IngestItem, Vigil } from '../../app/index.js';
import { parseJsonObject } from '../../core/index.js';
import { compileWildcard } from '../../ecs/index.js';
import type { EventWriteResult } from '../../store/index.js';
import { idLengthProblem, indexNameProblem, parseBulk, type BulkItem } from './bulk.js';
import { badRequest, EsError, indexNotFound } from './errors.js';
import { filterPath } from './filter-path.js';
import { IndexCatalog, mappingDefinitionProblem, mappingProblem, resolveDateMath, templateProblem } from './indices.js';
import { parseBody, SearchBackend, type SearchTask } from './search-backend.js';
import { SearchThreads, type SearchThreadStats } from './search-threads.js';

/**
 * Elasticsearch's REST API as shippers, clients and tools use it: cluster info, indices, mappings,
 * templates, aliases, data streams, `_bulk` (index, create, update, delete), documents, `_search`,
 * `_count`, `_msearch`, scroll, point in time and `_eql/search`. Vigil's service does the work; this
 * module only speaks the protocol.
 */
export const ES_VERSION = '8.17.0';
const shards = { total: 1, successful: 1, failed: 0 };

type Params = Record<string, string | undefined>;

function bodyOf(req: FastifyRequest): unknown {
  return parseBody(typeof req.body === 'string' ? req.body : '');
}

const params = (req: FastifyRequest): Params => req.query as Params;

/** Answers a handler's value, or its EsError as Elasticsearch shapes errors. */
function handle(fn: (req: FastifyRequest, reply: FastifyReply) => unknown): (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  return async (req, reply) => {
    try {
      return await fn(req, reply);
    } catch (e) {
      if (e instanceof EsError) return reply.code(e.status).send(e.body());
      throw e;
    }
  };
}

/** `filter_path` and `pretty` on every Elasticsearch answer (registered before compression). */
export function registerEsHooks(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const q = req.query as Params | undefined;
    if (!q || (q.filter_path === undefined && q.pretty === undefined) || req.url.startsWith('/api/') || req.url.startsWith('/ui')) return payload;
    if (typeof payload !== 'string' || !/json/.test(String(reply.getHeader('content-type') ?? ''))) return payload;
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return payload;
    }
    if (q.filter_path) body = filterPath(body, q.filter_path);
    return q.pretty !== undefined && q.pretty !== 'false' ? `${JSON.stringify(body, null, 2)}\n` : JSON.stringify(body);
  });
}

function deepMerge(into: Record<string, unknown>, add: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...into };
  for (const [k, v] of Object.entries(add)) {
    const old = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && old && typeof old === 'object' && !Array.isArray(old) ? deepMerge(old as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const METADATA_FIELDS = new Set(['_id', '_index', '_source', '_routing', '_seq_no', '_primary_term', '_version', '_field_names', '_ignored', '_tier', '_data_stream_timestamp', '_feature', '_nested_path']);

interface WriteInfo {
  readonly target: string;
  readonly dataStream: boolean;
  readonly types: ReadonlyMap<string, string> | null;
}

export interface EsOptions {
  /**
   * Bytes of writes in flight (Elasticsearch's indexing_pressure.memory.limit, 10% of the heap by
   * default); each item also counts ITEM_WEIGHT bytes, what Vigil holds per item besides its text.
   * A write that would go past it is answered 429 es_rejected_execution_exception.
   */
  readonly indexingPressureBytes?: number;
  /** Threads searches run on (see SearchThreads; default 2). */
  readonly searchThreads?: number;
  /** How long one search may run, ms (default 60 s). */
  readonly searchBudgetMs?: number;
  /** Heap one search thread may hold, MiB. */
  readonly searchHeapMb?: number;
  /** Where `_bulk` and document writes (index, create) go instead of this node's service (cluster mode). */
  readonly ingest?: (items: readonly IngestItem[]) => Promise<EventWriteResult[]>;
}

/** What one bulk item costs in memory besides its text (parsed action, answer, index entry). */
export const ITEM_WEIGHT = 512;

/** What the Elasticsearch API reports of itself for the health page. */
export interface EsStatus {
  /** The search threads' counts (null: searches run on the server's thread, a store in memory). */
  search(): SearchThreadStats | null;
}

export function registerEs(app: FastifyInstance, vigil: Vigil, options: EsOptions = {}): EsStatus {
  const pressureLimit = options.indexingPressureBytes ?? Math.floor(getHeapStatistics().heap_size_limit * 0.1);
  let inFlight = 0;
  /** Runs a write holding its weight against the indexing pressure limit. */
  const underPressure = async <T>(weight: number, write: () => Promise<T>): Promise<T> => {
    if (inFlight + weight > pressureLimit) {
      throw new EsError(429, 'es_rejected_execution_exception', `rejected execution of coordinating operation [coordinating_and_primary_bytes=${inFlight}, replica_bytes=0, all_bytes=${inFlight}, coordinating_operation_bytes=${weight}, max_coordinating_and_primary_bytes=${pressureLimit}]`);
    }
    inFlight += weight;
    try {
      return await write();
    } finally {
      inFlight -= weight;
    }
  };
  // where index/create writes go: the service here, or (cluster mode) the cluster's event log
  const ingest = options.ingest ?? ((items: readonly IngestItem[]) => vigil.ingest(items));
  const catalog = new IndexCatalog(vigil.documents);
  // searches run on threads of their own over a store in a file; a store in memory is searched here
  const file = vigil.store.events.readerFile();
  const threads = file === null ? null : new SearchThreads({ file, threads: options.searchThreads, budgetMs: options.searchBudgetMs, heapMb: options.searchHeapMb });
  const inline = threads ? null : new SearchBackend(vigil.documents, catalog);
  if (threads) app.addHook('onClose', async () => threads.close());
  /** A search route: its task answered on a search thread (stopped when the client leaves), or here. */
  const searching = (make: (req: FastifyRequest) => SearchTask) =>
    handle(async (req, reply) => {
      const task = make(req);
      if (!threads) return inline!.run(task, vigil.clock.now());
      const left = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) left.abort();
      };
      reply.raw.once('close', onClose);
      try {
        return await threads.run(task, vigil.clock.now(), catalog.changes(), left.signal);
      } finally {
        reply.raw.off('close', onClose);
      }
    });

  // ---- cluster --------------------------------------------------------------------------------
  const info = {
    name: 'vigil',
    cluster_name: 'vigil',
    cluster_uuid: 'vigil-embedded',
    version: { number: ES_VERSION, build_flavor: 'default', build_type: 'vigil', build_hash: 'vigil', build_date: '2026-01-01T00:00:00.000Z', build_snapshot: false, lucene_version: '9.12.0', minimum_wire_compatibility_version: '7.17.0', minimum_index_compatibility_version: '7.0.0' },
    tagline: 'You Know, for Search',
  };
  // a browser asking for the root gets the UI; clients (which ask for JSON) get the cluster info
  app.get('/', async (req, reply) => (/text\/html/.test(String(req.headers.accept ?? '')) ? reply.redirect('/ui/') : info));
  app.head('/', async (_req, reply) => reply.code(200).send());
  const license = { license: { status: 'active', uid: 'vigil', type: 'basic', issue_date: '2026-01-01T00:00:00.000Z', issue_date_in_millis: 1767225600000, max_nodes: 1000, issued_to: 'vigil', issuer: 'vigil', start_date_in_millis: -1 } };
  app.get('/_license', async () => license);
  const feature = { available: true, enabled: true };
  app.get('/_xpack', async () => ({ build: { hash: 'vigil', date: '2026-01-01T00:00:00.000Z' }, license: { uid: 'vigil', type: 'basic', mode: 'basic', status: 'active' }, features: { eql: feature, ilm: feature, data_streams: feature, security: { available: true, enabled: false }, ml: { available: false, enabled: false } } }));
  app.get('/_cluster/health', async () => ({ cluster_name: 'vigil', status: 'green', timed_out: false, number_of_nodes: 1, number_of_data_nodes: 1, active_primary_shards: 1, active_shards: 1, relocating_shards: 0, initializing_shards: 0, unassigned_shards: 0, delayed_unassigned_shards: 0, number_of_pending_tasks: 0, number_of_in_flight_fetch: 0, task_max_waiting_in_queue_millis: 0, active_shards_percent_as_number: 100 }));
  app.get('/_nodes', async () => ({ _nodes: { total: 1, successful: 1, failed: 0 }, cluster_name: 'vigil', nodes: { vigil: { name: 'vigil', version: ES_VERSION, roles: ['data', 'ingest', 'master'], http: { publish_address: 'localhost' } } } }));
  app.get('/_nodes/*', async () => ({ _nodes: { total: 1, successful: 1, failed: 0 }, cluster_name: 'vigil', nodes: { vigil: { name: 'vigil', version: ES_VERSION, roles: ['data', 'ingest', 'master'], http: { publish_address: 'localhost' } } } }));
  app.put('/_cluster/settings', async () => ({ acknowledged: true, persistent: {}, transient: {} }));
  app.get('/_cluster/settings', async () => ({ persistent: {}, transient: {} }));

  const cat = handle((req, reply) => {
    const q = params(req);
    const expr = (req.params as { index?: string }).index;
    const names = expr ? catalog.resolve(expr, { ignoreUnavailable: false, allowNoIndices: true }) : null;
    const rows = vigil.documents.indices().filter((r) => (names ? names.includes(r.name) : !r.name.startsWith('.') || q.expand_wildcards === 'all'));
    const all = rows.map((r) => ({ health: 'green', status: 'open', index: r.name, uuid: r.name, pri: '1', rep: '0', 'docs.count': String(r.docs), 'docs.deleted': '0' }));
    const cols = q.h ? q.h.split(',') : ['health', 'status', 'index', 'uuid', 'pri', 'rep', 'docs.count', 'docs.deleted'];
    if (q.s) {
      const [col, dir] = q.s.split(':');
      all.sort((a, b) => {
        const x = (a as Record<string, string>)[col!] ?? '';
        const y = (b as Record<string, string>)[col!] ?? '';
        const c = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
        return dir === 'desc' ? -c : c;
      });
    }
    const pick = all.map((r) => Object.fromEntries(cols.map((c) => [c, (r as Record<string, string>)[c] ?? ''])));
    if (q.format === 'json') return pick;
    const table = [...(q.v !== undefined ? [cols] : []), ...pick.map((r) => cols.map((c) => r[c]!))];
    const widths = cols.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    return reply.type('text/plain; charset=UTF-8').send(table.map((row) => `${row.map((v, i) => v.padEnd(widths[i]!)).join(' ').trimEnd()}\n`).join(''));
  });
  app.get('/_cat/indices', cat);
  app.get('/_cat/indices/:index', cat);

  // ---- templates, policies, pipelines, data streams --------------------------------------------
  const missing: Record<string, (n: string) => EsError | null> = {
    _template: () => null,
    _index_template: (n) => new EsError(404, 'resource_not_found_exception', `index template matching [${n}] not found`),
    _component_template: (n) => new EsError(404, 'resource_not_found_exception', `component template matching [${n}] not found`),
    '_ilm/policy': (n) => new EsError(404, 'resource_not_found_exception', `Lifecycle policy not found: ${n}`),
    '_ingest/pipeline': () => null,
  };
  const shapeOf = (kind: string, found: Array<{ name: string; body: Record<string, unknown> }>): unknown => {
    switch (kind) {
      case '_index_template':
        return { index_templates: found.map((f) => ({ name: f.name, index_template: f.body })) };
      case '_component_template':
        return { component_templates: found.map((f) => ({ name: f.name, component_template: f.body })) };
      case '_ilm/policy':
        return Object.fromEntries(found.map((f) => [f.name, { version: 1, modified_date: '2026-01-01T00:00:00.000Z', policy: (f.body.policy as unknown) ?? f.body }]));
      default:
        return Object.fromEntries(found.map((f) => [f.name, f.body]));
    }
  };
  for (const kind of Object.keys(missing)) {
    const put = handle((req) => {
      const body = bodyOf(req);
      const name = (req.params as { name: string }).name;
      if (kind === '_index_template' || kind === '_template' || kind === '_component_template') {
        const problem = templateProblem(kind, body ?? {});
        if (problem) throw problem;
      }
      if (kind === '_index_template' || kind === '_template') {
        const patterns = (body as { index_patterns?: unknown; template?: unknown } | undefined)?.index_patterns ?? (kind === '_template' ? (body as { template?: unknown } | undefined)?.template : undefined);
        if (patterns === undefined) throw badRequest('action_request_validation_exception', 'Validation Failed: 1: index patterns are missing;');
        if ((req.query as Params).create === 'true' && catalog.get(kind, name)) throw badRequest('illegal_argument_exception', `index template [${name}] already exists`);
      }
      catalog.put(kind, name, body ?? {});
      return { acknowledged: true };
    });
    app.put(`/${kind}/:name`, put);
    app.post(`/${kind}/:name`, put);
    const get = handle((req, reply) => {
      const pattern = (req.params as { name?: string }).name ?? '*';
      const found = pattern
        .split(',')
        .flatMap((p) => (p.includes('*') ? catalog.names(kind, p) : catalog.get(kind, p) ? [p] : []))
        .map((name) => ({ name, body: catalog.get(kind, name)! }));
      if (found.length === 0 && !pattern.includes('*')) {
        const err = missing[kind]!(pattern);
        return err ? reply.code(404).send(err.body()) : reply.code(404).send({});
      }
      return shapeOf(kind, found);
    });
    app.get(`/${kind}`, get);
    app.get(`/${kind}/:name`, get);
    app.head(`/${kind}/:name`, async (req, reply) => {
      const p = (req.params as { name: string }).name;
      const ok = p.includes('*') ? catalog.names(kind, p).length > 0 : catalog.get(kind, p) !== null;
      return reply.code(ok ? 200 : 404).send();
    });
    app.delete(
      `/${kind}/:name`,
      handle((req) => {
        const name = (req.params as { name: string }).name;
        if (!catalog.remove(kind, name)) throw missing[kind]!(name) ?? new EsError(404, 'resource_not_found_exception', `${kind.slice(1)} [${name}] missing`);
        return { acknowledged: true };
      }),
    );
  }
  app.get('/_ilm/status', async () => ({ operation_mode: 'RUNNING' }));
  app.put(
    '/_data_stream/:name',
    handle((req) => {
      const name = (req.params as { name: string }).name;
      const bad = indexNameProblem(name);
      if (bad) throw badRequest('invalid_index_name_exception', `Invalid index name [${name}], ${bad}`);
      if (catalog.get('_data_stream', name)) throw badRequest('resource_already_exists_exception', `data_stream [${name}] already exists`);
      catalog.put('_data_stream', name, {});
      return { acknowledged: true };
    }),
  );
  const dataStreams = handle((req) => {
    const p = (req.params as { name?: string }).name ?? '*';
    const names = new Set([...catalog.names('_data_stream', p), ...vigil.documents.resolve([p]).filter((n) => catalog.isDataStream(n))]);
    if (names.size === 0 && !p.includes('*')) throw indexNotFound(p);
    return { data_streams: [...names].sort().map((name) => ({ name, timestamp_field: { name: '@timestamp' }, indices: [{ index_name: `.ds-${name}-000001`, index_uuid: name }], generation: 1, status: 'GREEN', template: '', hidden: false, system: false })) };
  });
  app.get('/_data_stream', dataStreams);
  app.get('/_data_stream/:name', dataStreams);
  app.delete(
    '/_data_stream/:name',
    handle((req) => {
      const name = (req.params as { name: string }).name;
      const existed = catalog.remove('_data_stream', name);
      const dropped = vigil.documents.dropIndices(vigil.documents.resolve([name]));
      if (!existed && dropped === 0) throw indexNotFound(name);
      return { acknowledged: true };
    }),
  );

  const refresh = async (): Promise<unknown> => ({ _shards: shards });
  for (const path of ['/_refresh', '/:index/_refresh', '/_flush', '/:index/_flush']) {
    app.post(path, refresh);
    app.get(path, refresh);
  }

  // ---- indices --------------------------------------------------------------------------------
  const createIndex = handle((req) => {
    const index = resolveDateMath((req.params as { index: string }).index, vigil.clock.now());
    const bad = indexNameProblem(index);
    if (bad) throw badRequest('invalid_index_name_exception', `Invalid index name [${index}], ${bad}`);
    if (catalog.exists(index) || catalog.get('alias', index)) throw badRequest('resource_already_exists_exception', `index [${index}] already exists`);
    const body = (bodyOf(req) ?? {}) as { mappings?: unknown; settings?: unknown; aliases?: Record<string, Record<string, unknown>> };
    const mapped = mappingDefinitionProblem(body.mappings);
    if (mapped) throw mapped;
    catalog.put('index', index, { settings: body.settings ?? {} });
    if (body.mappings) catalog.put('mapping', index, { mappings: body.mappings });
    for (const [alias, opts] of Object.entries(body.aliases ?? {})) catalog.addAlias(index, alias, opts ?? {});
    return { acknowledged: true, shards_acknowledged: true, index };
  });
  app.put('/:index', createIndex);
  app.head('/:index', async (req, reply) => {
    const expr = resolveDateMath((req.params as { index: string }).index, vigil.clock.now());
    try {
      return reply.code(catalog.resolve(expr, { ignoreUnavailable: false, allowNoIndices: false }).length > 0 ? 200 : 404).send();
    } catch {
      return reply.code(404).send();
    }
  });
  const aliasesOf = (index: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [a, ts] of catalog.aliases()) for (const t of ts) if (t.index === index) out[a] = t.isWriteIndex ? { is_write_index: true } : {};
    return out;
  };
  app.get(
    '/:index',
    handle((req) => {
      const names = catalog.resolve((req.params as { index: string }).index, { ignoreUnavailable: false, allowNoIndices: true });
      return Object.fromEntries(names.map((n) => [n, { aliases: aliasesOf(n), mappings: catalog.mapping(n), settings: { index: { number_of_shards: '1', number_of_replicas: '0', provided_name: n, ...((catalog.get('index', n)?.settings as { index?: object } | undefined)?.index ?? {}) } } }]));
    }),
  );
  app.delete(
    '/:index',
    handle((req) => {
      const expr = (req.params as { index: string }).index;
      if (expr.includes('*') || expr === '_all') throw badRequest('illegal_argument_exception', 'Wildcard expressions or all indices are not allowed');
      const names = catalog.resolve(expr, { ignoreUnavailable: params(req).ignore_unavailable === 'true', allowNoIndices: true });
      vigil.documents.dropIndices(names);
      for (const n of names) {
        catalog.remove('index', n);
        catalog.remove('mapping', n);
        catalog.remove('_data_stream', n);
        for (const a of catalog.aliases().keys()) catalog.removeAlias(n, a);
      }
      return { acknowledged: true };
    }),
  );
  const getMapping = handle((req) => {
    const expr = (req.params as { index?: string }).index ?? '_all';
    const names = catalog.resolve(expr, { ignoreUnavailable: false, allowNoIndices: true });
    return Object.fromEntries(names.map((n) => [n, { mappings: catalog.mapping(n) }]));
  });
  app.get('/_mapping', getMapping);
  app.get('/:index/_mapping', getMapping);
  const putMapping = handle((req) => {
    const expr = (req.params as { index: string }).index;
    const body = bodyOf(req) ?? {};
    const mapped = mappingDefinitionProblem(body);
    if (mapped) throw mapped;
    const names = expr.includes('*') || expr.includes(',') ? catalog.resolve(expr, { ignoreUnavailable: false, allowNoIndices: true }) : [resolveDateMath(expr, vigil.clock.now())];
    for (const n of names) {
      if (!catalog.exists(n)) throw indexNotFound(n);
      catalog.mergeMapping(n, body);
    }
    return { acknowledged: true };
  });
  app.put('/:index/_mapping', putMapping);
  app.post('/:index/_mapping', putMapping);
  const settings = handle((req) => {
    const names = catalog.resolve((req.params as { index?: string }).index ?? '_all', { ignoreUnavailable: false, allowNoIndices: true });
    return Object.fromEntries(names.map((n) => [n, { settings: { index: { number_of_shards: '1', number_of_replicas: '0', provided_name: n } } }]));
  });
  app.get('/_settings', settings);
  app.get('/:index/_settings', settings);
  app.put('/:index/_settings', async () => ({ acknowledged: true }));

  // ---- aliases --------------------------------------------------------------------------------
  const putAlias = handle((req) => {
    const { index, name } = req.params as { index: string; name: string };
    const body = (bodyOf(req) ?? {}) as Record<string, unknown>;
    for (const n of catalog.resolve(index, { ignoreUnavailable: false, allowNoIndices: false })) catalog.addAlias(n, name, body);
    return { acknowledged: true, errors: false };
  });
  for (const seg of ['_alias', '_aliases']) {
    app.put(`/:index/${seg}/:name`, putAlias);
    app.post(`/:index/${seg}/:name`, putAlias);
    app.delete(
      `/:index/${seg}/:name`,
      handle((req) => {
        const { index, name } = req.params as { index: string; name: string };
        let any = false;
        for (const n of catalog.resolve(index, { ignoreUnavailable: false, allowNoIndices: false })) any = catalog.removeAlias(n, name) || any;
        if (!any) throw new EsError(404, 'aliases_not_found_exception', `aliases [${name}] missing`, { 'resource.type': 'aliases', 'resource.id': name });
        return { acknowledged: true, errors: false };
      }),
    );
  }
  app.post(
    '/_aliases',
    handle((req) => {
      const body = (bodyOf(req) ?? {}) as { actions?: unknown };
      if (!Array.isArray(body.actions)) throw badRequest('action_request_validation_exception', 'Validation Failed: 1: no action specified;');
      for (const a of body.actions as Array<Record<string, Record<string, unknown>>>) {
        const [op, spec] = Object.entries(a)[0] ?? [];
        if (!spec) continue;
        const indices = [spec.index ?? spec.indices ?? []].flat().map(String);
        const aliases = [spec.alias ?? spec.aliases ?? []].flat().map(String);
        for (const i of indices.flatMap((x) => catalog.resolve(x, { ignoreUnavailable: false, allowNoIndices: false }))) {
          for (const al of aliases) {
            if (op === 'add') catalog.addAlias(i, al, spec);
            else if (op === 'remove') catalog.removeAlias(i, al);
            else if (op === 'remove_index') vigil.documents.dropIndices([i]);
            else throw badRequest('illegal_argument_exception', `Unsupported action [${String(op)}]`);
          }
        }
      }
      return { acknowledged: true, errors: false };
    }),
  );
  const getAlias = handle((req, reply) => {
    const { index, name } = req.params as { index?: string; name?: string };
    const wanted = name ? name.split(',') : null;
    const wantedMatchers = wanted?.map((w) => compileWildcard(w, false)) ?? null;
    const match = (a: string): boolean => !wantedMatchers || wantedMatchers.some((m) => m(a));
    const limit = index ? new Set(catalog.resolve(index, { ignoreUnavailable: false, allowNoIndices: true })) : null;
    const out: Record<string, { aliases: Record<string, unknown> }> = {};
    for (const [a, ts] of catalog.aliases()) {
      if (!match(a)) continue;
      for (const t of ts) {
        if (limit && !limit.has(t.index)) continue;
        (out[t.index] ??= { aliases: {} }).aliases[a] = t.isWriteIndex ? { is_write_index: true } : {};
      }
    }
    if (limit && !wanted) for (const n of limit) out[n] ??= { aliases: {} };
    if (wanted && Object.keys(out).length === 0) return reply.code(404).send({ error: `alias [${name}] missing`, status: 404 });
    return out;
  });
  app.get('/_alias', getAlias);
  app.get('/_alias/:name', getAlias);
  app.get('/:index/_alias', getAlias);
  app.get('/:index/_alias/:name', getAlias);
  app.get('/_aliases', getAlias);
  const headAlias = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { index, name } = req.params as { index?: string; name: string };
    const ts = catalog.aliases().get(name);
    const ok = ts !== undefined && (!index || ts.some((t) => t.index === index));
    return reply.code(ok ? 200 : 404).send();
  };
  app.head('/_alias/:name', headAlias);
  app.head('/:index/_alias/:name', headAlias);

  // ---- writes -----------------------------------------------------------------------------------
  let infoVersion = -1;
  const infos = new Map<string, WriteInfo>();
  const writeInfo = (name: string): WriteInfo => {
    const v = catalog.changes();
    if (v !== infoVersion) {
      infos.clear();
      infoVersion = v;
    }
    let w = infos.get(name);
    if (!w) {
      const target = catalog.writeTarget(resolveDateMath(name, vigil.clock.now()));
      const types = catalog.types(target);
      const checked = [...types.values()].some((t) => !['keyword', 'text', 'match_only_text', 'wildcard', 'constant_keyword', 'object', 'flattened'].includes(t));
      w = { target, dataStream: catalog.isDataStream(target), types: checked ? types : null };
      if (infos.size < 1000) infos.set(name, w);
    }
    return w;
  };

  type Answer = { op: string; body: Record<string, unknown>; status: number };
  const failure = (op: string, index: string, id: string | null | undefined, e: { status: number; type: string; reason: string }): Answer => ({ op, status: e.status, body: { _index: index, _id: id ?? null, status: e.status, error: { type: e.type, reason: e.reason, index } } });
  const written = (op: string, r: EventWriteResult): Answer =>
    r.ok
      ? { op, status: r.created ? 201 : 200, body: { _index: r.index, _id: r.id, _version: r.version, result: r.created ? 'created' : 'updated', _shards: shards, _seq_no: r.seq, _primary_term: 1, status: r.created ? 201 : 200 } }
      : failure(op, r.index, r.id, r);

  /** Writes bulk items in order: runs of index/create go to the service as one batch; updates and deletes in between. */
  const writeItems = async (items: readonly BulkItem[]): Promise<Answer[]> => {
    const out: Answer[] = new Array<Answer>(items.length);
    let batch: Array<{ at: number; item: IngestItem; op: string; line: number }> = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const b = batch;
      batch = [];
      const results = await ingest(b.map((x) => x.item));
      results.forEach((r, k) => {
        const x = b[k]!;
        // the store found the document unreadable: say on which line of the body
        out[x.at] = written(x.op, !r.ok && r.type === 'document_parsing_exception' ? { ...r, reason: `[${x.line}:1] ${r.reason}` } : r);
      });
    };
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (!it.ok) {
        out[i] = failure(it.op, it.index, it.id, it);
        continue;
      }
      try {
        if (it.op === 'index' || it.op === 'create') {
          const w = writeInfo(it.index);
          if (w.dataStream && it.op === 'index') throw badRequest('illegal_argument_exception', `only write ops with an op_type of create are allowed in data streams`);
          let src = it.source;
          if (it.json.includes('"_')) {
            // Elasticsearch's metadata fields cannot be set inside a document
            if (!src) {
              const p = parseJsonObject(it.json);
              if (p.ok) src = p.value;
            }
            const meta = src ? Object.keys(src).find((k) => METADATA_FIELDS.has(k)) : undefined;
            if (meta) throw badRequest('document_parsing_exception', `[${it.line}:1] Field [${meta}] is a metadata field and cannot be added inside a document. Use the index API request parameters.`);
          }
          if (w.types) {
            if (!src) {
              const p = parseJsonObject(it.json);
              if (!p.ok) throw badRequest('document_parsing_exception', `[${it.line}:1] failed to parse: ${p.reason}`);
              src = p.value;
            }
            const problem = mappingProblem(w.types, src, it.id, vigil.clock.now());
            if (problem) throw new EsError(problem.status, problem.type, `[${it.line}:1] ${problem.message}`);
          }
          batch.push({ at: i, op: it.op, line: it.line, item: { op: it.op, index: w.target, id: it.id, source: src, times: it.times, json: it.json } });
          continue;
        }
        await flush();
        out[i] = it.op === 'delete' ? remove(it.index, it.id) : it.op === 'update' ? await update(it.index, it.id, it.body, it.line) : failure(it.op, it.index, null, { status: 400, type: 'illegal_argument_exception', reason: 'unknown operation' });
      } catch (e) {
        if (!(e instanceof EsError)) throw e;
        out[i] = failure(it.op, it.index, 'id' in it ? it.id : null, { status: e.status, type: e.type, reason: e.message });
      }
    }
    await flush();
    return out;
  };

  const remove = (index: string, id: string): Answer => {
    const target = writeInfo(index).target;
    const r = vigil.documents.remove(target, id);
    const seq = vigil.documents.lastSeq();
    if (!r) return { op: 'delete', status: 404, body: { _index: target, _id: id, _version: 1, result: 'not_found', _shards: shards, _seq_no: seq, _primary_term: 1, status: 404 } };
    return { op: 'delete', status: 200, body: { _index: target, _id: id, _version: r.version + 1, result: 'deleted', _shards: shards, _seq_no: r.seq, _primary_term: 1, status: 200 } };
  };

  const update = async (index: string, id: string, body: Readonly<Record<string, unknown>>, line: number): Promise<Answer> => {
    for (const k of Object.keys(body)) if (!['doc', 'doc_as_upsert', 'upsert', 'detect_noop', 'script', 'scripted_upsert', '_source'].includes(k)) throw badRequest('x_content_parse_exception', `[${line}:1] [UpdateRequest] unknown field [${k}]`);
    if (body.script !== undefined) throw badRequest('illegal_argument_exception', 'scripted updates are not supported by Vigil: send a partial document in [doc]');
    const w = writeInfo(index);
    const existing = vigil.documents.get(w.target, id);
    const doc = body.doc as Record<string, unknown> | undefined;
    let next: Record<string, unknown>;
    if (!existing) {
      if (body.doc_as_upsert === true && doc) next = doc;
      else if (body.upsert && typeof body.upsert === 'object') next = body.upsert as Record<string, unknown>;
      else throw new EsError(404, 'document_missing_exception', `[${id}]: document missing`, { index_uuid: w.target, shard: '0', index: w.target });
    } else {
      if (!doc || typeof doc !== 'object') throw badRequest('action_request_validation_exception', 'Validation Failed: 1: script or doc is missing;');
      const old = JSON.parse(existing.json) as Record<string, unknown>;
      next = deepMerge(old, doc);
      if (body.detect_noop !== false && JSON.stringify(next) === JSON.stringify(old))
        return { op: 'update', status: 200, body: { _index: w.target, _id: id, _version: existing.version, result: 'noop', _shards: { total: 0, successful: 0, failed: 0 }, _seq_no: existing.seq, _primary_term: 1, status: 200 } };
    }
    if (w.types) {
      const problem = mappingProblem(w.types, next, id, vigil.clock.now());
      if (problem) throw problem;
    }
    const [r] = await vigil.ingest([{ op: 'index', index: w.target, id, source: next, json: JSON.stringify(next) }]);
    return written('update', r!);
  };

  const bulkLine = (a: Answer): string => JSON.stringify({ [a.op]: a.body });
  /** A bulk item's answer as the single-document APIs give it: its error thrown, or its body without the item status. */
  const answerOne = (reply: FastifyReply, a: Answer): FastifyReply => {
    const err = a.body.error as { type: string; reason: string } | undefined;
    if (err) throw new EsError(a.status, err.type, err.reason);
    const body = { ...a.body };
    delete body.status;
    return reply.code(a.status).send(body);
  };
  const bulk = handle(async (req, reply) => {
    const t0 = performance.now();
    const text = typeof req.body === 'string' ? req.body : '';
    if (text.trim() === '') throw badRequest('parse_exception', 'request body is required');
    const index = (req.params as { index?: string }).index;
    let lines = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    const answers = await underPressure(text.length + Math.ceil((lines + 1) / 2) * ITEM_WEIGHT, () => writeItems(parseBulk(text, index, req.badUtf8Lines ?? undefined)));
    const errors = answers.some((a) => a.status >= 300 && !(a.op === 'delete' && a.status === 404));
    return reply.type('application/json').send(`{"took":${Math.round(performance.now() - t0)},"errors":${errors},"items":[${answers.map(bulkLine).join(',')}]}`);
  });
  app.post('/_bulk', bulk);
  app.put('/_bulk', bulk);
  app.post('/:index/_bulk', bulk);
  app.put('/:index/_bulk', bulk);

  const single = (op: 'index' | 'create') =>
    handle(async (req, reply) => {
      const { index, id } = req.params as { index: string; id?: string };
      const tooLong = id !== undefined ? idLengthProblem(id) : null;
      if (tooLong) throw badRequest('action_request_validation_exception', tooLong);
      const name = resolveDateMath(index, vigil.clock.now());
      const bad = indexNameProblem(name);
      if (bad) throw badRequest('invalid_index_name_exception', `Invalid index name [${name}], ${bad}`);
      const text = typeof req.body === 'string' ? req.body : '';
      const doc = parseJsonObject(text);
      if (!doc.ok) throw badRequest('document_parsing_exception', `[1:1] failed to parse: ${doc.reason}`);
      const opType = op === 'create' || params(req).op_type === 'create' ? 'create' : 'index';
      const [a] = await underPressure(text.length + ITEM_WEIGHT, () => writeItems([{ ok: true, op: opType, index: name, id, source: doc.value, json: text.includes('\n') ? JSON.stringify(doc.value) : text.trim(), line: 1 }]));
      return answerOne(reply, a!);
    });
  app.post('/:index/_doc', single('index'));
  app.post('/:index/_doc/:id', single('index'));
  app.put('/:index/_doc/:id', single('index'));
  app.put('/:index/_create/:id', single('create'));
  app.post('/:index/_create/:id', single('create'));
  app.post(
    '/:index/_update/:id',
    handle(async (req, reply) => {
      const { index, id } = req.params as { index: string; id: string };
      const body = bodyOf(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('action_request_validation_exception', 'Validation Failed: 1: script or doc is missing;');
      return answerOne(reply, await update(index, id, body as Record<string, unknown>, 1));
    }),
  );
  app.delete(
    '/:index/_doc/:id',
    handle((req, reply) => {
      const { index, id } = req.params as { index: string; id: string };
      return answerOne(reply, remove(index, id));
    }),
  );
  const getDoc = (sourceOnly: boolean) =>
    handle((req, reply) => {
      const { index, id } = req.params as { index: string; id: string };
      let target: string;
      try {
        target = writeInfo(index).target;
      } catch {
        target = index;
      }
      const e = vigil.documents.get(target, id);
      if (!e) {
        if (!catalog.exists(target)) throw indexNotFound(target);
        return reply.code(404).send(sourceOnly ? { error: { type: 'resource_not_found_exception', reason: `Document not found [${target}]/[${id}]` }, status: 404 } : { _index: target, _id: id, found: false });
      }
      const src = JSON.parse(e.json) as Record<string, unknown>;
      return sourceOnly ? src : { _index: target, _id: id, _version: e.version, _seq_no: e.seq, _primary_term: 1, found: true, _source: src };
    });
  app.get('/:index/_doc/:id', getDoc(false));
  app.get('/:index/_source/:id', getDoc(true));
  app.head('/:index/_doc/:id', async (req, reply) => {
    const { index, id } = req.params as { index: string; id: string };
    return reply.code(vigil.documents.get(index, id) ? 200 : 404).send();
  });
  app.post(
    '/_mget',
    handle((req) => mget(undefined, bodyOf(req))),
  );
  app.post(
    '/:index/_mget',
    handle((req) => mget((req.params as { index: string }).index, bodyOf(req))),
  );
  const mget = (index: string | undefined, body: unknown): unknown => {
    const b = (body ?? {}) as { docs?: Array<{ _index?: string; _id?: string }>; ids?: string[] };
    const wanted = b.docs ?? (b.ids ?? []).map((id) => ({ _index: index, _id: id }));
    return {
      docs: wanted.map((d) => {
        const ix = d._index ?? index ?? '';
        const e = vigil.documents.get(ix, String(d._id));
        return e ? { _index: ix, _id: d._id, _version: e.version, _seq_no: e.seq, _primary_term: 1, found: true, _source: JSON.parse(e.json) as unknown } : { _index: ix, _id: d._id, found: false };
      }),
    };
  };

  // ---- search -----------------------------------------------------------------------------------
  const indexOf = (req: FastifyRequest): string | null => (req.params as { index?: string }).index ?? null;
  const textOf = (req: FastifyRequest): string => (typeof req.body === 'string' ? req.body : '');
  const task = (op: SearchTask['op'], extra: Params = {}) => (req: FastifyRequest): SearchTask => ({ op, index: indexOf(req), body: textOf(req), params: { ...params(req), ...extra } });
  const doSearch = searching(task('search'));
  for (const path of ['/_search', '/:index/_search']) {
    app.get(path, doSearch);
    app.post(path, doSearch);
  }
  const doCount = searching(task('count'));
  for (const path of ['/_count', '/:index/_count']) {
    app.get(path, doCount);
    app.post(path, doCount);
  }
  const doScroll = searching((req) => task('scroll', { scroll_id: (req.params as { id?: string }).id ?? params(req).scroll_id })(req));
  for (const path of ['/_search/scroll', '/_search/scroll/:id']) {
    app.get(path, doScroll);
    app.post(path, doScroll);
  }
  app.delete('/_search/scroll', searching(task('clearScroll')));
  app.delete('/_search/scroll/:id', searching((req) => ({ op: 'clearScroll', index: null, body: '', params: { scroll_id: (req.params as { id: string }).id } })));
  app.post('/:index/_pit', searching(task('openPit')));
  app.delete('/_pit', searching(task('closePit')));
  const msearch = searching(task('msearch'));
  app.post('/_msearch', msearch);
  app.get('/_msearch', msearch);
  app.post('/:index/_msearch', msearch);

  // ---- EQL ------------------------------------------------------------------------------------
  const eql = searching(task('eql'));
  app.post('/:index/_eql/search', eql);
  app.get('/:index/_eql/search', eql);

  return { search: () => threads?.stats() ?? null };
}
