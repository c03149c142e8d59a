import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAdditionalQueries, runMissingEvents, runSamples } from './elasticsearch.js';
import { runEndgameQueries, runFoldTable } from './endgame.js';
import { loadKnownFailures, summarize } from './summary.js';

const known = loadKnownFailures();

const tables: Array<[string, () => ReturnType<typeof runEndgameQueries>]> = [
  ['endgame/test_queries.toml', runEndgameQueries],
  ['endgame/test_string_functions.toml', () => runFoldTable('test_string_functions.toml')],
  ['endgame/test_folding.toml', () => runFoldTable('test_folding.toml')],
  ['elasticsearch/additional_test_queries.toml', runAdditionalQueries],
  ['elasticsearch/test_missing_events.toml', runMissingEvents],
  ['elasticsearch/test_sample.toml', runSamples],
];

for (const [file, run] of tables) {
  test(`conformance ${file}: every case passes or is a listed known failure`, () => {
    const s = summarize(file, run(), known);
    assert.ok(s.total > 0, 'no cases found');
    assert.deepEqual(
      s.unexpected.map((u) => `${u.id}: ${u.detail}`),
      [],
    );
    assert.deepEqual(s.fixed, [], 'listed known failures now pass: remove them from known-failures.json');
  });
}
