import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFieldGetter } from '../src/ecs/index.js';
import { compileQuery } from '../src/engine/index.js';

/** A small deterministic generator: events with jittered arrival. */
function events(n: number, seed: number): Array<Record<string, unknown>> {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const cats = ['process', 'network', 'file'];
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    out.push({
      '@timestamp': new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      event: { category: cats[Math.floor(rnd() * 3)] },
      host: { name: `h${Math.floor(rnd() * 5)}` },
      seq: i,
    });
  }
  // arrival: each event moved back by up to 20 s
  return out
    .map((e, i) => ({ e, at: i - rnd() * 20 }))
    .sort((a, b) => a.at - b.at)
    .map((x) => x.e);
}

const queries = [
  'process where host.name == "h1"',
  'sequence by host.name with maxspan=30s [process where true] [network where true] [file where true]',
  'sequence by host.name with maxspan=1m [process where true] ![network where true] [file where true]',
  'sample by host.name [process where true] [network where true]',
];

for (const q of queries) {
  test(`streaming with lateness gives the batch result: ${q}`, () => {
    const c = compileQuery(q, { idField: 'seq' });
    assert.ok(c.ok);
    const evs = events(2000, 7);
    const batch = c.query.run(evs);
    const m = c.query.createMatcher({ lateness: 30_000 });
    const streamed = [...evs.flatMap((e) => m.push(e)), ...m.flush()];
    const ids = (hits: unknown[]): string => JSON.stringify(hits.map((h) => ('events' in (h as object) ? (h as { events: Array<{ _id: string }> }).events.map((e) => e._id) : (h as { _id: string })._id)));
    const b = [...(batch.events ?? []), ...(batch.sequences ?? [])];
    assert.ok(b.length > 0, 'the query should match something');
    // streaming emits in completion order; compare as sets of results
    assert.deepEqual(JSON.parse(ids(streamed)).sort(), JSON.parse(ids(b)).sort());
    assert.equal(m.counters.late, 0);
  });
}

// a batch matcher (the scheduled pass's: everything sorted at the flush) keeps events that are not of
// a positive first stage aside and feeds only those after the earliest first-stage event; events
// arrive out of order, so a first-stage event often comes after later-stage events it precedes
for (const q of [
  ...queries.slice(1),
  'sequence by host.name with maxspan=10s [process where true] ![network where true]',
  'sequence by host.name [process where true] [file where true] until [network where true]',
  'sequence by host.name with maxspan=10s ![network where true] [process where true] [file where true]',
]) {
  test(`a batch matcher over events out of order gives the batch result: ${q}`, () => {
    const c = compileQuery(q, { idField: 'seq' });
    assert.ok(c.ok);
    const evs = events(2000, 11);
    const batch = c.query.run(evs);
    const m = c.query.createMatcher({ lateness: Infinity });
    const fed = [...evs.flatMap((e) => m.push(e)), ...m.flush()];
    const ids = (hits: unknown[]): string[] => hits.map((h) => JSON.stringify('events' in (h as object) ? (h as { events: Array<{ _id: string }> }).events.map((e) => e._id) : (h as { _id: string })._id)).sort();
    const b = [...(batch.events ?? []), ...(batch.sequences ?? [])];
    assert.ok(b.length > 0, 'the query should match something');
    assert.deepEqual(ids(fed), ids(b));
  });
}

/** Hits of a matcher fed `evs` as documents, or as text with its decodes counted. */
function feedAs(q: string, evs: ReadonlyArray<Record<string, unknown>>, lateness: number, text: boolean): { hits: unknown[]; decoded: number } {
  const c = compileQuery(q, { idField: 'seq' });
  assert.ok(c.ok);
  let decoded = 0;
  const decode = (t: string): Record<string, unknown> => {
    decoded++;
    return JSON.parse(t) as Record<string, unknown>;
  };
  const m = c.query.createMatcher({ lateness });
  const hits = [...evs.flatMap((e, i) => m.push(text ? { _index: 'i', _id: String(i), _text: JSON.stringify(e), decode } : { _index: 'i', _id: String(i), _source: e })), ...m.flush()];
  return { hits, decoded };
}

