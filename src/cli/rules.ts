import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatDiagnostics, LineMap } from '../core/index.js';
import { whyNotRunnable } from '../detect/index.js';
import { loadRules, writeMarkdownRule, writeNdjsonRules, type LoadedRuleSet } from '../rules/index.js';
import type { Io } from './program.js';

/** `vigil rules validate`: diagnostics per file and a summary; exit 1 when any rule is invalid. */
export async function runRulesValidate(io: Io, paths: string[], opts: { format: string }): Promise<number> {
  const set = await loadRules(paths);
  const errors = set.files.reduce((n, f) => n + f.diagnostics.filter((d) => d.severity === 'error').length, 0);
  const byType = countBy(set.rules.map((r) => r.type));
  const bySeverity = countBy(set.rules.map((r) => r.severity));
  if (opts.format === 'json') {
    const diagnostics = set.files.flatMap((f) => {
      const map = new LineMap(f.text);
      return f.diagnostics.map((d) => ({ ...d, ...map.lineCol(d.span.start) }));
    });
    io.out(`${JSON.stringify({ files: set.files.length, rules: set.rules.length, errors, byType, bySeverity, diagnostics })}\n`);
    return errors > 0 ? 1 : 0;
  }
  for (const f of set.files) {
    const shown = f.diagnostics.filter((d) => d.severity !== 'info');
    if (shown.length > 0) io.err(`${formatDiagnostics(shown, f.text, { file: f.path })}\n`);
  }
  const notRunnable = set.rules.filter((r) => whyNotRunnable(r) !== null).length;
  io.out(`${set.files.length} files, ${set.rules.length} rules loaded, ${errors} errors\n`);
  io.out(`by type:     ${fmt(byType)}\n`);
  io.out(`by severity: ${fmt(bySeverity)}\n`);
  if (notRunnable > 0) io.out(`${notRunnable} rules Vigil cannot run yet (loaded, not run): types other than EQL and KQL (query, threshold, new terms, indicator match), and KQL queries it cannot translate\n`);
  return errors > 0 ? 1 : 0;
}

/** `vigil rules convert`: rules in any format to Kibana NDJSON or Markdown pages. */
export async function runRulesConvert(io: Io, paths: string[], opts: { to: string; output?: string }): Promise<number> {
  const set: LoadedRuleSet = await loadRules(paths);
  for (const f of set.files) {
    const errs = f.diagnostics.filter((d) => d.severity === 'error');
    if (errs.length > 0) io.err(`${formatDiagnostics(errs, f.text, { file: f.path })}\n`);
  }
  if (opts.to === 'ndjson') {
    const text = writeNdjsonRules(set.rules);
    if (opts.output) await writeFile(opts.output, text);
    else io.out(text);
  } else if (opts.to === 'markdown') {
    if (!opts.output) {
      io.err('vigil rules convert: --to markdown needs --output DIR (one page per rule)\n');
      return 2;
    }
    await mkdir(opts.output, { recursive: true });
    for (const r of set.rules) await writeFile(join(opts.output, `${r.rule_id}.md`), writeMarkdownRule(r));
  } else {
    io.err(`vigil rules convert: unknown format '${opts.to}' (ndjson or markdown)\n`);
    return 2;
  }
  io.err(`converted ${set.rules.length} rules\n`);
  return set.files.some((f) => f.diagnostics.some((d) => d.severity === 'error')) ? 1 : 0;
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

function fmt(counts: Record<string, number>): string {
  return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
}
