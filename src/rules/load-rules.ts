import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Diagnostic } from '../core/index.js';
import { loadTomlRule } from './load-toml.js';
import { loadMarkdownRule } from './markdown.js';
import { RuleCodes } from './messages.js';
import type { Rule } from './model.js';
import { loadNdjsonRules } from './ndjson.js';

export const RULE_EXTENSIONS = ['.toml', '.md', '.markdown', '.ndjson', '.jsonl'] as const;

/** One file's outcome: its rules, its diagnostics, and its text for rendering them. */
export interface RuleFile {
  readonly path: string;
  readonly text: string;
  readonly rules: Rule[];
  readonly diagnostics: Diagnostic[];
}

/** Parses a rule file's text by its extension. Pure: no I/O. */
export function parseRuleFile(path: string, text: string): Omit<RuleFile, 'text' | 'path'> {
  const ext = extname(path).toLowerCase();
  if (ext === '.toml') {
    const r = loadTomlRule(text, path);
    return { rules: r.rule ? [r.rule] : [], diagnostics: r.diagnostics };
  }
  if (ext === '.md' || ext === '.markdown') {
    const r = loadMarkdownRule(text, path);
    return { rules: r.rule ? [r.rule] : [], diagnostics: r.diagnostics };
  }
  if (ext === '.ndjson' || ext === '.jsonl') return loadNdjsonRules(text, path);
  return {
    rules: [],
    diagnostics: [{ code: RuleCodes.unreadable, severity: 'error', message: `unsupported rule file type '${ext}'`, span: { start: 0, end: 1 }, file: path }],
  };
}

export interface LoadedRuleSet {
  readonly files: RuleFile[];
  /** Every valid rule, first occurrence of each rule_id. */
  readonly rules: Rule[];
}

/**
 * Loads rule files and folders: folders recursively by extension, in sorted (deterministic) order.
 * A bad file or rule is reported and the others still load; a repeated rule_id is an error on the
 * later copy.
 */
export async function loadRules(paths: readonly string[]): Promise<LoadedRuleSet> {
  const files: RuleFile[] = [];
  for (const p of paths) {
    const found = await expand(p);
    const walked = found.length !== 1 || found[0] !== p;
    for (const file of found) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        files.push({ path: file, text: '', rules: [], diagnostics: [{ code: RuleCodes.unreadable, severity: 'error', message: `cannot read: ${(e as Error).message}`, span: { start: 0, end: 1 }, file }] });
        continue;
      }
      // in a folder walk, Markdown that is not a rule page (README, SOURCE notes) is passed over
      if (walked && isMarkdown(file) && !/^\*\*Rule type\*\*:/m.test(text)) continue;
      files.push({ path: file, text, ...parseRuleFile(file, text) });
    }
  }
  const seen = new Map<string, string>();
  const rules: Rule[] = [];
  for (const f of files) {
    const keep: Rule[] = [];
    for (const r of f.rules) {
      const first = seen.get(r.rule_id);
      if (first !== undefined) {
        const at = f.text.indexOf(r.rule_id);
        f.diagnostics.push({
          code: RuleCodes.duplicateRuleId,
          severity: 'error',
          message: `duplicate rule_id ${r.rule_id}: already loaded from ${first}`,
          span: at < 0 ? { start: 0, end: 1 } : { start: at, end: at + r.rule_id.length },
          file: f.path,
        });
        continue;
      }
      seen.set(r.rule_id, f.path);
      keep.push(r);
      rules.push(r);
    }
    f.rules.splice(0, f.rules.length, ...keep);
  }
  return { files, rules };
}

async function expand(path: string): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return [path]; // reported as unreadable by the caller
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const names = (await readdir(path)).sort();
  for (const name of names) {
    const p = join(path, name);
    const s = await stat(p);
    if (s.isDirectory()) out.push(...(await expand(p)));
    else if ((RULE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase())) out.push(p);
  }
  return out;
}

function isMarkdown(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === '.md' || ext === '.markdown';
}
