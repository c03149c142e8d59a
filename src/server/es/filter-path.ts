import { compileWildcard } from '../../ecs/index.js';

/**
 * The `filter_path` response filter: comma-separated dotted paths with `*` (any one name, or part
 * of one) and `**` (any depth), and `-path` exclusions. Arrays are passed through.
 */
type Pattern = ReadonlyArray<(s: string) => boolean | 'deep'>;

function compile(p: string): Pattern {
  return p.split('.').map((seg) => (seg === '**' ? () => 'deep' as const : compileWildcard(seg, false)));
}

function keep(v: unknown, pats: readonly Pattern[]): unknown {
  if (pats.some((p) => p.length === 0 || (p.length === 1 && p[0]!('') === 'deep'))) return v;
  if (Array.isArray(v)) {
    const out = v.map((e) => keep(e, pats)).filter((e) => e !== undefined);
    return out.length > 0 ? out : undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const next: Pattern[] = [];
    for (const p of pats) {
      const head = p[0]!;
      if (head('') === 'deep') {
        next.push(p);
        if (p.length > 1 && p[1]!(k) === true) next.push(p.slice(2));
      } else if (head(k) === true) next.push(p.slice(1));
    }
    if (next.length === 0) continue;
    const r = keep(x, next);
    if (r !== undefined) out[k] = r;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function drop(v: unknown, pats: readonly Pattern[]): unknown {
  if (Array.isArray(v)) return v.map((e) => drop(e, pats));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const next: Pattern[] = [];
    let gone = false;
    for (const p of pats) {
      const head = p[0]!;
      if (head('') === 'deep') {
        if (p.length === 1 || (p.length === 2 && p[1]!(k) === true)) gone = true;
        next.push(p);
        if (p.length > 2 && p[1]!(k) === true) next.push(p.slice(2));
      } else if (head(k) === true) {
        if (p.length === 1) gone = true;
        else next.push(p.slice(1));
      }
    }
    if (gone) continue;
    out[k] = next.length > 0 ? drop(x, next) : x;
  }
  return out;
}

export function filterPath(body: unknown, spec: string): unknown {
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const inc = parts.filter((p) => !p.startsWith('-')).map(compile);
  const exc = parts.filter((p) => p.startsWith('-')).map((p) => compile(p.slice(1)));
  let out = body;
  if (inc.length > 0) out = keep(out, inc) ?? {};
  if (exc.length > 0) out = drop(out, exc);
  return out;
}
