import type { Documents } from '../../app/index.js';
import { ecsFieldType } from '../../ecs/index.js';
import { createIndexMatcher } from '../../core/index.js';
import { parseDate } from './date-math.js';
import { badRequest, EsError, indexNotFound } from './errors.js';

/**
 * What Elasticsearch knows about indices beyond their documents: explicit mappings, legacy and
 * composable templates (with component templates), aliases (with a write index), data streams
 * and date-math names. Kept as named settings in the service's store.
 */
type Props = Record<string, Record<string, unknown>>;

export interface AliasTarget {
  readonly index: string;
  readonly isWriteIndex?: boolean;
}

const parse = (s: string | null): Record<string, unknown> | null => {
  if (s === null) return null;
  try {
    return JSON.parse(s) as Record<string, unknown>;
  } catch {
    return null;
  }
};

export class IndexCatalog {
  private version = 0;
  private readonly typeCache = new Map<string, Map<string, string>>();
  private cachedAt = -1;

  constructor(private readonly docs: Documents) {}

  /** A count that moves with every change (for caches). */
  changes(): number {
    return this.version;
  }

  /** Something changed: mappings and types are read again. */
  touch(): void {
    this.version++;
  }

  put(kind: string, name: string, body: unknown): void {
    this.docs.putSetting(`${kind}:${name}`, JSON.stringify(body ?? {}));
    this.touch();
  }

  get(kind: string, name: string): Record<string, unknown> | null {
    return parse(this.docs.setting(`${kind}:${name}`));
  }

  remove(kind: string, name: string): boolean {
    const r = this.docs.removeSetting(`${kind}:${name}`);
    this.touch();
    return r;
  }

  /** Names of one kind, matching a pattern list (`*` for all). */
  names(kind: string, pattern = '*'): string[] {
    const match = createIndexMatcher(pattern.split(','));
    const starMatch = (n: string): boolean => match(n) || (pattern === '*' && n.startsWith('.'));
    return this.docs
      .settings(`${kind}:`)
      .map((r) => r.key.slice(kind.length + 1))
      .filter(starMatch);
  }

  exists(index: string): boolean {
    return this.docs.resolve([index]).length > 0 || this.get('index', index) !== null || this.isDataStream(index);
  }

  // ---- aliases ---------------------------------------------------------------------------------

  aliases(): Map<string, AliasTarget[]> {
    const out = new Map<string, AliasTarget[]>();
    for (const name of this.names('alias')) out.set(name, (this.get('alias', name)?.targets as AliasTarget[] | undefined) ?? []);
    return out;
  }

  addAlias(index: string, alias: string, opts: { is_write_index?: unknown } = {}): void {
    const targets = ((this.get('alias', alias)?.targets as AliasTarget[] | undefined) ?? []).filter((t) => t.index !== index);
    const isWrite = opts.is_write_index === true;
    const next = targets.map((t) => (isWrite ? { index: t.index } : t));
    next.push(isWrite ? { index, isWriteIndex: true } : { index });
    this.put('alias', alias, { targets: next });
  }

  removeAlias(index: string, alias: string): boolean {
    const targets = (this.get('alias', alias)?.targets as AliasTarget[] | undefined) ?? [];
    const rest = targets.filter((t) => t.index !== index);
    if (rest.length === targets.length) return false;
    if (rest.length === 0) this.remove('alias', alias);
    else this.put('alias', alias, { targets: rest });
    return true;
  }

  /** The index a write to `name` goes to: an alias's write index (or its only index), else the name. */
  writeTarget(name: string): string {
    const a = this.get('alias', name);
    if (!a) return name;
    const targets = (a.targets as AliasTarget[] | undefined) ?? [];
    const w = targets.find((t) => t.isWriteIndex) ?? (targets.length === 1 ? targets[0] : undefined);
    if (!w) throw badRequest('illegal_argument_exception', `no write index is defined for alias [${name}]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index`);
    return w.index;
  }

