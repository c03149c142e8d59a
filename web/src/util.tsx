import { EuiBadge, EuiHealth, EuiLink } from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export const SEVERITY_COLOR: Record<string, string> = { critical: '#BD271E', high: '#E7664C', medium: '#D6BF57', low: '#54B399' };
export const STATUSES = ['open', 'acknowledged', 'closed'] as const;

export function fmtTime(t: number | string | null | undefined): string {
  if (t === null || t === undefined) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function Severity({ value }: { value: string }): ReactNode {
  return <EuiHealth color={SEVERITY_COLOR[value] ?? 'subdued'}>{value}</EuiHealth>;
}

export function Status({ value, reason }: { value: string; reason?: unknown }): ReactNode {
  const color = value === 'open' ? 'primary' : value === 'acknowledged' ? 'warning' : 'default';
  // a closed alert says why (false_positive → false positive)
  return <EuiBadge color={color}>{value === 'closed' && typeof reason === 'string' && reason ? `closed: ${reason.replace(/_/g, ' ')}` : value}</EuiBadge>;
}

/** Dotted field → value pairs of a document, arrays kept as values. */
export function flatten(doc: unknown, prefix = '', out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      const name = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, name, out);
      else out.push([name, v]);
    }
  } else if (prefix) out.push([prefix, doc]);
  return out;
}

export function get(doc: unknown, path: string): unknown {
  if (!doc || typeof doc !== 'object') return undefined;
  const o = doc as Record<string, unknown>;
  if (path in o) return o[path];
  const dot = path.indexOf('.');
  for (let i = dot; i >= 0; i = path.indexOf('.', i + 1)) {
    const head = path.slice(0, i);
    if (head in o) {
      const v = get(o[head], path.slice(i + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

export const text = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** A link that leaves Vigil: only http(s), never the opener. */
export function safeHref(url: string | undefined): string | undefined {
  return url && /^https?:\/\//i.test(url) ? url : undefined;
}

/** An external link in a new tab, with an href only when `safeHref` allows it. */
export function ExternalLink({ href, children }: { href: string | undefined; children: ReactNode }): ReactNode {
  return (
    <EuiLink href={safeHref(href)} target="_blank" rel="noopener noreferrer" external>
      {children}
    </EuiLink>
  );
}

const EQL_KEYWORDS = new Set(['where', 'and', 'or', 'not', 'in', 'like', 'regex', 'sequence', 'sample', 'by', 'with', 'maxspan', 'until', 'runs', 'any', 'true', 'false', 'null', 'of', 'join', 'descendant', 'child', 'event', 'head', 'tail', 'filter', 'unique', 'count', 'sort']);

/** EQL with keywords, strings, numbers and fields coloured; built as React text nodes only. */
export function HighlightEql({ query }: { query: string }): ReactNode {
  const parts: ReactNode[] = [];
  const re = /("(?:[^"\\]|\\.)*"|"""[\s\S]*?"""|\?"(?:[^"\\]|\\.)*"|[A-Za-z_@][\w.@-]*~?|\d+(?:\.\d+)?|\s+|.)/g;
  let m: RegExpExecArray | null;
  let k = 0;
  while ((m = re.exec(query)) !== null) {
    const t = m[0];
    let cls = '';
    if (t.startsWith('"') || t.startsWith('?"')) cls = 'eql-string';
    else if (/^\d/.test(t)) cls = 'eql-number';
    else if (EQL_KEYWORDS.has(t.toLowerCase())) cls = 'eql-keyword';
    else if (/^[A-Za-z_@]/.test(t)) cls = 'eql-field';
    parts.push(cls ? <span key={k++} className={cls}>{t}</span> : t);
  }
  return <pre className="eql-query" data-test-subj="eqlQuery">{parts}</pre>;
}

/** The page's parameters after `?` in the hash (#/alerts?status=open&…). */
export function hashParams(): URLSearchParams {
  const h = window.location.hash;
  const i = h.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : h.slice(i + 1));
}

/**
 * Writes the page's state into the hash without a new history entry or a hashchange (so a link
 * can be shared, and coming back from an alert finds the list as it was). Empty values are left out.
 */
export function writeHashParams(values: Record<string, string | number | readonly string[] | undefined | null>): void {
  const h = window.location.hash;
  const path = h.indexOf('?') < 0 ? h : h.slice(0, h.indexOf('?'));
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) {
    if (Array.isArray(v)) for (const x of v as readonly string[]) p.append(k, x);
    else if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const next = `${path || '#/'}${p.size ? `?${p.toString()}` : ''}`;
  if (next !== h) window.history.replaceState(null, '', next);
}

/** The server's clock minus the browser's (ms): time ranges count back from the server's now. */
let clockSkew = 0;
export const serverNow = (): number => Date.now() + clockSkew;
export async function syncServerClock(read: () => Promise<{ now: string }>): Promise<void> {
  try {
    const t0 = Date.now();
    const r = await read();
    clockSkew = Date.parse(r.now) - Math.round((t0 + Date.now()) / 2);
  } catch {
    clockSkew = 0;
  }
}

/** A value that follows `value` after it has stayed the same for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
