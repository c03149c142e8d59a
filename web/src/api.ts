/** The documented HTTP API of `vigil serve`; the UI uses nothing else. */

export interface AlertRow {
  id: string;
  rule_id: string;
  status: string;
  severity: string;
  risk_score: number;
  host: string | null;
  user: string | null;
  process: string | null;
  original_time: number | null;
  created: number;
  group_id: string | null;
  building_block: boolean;
  assignee: string | null;
  doc: Record<string, unknown>;
}

export interface AlertGroup {
  key: string | null;
  /** The rule's name for a rule group; else the key. */
  name: string | null;
  count: number;
  severity: string;
  maxRisk: number;
  first: number | null;
  last: number | null;
  open: number;
}

export type RuleState = 'streaming' | 'scheduled' | 'disabled' | 'cannot run';

/** A row of the rules list (GET /api/rules): no query or notes. */
export interface RuleSummary {
  rule_id: string;
  name: string;
  type: string;
  language: string | null;
  severity: string;
  risk_score: number;
  interval: string;
  from: string;
  tags: string[];
  enabled: boolean;
  streaming: boolean;
  streamable: boolean;
  runnable: boolean;
  state: RuleState;
  problem: string | null;
  building_block: boolean;
  last_run: { started: number; durationMs: number; status: string; error: string | null; kind: string; written: number } | null;
  gaps: { total: number; unfilled: number };
  alerts: number;
  has_data: boolean;
  cost: RuleCost;
  techniques: string[];
}

export interface RuleCounts {
  total: number;
  enabled: number;
  runnable: number;
  running: number;
  streaming: number;
  scheduled: number;
  disabled: number;
  cannot_run: number;
  cannot_run_by_reason: Record<string, number>;
}

export interface Coverage {
  tactics: Array<{ id: string; name: string; techniques: Array<{ id: string; name: string; rules: Array<{ rule_id: string; name: string; state: RuleState; has_data: boolean }> }> }>;
}

export interface AlertStats {
  /** The bucket the server chose (ms) when asked for bucket=auto. */
  bucketMs: number;
  bySeverity: Record<string, number>;
  byRule: Array<{ ruleId: string; count: number }>;
  overTime: Array<{ t: number; severity: string; count: number }>;
  overTimeByRule: Array<{ t: number; ruleId: string; count: number }>;
}

export interface Threat {
  framework?: string;
  tactic?: { id: string; name: string; reference?: string };
  technique?: Array<{ id: string; name: string; reference?: string; subtechnique?: Array<{ id: string; name: string; reference?: string }> }>;
}

export interface RunRecord {
  executionId: string;
  kind: string;
  started: number;
  durationMs: number;
  cpuMs: number;
  windowFrom: number;
  windowTo: number;
  searched: number;
  matches: number;
  written: number;
  existing: number;
  dropped: number;
  gapMs: number;
  status: string;
  error: string | null;
}

export interface RuleView {
  rule_id: string;
  name: string;
  description?: string;
  type: string;
  language?: string;
  query?: string;
  severity: string;
  risk_score: number;
  interval?: string;
  from?: string;
  max_signals?: number;
  index?: string[];
  tags?: string[];
  references?: string[];
  author?: string[];
  license?: string;
  version?: number;
  note?: string;
  setup?: string;
  threat?: Threat[];
  enabled: boolean;
  streaming: boolean;
  streamable: boolean;
  runnable: boolean;
  state: RuleState;
  building_block: boolean;
  problem: string | null;
  /** For threshold, new-terms and indicator-match rules: what they do with their query's matches. */
  aggregation?: string | null;
  origin: string;
  last_run: RunRecord | null;
  gaps: { total: number; unfilled: number };
  alerts: number;
  has_data: boolean;
  /** What its runs of the last day cost: CPU time (its share of shared passes) and events examined. */
  cost: RuleCost;
  exceptions?: { lists: string[]; items: ExceptionItem[]; condition: string | null; note: string };
  alert_suppression?: { group_by?: string[]; duration?: { value: number; unit: string }; missing_fields_strategy?: string };
}

export interface RuleCost {
  cpu_ms: number;
  events: number;
  runs: number;
}

export interface Health {
  now: string;
  uptime_ms: number;
  events: { stored: number; ingested: number; failed: number; bytes: number; per_second: number };
  store_bytes: number;
  alerts: number;
  building_block_alerts: number;
  rules: RuleCounts;
  rule_lag: Array<{ rule_id: string; lag_ms: number | null }>;
  expensive_rules: Array<{ rule_id: string; name: string; cpu_ms: number; events: number; runs: number }>;
  indices: Array<{ name: string; docs: number; firstSeen: number; lastSeen: number }>;
}