  /**
   * The concrete indices of an expression: comma list, wildcards, `-exclusions`, aliases,
   * date-math names. A concrete name that does not exist is an error unless `ignoreUnavailable`.
   */
  resolve(expr: string, opts: { ignoreUnavailable: boolean; allowNoIndices: boolean }): string[] {
    const parts = expr.split(',').map((p) => p.trim()).filter(Boolean);
    if (parts.length === 0) parts.push('_all');
    const aliases = this.aliases();
    const out = new Set<string>();
    for (let i = 0; i < parts.length; i++) {
      let p = parts[i]!;
      const exclude = p.startsWith('-') && i > 0;
      if (exclude) p = p.slice(1);
      p = resolveDateMath(p, Date.now());
      const names = new Set<string>();
      if (p === '_all' || p === '*' || p.includes('*')) {
        for (const n of this.docs.resolve([p])) names.add(n);
        const m = createIndexMatcher([p]);
        for (const [a, ts] of aliases) if (m(a)) for (const t of ts) names.add(t.index);
        if (names.size === 0 && !opts.allowNoIndices && !exclude) throw indexNotFound(p);
      } else if (aliases.has(p)) {
        for (const t of aliases.get(p)!) names.add(t.index);
      } else if (this.exists(p)) names.add(p);
      else if (!opts.ignoreUnavailable && !exclude) throw indexNotFound(p);
      for (const n of names) {
        if (exclude) out.delete(n);
        else out.add(n);
      }
    }
    return [...out].sort();
  }

  // ---- data streams ----------------------------------------------------------------------------

  /** Created as one, or matched by a composable template that says `data_stream`. */
  isDataStream(index: string): boolean {
    if (this.get('_data_stream', index) !== null) return true;
    const t = this.composableTemplate(index);
    return t !== null && t.data_stream !== undefined;
  }

  // ---- templates and mappings ------------------------------------------------------------------

  private composableTemplate(index: string): Record<string, unknown> | null {
    let best: Record<string, unknown> | null = null;
    let bestPriority = -Infinity;
    for (const name of this.names('_index_template')) {
      const t = this.get('_index_template', name);
      if (!t) continue;
      const patterns = [t.index_patterns ?? []].flat().map(String);
      if (!createIndexMatcher(patterns.map((p) => p))(index) && !patterns.some((p) => p === index)) continue;
      const pr = Number(t.priority ?? 0);
      if (pr > bestPriority) {
        best = t;
        bestPriority = pr;
      }
    }
    return best;
  }

  /** The index's mapping: its templates' (legacy by order, then the composable one and its components), then its own. */
  mapping(index: string): Record<string, unknown> {
    const props: Props = {};
    const legacy = this.names('_template')
      .map((n) => this.get('_template', n))
      .filter((t): t is Record<string, unknown> => t !== null && createIndexMatcher([t.index_patterns ?? t.template ?? []].flat().map(String))(index))
      .sort((a, b) => Number(a.order ?? 0) - Number(b.order ?? 0));
    for (const t of legacy) mergeProps(props, propsOf(t.mappings), false);
    const ct = this.composableTemplate(index);
    if (ct) {
      for (const c of [ct.composed_of ?? []].flat().map(String)) mergeProps(props, propsOf((this.get('_component_template', c)?.template as { mappings?: unknown } | undefined)?.mappings), false);
      mergeProps(props, propsOf((ct.template as { mappings?: unknown } | undefined)?.mappings), false);
    }
    mergeProps(props, propsOf(this.get('mapping', index)?.mappings), false);
    return { properties: props };
  }

  /** Adds fields to the index's own mapping, as `PUT _mapping` does: a field's type cannot change. */
  mergeMapping(index: string, body: unknown): void {
    const current = propsOf(this.get('mapping', index)?.mappings);
    const effective = propsOf(this.mapping(index));
    mergeProps(structuredClone(effective), propsOf(body), true); // throws on a conflict
    mergeProps(current, propsOf(body), false);
    const rest = body && typeof body === 'object' ? Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([k]) => k !== 'properties')) : {};
    const own = (this.get('mapping', index)?.mappings ?? {}) as Record<string, unknown>;
    this.put('mapping', index, { mappings: { ...own, ...rest, properties: current } });
  }

  /** Field → mapped type of an index, flattened (multi-fields as `field.sub`). */
  types(index: string): Map<string, string> {
    if (this.cachedAt !== this.version) {
      this.typeCache.clear();
      this.cachedAt = this.version;
    }
    let m = this.typeCache.get(index);
    if (!m) {
      m = new Map();
      flattenTypes(propsOf(this.mapping(index)), '', m);
      this.typeCache.set(index, m);
    }
    return m;
  }

  /** A field's type in an index: mapped, else ECS's, else unmapped. */
  typeOf = (index: string, field: string): string | undefined => this.types(index).get(field) ?? ecsFieldType(field);
}

function propsOf(m: unknown): Props {
  const o = (m ?? {}) as { properties?: unknown; mappings?: { properties?: unknown } };
  return ((o.properties ?? o.mappings?.properties ?? {}) as Props) ?? {};
}

