import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { createGunzip, createUnzip } from 'node:zlib';
import fastifyCompress from '@fastify/compress';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { countRules, RULE_SORTS, RULE_STATES, type IngestItem, type RuleChange, type RuleChangeResult, type RuleListQuery, type Vigil } from '../app/index.js';
import { EsError } from './es/errors.js';
import { ManualClock } from '../core/index.js';
import type { AlertQuery, EventWriteResult } from '../store/index.js';
import { registerEs, registerEsHooks, type EsStatus } from './es/routes.js';
import { registerSecurity, type SecurityConfig } from './security/index.js';
import { jsonWithList, longList } from './sliced-json.js';

export interface ServerOptions {
  /** Largest request body in bytes (Elasticsearch's http.max_content_length: 100mb). */
  readonly bodyLimit?: number;
  /**
   * How long a request may take to arrive whole, body included (default 5 minutes): a client that
   * never finishes its body is cut off instead of being held for ever.
   */
  readonly requestTimeoutMs?: number;
  readonly logger?: boolean;
  /** bytes of writes in flight before _bulk answers 429 (default 10% of the heap, as Elasticsearch) */
  readonly indexingPressureBytes?: number;
  /** who may do what (authentication, Host names); `NO_SECURITY` turns it off */
  readonly security: SecurityConfig;
  /** threads searches run on (default 2) */
  readonly searchThreads?: number;
  /** how long one search may run before it is stopped, ms (default 60 s) */
  readonly searchBudgetMs?: number;
  /** heap one search thread may hold, MiB (default: a quarter of the server's heap limit) */
  readonly searchHeapMb?: number;
  /** cluster mode: where writes go, and the cluster's state for /api/cluster */
  readonly cluster?: ClusterApi;
  /** serve HTTPS with this key and certificate (PEM) */
  readonly tls?: { readonly key: string; readonly cert: string };
}


/** What the server needs of a cluster node (see src/cluster). */
export interface ClusterApi {
  ingest(items: readonly IngestItem[]): Promise<EventWriteResult[]>;
  status(): Record<string, unknown>;
  alerts(q: { ruleId?: string; size?: number; buildingBlocks?: boolean }): Promise<{ total: number; alerts: unknown[] }>;
  leases(): Promise<unknown[]>;
  /** A change to the rules, applied on every node in the same order; this node's result. */
  ruleChange(change: RuleChange): Promise<RuleChangeResult>;
  /** Alerts triaged here (status, assignee): their state goes to every node. */
  alertsTriaged(ids: readonly string[]): Promise<void>;
}

/** The request's JSON body (undefined when empty); not ok when it is not JSON. */
function parseJson(req: FastifyRequest): { ok: true; value: unknown } | { ok: false } {
  const text = typeof req.body === 'string' ? req.body : '';
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the body's lines (1-based) whose bytes are not UTF-8; null when all are */
    badUtf8Lines: ReadonlySet<number> | null;
  }
}

/** The lines (1-based, split at \n) of a body that are not UTF-8. */
function badUtf8Lines(body: Buffer): Set<number> {
  const bad = new Set<number>();
  let start = 0;
  for (let line = 1; start <= body.length; line++) {
    const nl = body.indexOf(0x0a, start);
    const end = nl < 0 ? body.length : nl;
    if (!isUtf8(body.subarray(start, end))) bad.add(line);
    start = end + 1;
  }
  return bad;
}

/** A body's text; the lines that are not UTF-8 are noted on the request (not silently replaced). */
function bodyText(req: FastifyRequest, body: Buffer): string {
  if (!isUtf8(body)) req.badUtf8Lines = badUtf8Lines(body);
  return body.toString('utf8');
}

const send = (reply: FastifyReply, e: EsError): FastifyReply => reply.code(e.status).send(e.body());

/**
 * A body stream decoded by its Content-Encoding: gzip, or deflate as HTTP means it (zlib-wrapped,
 * as Vector sends it; a raw deflate stream is read too). Another encoding is a 415.
 */
function decoded(encoding: string, body: Readable): Readable {
  if (encoding === 'gzip') return body.pipe(createGunzip());
  if (encoding === 'deflate') return body.pipe(createUnzip());
  if (encoding !== '' && encoding !== 'identity') throw Object.assign(new Error(`unsupported Content-Encoding [${encoding}]`), { statusCode: 415 });
  return body;
}


