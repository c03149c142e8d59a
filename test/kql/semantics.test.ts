import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { ecsFieldType } from '../../src/ecs/index.js';
import { compileStatement } from '../../src/engine/index.js';
import { kqlStatement } from '../../src/kql/index.js';
import { repoRoot } from '../support/shared.js';

interface Case {
  readonly rule: string;
  readonly query: string;
  readonly event: Record<string, unknown>;
  readonly types?: Record<string, string>;
  readonly want: boolean;
}

const table = parseToml(readFileSync(join(repoRoot, 'test/tables/kql.toml'), 'utf8')) as unknown as { case: Case[] };

test('the KQL semantics table has at least 80 cases, each with its reason', () => {
  assert.ok(table.case.length >= 80, `${table.case.length} cases`);
  for (const c of table.case) assert.ok(c.rule.length > 10, c.query);
});

for (const c of table.case) {
  test(`KQL: ${c.rule}`, () => {
    const t = kqlStatement(c.query, (f) => c.types?.[f] ?? ecsFieldType(f));
    assert.ok(t.ok, t.ok ? '' : t.problem);
    // the query runs in the EQL engine, as a rule's would
    const hits = compileStatement(t.statement).run([{ _index: 'i', _id: '1', _source: c.event }]);
    assert.equal(hits.events?.length ?? 0, c.want ? 1 : 0, `${c.query} over ${JSON.stringify(c.event)}`);
  });
}
