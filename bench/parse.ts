import { parse, parseQuery } from '../src/eql/index.js';
import { corpusEqlQueries } from '../test/support/shared.js';
import { median } from './stats.js';

export interface BenchResult {
  readonly title: string;
  readonly lines: string[];
}


/** Parsing all active corpus EQL queries: syntax only, and parse + check against ECS. */
export function benchParse(rounds = 15): BenchResult {
  const queries = corpusEqlQueries().map((q) => q.query);
  const bytes = queries.reduce((n, q) => n + q.length, 0);
  // baseline: a pass over the same text that every parser must at least make
  const time = (fn: () => void): number => {
    const samples: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      fn();
      samples.push(performance.now() - t0);
    }
    return median(samples);
  };
  parseQuery(queries[0]!); // load the ECS schema outside the timings
  let sink = 0;
  const scan = time(() => {
    for (const q of queries) for (let i = 0; i < q.length; i++) sink += q.charCodeAt(i);
  });
  const syntax = time(() => {
    for (const q of queries) sink += parse(q).diagnostics.length;
  });
  const full = time(() => {
    for (const q of queries) sink += parseQuery(q).diagnostics.length;
  });
  if (sink === -1) process.stdout.write('');
  return {
    title: `EQL front end: ${queries.length} corpus queries, ${(bytes / 1024).toFixed(0)} KiB (median of ${rounds})`,
    lines: [
      `baseline char scan      ${scan.toFixed(1).padStart(8)} ms`,
      `parse (syntax)          ${syntax.toFixed(1).padStart(8)} ms   ${((queries.length / syntax) * 1000).toFixed(0)} queries/s`,
      `parse + check (ECS)     ${full.toFixed(1).padStart(8)} ms   ${((queries.length / full) * 1000).toFixed(0)} queries/s`,
    ],
  };
}