/** The HTTP face of Vigil: Elasticsearch-compatible ingest and EQL search, and Vigil's own /api. */
export async function createServer(vigil: Vigil, options: ServerOptions): Promise<FastifyInstance> {
  // maxParamLength: an `_id` may be 512 bytes (1,536 characters percent-encoded), the router's default is 100
  const app = Fastify({ ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}), bodyLimit: options.bodyLimit ?? 100 * 1024 * 1024, logger: options.logger ?? false, exposeHeadRoutes: false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 } });
  // a request that has not arrived whole in time (a body that never ends) is answered 408 and its
  // connection closed: Node's own requestTimeout is only checked every 30 s and leaves the
  // request open meanwhile, which also holds a shutdown
  const requestTimeoutMs = options.requestTimeoutMs ?? 300_000;
  app.addHook('onRequest', async (req) => {
    const timer = setTimeout(() => {
      if (req.raw.complete) return;
      const sock = req.raw.socket;
      if (sock.writable) sock.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      setTimeout(() => sock.destroy(), 100).unref();
    }, requestTimeoutMs);
    timer.unref();
    req.raw.once('close', () => clearTimeout(timer));
  });
  registerSecurity(app, options.security);
  app.removeAllContentTypeParsers();
  // bodies are UTF-8, as Elasticsearch reads them: the lines with other bytes are noted (a bulk
  // fails their items alone, another request fails whole) rather than silently replaced
  app.decorateRequest('badUtf8Lines', null);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body: Buffer, done) => done(null, bodyText(req, body)));
  app.addHook('preParsing', async (req, _reply, payload) => {
    const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
    const body = decoded(enc, payload);
    if (body !== payload) {
      delete req.headers['content-length'];
      delete req.headers['content-encoding']; // decoded here (the compress plugin would decode it again)
    }
    return body;
  });
  // Elasticsearch takes a JSON body on GET (`GET /_search` with a query, as its docs write it);
  // the router leaves GET bodies unread, so they are read here
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' || req.body !== undefined) return;
    if (!(Number(req.headers['content-length'] ?? 0) > 0) && req.headers['transfer-encoding'] === undefined) return;
    const stream = decoded(String(req.headers['content-encoding'] ?? '').toLowerCase(), req.raw);
    const limit = options.bodyLimit ?? 100 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of stream as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > limit) throw Object.assign(new Error('request body is too large'), { statusCode: 413 });
      chunks.push(c);
    }
    req.body = bodyText(req, Buffer.concat(chunks));
  });
  // (after the GET bodies are read, so that theirs are checked too)
  app.addHook('preHandler', async (req) => {
    if (req.badUtf8Lines && !req.url.split('?')[0]!.endsWith('/_bulk')) throw new EsError(400, 'parse_exception', `Invalid UTF-8 in the request body (line ${[...req.badUtf8Lines][0]})`);
  });
  registerEsHooks(app);
  // answers of over 1 KiB are compressed when the client accepts it (as Elasticsearch's http.compression)
  await app.register(fastifyCompress, { threshold: 1024, encodings: ['gzip', 'deflate'] });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-elastic-product', 'Elasticsearch');
    return payload;
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof EsError) return send(reply, err);
    if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, new EsError(413, 'content_too_long_exception', `request body is too large: more than ${options.bodyLimit ?? 100 * 1024 * 1024} bytes`));
    if (err.statusCode && err.statusCode < 500) return send(reply, new EsError(err.statusCode, 'illegal_argument_exception', err.message));
    return send(reply, new EsError(500, 'exception', err.message));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(400).send({ error: `no handler found for uri [${req.url}] and method [${req.method}]` });
  });

  const es = registerEs(app, vigil, { indexingPressureBytes: options.indexingPressureBytes, searchThreads: options.searchThreads, searchBudgetMs: options.searchBudgetMs, searchHeapMb: options.searchHeapMb, ingest: options.cluster?.ingest });
  registerApi(app, vigil, es, options.cluster);
  if (options.cluster) registerCluster(app, options.cluster);
  await registerUi(app);
  return app;
}

/** Where the built web UI is (web/dist, made by `npm run build:ui`). */
export const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'dist');