export interface ImportResult {
  success: boolean;
  success_count: number;
  imported: string[];
  errors: Array<{ rule_id?: string; message: string; line: number; col: number; file: string; code: string }>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

/** The session's CSRF token, sent with every request that changes something (the server refuses them without it). */
let csrfToken: string | null = null;

/** Told when the server asks for a sign-in (the session ended, or the server restarted). */
export const signInNeeded = new EventTarget();

async function call<T>(method: string, path: string, body?: string, contentType = 'application/json'): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = contentType;
  if (csrfToken && method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, body, credentials: 'same-origin' });
  if (res.status === 401 && path !== '/api/_login') signInNeeded.dispatchEvent(new Event('needed'));
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const b = parsed as { error?: unknown } | null;
    const reason = typeof b?.error === 'string' ? b.error : typeof (b?.error as { reason?: unknown } | undefined)?.reason === 'string' ? (b!.error as { reason: string }).reason : `HTTP ${res.status}`;
    throw new ApiError(res.status, parsed, reason);
  }
  return parsed as T;
}

export interface AlertFilter {
  from?: string;
  to?: string;
  severity?: string[];
  status?: string[];
  rule_id?: string[];
  host?: string;
  user?: string;
  assignee?: string;
  q?: string;
  /** field filters: `path:value` (alerts with it) or `-path:value` (alerts without it) */
  field?: string[];
}

function params(f: AlertFilter, extra: Record<string, string | number | undefined> = {}): string {
  const p = new URLSearchParams();
  if (f.from) p.set('from', f.from);
  if (f.to) p.set('to', f.to);
  if (f.severity?.length) p.set('severity', f.severity.join(','));
  if (f.status?.length) p.set('status', f.status.join(','));
  if (f.rule_id?.length) p.set('rule_id', f.rule_id.join(','));
  if (f.host) p.set('host', f.host);
  if (f.user) p.set('user', f.user);
  if (f.assignee) p.set('assignee', f.assignee);
  if (f.q) p.set('q', f.q);
  for (const x of f.field ?? []) p.append('field', x);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) p.set(k, String(v));
  return p.toString();
}

export interface SessionInfo {
  auth: boolean;
  user: string;
  roles: string[];
  via: string;
  csrf?: string;
}

/** The type a rule file is sent as (the server takes only types a cross-site form cannot send). */
const ruleFileType = (name: string): string => (/\.toml$/i.test(name) ? 'application/toml' : /\.(md|markdown)$/i.test(name) ? 'text/markdown' : /\.json$/i.test(name) ? 'application/json' : 'application/x-ndjson');

