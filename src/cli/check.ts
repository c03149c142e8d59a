import { readFile } from 'node:fs/promises';
import { formatDiagnostics, LineMap } from '../core/index.js';
import { parseQuery, printStatement, type Dialect } from '../eql/index.js';
import type { Io } from './program.js';

export interface CheckOpts {
  readonly file?: string;
  readonly dialect: string;
  readonly strict?: boolean;
  readonly format: string;
}

/** `vigil check`: exit 0 when the query has no error, 1 when it has, 2 on bad usage. */
export async function runCheck(io: Io, query: string | undefined, opts: CheckOpts): Promise<number> {
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
  const result = parseQuery(text, { dialect: opts.dialect as Dialect, strict: opts.strict });
  if (opts.format === 'json') {
    const map = new LineMap(text);
    io.out(
      `${JSON.stringify({
        ok: result.ok,
        canonical: result.ok && result.ast ? printStatement(result.ast) : null,
        diagnostics: result.diagnostics.map((d) => ({ ...d, ...map.lineCol(d.span.start), file })),
      })}\n`,
    );
    return result.ok ? 0 : 1;
  }
  if (result.diagnostics.length > 0) {
    io.err(`${formatDiagnostics(result.diagnostics, text, { file: file ?? '<query>' })}\n`);
  }
  if (result.ok && result.ast) io.out(`${printStatement(result.ast)}\n`);
  return result.ok ? 0 : 1;
}