for (const q of queries) {
  test(`events given as text give what their documents give, and a held one is decoded again only to be reported: ${q}`, () => {
    const late = events(2000, 7);
    const docs = feedAs(q, late, 30_000, false).hits;
    assert.ok(docs.length > 0, 'the query should match something');
    assert.deepEqual(feedAs(q, late, 30_000, true).hits, docs);
    // in time order: one decode per event pushed (all its tests read that one), and one per event
    // reported after its push (a sample reports all its events at the end of the input)
    const inOrder = [...late].sort((a, b) => (a.seq as number) - (b.seq as number));
    const { hits, decoded } = feedAs(q, inOrder, 0, true);
    assert.deepEqual(hits, feedAs(q, inOrder, 0, false).hits);
    const reported = hits.reduce((n: number, h) => n + ('events' in (h as object) ? (h as { events: unknown[] }).events.length : 1), 0);
    assert.ok(reported > 0);
    if (q.startsWith('sample')) assert.equal(decoded, inOrder.length + reported);
    else assert.ok(decoded >= inOrder.length && decoded <= inOrder.length + reported, `${decoded} decodes`);
  });
}

test('sequence state is bounded: the cap on open sequences holds and drops are counted', () => {
  const c = compileQuery('sequence by user.name [authentication where true] [process where true]', { maxOpenSequences: 1000 });
  assert.ok(c.ok);
  const m = c.query.createMatcher();
  for (let i = 0; i < 50_000; i++) m.push({ '@timestamp': i, event: { category: 'authentication' }, user: { name: `u${i}` } });
  const counters = m.counters.sequence!;
  assert.equal(counters.started, 50_000);
  assert.equal(counters.droppedByCap, 49_000);
});

test('sample state is bounded: beyond the cap on open keys the oldest is settled with what it holds, or loses its events (counted) when that is no sample', () => {
  const c = compileQuery('sample by user.name [authentication where true] [process where true]', { maxOpenSamples: 3 });
  assert.ok(c.ok);
  const m = c.query.createMatcher();
  const auth = (t: number, u: string): Record<string, unknown> => ({ '@timestamp': t, event: { category: 'authentication' }, user: { name: u } });
  const proc = (t: number, u: string): Record<string, unknown> => ({ '@timestamp': t, event: { category: 'process' }, user: { name: u } });
  // z has a sample but keeps its key open (its lists are not full); a..e open, 3 at most: c settles
  // z (a sample: a later z opens nothing), d and e cost a and b their events
  m.push(auth(1, 'z'));
  m.push(proc(2, 'z'));
  for (const [i, u] of ['a', 'b', 'c', 'd', 'e'].entries()) m.push(auth(10 + i, u));
  m.push(auth(20, 'z'));
  m.push(proc(30, 'e'));
  m.push(proc(31, 'c'));
  // a lost its first event: a process event opens it again (c, the oldest open key, settles with
  // its sample), and a second authentication completes it
  m.push(proc(40, 'a'));
  m.push(auth(41, 'a'));
  const keys = m.flush().map((h) => ('join_keys' in h ? h.join_keys[0] : null));
  assert.deepEqual(keys, ['a', 'c', 'e', 'z']);
  assert.equal(m.counters.sample!.droppedByCap, 2);
  // with no cap to speak of, a completes on its first pair
  const all = compileQuery('sample by user.name [authentication where true] [process where true]');
  assert.ok(all.ok);
  const m2 = all.query.createMatcher();
  for (const [i, u] of ['a', 'b', 'c', 'd', 'e'].entries()) m2.push(auth(10 + i, u));
  for (const [i, u] of ['a', 'e', 'c'].entries()) m2.push(proc(30 + i, u));
  assert.deepEqual(m2.flush().map((h) => ('join_keys' in h ? h.join_keys[0] : null)), ['a', 'c', 'e']);
  assert.equal(m2.counters.sample!.droppedByCap, 0);
});

test('maxspan expiry frees state as time passes', () => {
  const c = compileQuery('sequence by user.name with maxspan=1s [authentication where true] [process where true]');
  assert.ok(c.ok);
  const m = c.query.createMatcher();
  for (let i = 0; i < 10_000; i++) m.push({ '@timestamp': i * 100, event: { category: 'authentication' }, user: { name: `u${i}` } });
  assert.ok(m.counters.sequence!.expired > 9_000, String(m.counters.sequence!.expired));
});

