import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { vigil } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-query-'));
const file = join(dir, 'events.ndjson');
const lines = [
  { '@timestamp': '2026-01-01T00:00:00Z', event: { category: 'process' }, host: { name: 'a' }, process: { name: 'mysql' } },
  'this line is broken',
  { '@timestamp': '2026-01-01T00:00:02Z', event: { category: 'network' }, host: { name: 'a' } },
  { '@timestamp': '2026-01-01T00:00:01Z', event: { category: 'process' }, host: { name: 'b' }, process: { name: 'bash' } },
];
writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');

test('vigil query prints one hit per line and reports bad lines with file:line', () => {
  const r = vigil(['query', 'process where true', file]);
  assert.equal(r.status, 3);
  const hits = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { _id: string; _source: { process: { name: string } } });
  assert.deepEqual(
    hits.map((h) => [h._id, h._source.process.name]),
    [
      [`${file}:1`, 'mysql'],
      [`${file}:4`, 'bash'],
    ],
  );
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: bad JSON, line skipped`));
});

test('vigil query runs sequences over the file in time order', () => {
  const r = vigil(['query', 'sequence by host.name [process where true] [network where true]', file]);
  assert.equal(r.status, 3);
  const seqs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { join_keys: string[]; events: Array<{ _id: string }> });
  assert.deepEqual(seqs, [{ join_keys: ['a'], events: [{ _index: '', _id: `${file}:1`, _source: lines[0] }, { _index: '', _id: `${file}:3`, _source: lines[2] }] }]);
});

test('vigil query reads stdin and prints a table for people', () => {
  const r = vigil(['query', '--format', 'table', 'process where process.name : "BASH"', '-'], JSON.stringify(lines[3]) + '\n');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['_id\t@timestamp\tevent.category\thost.name\tuser.name\tprocess.name', '<stdin>:1\t2026-01-01T00:00:01Z\tprocess\tb\t\tbash']);
});

test('vigil query reads Elasticsearch hits as the documents in them', () => {
  const hit = { _index: 'logs-endpoint.events.process-default', _id: 'x1', _source: lines[3] };
  const r = vigil(['query', 'process where process.name == "bash"', '-'], JSON.stringify(hit) + '\n');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout) as unknown, { _index: '', _id: '<stdin>:1', _source: lines[3] });
});

test('vigil query and vigil hunt read a file that opens with a byte order mark', () => {
  const bom = join(dir, 'bom.ndjson');
  writeFileSync(bom, `\ufeff${JSON.stringify(lines[0])}\n${JSON.stringify(lines[3])}\n`);
  const q = vigil(['query', 'process where true', bom]);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(q.stdout.trim().split('\n').length, 2);
  const h = vigil(['hunt', '--events', bom, '--format', 'csv']);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stderr, /hunt: 2 events/);
});

test('vigil query with an invalid query exits 1 with a located diagnostic', () => {
  const r = vigil(['query', 'process where foo(', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^<query>:1:19: error EQL2002/);
});
