import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';

/** The repository root (tests run from dist/test/…). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** `../shared` beside the repository: seeds, rule corpus, conformance data. */
export const sharedDir = process.env.VIGIL_SHARED ?? resolve(repoRoot, '../shared');

export function requireShared(sub: string): string {
  const p = join(sharedDir, sub);
  if (!existsSync(p)) throw new Error(`test data missing: ${p} (set VIGIL_SHARED to the shared/ folder)`);
  return p;
}

export function walkFiles(dir: string, accept: (path: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) visit(p);
      else if (accept(p)) out.push(p);
    }
  };
  visit(dir);
  return out;
}

export interface CorpusQuery {
  readonly file: string;
  readonly query: string;
}

/** The active (not deprecated) EQL rules of the detection-rules corpus. */
export function corpusEqlQueries(): CorpusQuery[] {
  const root = requireShared('corpus/detection-rules');
  const files = walkFiles(root, (p) => p.endsWith('.toml') && !p.includes('/_deprecated/'));
  const out: CorpusQuery[] = [];
  for (const file of files) {
    const doc = parseToml(readFileSync(file, 'utf8')) as { rule?: { type?: string; query?: string } };
    if (doc.rule?.type === 'eql' && typeof doc.rule.query === 'string') out.push({ file, query: doc.rule.query });
  }
  return out;
}