/**
 * Hits of a matcher fed `evs` as text, each with the verdict worked out on its document (see
 * CompiledQuery.judge), and the events whose text was decoded.
 */
function feedJudged(q: string, evs: ReadonlyArray<Record<string, unknown>>, lateness: number): { hits: unknown[]; decoded: Set<string>; judged: number } {
  const c = compileQuery(q, { idField: 'seq' });
  assert.ok(c.ok);
  const judge = c.query.judge(createFieldGetter);
  assert.ok(judge, `no verdicts for ${q}`);
  const decoded = new Set<string>();
  let judged = 0;
  const m = c.query.createMatcher({ lateness });
  const hits = [
    ...evs.flatMap((e, i) => {
      const v = judge.judge(e);
      if (v) judged++;
      const decode = (t: string): Record<string, unknown> => {
        decoded.add(String(i));
        return JSON.parse(t) as Record<string, unknown>;
      };
      return m.push({ _index: 'i', _id: String(i), _text: JSON.stringify(e), decode }, v ?? undefined);
    }),
    ...m.flush(),
  ];
  return { hits, decoded, judged };
}

const statefulQueries = [
  ...queries.filter((q) => !q.startsWith('process')),
  'sequence by host.name with maxspan=1m [process where true] [network where true] until [file where host.name == "h3"]',
  'sequence with maxspan=20s [process where true] by host.name [network where true] by host.name [process where true] with runs=2 by host.name',
  'sample by host.name, ?process.name [process where true] [network where true] [file where true]',
];

for (const q of statefulQueries) {
  test(`events with verdicts match as their documents do, and are decoded only to be reported: ${q}`, () => {
    for (const [evs, lateness] of [
      [events(2000, 7), 30_000],
      [[...events(2000, 7)].sort((a, b) => (a.seq as number) - (b.seq as number)), 0],
    ] as const) {
      const docs = feedAs(q, evs, lateness, false).hits;
      assert.ok(docs.length > 0, 'the query should match something');
      const { hits, decoded, judged } = feedJudged(q, evs, lateness);
      assert.equal(judged, evs.length);
      assert.deepEqual(hits, docs);
      const reported = new Set(hits.flatMap((h) => ('events' in (h as object) ? (h as { events: Array<{ _id: string }> }).events.map((e) => e._id) : [(h as { _id: string })._id])));
      for (const id of decoded) assert.ok(reported.has(id), `event ${id} decoded, and not reported`);
    }
  });
}

test('no verdicts where a matcher needs the document; none where a join key would not read back the same', () => {
  for (const q of ['process where true', 'sequence by host.name [process where descendant of [process where true]] [file where true]']) {
    const c = compileQuery(q, { dialect: q.includes('descendant') ? 'endgame' : 'elasticsearch' });
    assert.ok(c.ok, q);
    assert.equal(c.query.judge(createFieldGetter), null, q);
  }
  const tb = compileQuery('sample by n [process where true] [file where true]', { tiebreakerField: 'seq' });
  assert.ok(tb.ok);
  assert.equal(tb.query.judge(createFieldGetter), null);
  const c = compileQuery('sample by n [process where true] [file where true]');
  assert.ok(c.ok);
  const judge = c.query.judge(createFieldGetter)!;
  const doc = (n: unknown): Record<string, unknown> => ({ '@timestamp': '2026-01-01T00:00:01.500Z', event: { category: 'process' }, n });
  assert.deepEqual(judge.judge(doc(7)), { ts: Date.UTC(2026, 0, 1, 0, 0, 1, 500), mask: 1, keys: ['[7]'] });
  assert.deepEqual(judge.judge(doc(['a', null, true])), { ts: Date.UTC(2026, 0, 1, 0, 0, 1, 500), mask: 1, keys: ['[["a",null,true]]'] });
  for (const n of [-0, NaN, Infinity, { a: 1 }]) assert.equal(judge.judge(doc(n)), null, String(n));
  // a filter it fails: no bit, no key
  assert.deepEqual(judge.judge({ ...doc(7), event: { category: 'network' } }), { ts: Date.UTC(2026, 0, 1, 0, 0, 1, 500), mask: 0, keys: [] });
});
