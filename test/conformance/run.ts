/** `npm run conformance`: pass counts per table, known failures, and anything unexpected. */
import { runAdditionalQueries, runMissingEvents, runSamples } from './elasticsearch.js';
import { runEndgameQueries, runFoldTable } from './endgame.js';
import { loadKnownFailures, summarize } from './summary.js';

const known = loadKnownFailures();
const tables = [
  { file: 'endgame/test_queries.toml', results: runEndgameQueries() },
  { file: 'endgame/test_string_functions.toml', results: runFoldTable('test_string_functions.toml') },
  { file: 'endgame/test_folding.toml', results: runFoldTable('test_folding.toml') },
  { file: 'elasticsearch/additional_test_queries.toml', results: runAdditionalQueries() },
  { file: 'elasticsearch/test_missing_events.toml', results: runMissingEvents() },
  { file: 'elasticsearch/test_sample.toml', results: runSamples() },
];
let bad = false;
for (const t of tables) {
  const s = summarize(t.file, t.results, known);
  process.stdout.write(`${s.file.padEnd(46)} ${String(s.passed).padStart(4)}/${s.total} passed, ${s.known} known failures\n`);
  for (const u of s.unexpected) process.stdout.write(`  FAIL ${u.id}: ${u.detail}\n`);
  for (const f of s.fixed) process.stdout.write(`  FIXED (remove from known-failures.json) ${f}\n`);
  if (s.unexpected.length > 0 || s.fixed.length > 0) bad = true;
}
process.exitCode = bad ? 1 : 0;
