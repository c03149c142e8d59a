import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peekEventTimes, peekTimestamp } from '../src/core/index.js';
import { compileQuery, rawFilterOf, RawText, RuleSet } from '../src/engine/index.js';
import { compileHuntRules } from '../src/app/index.js';
import { generateEvents } from '../src/gen/index.js';
import { loadRules } from '../src/rules/index.js';
import { requireShared } from './support/shared.js';

const filterOf = (q: string): ReturnType<typeof rawFilterOf> => {
  const c = compileQuery(q);
  assert.ok(c.ok, q);
  return rawFilterOf(c.query.ast);
};

/** The filter's verdict and the query's own answer on one document. */
function both(q: string, doc: Record<string, unknown>, text = JSON.stringify(doc)): [boolean, boolean] {
  const c = compileQuery(q);
  assert.ok(c.ok, q);
  const hits = c.query.run([{ _index: 'i', _id: '1', _source: doc }]);
  const matched = (hits.events?.length ?? 0) + (hits.sequences?.length ?? 0) > 0;
  return [rawFilterOf(c.query.ast).test(new RawText(text)), matched];
}

test('raw filter: exact values keep their quotes and case; `:` and `in~` look in the lowercased text', () => {
  const proc = { event: { category: ['process'] }, process: { name: 'MySQL', args: ['sqld', '-e'] } };
  assert.deepEqual(both('process where process.name == "mysql"', proc), [false, false]);
  assert.deepEqual(both('process where process.name == "MySQL"', proc), [true, true]);
  assert.deepEqual(both('process where process.name : "mysql"', proc), [true, true]);
  assert.deepEqual(both('process where process.name in~ ("x", "MYSQL")', proc), [true, true]);
  assert.deepEqual(both('process where process.name == "MySQ"', proc), [false, false]); // quoted: no prefix hit
  assert.deepEqual(both('process where process.name : "my*"', proc), [true, true]);
  assert.deepEqual(both('process where process.name : "*sql"', proc), [true, true]);
  assert.deepEqual(both('process where process.name : "*ysq*"', proc), [true, true]);
  assert.deepEqual(both('process where process.name like "my*"', proc), [false, false]); // like is case-sensitive
});

test('raw filter: and takes the stronger side, or needs both, not gives nothing', () => {
  assert.deepEqual(filterOf('process where event.type == "start" and process.name == "mysql"').needles!.map((n) => n.text), ['"mysql"']);
  assert.deepEqual(filterOf('process where process.name == "a1" or process.name : "b2*"').needles!.map((n) => n.text), ['"a1"', '"b2']);
  assert.deepEqual(filterOf('process where process.name == "ab" or not process.name == "cd"').needles!.map((n) => n.text), ['"process"']);
  assert.equal(filterOf('any where not process.name == "cd"').needles, null);
  assert.deepEqual(filterOf('sequence [process where process.name == "aa"] [file where file.name : "*.bb"]').needles!.map((n) => n.text), ['"aa"', '.bb"']);
  assert.equal(filterOf('sequence [process where true] [file where file.name == "x.y"]').needles!.map((n) => n.text).join(), '"process","x.y"');
  assert.equal(filterOf('sequence [any where true] [file where file.name == "x.y"]').needles, null);
});

test('raw filter: values that could be numbers or booleans, and texts with \\u escapes, always pass', () => {
  const doc = { event: { category: ['network'] }, custom: { port: 443 }, flag: true, name: 'ab' };
  assert.deepEqual(both('network where custom.port == "443"', doc), [true, true]);
  assert.deepEqual(both('network where custom.port : "44*"', doc), [true, true]);
  assert.deepEqual(both('network where flag : "true"', doc), [true, false]);
  assert.equal(filterOf('network where custom.port == "443"').needles![0]!.text, '"network"');
  // the same document written with an escape (as Python's json.dumps writes non-ASCII)
  assert.deepEqual(both('network where name == "ab"', doc, JSON.stringify(doc).replace('"ab"', '"\\u0061b"')), [true, true]);
  assert.deepEqual(both('network where name == "ab"', doc, JSON.stringify(doc).replace('"ab"', '"a\\/b"').replace('a\\/b', 'ab')), [true, true]);
  // backslashes in values are matched in their JSON spelling
  const win = { event: { category: ['file'] }, file: { path: 'C:\\Windows\\x.dll' } };
  assert.deepEqual(both('file where file.path : "c:\\\\windows\\\\*"', win), [true, true]);
  assert.deepEqual(both('file where file.path == "C:\\\\Windows\\\\x.dll"', win), [true, true]);
  // quotes and backslashes inside values: string tokens end at the first unescaped quote
  const quoted = { event: { category: ['file'] }, file: { name: 'a"b\\', path: 'x\\"' } };
  assert.deepEqual(both('file where file.name == "a\\"b\\\\"', quoted), [true, true]);
  assert.deepEqual(both('file where file.path == "x\\\\\\""', quoted), [true, true]);
  assert.deepEqual(both('file where file.name == "b"', quoted), [false, false]);
});

