import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JsonProjector, projection } from '../src/core/index.js';
import { createFieldGetter } from '../src/ecs/index.js';
import { generateEvents } from '../src/gen/index.js';

/**
 * The projector must refuse every text JSON.parse refuses, and where it reads a text, give for each
 * wanted field what a field read of the parsed document gives.
 */
const PATHS: string[][] = [
  ['process', 'name'],
  ['process', 'parent'],
  ['process', 'parent', 'name'],
  ['process', 'args'],
  ['event', 'category'],
  ['host', 'os', 'type'],
  ['source', 'port'],
  ['a'],
  ['__proto__'],
];
const getters = PATHS.map((p) => createFieldGetter(p));
const projector = new JsonProjector(projection(PATHS));

/** What the projector makes of a text: refused (null), or the value per path (undefined when absent). */
function project(text: string): unknown[] | null {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  if (!projector.project(bytes, text, 0, bytes.length)) return null;
  const out: unknown[] = PATHS.map(() => undefined);
  for (const k of projector.filled.subarray(0, projector.filledCount)) out[k] = projector.values[k];
  return out;
}

function parsed(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Checks one text; returns whether the projector read it. */
function check(text: string): boolean {
  const got = project(text);
  const doc = parsed(text);
  if (doc === null) {
    assert.equal(got, null, `read a text JSON.parse refuses: ${text}`);
    return false;
  }
  if (got === null) return false;
  PATHS.forEach((p, k) => assert.deepEqual(got[k], getters[k]!(doc), `${p.join('.')} in ${text}`));
  return true;
}

test('the projector follows the JSON grammar: what JSON.parse refuses is refused, what it reads reads the same', () => {
  const valid = [
    '{}',
    ' \t{ } \r',
    '{"process":{"name":"cmd.exe","args":["a",1,-2.5e3,true,false,null,{"x":[]}]},"event":{"category":["process"]}}',
    // integers read from their digits: zero, minus zero, fifteen digits (exact), sixteen (as text)
    '{"source":{"port":0},"a":-0}',
    '{"source":{"port":999999999999999},"a":-123456789012345}',
    '{"source":{"port":9999999999999999},"a":-12345678901234567}',
    '{"source":{"port":1.0},"a":[10,-10e0,0.5]}',
    '{"a":0}',
    '{"a":-0}',
    '{"a":1E+2}',
    '{"a":1e-2}',
    '{"a":123456789012345678901234567890}',
    '{"a":"\\u00e9\\n\\t\\"\\\\\\/\\b\\f\\r"}',
    '{"a":"\\ud800"}',
    '{"a":{"b":{"c":[[[]]]}}}',
    '{"x":"skipped \\" quote","a":"kept"}',
    '{"process":"not an object","a":1}',
    '{"process":{"parent":null}}',
    '{"process":{"parent":{"name":"p","pid":1},"name":"c"}}',
    '{"\\u0061":"escaped key"}',
    '{"other.key":1,"a":2}',
    '{"x":1,"x":2,"a":3}',
    '{"__proto__":{"polluted":true}}',
    '{"a":"\x7f"}',
  ];
  for (const t of valid) {
    assert.ok(parsed(t) !== null, t);
    assert.ok(check(t), `refused: ${t}`);
  }
  const invalid = [
    '', ' ', '[]', '"a"', '1', 'null', '{', '}', '{"a"}', '{"a":}', '{"a":1,}', '{,"a":1}', '{"a":1}}', '{"a":1} x', '{"a":1}{}',
    '{a:1}', "{'a':1}", '{"a":01}', '{"a":-}', '{"a":1.}', '{"a":.5}', '{"a":1e}', '{"a":1e+}', '{"a":+1}', '{"a":tru}', '{"a":nul}',
    '{"a":True}', '{"a":"x}', '{"a":"\\x"}', '{"a":"\\u12G4"}', '{"a":"\\u12"}', '{"a":"tab\there"}', '{"a":"line\nbreak"}', '{"a":[1,]}',
    '{"a":[1 2]}', '{"a" 1}', '{"a"::1}', '{"a":1 "b":2}', '{"a":NaN}', '{"a":Infinity}', '{"a":0x10}', '\u00a0{}',
  ];
  for (const t of invalid) assert.equal(check(t), false, t);
});

test('shapes that a full parse reads differently are refused, never read wrong', () => {
  // a dotted key that leads to a wanted field, an array above one, a wanted key given twice
  for (const t of [
    '{"process.name":"x"}',
    '{"process":{"parent.name":"x"}}',
    '{"process":[{"name":"x"}]}',
    '{"process":{"name":"a"},"process":{"args":[]}}',
    '{"process":{"name":"a","name":"b"}}',
    '{"process":{"parent":{"name":"a"},"parent":{"pid":1}}}',
    '{"process":{"parent":[{"name":"a"}]}}',
  ]) {
    assert.ok(parsed(t) !== null, t);
    assert.equal(project(t), null, t);
  }
  // too deep to read here, fine for JSON.parse
  const deep = `{"a":${'['.repeat(300)}${']'.repeat(300)}}`;
  assert.ok(parsed(deep) !== null);
  assert.equal(project(deep), null);
});

test('keys remembered by position: a read in another order, a longer or shorter key, an escape or a dot there, reads as a full parse does', () => {
  // one projector over texts whose keys change at the same positions (it compares each key with the last one seen there)
  const texts = [
    '{"process":{"name":"a","args":["x"]},"event":{"category":"c"}}',
    '{"process":{"name":"b","args":["y"]},"event":{"category":"d"}}',
    '{"event":{"category":"e"},"process":{"args":[],"name":"f"}}',
    '{"process":{"names":"g","name":"h"}}',
    '{"process":{"nam":"i","name":"j"}}',
    '{"process":{"n\\u0061me":"k"}}',
    '{"process":{"name":"l","name":"m"}}',
    '{"process":{"parent.name":"n"}}',
    '{"process":{"name":"o","parent":{"name":"p"}}}',
    '{"process":{"name":"q","args":["r"]},"event":{"category":"s"}}',
    '{"process" :{ "name" : "t" }}',
    '{"processes":{"name":"u"},"process":{"name":"v"}}',
  ];
  const outcomes = texts.map((t) => (check(t) ? 'read' : 'refused'));
  assert.deepEqual(outcomes, ['read', 'read', 'read', 'read', 'read', 'read', 'refused', 'refused', 'read', 'read', 'read', 'read']);
  assert.deepEqual(project(texts[5]!)?.[0], 'k');
  assert.deepEqual(project(texts[11]!)?.[0], 'v');
});

test('keys remembered from a Buffer stay right when its memory is filled again', () => {
  const pj = new JsonProjector(projection([['process', 'name'], ['host', 'name']]));
  const buf = Buffer.alloc(64);
  const read = (text: string): unknown[] | null => {
    buf.fill(32);
    buf.write(text, 'latin1');
    const line = buf.toString('latin1', 0, text.length);
    if (!pj.project(buf.subarray(0, text.length), line, 0, text.length)) return null;
    return [...pj.filled.subarray(0, pj.filledCount)].map((k) => pj.values[k]);
  };
  assert.deepEqual(read('{"process":{"name":"a"},"host":{"name":"h"}}'), ['a', 'h']);
  // the same bytes now hold other keys at the remembered positions
  assert.deepEqual(read('{"host":{"name":"i"},"process":{"name":"b"}}'), ['i', 'b']);
  assert.deepEqual(read('{"process":{"name":"c"},"host":{"name":"j"}}'), ['c', 'j']);
});

test('a refused top-level key sends the line to a full parse, wherever it stands and however often it was seen', () => {
  const pj = new JsonProjector(projection([['process', 'name']], ['_source']));
  const read = (text: string): unknown[] | null => {
    const b = Buffer.from(text, 'latin1');
    if (!pj.project(b, text, 0, b.length)) return null;
    return [...pj.filled.subarray(0, pj.filledCount)].map((k) => pj.values[k]);
  };
  assert.deepEqual(read('{"process":{"name":"a"}}'), ['a']);
  assert.equal(read('{"_index":"i","_source":{"process":{"name":"a"}}}'), null);
  // again, with the key now remembered at its position, and at another position
  assert.equal(read('{"_index":"i","_source":{"process":{"name":"b"}}}'), null);
  assert.equal(read('{"_source":{},"process":{"name":"c"}}'), null);
  // below the top level it is a key like any other
  assert.deepEqual(read('{"process":{"name":"d","_source":1}}'), ['d']);
  assert.throws(() => projection([['_source', 'x']], ['_source']), /both read and refused/);
});

test('mutated event lines: every text JSON.parse refuses is refused, every text read gives the parsed values', (t) => {
  const lines = [...generateEvents({ events: 400, seed: 5, plantEvery: 40 })];
  // random edits with JSON's own characters
  const alphabet = ['{', '}', '[', ']', '"', ',', ':', '\\', '.', '-', '+', 'e', '0', '1', ' ', 'n', 't', '\t', 'u', '\x01'];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed % n;
  };
  let read = 0;
  let refusedValid = 0;
  let invalid = 0;
  const n = 20_000;
  for (let k = 0; k < n; k++) {
    let s = lines[rnd(lines.length)]!;
    for (let edits = 1 + rnd(2); edits > 0; edits--) {
      const at = rnd(s.length);
      const op = rnd(3);
      if (op === 0) s = s.slice(0, at) + s.slice(at + 1);
      else if (op === 1) s = s.slice(0, at) + alphabet[rnd(alphabet.length)]! + s.slice(at);
      else s = s.slice(0, at) + alphabet[rnd(alphabet.length)]! + s.slice(at + 1);
    }
    const ok = parsed(s) !== null;
    if (!ok) invalid++;
    if (check(s)) read++;
    else if (ok) refusedValid++;
  }
  assert.ok(invalid > 5000 && read > 2000, `${invalid} invalid, ${read} read: the mutations prove little`);
  t.diagnostic(`${n} mutated lines: ${invalid} refused by JSON.parse and by the projector, ${read} read with the parsed values, ${refusedValid} valid but left to a full parse`);
});