export const api = {
  session: async (): Promise<SessionInfo> => {
    const s = await call<SessionInfo>('GET', '/api/_session');
    csrfToken = s.csrf ?? null;
    return s;
  },
  login: async (username: string, password: string): Promise<SessionInfo> => {
    const s = await call<{ user: string; roles: string[]; csrf: string }>('POST', '/api/_login', JSON.stringify({ username, password }));
    csrfToken = s.csrf;
    return { auth: true, user: s.user, roles: s.roles, via: 'session', csrf: s.csrf };
  },
  logout: async (): Promise<void> => {
    await call('POST', '/api/_logout');
    csrfToken = null;
  },
  alerts: (f: AlertFilter, page: { size: number; offset: number; sort: string; order: 'asc' | 'desc' }) =>
    call<{ total: number; alerts: AlertRow[] }>('GET', `/api/alerts?${params(f, { size: page.size, offset: page.offset, sort: page.sort, order: page.order })}`),
  stats: (f: AlertFilter, bucket: number | 'auto') => call<AlertStats>('GET', `/api/alerts/_stats?${params(f, { bucket })}`),
  alert: (id: string) => call<AlertRow>('GET', `/api/alerts/${encodeURIComponent(id)}`),
  group: (groupId: string) => call<{ total: number; alerts: AlertRow[] }>('GET', `/api/alerts?group_id=${encodeURIComponent(groupId)}&building_blocks=true&size=100&sort=time&order=asc`),
  setStatus: (ids: string[], status: string, extra: { reason?: string; note?: string } = {}) => call<{ updated: number }>('POST', '/api/alerts/_status', JSON.stringify({ ids, status, ...extra })),
  setStatusWhere: (f: AlertFilter, status: string, extra: { reason?: string; note?: string } = {}) => call<{ updated: number }>('POST', '/api/alerts/_status', JSON.stringify({ query: { ...Object.fromEntries(new URLSearchParams(params(f))), field: f.field ?? [] }, status, ...extra })),
  assign: (ids: string[], assignee: string | null) => call<{ updated: number }>('POST', '/api/alerts/_assign', JSON.stringify({ ids, assignee })),
  groups: (f: AlertFilter, by: string) => call<{ total: number; groups: AlertGroup[] }>('GET', `/api/alerts/_groups?${params(f, { by, size: 200 })}`),
  rules: (q: Record<string, string | number | undefined> = {}) =>
    call<{ total: number; rules: RuleSummary[]; counts: RuleCounts }>('GET', `/api/rules?${new URLSearchParams(Object.entries(q).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '').map(([k, v]) => [k, String(v)])).toString()}`),
  bulkRules: (action: 'enable' | 'disable', target: { ids: string[] } | { query: Record<string, string> }) => call<{ matched: number; updated: number }>('POST', '/api/rules/_bulk_action', JSON.stringify({ action, ...target })),
  coverage: () => call<Coverage>('GET', '/api/coverage'),
  clock: () => call<{ now: string; manual: boolean }>('GET', '/api/_clock'),
  rule: (id: string) => call<RuleView>('GET', `/api/rules/${encodeURIComponent(id)}`),
  runs: (id: string) => call<{ runs: RunRecord[]; total: number }>('GET', `/api/rules/${encodeURIComponent(id)}/runs?size=50`),
  setRule: (id: string, flags: { enabled?: boolean; streaming?: boolean }) => call<RuleView & { counts: RuleCounts }>('PATCH', `/api/rules/${encodeURIComponent(id)}`, JSON.stringify(flags)),
  importRules: (filename: string, text: string) => call<ImportResult>('POST', `/api/rules/_import?filename=${encodeURIComponent(filename)}&overwrite=true`, text, ruleFileType(filename)),
  health: () => call<Health>('GET', '/api/health'),
  event: (index: string, id: string) => call<{ _source: Record<string, unknown> }>('GET', `/api/events/${encodeURIComponent(index)}/${encodeURIComponent(id)}`),
  ancestry: (index: string, id: string) => call<{ chain: Array<{ _index: string; _id: string; ts: number | null; _source: Record<string, unknown> }> }>('GET', `/api/events/${encodeURIComponent(index)}/${encodeURIComponent(id)}/ancestry`),
  previewException: (item: ExceptionDraft) => call<{ alerts: number; examined: number; since: string; rules: number }>('POST', '/api/exception_lists/items/_preview', JSON.stringify(item)),
  addException: (item: ExceptionDraft & { close_alerts?: boolean }) => call<{ item: ExceptionItem; closed: number }>('POST', '/api/exception_lists/items', JSON.stringify(item)),
  removeException: (itemId: string) => call<{ deleted: boolean }>('DELETE', `/api/exception_lists/items/${encodeURIComponent(itemId)}`),
  exceptionLists: () => call<{ lists: ExceptionListView[]; value_lists: Array<{ id: string; type: string; values: number }>; problems: string[] }>('GET', '/api/exception_lists'),
  eql: (index: string, body: Record<string, unknown>) => call<EqlResponse>('POST', `/${encodeURIComponent(index)}/_eql/search`, JSON.stringify(body)),
};

export interface EqlHit {
  _index: string;
  _id: string;
  _source: Record<string, unknown>;
}
export interface EqlResponse {
  took: number;
  hits: { total: { value: number }; events?: EqlHit[]; sequences?: Array<{ join_keys?: unknown[]; events: EqlHit[] }> };
}

export interface ExceptionEntry {
  field: string;
  type: 'match' | 'match_any' | 'wildcard' | 'exists' | 'list' | 'nested';
  operator?: 'included' | 'excluded';
  value?: string | string[];
  list?: { id: string; type: string };
  entries?: ExceptionEntry[];
}
export interface ExceptionDraft {
  rule_id?: string;
  list_id?: string;
  name?: string;
  entries: ExceptionEntry[];
  os_types?: string[];
}
export interface ExceptionItem extends ExceptionDraft {
  item_id: string;
  list_id: string;
  name: string;
  expire_time: number | null;
  /** Vigil's own: the sequence or sample stage the item applies to (null: every filter). */
  stage: number | null;
}
export interface ExceptionListView {
  list_id: string;
  name: string;
  type: string;
  description: string;
  items: ExceptionItem[];
  rules: Array<{ rule_id: string; name: string }>;
}