function mergeProps(into: Props, add: Props, strict: boolean): void {
  for (const [name, def] of Object.entries(add)) {
    const old = into[name];
    if (!old) {
      into[name] = structuredClone(def);
      continue;
    }
    if (strict && old.type !== undefined && def.type !== undefined && old.type !== def.type) throw badRequest('illegal_argument_exception', `mapper [${name}] cannot be changed from type [${String(old.type)}] to [${String(def.type)}]`);
    const merged = { ...old, ...def };
    if (old.properties || def.properties) {
      const p = structuredClone((old.properties ?? {}) as Props);
      mergeProps(p, (def.properties ?? {}) as Props, strict);
      merged.properties = p;
    }
    into[name] = merged;
  }
}

function flattenTypes(props: Props, prefix: string, out: Map<string, string>): void {
  for (const [name, def] of Object.entries(props)) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (typeof def.type === 'string') out.set(full, def.type === 'alias' ? String(def.type) : def.type);
    if (def.properties) flattenTypes(def.properties as Props, full, out);
    if (def.fields) for (const [sub, sd] of Object.entries(def.fields as Props)) if (typeof sd.type === 'string') out.set(`${full}.${sub}`, sd.type);
  }
}

/** `<logs-{now/d}>` and `<logs-{now/M{yyyy.MM}}-000001>` → the concrete name (UTC). */
export function resolveDateMath(name: string, now: number): string {
  if (!(name.startsWith('<') && name.endsWith('>'))) return name;
  return name.slice(1, -1).replace(/\{([^{}]*(?:\{[^{}]*\})?)\}/g, (_m, inner: string) => {
    const f = /^(.*?)(?:\{([^{}]*)\})?$/.exec(inner)!;
    const t = parseDate(f[1]!, now);
    return formatDate(t, f[2] || 'yyyy.MM.dd');
  });
}

function formatDate(t: number, fmt: string): string {
  const d = new Date(t);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return fmt.replace(/yyyy|YYYY|MM|dd|HH|mm|ss/g, (tok) => {
    switch (tok) {
      case 'yyyy':
      case 'YYYY':
        return String(d.getUTCFullYear());
      case 'MM':
        return pad(d.getUTCMonth() + 1);
      case 'dd':
        return pad(d.getUTCDate());
      case 'HH':
        return pad(d.getUTCHours());
      case 'mm':
        return pad(d.getUTCMinutes());
      default:
        return pad(d.getUTCSeconds());
    }
  });
}

/**
 * Checks a document against an index's mapped types, as Elasticsearch's mappers do at index time:
 * a number field takes numbers (or numeric strings), a date field a date, an ip field an address,
 * a boolean field a boolean; a keyword field takes no object. Null: fine.
 */
export function mappingProblem(types: ReadonlyMap<string, string>, source: Readonly<Record<string, unknown>>, id: string | undefined, now: number): EsError | null {
  let problem: EsError | null = null;
  const walk = (v: unknown, path: string): void => {
    if (problem || v === null || v === undefined) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, path);
      return;
    }
    const type = types.get(path);
    if (v !== null && typeof v === 'object') {
      if (type && !['object', 'nested', 'flattened', 'geo_point', 'geo_shape', 'date_range', 'long_range', 'integer_range', 'ip_range', 'float_range', 'double_range'].includes(type)) {
        problem = badRequest('document_parsing_exception', `failed to parse field [${path}] of type [${type}] in document with id '${id ?? ''}'. Preview of field's value: '${JSON.stringify(v).slice(0, 100)}'`);
        return;
      }
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, path ? `${path}.${k}` : k);
      return;
    }
    if (!type) return;
    const bad = (): void => {
      problem = badRequest('document_parsing_exception', `failed to parse field [${path}] of type [${type}] in document with id '${id ?? ''}'. Preview of field's value: '${String(v)}'`);
    };
    switch (type) {
      case 'long':
      case 'integer':
      case 'short':
      case 'byte':
      case 'unsigned_long':
      case 'double':
      case 'float':
      case 'half_float':
      case 'scaled_float': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        if (!Number.isFinite(n)) bad();
        break;
      }
      case 'date':
      case 'date_nanos':
        try {
          if (typeof v === 'boolean') bad();
          else parseDate(v, now);
        } catch {
          bad();
        }
        break;
      case 'boolean':
        if (!(v === true || v === false || v === 'true' || v === 'false' || v === '')) bad();
        break;
      case 'ip':
        if (typeof v !== 'string' || !/^[0-9a-fA-F:.]+(%.+)?$/.test(v) || (!v.includes(':') && !/^\d{1,3}(\.\d{1,3}){3}$/.test(v))) bad();
        break;
      default:
        break;
    }
  };
  walk(source, '');
  return problem;
}

