import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AlertSpool, groupText, type AlertGroup } from '../../src/app/index.js';
import type { BuiltAlert } from '../../src/alerts/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-spool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A group of `n` alerts whose own alert (the last) is at time `t` with id `id`; docs `pad` characters long, outside ASCII. */
function group(t: number | null, id: string, n: number, pad: number): AlertGroup {
  return Array.from({ length: n }, (_, i): BuiltAlert => ({
    id: i === n - 1 ? id : `${id}-block-${i}`,
    ruleId: 'r',
    created: 0,
    originalTime: t,
    severity: 'low',
    risk: 21,
    status: 'open',
    host: null,
    user: 'José',
    process: null,
    groupId: n > 1 ? id : null,
    buildingBlock: i < n - 1,
    // a tab and a line end in a value: the spool's text cuts on both, and JSON writes them escaped
    doc: { note: 'é→'.repeat(pad), i, 'odd\tkey': 'a\tb\nc' },
  }));
}

test('the spool gives its groups back in order (time, then id), whether held, written out or its files merged, as often as asked, at most max', () => {
  // groups in a scrambled order, some with equal times, some without a time (as 0), of one to three alerts;
  // their text is long and outside ASCII, so lines cross the reader's blocks and cut characters
  const groups: AlertGroup[] = [];
  for (let i = 0; i < 400; i++) {
    const k = (i * 7919) % 400;
    groups.push(group(k % 50 === 0 ? null : Math.floor(k / 3), `a${String(k).padStart(3, '0')}`, 1 + (k % 3), 1000 + ((k * 31) % 5000)));
  }
  const want = [...groups].sort((a, b) => (a.at(-1)!.originalTime ?? 0) - (b.at(-1)!.originalTime ?? 0) || (a.at(-1)!.id < b.at(-1)!.id ? -1 : 1));
  for (const [hold, maxRuns] of [
    [1_000_000, 64],
    [50, 64],
    [1, 64],
    [1, 8],
  ] as const) {
    const spool = new AlertSpool(hold, dir, maxRuns);
    let mostFiles = 0;
    for (const g of groups) {
      spool.add(groupText(g));
      mostFiles = Math.max(mostFiles, spool.files);
    }
    // at maxRuns files they are merged into one: the output never opens more
    assert.ok(mostFiles < maxRuns, `${mostFiles} files at once`);
    assert.equal(spool.groups, 400);
    assert.equal(spool.alerts, groups.reduce((n, g) => n + g.length, 0));
    if (hold === 1_000_000) assert.equal(spool.spilled, 0);
    // a file is written once `hold` alerts are held: it takes at most a group (three alerts) more
    else assert.ok(spool.spilled >= Math.floor(spool.alerts / (hold + 2)), `${spool.spilled} files for hold ${hold}`);
    assert.deepEqual([...spool.ordered()], want, `hold ${hold}, ${maxRuns} files`);
    assert.deepEqual([...spool.ordered()], want, `hold ${hold}, ${maxRuns} files, walked again`);
    assert.deepEqual([...spool.ordered(17)], want.slice(0, 17));
    // the documents as text, for NDJSON: each the JSON of the document, with the alert's other fields
    const asText = [...spool.orderedDocs()];
    assert.deepEqual(
      asText.map((g) => g.docs),
      want.map((g) => g.map((a) => JSON.stringify(a.doc))),
    );
    assert.deepEqual(
      asText.map((g) => g.alerts),
      want.map((g) => g.map(({ doc: _doc, ...rest }) => rest)),
    );
    // a walk left part way closes its files: the folder can go
    for (const g of spool.ordered()) if (g) break;
    spool.close();
    assert.deepEqual(readdirSync(dir), []);
  }
});

test('a spool that never fills writes nothing', () => {
  const spool = new AlertSpool(10, join(dir, 'never-made'));
  spool.add(groupText(group(5, "x", 3, 1)));
  assert.equal(spool.spilled, 0);
  assert.equal([...spool.ordered()].length, 1);
  spool.close();
  assert.equal(existsSync(join(dir, 'never-made')), false);
});
