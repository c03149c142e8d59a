import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileQuery, IndexMapping, parseDate } from '../src/engine/index.js';

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
