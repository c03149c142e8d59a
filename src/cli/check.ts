import { readFile } from 'node:fs/promises';
import { formatDiagnostics, LineMap } from '../core/index.js';
import { parseQuery, printStatement, type Dialect } from '../eql/index.js';
import { parseKql, printKql } from '../kql/index.js';
import type { Io } from './program.js';

export interface CheckOpts {
  readonly file?: string;
  /** eql (default) or kuery. */
  readonly language?: string;
  readonly dialect: string;
  readonly strict?: boolean;
  readonly format: string;
}

/** `vigil check` (EQL, or KQL with `--language kuery`): exit 0 when the query has no error, 1 when it has, 2 on bad usage. */
export async function runCheck(io: Io, query: string | undefined, opts: CheckOpts): Promise<number> {
  const language = opts.language ?? 'eql';
  if (language !== 'eql' && language !== 'kuery' && language !== 'kql') {
    io.err(`vigil check: unknown language '${language}' (eql or kuery)\n`);
    return 2;
  }
  if (opts.dialect !== 'elasticsearch' && opts.dialect !== 'endgame') {
    io.err(`vigil check: unknown dialect '${opts.dialect}' (elasticsearch or endgame)\n`);
    return 2;
  }
  let text: string;
  let file: string | undefined;
  if (opts.file !== undefined) {
    file = opts.file;
    try {
      text = await readFile(opts.file, 'utf8');
    } catch (e) {
      io.err(`vigil check: cannot read ${opts.file}: ${(e as Error).message}\n`);
      return 2;
    }
  } else if (query !== undefined) {
    text = query;
  } else {
    io.err('vigil check: give a query, or --file PATH\n');
    return 2;
  }
  const result =
    language === 'eql'
      ? ((r) => ({ ...r, canonical: r.ok && r.ast ? printStatement(r.ast) : null }))(parseQuery(text, { dialect: opts.dialect as Dialect, strict: opts.strict }))
      : ((r) => ({ ...r, canonical: r.ok && r.ast ? printKql(r.ast) : null }))(parseKql(text));
  if (opts.format === 'json') {
    const map = new LineMap(text);
    io.out(
      `${JSON.stringify({
        ok: result.ok,
        canonical: result.canonical,
        diagnostics: result.diagnostics.map((d) => ({ ...d, ...map.lineCol(d.span.start), file })),
      })}\n`,
    );
    return result.ok ? 0 : 1;
  }
  if (result.diagnostics.length > 0) {
    io.err(`${formatDiagnostics(result.diagnostics, text, { file: file ?? '<query>' })}\n`);
  }
  if (result.canonical !== null) io.out(`${result.canonical}\n`);
  return result.ok ? 0 : 1;
}
