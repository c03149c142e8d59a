/**
 * Conformance against endgame EQL's own tables (../shared/conformance/endgame), run in endgame
 * compatibility mode: case-insensitive `==` where the table says so, endgame pipes and joins.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { checkStatement, compileExpr, parse, parseExpression, type Value } from '../../src/eql/index.js';
import { compileQuery, type EventHit, type SequenceHit } from '../../src/engine/index.js';
import { requireShared } from '../support/shared.js';

export interface CaseResult {
  /** Stable id: file, index in the table, and mode. */
  readonly id: string;
  readonly pass: boolean;
  readonly detail: string;
}

const FILETIME_EPOCH = 116444736000000000;
/** Endgame timestamps are Windows FILETIME (100 ns since 1601); the engine wants milliseconds. */
const filetimeToMs = (v: unknown): number => (typeof v === 'number' ? (v - FILETIME_EPOCH) / 10_000 : NaN);

function endgameDir(): string {
  return requireShared('conformance/endgame');
}

export function loadEndgameEvents(): Record<string, unknown>[] {
  return JSON.parse(readFileSync(join(endgameDir(), 'test_data.json'), 'utf8')) as Record<string, unknown>[];
}

interface QueryCase {
  readonly query: string;
  readonly expected_event_ids: number[];
  readonly case_sensitive?: boolean;
  readonly case_insensitive?: boolean;
}

function ids(hits: Array<EventHit | SequenceHit>): number[] {
  const out: number[] = [];
  for (const h of hits) {
    if ('events' in h) for (const e of h.events) out.push(e.missing ? -1 : Number(e._id));
    else out.push(Number((h as EventHit)._id));
  }
  return out;
}

/** test_queries.toml: each query in the modes its flags allow, ids compared in order. */
export function runEndgameQueries(): CaseResult[] {
  const table = parseToml(readFileSync(join(endgameDir(), 'test_queries.toml'), 'utf8')) as unknown as { queries: QueryCase[] };
  const events = loadEndgameEvents();
  const results: CaseResult[] = [];
  table.queries.forEach((q, i) => {
    const modes: Array<'sensitive' | 'insensitive'> = q.case_sensitive ? ['sensitive'] : q.case_insensitive ? ['insensitive'] : ['sensitive', 'insensitive'];
    for (const mode of modes) {
      const id = `test_queries.toml#${i}:${mode}`;
      const compiled = compileQuery(q.query, {
        dialect: 'endgame',
        caseInsensitive: mode === 'insensitive',
        timestampField: 'timestamp',
        parseTimestamp: filetimeToMs,
        eventCategoryField: 'event_type',
        tiebreakerField: 'serial_event_id',
        idField: 'serial_event_id',
      });
      if (!compiled.ok) {
        results.push({ id, pass: false, detail: `rejected: ${compiled.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}` });
        continue;
      }
      const hits = compiled.query.run(events);
      const got = ids([...(hits.events ?? []), ...(hits.sequences ?? [])]);
      const pass = JSON.stringify(got) === JSON.stringify(q.expected_event_ids);
      results.push({ id, pass, detail: pass ? '' : `want ${JSON.stringify(q.expected_event_ids)} got ${JSON.stringify(got)}: ${q.query.trim()}` });
    }
  });
  return results;
}

interface FoldTest {
  readonly expression: string;
  readonly expected?: unknown;
}

/** Walks a fold table: every `fold.tests` list, `loop` parameters substituted, `verifier.failures`. */
export function runFoldTable(file: string): CaseResult[] {
  const doc = parseToml(readFileSync(join(endgameDir(), file), 'utf8')) as Record<string, Record<string, unknown>>;
  const results: CaseResult[] = [];
  for (const [section, body] of Object.entries(doc)) {
    const sectionCase = body.case_sensitive === true ? 'sensitive' : body.case_insensitive === true ? 'insensitive' : null;
    const modes: Array<'sensitive' | 'insensitive'> = sectionCase ? [sectionCase] : ['sensitive', 'insensitive'];
    const tests: Array<{ t: FoldTest; tag: string }> = [];
    const fold = (body.fold as { tests?: FoldTest[] } | undefined)?.tests ?? (body.tests as FoldTest[] | undefined) ?? [];
    fold.forEach((t, i) => tests.push({ t, tag: `${i}` }));
    const loops = (body.loop as Array<{ param: { type: string[]; name: string }; fold: { tests: FoldTest[] } }> | undefined) ?? [];
    loops.forEach((loop, li) => {
      for (const type of loop.param.type) {
        const sample = SAMPLES[type] ?? 'null';
        loop.fold.tests.forEach((t, i) => tests.push({ t: { ...t, expression: t.expression.split(`$${loop.param.name}`).join(sample) }, tag: `loop${li}.${type}.${i}` }));
      }
    });
    for (const { t, tag } of tests) {
      for (const mode of modes) {
        const id = `${file}#${section}.${tag}:${mode}`;
        const parsed = parseExpression(t.expression, { dialect: 'endgame' });
        if (!parsed.ast || parsed.diagnostics.some((d) => d.severity === 'error')) {
          results.push({ id, pass: false, detail: `does not parse: ${t.expression}` });
          continue;
        }
        const got = compileExpr(parsed.ast, { dialect: 'endgame', caseInsensitive: mode === 'insensitive' })({});
        const want = t.expected === undefined ? null : t.expected;
        const pass = sameValue(got, want);
        results.push({ id, pass, detail: pass ? '' : `${t.expression}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}` });
      }
    }
    const failures = (body.verifier as { failures?: FoldTest[] } | undefined)?.failures ?? [];
    failures.forEach((t, i) => {
      const id = `${file}#${section}.verifier.${i}`;
      const parsed = parse(`any where ${t.expression} == null`, { dialect: 'endgame' });
      const diags = parsed.ast ? checkStatement(parsed.ast, { schema: null, dialect: 'endgame' }) : parsed.diagnostics;
      const rejected = parsed.diagnostics.some((d) => d.severity === 'error') || diags.some((d) => d.severity === 'error');
      results.push({ id, pass: rejected, detail: rejected ? '' : `accepted: ${t.expression}` });
    });
  }
  return results;
}

const SAMPLES: Record<string, string> = { bool: 'true', int: '1', string: '"abc"', float: '1.5', null: 'null' };

function sameValue(got: Value, want: unknown): boolean {
  if (typeof got === 'number' && typeof want === 'number') return Math.abs(got - want) < 1e-9;
  return JSON.stringify(got) === JSON.stringify(want);
}
