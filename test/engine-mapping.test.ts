import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareVersions, compileQuery, IndexMapping, nanosText, parseDate } from '../src/engine/index.js';

const mapping = IndexMapping.fromJson({
  properties: {
    ip: { type: 'ip' },
    day: { type: 'date', format: 'dd-MM-yyyy' },
    port: { type: 'long' },
    ok: { type: 'boolean' },
    name: { type: 'keyword' },
    event_type: { type: 'keyword' },
    event: { properties: { category: { type: 'alias', path: 'event_type' } } },
  },
});

test('a mapping types values when a document is read, and keeps the original for output', () => {
  const original = { ip: '2001:DB8:0:0:0:0:0:1', day: '17-12-2022', port: '443', ok: 'true', name: 7, event_type: 'alert' };
  const typed = mapping.apply(original);
  assert.deepEqual(typed, {
    ip: '2001:db8::1',
    day: Date.UTC(2022, 11, 17),
    port: 443,
    ok: true,
    name: '7',
    event_type: 'alert',
    event: { category: 'alert' },
  });
  assert.equal(original.port, '443');
});

test('custom date formats, ISO dates and epoch millis give the same instant', () => {
  assert.equal(parseDate('2022-12-17', 'yyyy-MM-dd'), Date.UTC(2022, 11, 17));
  assert.equal(parseDate('17-12-2022', 'dd-MM-yyyy'), Date.UTC(2022, 11, 17));
  assert.equal(parseDate('2022-12-17T00:00:00Z'), Date.UTC(2022, 11, 17));
  assert.equal(parseDate('1671235200000'), 1671235200000);
});

test('queries see typed values: ip keys join across spellings, alias gives the category', () => {
  const c = compileQuery('sequence by ip [alert where port > 100] [alert where ok == true]', { mappings: new Map([['i', mapping]]), idField: 'name' });
  assert.ok(c.ok);
  const events = [
    { _index: 'i', _source: { '@timestamp': 1, ip: '::FFFF:0:1', port: '443', event_type: 'alert', name: 'a' } },
    { _index: 'i', _source: { '@timestamp': 2, ip: '0:0:0:0:0:ffff:0:1', ok: 'true', event_type: 'alert', name: 'b' } },
  ];
  const hits = c.query.run(events);
  assert.equal(hits.sequences?.length, 1);
  assert.deepEqual(hits.sequences![0]!.join_keys, ['::ffff:0:1']);
  // _source is what was sent, untyped
  assert.equal(hits.sequences![0]!.events[0]!._source.port, '443');
});

test('version order: numeric parts as numbers, a pre-release before its release, identifiers numeric below alphanumeric, text that is no version last', () => {
  const sorted = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2', '1.2.0', '1.5.0', '1.11.3', '2.0.0', '10.0.0', 'abc', 'not.a.version'];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = 0; j < sorted.length; j++) {
      const c = compareVersions(sorted[i]!, sorted[j]!);
      assert.equal(Math.sign(c), Math.sign(i - j), `${sorted[i]} vs ${sorted[j]}`);
    }
  }
});

test('date_nanos values keep their nanoseconds as fixed-width UTC text that orders as time', () => {
  assert.equal(nanosText('2023-01-01T00:00:00.123456789Z'), '2023-01-01T00:00:00.123456789Z');
  assert.equal(nanosText('2023-01-01T02:00:00.5+02:00'), '2023-01-01T00:00:00.500000000Z');
  assert.equal(nanosText(1672531200123), '2023-01-01T00:00:00.123000000Z');
  assert.equal(nanosText('2023-01-01'), '2023-01-01T00:00:00.000000000Z');
  assert.equal(nanosText('not a date'), null);
  assert.ok(nanosText('2023-01-01T00:00:00.000000001Z')! > nanosText('2023-01-01T00:00:00Z')!);
});

test('null_value: an explicit null is searched as the mapping says, _source keeps the null, and a missing field stays missing', () => {
  const m = IndexMapping.fromJson({ properties: { status: { type: 'keyword', null_value: 'NONE' }, code: { type: 'long', null_value: -1 } } });
  assert.deepEqual(m.apply({ status: null, code: [5, null] }), { status: 'NONE', code: [5, -1] });
  assert.deepEqual(m.apply({}), {});
  const c = compileQuery('any where status == "NONE" and code == -1', { mappings: new Map([['i', m]]) });
  assert.ok(c.ok);
  const hits = c.query.run([{ _index: 'i', _id: 'a', _source: { status: null, code: null } }]).events!;
  assert.equal(hits.length, 1);
  assert.deepEqual(hits[0]!._source, { status: null, code: null });
});

test('the package entry exports what a caller needs to pass index mappings', async () => {
  const pkg = await import('../src/index.js');
  const m = pkg.IndexMapping.fromJson({ properties: { v: { type: 'version' } } });
  const c = pkg.compileQuery('any where v >= "1.10.0"', { mappings: new Map([['i', m]]) });
  assert.ok(c.ok);
  assert.deepEqual(c.query.run([{ _index: 'i', _id: '1', _source: { v: '1.9.0' } }, { _index: 'i', _id: '2', _source: { v: '1.10.0' } }]).events!.map((e) => e._id), ['2']);
});
