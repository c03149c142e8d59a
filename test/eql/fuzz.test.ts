import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuery, printStatement, stripSpans } from '../../src/index.js';
// a deterministic PRNG so a failing case can be replayed from its seed
import { rng } from '../../src/gen/index.js';
import { corpusEqlQueries } from '../support/shared.js';


const PIECES = [
  '(', ')', '[', ']', '![', '"', "'", '\\', '|', '~', '?', '/*', '*/', '//', '"""', '`', '==', '=', ':', ',', '.',
  ' not ', ' in ', ' in~ ', ' like~ ', ' regex ', ' and ', ' or ', ' sequence ', ' by ', ' with maxspan=', ' with runs=',
  ' until ', ' sample ', ' join ', ' | head ', ' | tail -', ' where ', ' any ', '\\u{', '?"', '-', '9999999999999999999999',
  '1.5e', '.', 'descendant of [', '\n', '\u00e9', '\ud83d', 'null', 'true', '()', 'length(', 'cidrMatch(', 'between~(',
];

function mutate(src: string, r: () => number): string {
  const pos = () => Math.floor(r() * (src.length + 1));
  let s = src;
  const steps = 1 + Math.floor(r() * 4);
  for (let k = 0; k < steps; k++) {
    const a = Math.floor(r() * (s.length + 1));
    const b = Math.min(s.length, a + Math.floor(r() * 20));
    switch (Math.floor(r() * 6)) {
      case 0: // delete a slice
        s = s.slice(0, a) + s.slice(b);
        break;
      case 1: // insert a piece of EQL syntax
        s = s.slice(0, a) + PIECES[Math.floor(r() * PIECES.length)]! + s.slice(a);
        break;
      case 2: // duplicate a slice
        s = s.slice(0, b) + s.slice(a, b) + s.slice(b);
        break;
      case 3: // truncate
        s = s.slice(0, a);
        break;
      case 4: {
        // move a slice elsewhere
        const piece = s.slice(a, b);
        const rest = s.slice(0, a) + s.slice(b);
        const at = Math.min(rest.length, pos());
        s = rest.slice(0, at) + piece + rest.slice(at);
        break;
      }
      default: // flip one character
        if (s.length > 0) s = s.slice(0, a) + String.fromCharCode(32 + Math.floor(r() * 95)) + s.slice(a + 1);
    }
  }
  return s;
}

const MUTATIONS = Number(process.env.VIGIL_FUZZ_CASES ?? 6000);
const SEED = Number(process.env.VIGIL_FUZZ_SEED ?? 20261123);

test(`parser survives ${MUTATIONS} mutated corpus queries (seed ${SEED})`, { timeout: 300_000 }, () => {
  const corpus = corpusEqlQueries();
  const r = rng(SEED);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < MUTATIONS; i++) {
    const base = corpus[Math.floor(r() * corpus.length)]!.query;
    const text = mutate(base, r);
    let result;
    try {
      result = parseQuery(text);
    } catch (e) {
      assert.fail(`case ${i}: parseQuery threw ${String(e)} on:\n${text}`);
    }
    for (const d of result.diagnostics) {
      assert.ok(d.span.start >= 0 && d.span.end <= text.length + 1 && d.span.start < d.span.end, `case ${i}: bad span ${JSON.stringify(d)}`);
    }
    if (result.ok) {
      accepted++;
      const printed = printStatement(result.ast!);
      const again = parseQuery(printed);
      assert.ok(again.ok, `case ${i}: printed form of an accepted query fails:\n${text}\n---\n${printed}`);
      assert.deepEqual(stripSpans(again.ast), stripSpans(result.ast), `case ${i}: round trip changed the tree:\n${text}`);
    } else {
      rejected++;
      assert.ok(result.diagnostics.some((d) => d.severity === 'error'), `case ${i}: not ok without an error`);
    }
  }
  // both outcomes must occur, or the mutator is not exercising the parser
  assert.ok(accepted > MUTATIONS / 20 && rejected > MUTATIONS / 4, `accepted ${accepted}, rejected ${rejected}`);
});
