import { compareScalars, compileExpr, compilePredicate, firstValue, type CompileContext, type Pipe, type Value } from '../eql/index.js';
import type { EngineEvent } from './event.js';

/** A result before shaping: one event, or a sequence/sample/join of events. */
export interface Result {
  readonly event?: EngineEvent;
  readonly joinKeys?: Value[];
  readonly events?: (EngineEvent | null)[];
  /** unique_count / count annotations that later pipes may read. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The document a pipe reads: the event's source, or `{events: [...]}` for sequences. */
export function pipeView(r: Result): Record<string, unknown> {
  const base: Record<string, unknown> = r.event ? { ...r.event.source } : { events: (r.events ?? []).map((e) => e?.source ?? null) };
  if (r.joinKeys) base.join_keys = r.joinKeys;
  return r.extra ? { ...base, ...r.extra } : base;
}

export type PipeStep = (results: Result[]) => Result[];

/** Compiles the pipe chain; each step maps the full result list. */
export function compilePipes(pipes: readonly Pipe[], ctx: CompileContext): PipeStep[] {
  return pipes.map((p): PipeStep => {
    switch (p.name) {
      case 'head': {
        const n = p.args[0] && p.args[0].kind === 'number' ? p.args[0].value : 1;
        return (rs) => rs.slice(0, n);
      }
      case 'tail': {
        const n = p.args[0] && p.args[0].kind === 'number' ? p.args[0].value : 1;
        return (rs) => (n === 0 ? [] : rs.slice(-n));
      }
      case 'filter': {
        const pred = compilePredicate(p.args[0]!, ctx);
        return (rs) => rs.filter((r) => pred(pipeView(r)) === true);
      }
      case 'unique': {
        const keys = p.args.map((a) => compileExpr(a, ctx));
        return (rs) => {
          const seen = new Set<string>();
          return rs.filter((r) => {
            const view = pipeView(r);
            const k = JSON.stringify(keys.map((f) => normalizeKey(f(view))));
            if (seen.has(k)) return false;
            seen.add(k);
            return true;
          });
        };
      }
      case 'unique_count': {
        const keys = p.args.map((a) => compileExpr(a, ctx));
        return (rs) => {
          const groups = new Map<string, { first: Result; count: number }>();
          for (const r of rs) {
            const view = pipeView(r);
            const k = JSON.stringify(keys.map((f) => normalizeKey(f(view))));
            const g = groups.get(k);
            if (g) g.count++;
            else groups.set(k, { first: r, count: 1 });
          }
          const total = rs.length;
          return [...groups.values()].map((g) => ({ ...g.first, extra: { ...g.first.extra, count: g.count, percent: g.count / total } }));
        };
      }
      case 'count': {
        const keys = p.args.map((a) => compileExpr(a, ctx));
        return (rs) => {
          if (keys.length === 0) return [{ extra: { count: rs.length } }];
          const groups = new Map<string, { key: Value[]; count: number }>();
          for (const r of rs) {
            const view = pipeView(r);
            const key = keys.map((f) => normalizeKey(f(view)));
            const k = JSON.stringify(key);
            const g = groups.get(k);
            if (g) g.count++;
            else groups.set(k, { key, count: 1 });
          }
          const total = rs.length;
          return [...groups.values()]
            .sort((a, b) => a.count - b.count || JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)))
            .map((g) => ({ extra: { key: g.key.length === 1 ? g.key[0] : g.key, count: g.count, percent: g.count / total } }));
        };
      }
      case 'sort': {
        const keys = p.args.map((a) => compileExpr(a, ctx));
        return (rs) => {
          const decorated = rs.map((r, i) => ({ r, i, k: keys.map((f) => firstValue(f(pipeView(r)))) }));
          decorated.sort((a, b) => {
            for (let j = 0; j < keys.length; j++) {
              const x = a.k[j]!;
              const y = b.k[j]!;
              if (x === y) continue;
              // nulls sort first, as endgame does
              if (x === null) return -1;
              if (y === null) return 1;
              const c = compareScalars(x, y, ctx.caseInsensitive === true);
              if (c !== null && c !== 0) return c;
            }
            return a.i - b.i;
          });
          return decorated.map((d) => d.r);
        };
      }
      case 'window':
        return (rs) => rs;
    }
  });
}

function normalizeKey(v: Value): Value {
  return v === undefined ? null : v;
}
