import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/shared.js';
import type { CaseResult } from './endgame.js';

/** Known failures: case id → reason. The list may only shrink: a listed case that passes is an error. */
export function loadKnownFailures(): Record<string, string> {
  return JSON.parse(readFileSync(join(repoRoot, 'test/conformance/known-failures.json'), 'utf8')) as Record<string, string>;
}

export interface FileSummary {
  readonly file: string;
  readonly total: number;
  readonly passed: number;
  readonly known: number;
  /** Failing and not on the list. */
  readonly unexpected: CaseResult[];
  /** On the list but passing now. */
  readonly fixed: string[];
}

export function summarize(file: string, results: CaseResult[], known: Record<string, string>): FileSummary {
  const unexpected = results.filter((r) => !r.pass && !(r.id in known));
  const fixed = results.filter((r) => r.pass && r.id in known).map((r) => r.id);
  return {
    file,
    total: results.length,
    passed: results.filter((r) => r.pass).length,
    known: results.filter((r) => !r.pass && r.id in known).length,
    unexpected,
    fixed,
  };
}
