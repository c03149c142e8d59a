import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Diagnostic } from '../core/index.js';
import { loadTomlRule } from './load-toml.js';
import { loadMarkdownRule } from './markdown.js';
import { RuleCodes } from './messages.js';
import type { Rule } from './model.js';
import { loadNdjsonRules } from './ndjson.js';

export const RULE_EXTENSIONS = ['.toml', '.md', '.markdown', '.ndjson', '.jsonl'] as const;

/** Files read at once while loading. */
const READ_BATCH = 32;

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
    // files are read a batch at a time (reading one at a time leaves the thread waiting), parsed in order
    for (let at = 0; at < found.length; at += READ_BATCH) {
      const batch = found.slice(at, at + READ_BATCH);
      const texts = await Promise.allSettled(batch.map((f) => readFile(f, 'utf8')));
      batch.forEach((file, k) => {
        const t = texts[k]!;
        if (t.status === 'rejected') {
          const message = `cannot read: ${(t.reason as Error).message}`;
          files.push({ path: file, text: '', rules: [], diagnostics: [{ code: RuleCodes.unreadable, severity: 'error', message, span: { start: 0, end: 1 }, file }] });
          return;
        }
        const text = t.value;
        // in a folder walk, Markdown that is not a rule page (README, SOURCE notes) is passed over
        if (walked && isMarkdown(file) && !/^\*\*Rule type\*\*:/m.test(text)) return;
        files.push({ path: file, text, ...parseRuleFile(file, text) });
      });
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
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(path, e.name);
    // a link is followed to what it points at
    const dir = e.isSymbolicLink() ? (await stat(p).catch(() => null))?.isDirectory() === true : e.isDirectory();
    if (dir) out.push(...(await expand(p)));
    else if ((RULE_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

function isMarkdown(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === '.md' || ext === '.markdown';
}