/** The field types Elasticsearch 8 knows (a mapping naming another is refused, as it refuses it). */
const FIELD_TYPES = new Set([
  'text', 'keyword', 'constant_keyword', 'wildcard', 'match_only_text', 'long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long',
  'date', 'date_nanos', 'boolean', 'binary', 'ip', 'object', 'nested', 'flattened', 'passthrough', 'geo_point', 'geo_shape', 'point', 'shape', 'alias',
  'integer_range', 'float_range', 'long_range', 'double_range', 'date_range', 'ip_range', 'version', 'histogram', 'dense_vector', 'sparse_vector', 'rank_feature', 'rank_features',
  'search_as_you_type', 'completion', 'token_count', 'murmur3', 'annotated_text', 'semantic_text', 'aggregate_metric_double', 'counted_keyword', 'join', 'percolator',
]);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * What is wrong with a mapping's `properties` as Elasticsearch reads them (each field an object
 * with a known `type`, or an object field with `properties`; multi-fields under `fields`), or
 * null. Checked when a mapping is given, so that nothing broken is stored.
 */
export function mappingDefinitionProblem(mappings: unknown): EsError | null {
  const fail = (reason: string): EsError => new EsError(400, 'mapper_parsing_exception', `Failed to parse mapping: ${reason}`);
  if (mappings === undefined || mappings === null) return null;
  if (!isObject(mappings)) return fail('the mapping must be an object');
  const stack: Array<{ props: unknown; path: string }> = mappings.properties === undefined ? [] : [{ props: mappings.properties, path: '' }];
  while (stack.length > 0) {
    const { props, path } = stack.pop()!;
    if (!isObject(props)) return fail(`[properties]${path ? ` of [${path}]` : ''} must be an object of field definitions`);
    for (const [name, def] of Object.entries(props)) {
      const field = path ? `${path}.${name}` : name;
      if (name === '') return fail('a field name cannot be empty');
      if (!isObject(def)) return fail(`Expected map for property [fields] on field [${field}] but got a ${def === null ? 'null' : typeof def}`);
      const type = def.type;
      if (type !== undefined && (typeof type !== 'string' || !FIELD_TYPES.has(type))) return fail(`No handler for type [${String(type)}] declared on field [${field}]`);
      if (type === undefined && def.properties === undefined && def.enabled === undefined && def.subobjects === undefined && def.dynamic === undefined) return fail(`No type specified for field [${field}]`);
      if (def.properties !== undefined) stack.push({ props: def.properties, path: field });
      if (def.fields !== undefined) {
        if (!isObject(def.fields)) return fail(`[fields] of [${field}] must be an object of field definitions`);
        for (const [sub, sdef] of Object.entries(def.fields)) {
          if (!isObject(sdef) || typeof sdef.type !== 'string' || !FIELD_TYPES.has(sdef.type)) return fail(`No handler for type [${isObject(sdef) ? String(sdef.type) : String(sdef)}] declared on field [${field}.${sub}]`);
        }
      }
    }
  }
  return null;
}

/** What is wrong with a template body (its patterns, priority, parts and mappings), or null. */
export function templateProblem(kind: string, body: unknown): EsError | null {
  if (!isObject(body)) return badRequest('x_content_parse_exception', `[${kind.slice(1)}] the template must be an object`);
  if (kind !== '_component_template') {
    const patterns = body.index_patterns ?? (kind === '_template' ? body.template : undefined);
    if (patterns !== undefined && !(typeof patterns === 'string' || (Array.isArray(patterns) && patterns.every((p) => typeof p === 'string')))) return badRequest('x_content_parse_exception', '[index_patterns] must be a string or an array of strings');
  }
  for (const k of ['priority', 'order', 'version'] as const) {
    if (body[k] !== undefined && !(Number.isInteger(body[k]) && (body[k] as number) >= (k === 'order' ? -Infinity : 0))) return badRequest('x_content_parse_exception', `[${k}] must be a whole number${k === 'order' ? '' : ' of 0 or more'}`);
  }
  if (body.composed_of !== undefined && !(Array.isArray(body.composed_of) && body.composed_of.every((c) => typeof c === 'string'))) return badRequest('x_content_parse_exception', '[composed_of] must be an array of component template names');
  const mappings = kind === '_template' ? body.mappings : isObject(body.template) ? body.template.mappings : undefined;
  if (kind !== '_template' && body.template !== undefined && !isObject(body.template)) return badRequest('x_content_parse_exception', '[template] must be an object');
  return mappingDefinitionProblem(mappings);
}