test('peekEventTimes reads a leading @timestamp and declines every other shape', () => {
  assert.deepEqual(peekEventTimes('{"@timestamp":"2024-01-01T00:00:00Z","a":1}'), { timestamp: '2024-01-01T00:00:00Z', ingested: undefined });
  assert.deepEqual(peekEventTimes('{ "@timestamp" : 1700000000000 , "a":1}'), { timestamp: 1700000000000, ingested: undefined });
  assert.deepEqual(peekEventTimes('{"a":1}'), { timestamp: undefined, ingested: undefined });
  for (const text of [
    '{"a":{"@timestamp":"x"},"@timestamp":"y"}', // not first: may be nested
    '{"@timestamp":"x","@timestamp":"y"}', // duplicate: the last wins in JSON.parse
    '{"@timestamp":"x","event":{"ingested":"z"}}',
    '{"\\u0040timestamp":"x"}',
    '{"@timestamp":"a\\"b"}',
    '{"@timestamp":null}',
    '[1]',
    ' {"@timestamp":"x"}',
  ]) assert.equal(peekEventTimes(text), null, text);
  // peekTimestamp: the same reading of @timestamp, whether or not the event has event.ingested
  assert.deepEqual(peekTimestamp('{"@timestamp":"x","event":{"ingested":"z"}}'), { timestamp: 'x', ingested: undefined });
  assert.equal(peekTimestamp('{"\\u0040timestamp":"x","@timestamp":"y"}'), null);
  assert.equal(peekTimestamp('{"a":{"@timestamp":"x"},"@timestamp":"y"}'), null);
});

test('raw filter never rejects an event that the corpus rules match, and rejects most pairs', async (t) => {
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules;
  const { entries } = compileHuntRules(rules, undefined);
  const events = [...generateEvents({ events: 3000, seed: 11, plantEvery: 100 })].map((l, i) => ({ _index: 'hunt', _id: String(i), _source: JSON.parse(l) as Record<string, unknown> }));
  // odd parent/child pairs, as in the hunt test, so that many rules match something
  const procs = events.filter((e) => (e._source.process as { parent?: unknown } | undefined)?.parent);
  procs.forEach((e, i) => {
    (e._source.process as Record<string, unknown>).parent = (procs[(i * 7919) % procs.length]!._source.process as { parent: unknown }).parent;
    (e._source.process as Record<string, unknown>).name = (procs[(i * 104729) % procs.length]!._source.process as { name: unknown }).name;
  });
  const texts = new Map(events.map((e) => [e._id, JSON.stringify(e._source)]));
  let hits = 0;
  let rejected = 0;
  for (const entry of entries) {
    const raw = rawFilterOf(entry.query.ast);
    const set = new RuleSet([entry], { indexed: false, lateness: 3_600_000 });
    const out: Parameters<typeof set.push>[1] = [];
    for (const e of events) set.push(e, out);
    set.flush(out);
    for (const h of out) {
      for (const ev of 'events' in h.hit ? h.hit.events : [h.hit]) {
        hits++;
        assert.ok(raw.test(new RawText(texts.get(ev._id)!)), `${entry.rule.name}: event ${ev._id} matched but its text was rejected`);
      }
    }
    for (const text of texts.values()) if (!raw.test(new RawText(text))) rejected++;
  }
  assert.ok(hits > 50, `only ${hits} matched events`);
  const share = rejected / (entries.length * events.length);
  assert.ok(share > 0.8, `the filter rejects only ${(share * 100).toFixed(1)}% of rule/event pairs`);
  t.diagnostic(`${hits} matched events all passed; ${(share * 100).toFixed(1)}% of ${entries.length} rules × ${events.length} events rejected unparsed`);
});
