import { LineMap, type Span } from './span.js';

export type Severity = 'error' | 'warning' | 'info';

/**
 * A problem found in some input. Diagnostics are values: front ends collect them and never throw.
 * `offset` shifts `span` into a larger file (a query inside a rule file); `file` names that file.
 */
export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly file?: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

export interface FormatOptions {
  /** Name shown before line:col when a diagnostic carries no file. */
  readonly file?: string;
  /** Show the source line and a caret under the span (default true). */
  readonly context?: boolean;
}

/**
 * Renders diagnostics as `file:line:col: severity CODE: message`, followed by the source line and a
 * caret run under the span.
 */
export function formatDiagnostics(
  diagnostics: readonly Diagnostic[],
  source: string,
  options: FormatOptions = {},
): string {
  const map = new LineMap(source);
  const out: string[] = [];
  for (const d of diagnostics) {
    const { line, col } = map.lineCol(d.span.start);
    const file = d.file ?? options.file;
    const where = file === undefined ? `${line}:${col}` : `${file}:${line}:${col}`;
    out.push(`${where}: ${d.severity} ${d.code}: ${d.message}`);
    if (options.context !== false) {
      const text = map.lineText(line);
      const endOnLine = Math.min(d.span.end, d.span.start + Math.max(1, text.length - col + 1));
      const width = Math.max(1, endOnLine - d.span.start);
      out.push(`  ${text}`);
      out.push(`  ${' '.repeat(col - 1)}${'^'.repeat(width)}`);
    }
  }
  return out.join('\n');
}

/** line:col of a diagnostic's start, for tests and JSON output. */
export function diagnosticPosition(d: Diagnostic, source: string): { line: number; col: number } {
  return new LineMap(source).lineCol(d.span.start);
}