/** The web UI's static files under /ui/ (it routes by the URL's hash, so one index.html serves all pages). */
async function registerUi(app: FastifyInstance): Promise<void> {
  if (!existsSync(join(UI_DIR, 'index.html'))) {
    app.get('/ui', async (_req, reply) => reply.code(503).type('text/plain').send('The web UI is not built: run `npm run build:ui`.\n'));
    return;
  }
  await app.register(fastifyStatic, {
    root: UI_DIR,
    prefix: '/ui/',
    index: 'index.html',
    wildcard: true,
    cacheControl: false,
    // the build names assets by their content's hash: they never change; index.html is asked again each time
    setHeaders: (res, path) => res.header('cache-control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  // the router ignores trailing slashes, so /ui/ arrives as /ui
  app.get('/ui', async (_req, reply) => reply.sendFile('index.html'));
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url === '/ui' || req.url.startsWith('/ui/') || req.url.startsWith('/ui?')) {
      // nothing from outside runs in the UI: no inline scripts, no third-party origins
      reply.header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
      reply.header('x-content-type-options', 'nosniff');
    }
    return payload;
  });
}

const csv = (v: unknown): string[] | undefined => (typeof v === 'string' && v.length > 0 ? v.split(',') : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
/** A page size or offset: a whole number, at most 10,000 (a size) or 1,000,000,000 (an offset); anything else is left out. */
const count = (v: unknown, max: number): number | undefined => {
  const n = num(v);
  return n === undefined || !Number.isInteger(n) || n < 0 ? undefined : Math.min(n, max);
};
const time = (v: unknown): number | undefined => {
  if (typeof v !== 'string' || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : Date.parse(v);
};
const apiError = (reply: FastifyReply, status: number, message: string): FastifyReply => reply.code(status).send({ error: message, status });

/**
 * The alerts list's field filters: `field=process.name:cmd.exe` (alerts with that value) or
 * `field=-process.name:cmd.exe` (alerts without it), repeated for more.
 */
function fieldFilters(v: unknown): AlertQuery['fields'] {
  if (v === undefined || v === '') return undefined;
  const all = Array.isArray(v) ? v : [v];
  return all.map((x) => {
    const m = typeof x === 'string' ? /^(-?)([A-Za-z_@][\w@.-]*):([\s\S]*)$/.exec(x) : null;
    if (!m) throw Object.assign(new Error(`field filter [${String(x)}] must be field:value, or -field:value for alerts without it`), { statusCode: 400 });
    return { path: m[2]!, value: m[3]!, negate: m[1] === '-' };
  });
}

function alertQuery(q: Record<string, unknown>): AlertQuery {
  return {
    status: csv(q.status),
    severity: csv(q.severity),
    ruleId: csv(q.rule_id),
    host: typeof q.host === 'string' && q.host ? q.host : undefined,
    user: typeof q.user === 'string' && q.user ? q.user : undefined,
    assignee: typeof q.assignee === 'string' ? (q.assignee === '_none' ? '' : q.assignee || undefined) : undefined,
    groupId: typeof q.group_id === 'string' && q.group_id ? q.group_id : undefined,
    text: typeof q.q === 'string' && q.q ? q.q : undefined,
    fields: fieldFilters(q.field),
    from: time(q.from),
    to: time(q.to),
    buildingBlocks: q.building_blocks === 'true' ? undefined : false,
    sort: (['time', 'severity', 'risk', 'rule', 'host', 'created'] as const).find((s) => s === q.sort),
    order: q.order === 'asc' ? 'asc' : 'desc',
    size: count(q.size, 10_000),
    offset: count(q.offset, 1e9),
  };
}

const WORKFLOW = ['open', 'acknowledged', 'closed'];
/** Kibana's closing reasons. */
const CLOSE_REASONS = ['false_positive', 'duplicate', 'benign', 'true_positive', 'other'];

const bool = (v: unknown): boolean | undefined | 'bad' => (v === undefined || v === '' ? undefined : v === 'true' ? true : v === 'false' ? false : 'bad');

/** The rules list's parameters (see RuleListQuery), or what is wrong with them. */
function ruleListQuery(q: Record<string, unknown>): RuleListQuery | string {
  const sort = typeof q.sort === 'string' && q.sort !== '' ? q.sort : undefined;
  if (sort !== undefined && !(RULE_SORTS as readonly string[]).includes(sort)) return `sort takes ${RULE_SORTS.join(', ')}`;
  const size = q.size === undefined || q.size === '' ? undefined : Number(q.size);
  if (size !== undefined && (!Number.isInteger(size) || size < 0)) return 'size must be a whole number';
  const offset = q.offset === undefined || q.offset === '' ? undefined : Number(q.offset);
  if (offset !== undefined && (!Number.isInteger(offset) || offset < 0)) return 'offset must be a whole number';
  const state = csv(q.state);
  if (state && !state.every((x) => (RULE_STATES as readonly string[]).includes(x))) return `state takes ${RULE_STATES.join(', ')}`;
  const flags: Record<string, boolean | undefined> = {};
  for (const k of ['enabled', 'runnable', 'has_alerts', 'has_errors', 'has_data']) {
    const b = bool(q[k]);
    if (b === 'bad') return `${k} takes true or false`;
    flags[k] = b;
  }
  return {
    q: typeof q.q === 'string' ? q.q : undefined,
    type: csv(q.type),
    severity: csv(q.severity),
    tag: csv(q.tag),
    state: state as RuleListQuery['state'],
    enabled: flags.enabled,
    runnable: flags.runnable,
    hasAlerts: flags.has_alerts,
    hasErrors: flags.has_errors,
    hasData: flags.has_data,
    technique: typeof q.technique === 'string' && q.technique ? q.technique : undefined,
    sort: sort as RuleListQuery['sort'],
    order: q.order === 'asc' ? 'asc' : q.order === 'desc' ? 'desc' : undefined,
    size,
    offset,
  };
}

/** A cluster node's view of the cluster: its state, the partitions' leases, every node's alerts. */
function registerCluster(app: FastifyInstance, cluster: ClusterApi): void {
  app.get('/api/cluster', async () => ({ ...cluster.status(), leases: await cluster.leases() }));
  app.get('/api/cluster/alerts', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const size = Number(q.size ?? 100);
    return cluster.alerts({ ruleId: q.rule_id, size: Number.isFinite(size) ? size : 100, buildingBlocks: q.building_blocks === 'true' });
  });
}

/** Vigil's own API: alerts, rules, runs, health, and the test clock. */
function registerApi(app: FastifyInstance, vigil: Vigil, es: EsStatus, cluster: ClusterApi | undefined): void {
  app.get('/api/alerts', async (req) => {
    const r = vigil.store.alerts.search(alertQuery(req.query as Record<string, unknown>));
    return { total: r.total, alerts: r.alerts.map((a) => ({ id: a.id, rule_id: a.ruleId, status: a.status, severity: a.severity, risk_score: a.risk, host: a.host, user: a.user, process: a.process, original_time: a.originalTime, created: a.created, group_id: a.groupId, building_block: a.buildingBlock, assignee: a.assignee ?? null, doc: a.doc })) };
  });
  app.get('/api/alerts/_stats', async (req) => {
    const q = req.query as Record<string, unknown>;
    return vigil.store.alerts.stats(alertQuery(q), q.bucket === 'auto' ? 0 : (num(q.bucket) ?? 3_600_000));
  });
  app.get('/api/alerts/:id', async (req, reply) => {
    const a = vigil.store.alerts.get((req.params as { id: string }).id);
    if (!a) return apiError(reply, 404, 'no such alert');
    return { id: a.id, rule_id: a.ruleId, status: a.status, severity: a.severity, risk_score: a.risk, host: a.host, user: a.user, process: a.process, original_time: a.originalTime, created: a.created, group_id: a.groupId, building_block: a.buildingBlock, assignee: a.assignee ?? null, doc: a.doc };
  });
  // the alerts chosen: ids, or every alert a filter selects (query: the list's parameters)
  const chosen = (v: { ids?: unknown; query?: unknown }): string[] | null => {
    if (Array.isArray(v.ids)) return v.ids.filter((x): x is string => typeof x === 'string');
    if (v.query && typeof v.query === 'object' && !Array.isArray(v.query)) return vigil.store.alerts.search({ ...alertQuery(v.query as Record<string, unknown>), size: 10_000, offset: 0 }).alerts.map((a) => a.id);
    return null;
  };
  app.post('/api/alerts/_status', async (req, reply) => {
    const body = parseJson(req);
    const v = (body.ok ? body.value : null) as { ids?: unknown; status?: unknown; query?: unknown; reason?: unknown; note?: unknown; user?: unknown } | null;
    if (!v || typeof v.status !== 'string' || !WORKFLOW.includes(v.status)) return apiError(reply, 400, `status must be one of ${WORKFLOW.join(', ')}`);
    if (v.reason !== undefined && v.reason !== null && (typeof v.reason !== 'string' || !CLOSE_REASONS.includes(v.reason))) return apiError(reply, 400, `reason must be one of ${CLOSE_REASONS.join(', ')}`);
    if (v.reason && v.status !== 'closed') return apiError(reply, 400, 'a reason goes with closing (status closed)');
    if (v.note !== undefined && v.note !== null && (typeof v.note !== 'string' || v.note.length > 10_000)) return apiError(reply, 400, 'note must be a text of at most 10,000 characters');
    const ids = chosen(v);
    if (!ids) return apiError(reply, 400, 'give ids (an array) or query (alert filters)');
    const extra = { reason: typeof v.reason === 'string' ? v.reason : null, note: typeof v.note === 'string' && v.note.trim() ? v.note : null, by: typeof v.user === 'string' && v.user ? v.user : null };
    const updated = vigil.setAlertStatus(ids, v.status, extra);
    await cluster?.alertsTriaged(ids);
    return { updated };
  });
  app.post('/api/alerts/_assign', async (req, reply) => {
    const body = parseJson(req);
    const v = (body.ok ? body.value : null) as { ids?: unknown; query?: unknown; assignee?: unknown } | null;
    if (!v || !(v.assignee === null || (typeof v.assignee === 'string' && v.assignee.length > 0 && v.assignee.length <= 200))) return apiError(reply, 400, 'assignee must be a user name (at most 200 characters) or null');
    const ids = chosen(v);
    if (!ids) return apiError(reply, 400, 'give ids (an array) or query (alert filters)');
    const updated = vigil.assignAlerts(ids, v.assignee as string | null);
    await cluster?.alertsTriaged(ids);
    return { updated };
  });
  app.get('/api/alerts/_groups', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const by = q.by ?? 'rule';
    if (by !== 'rule' && by !== 'host' && by !== 'user') return apiError(reply, 400, 'by takes rule, host or user');
    const r = vigil.store.alerts.groups(alertQuery(q), by, count(q.size, 10_000) ?? 100);
    // a rule group carries the rule's name
    return { total: r.total, groups: r.groups.map((g) => ({ ...g, name: by === 'rule' && g.key ? (vigil.registry.find(g.key)?.rule.name ?? g.key) : g.key })) };
  });

  // changes to the rules: applied here, or in cluster mode on every node in one order
  const changeRules = async <K extends RuleChange['kind']>(c: Extract<RuleChange, { kind: K }>): Promise<Extract<RuleChangeResult, { kind: K }>> => {
    const r = cluster ? await cluster.ruleChange(c) : vigil.applyRuleChange(c);
    if (r.kind !== c.kind) throw new Error(`a rule change (${c.kind}) answered as another (${r.kind})`);
    return r as Extract<RuleChangeResult, { kind: K }>;
  };
  app.get('/api/rules', async (req, reply) => {
    const q = ruleListQuery(req.query as Record<string, unknown>);
    if (typeof q === 'string') return apiError(reply, 400, q);
    const { total, rules } = await vigil.ruleList(q);
    const counts = countRules(vigil.registry.rules);
    if (!longList(rules)) return { total, rules, counts };
    return reply.type('application/json; charset=utf-8').send(jsonWithList({ total, counts }, 'rules', rules));
  });
  app.get('/api/coverage', async () => await vigil.coverage());
  // enable or disable a selection (ids) or every rule a list query selects (query: the list's parameters)
  app.post('/api/rules/_bulk_action', async (req, reply) => {
    const body = parseJson(req);
    const v = (body.ok ? body.value : null) as { action?: unknown; ids?: unknown; query?: unknown } | null;
    if (!v || (v.action !== 'enable' && v.action !== 'disable')) return apiError(reply, 400, 'action must be enable or disable');
    let ids: string[];
    if (Array.isArray(v.ids)) ids = v.ids.filter((x): x is string => typeof x === 'string');
    else if (v.query && typeof v.query === 'object' && !Array.isArray(v.query)) {
      const q = ruleListQuery(Object.fromEntries(Object.entries(v.query as Record<string, unknown>).map(([k, x]) => [k, typeof x === 'string' ? x : Array.isArray(x) ? x.join(',') : String(x)])));
      if (typeof q === 'string') return apiError(reply, 400, q);
      ids = (await vigil.ruleList({ ...q, size: undefined, offset: 0 })).rules.map((r) => r.rule_id);
    } else return apiError(reply, 400, 'give ids (an array of rule ids) or query (rule list filters)');
    const r = await changeRules({ kind: 'bulk', ids, enabled: v.action === 'enable' });
    return { matched: ids.length, updated: r.updated };
  });
  app.get('/api/rules/_export', async (req, reply) => reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="rules_export.ndjson"').send(vigil.exportRules(csv((req.query as Record<string, unknown>).rule_id))));
  app.post('/api/rules/_import', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const name = typeof q.filename === 'string' && q.filename ? q.filename : 'import.ndjson';
    const r = await changeRules({ kind: 'import', text: typeof req.body === 'string' ? req.body : '', filename: name, overwrite: q.overwrite === 'true' });
    return reply.code(r.errors.length && !r.imported.length ? 400 : 200).send({ success: r.errors.length === 0, success_count: r.imported.length, imported: r.imported, errors: r.errors });
  });
  // ---- exceptions (Kibana's exception lists and value lists) ----
  app.get('/api/exception_lists', async () => ({ lists: vigil.exceptionLists(), value_lists: vigil.exceptions.valueLists(), problems: vigil.exceptions.problems }));
  app.post('/api/exception_lists/_import', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const name = typeof q.filename === 'string' && q.filename ? q.filename : 'exceptions.ndjson';
    const r = (await changeRules({ kind: 'exceptions_import', text: typeof req.body === 'string' ? req.body : '', filename: name })).result;
    return reply.code(r.errors.length && r.lists + r.items === 0 ? 400 : 200).send({ success: r.errors.length === 0, success_count_exception_lists: r.lists, success_count_items: r.items, errors: r.errors });
  });
  app.get('/api/exception_lists/_export', async (req, reply) => {
    const ids = csv((req.query as Record<string, unknown>).list_id);
    return reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="exceptions_export.ndjson"').send(vigil.exceptions.export(ids));
  });
  app.delete('/api/exception_lists/:list_id', async (req, reply) => ((await changeRules({ kind: 'exception_list_remove', list_id: (req.params as { list_id: string }).list_id })).found ? { deleted: true } : apiError(reply, 404, 'no such exception list')));
  const exceptionBody = (req: FastifyRequest): { body: Record<string, unknown>; ruleId: string | null } | string => {
    const b = parseJson(req);
    const v = b.ok ? b.value : null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'give an exception item as a JSON object (entries, and list_id or rule_id)';
    const o = v as Record<string, unknown>;
    return { body: o, ruleId: typeof o.rule_id === 'string' && o.rule_id ? o.rule_id : null };
  };
  app.post('/api/exception_lists/items/_preview', async (req, reply) => {
    const b = exceptionBody(req);
    if (typeof b === 'string') return apiError(reply, 400, b);
    const r = vigil.previewException(b.body, b.ruleId);
    return r.ok ? r : apiError(reply, 400, r.error);
  });
  app.post('/api/exception_lists/items', async (req, reply) => {
    const b = exceptionBody(req);
    if (typeof b === 'string') return apiError(reply, 400, b);
    // the item's id is given here, so that every node of a cluster stores the item under the same id
    const body = { ...b.body, item_id: typeof b.body.item_id === 'string' && b.body.item_id ? b.body.item_id : randomUUID() };
    const r = (await changeRules({ kind: 'exception_add', body, rule_id: b.ruleId, close_alerts: b.body.close_alerts === true, user: typeof b.body.user === 'string' ? b.body.user : null })).result;
    return r.ok ? r : apiError(reply, 400, r.error);
  });
  app.delete('/api/exception_lists/items/:item_id', async (req, reply) => ((await changeRules({ kind: 'exception_remove', item_id: (req.params as { item_id: string }).item_id })).found ? { deleted: true } : apiError(reply, 404, 'no such exception item')));
  app.get('/api/lists', async () => ({ lists: vigil.exceptions.valueLists() }));
  app.post('/api/lists/_import', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const r = (await changeRules({ kind: 'value_list', list_id: typeof q.list_id === 'string' ? q.list_id : '', type: typeof q.type === 'string' ? q.type : '', text: typeof req.body === 'string' ? req.body : '' })).result;
    return r.ok ? r : apiError(reply, 400, r.error);
  });
  app.get('/api/rules/:id', async (req, reply) => vigil.ruleView((req.params as { id: string }).id) ?? apiError(reply, 404, 'no such rule'));
  app.patch('/api/rules/:id', async (req, reply) => {
    const body = parseJson(req);
    const v = (body.ok ? body.value : null) as { enabled?: unknown; streaming?: unknown } | null;
    const flags: { enabled?: boolean; streaming?: boolean } = {};
    if (typeof v?.enabled === 'boolean') flags.enabled = v.enabled;
    if (typeof v?.streaming === 'boolean') flags.streaming = v.streaming;
    if (Object.keys(flags).length === 0) return apiError(reply, 400, 'give enabled and/or streaming as booleans');
    const id = (req.params as { id: string }).id;
    // not looked up here first: in cluster mode the rule may come with a change before this one
    const r = await changeRules({ kind: 'flags', rule_id: id, flags });
    if (!r.found) return apiError(reply, 404, 'no such rule');
    // the counts by state come along, so that a list can show the change without asking again
    return { ...vigil.ruleView(id), counts: countRules(vigil.registry.rules) };
  });
  app.get('/api/rules/:id/runs', async (req) => {
    const q = req.query as Record<string, unknown>;
    return vigil.store.runs.runs({ ruleId: (req.params as { id: string }).id, size: count(q.size, 10_000), offset: count(q.offset, 1e9) });
  });
  app.get('/api/runs', async (req) => {
    const q = req.query as Record<string, unknown>;
    return vigil.store.runs.runs({ ruleId: typeof q.rule_id === 'string' ? q.rule_id : undefined, size: count(q.size, 10_000), offset: count(q.offset, 1e9) });
  });
  app.get('/api/gaps', async (req) => ({ gaps: vigil.store.runs.gaps(typeof (req.query as Record<string, unknown>).rule_id === 'string' ? ((req.query as Record<string, unknown>).rule_id as string) : undefined) }));
  app.get('/api/health', async () => ({ ...vigil.health(), search: es.search(), ...(cluster ? { cluster: cluster.status() } : {}) }));
  app.get('/api/events/:index/:id', async (req, reply) => {
    const { index, id } = req.params as { index: string; id: string };
    const e = vigil.store.events.get(index, id);
    return e ? { _index: index, _id: id, _version: e.version, _source: JSON.parse(e.json) } : apiError(reply, 404, 'no such event');
  });

  // the manual clock exists only when the server was started with one (tests, demos)
  app.get('/api/events/:index/:id/ancestry', async (req, reply) => {
    const { index, id } = req.params as { index: string; id: string };
    const chain = vigil.ancestry(index, id);
    return chain ? { chain: chain.map((c) => ({ _index: c.index, _id: c.id, ts: c.ts, _source: c.source })) } : apiError(reply, 404, 'no such event');
  });

  app.get('/api/_clock', async () => ({ now: new Date(vigil.clock.now()).toISOString(), manual: vigil.clock instanceof ManualClock }));
  app.post('/api/_clock', async (req, reply) => {
    if (!(vigil.clock instanceof ManualClock)) return apiError(reply, 409, 'the server runs on the system clock (start it with --clock to move time)');
    const body = parseJson(req);
    const v = (body.ok ? body.value : null) as { now?: unknown; advance_ms?: unknown } | null;
    let target: number;
    if (typeof v?.now === 'string' || typeof v?.now === 'number') target = typeof v.now === 'number' ? v.now : Date.parse(v.now);
    else if (typeof v?.advance_ms === 'number') target = vigil.clock.now() + v.advance_ms;
    else return apiError(reply, 400, 'give now (ISO time or epoch ms) or advance_ms');
    if (!Number.isFinite(target) || target < vigil.clock.now()) return apiError(reply, 400, 'time moves forward only');
    const runs = await vigil.advanceTo(target);
    return { now: new Date(vigil.clock.now()).toISOString(), executions: runs };
  });
}
