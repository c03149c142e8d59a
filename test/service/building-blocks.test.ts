/**
 * Building blocks, as Kibana's alerts table treats them: the alerts of a building-block rule
 * (`building_block_type = "default"`) and a sequence's event alerts are kept but not listed unless
 * asked for, and health counts the alerts the list shows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-bb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 0, 1);
const rule = (id: string, query: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ rule_id: id, name: id, description: 'test', type: 'eql', language: 'eql', query, index: ['logs-*'], severity: 'low', risk_score: 21, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1, ...extra });

test('building-block rule alerts and sequence event alerts are kept, listed only when asked for, and apart in health', async () => {
  const rules = join(dir, 'rules.ndjson');
  writeFileSync(
    rules,
    [
      rule('bb-rule', 'process where process.name == "whoami"', { building_block_type: 'default' }),
      rule('plain-rule', 'process where process.name == "whoami"'),
      rule('seq-rule', 'sequence by host.id [process where process.name == "whoami"] [network where true]'),
    ].join('\n') + '\n',
  );
  const clock = new ManualClock(T0);
  const v = await Vigil.open({ dataDir: join(dir, 'data'), memory: true, rulePaths: [rules], clock, scanThreads: 0, includeDeprecated: false });
  try {
    const ev = (i: number, category: string, more: Record<string, unknown>): string => JSON.stringify({ '@timestamp': new Date(T0 + i * 1000).toISOString(), event: { category }, host: { id: 'h1' }, ...more });
    await v.ingest([
      { op: 'create', index: 'logs-endpoint.events.process-default', id: 'e1', json: ev(1, 'process', { process: { name: 'whoami' } }) },
      { op: 'create', index: 'logs-endpoint.events.network-default', id: 'e2', json: ev(2, 'network', {}) },
    ]);
    await v.advanceTo(T0 + 10 * 60_000);
    const all = v.store.alerts.search({ size: 100 }).alerts;
    const listed = v.store.alerts.search({ size: 100, buildingBlocks: false }).alerts;
    // bb-rule 1, plain-rule 1, seq-rule 3 (two event alerts and the sequence's)
    assert.deepEqual(all.map((a) => a.ruleId).sort(), ['bb-rule', 'plain-rule', 'seq-rule', 'seq-rule', 'seq-rule']);
    assert.deepEqual(listed.map((a) => a.ruleId).sort(), ['plain-rule', 'seq-rule']);
    assert.equal(all.find((a) => a.ruleId === 'bb-rule')!.doc['kibana.alert.building_block_type'], 'default');
    const h = v.health() as { alerts: number; building_block_alerts: number };
    assert.equal(h.alerts, 2);
    assert.equal(h.building_block_alerts, 3);
    // a rule's page counts its own alerts: all of a building-block rule's, a sequence rule's sequences
    assert.equal(v.ruleView('bb-rule')!.alerts, 1);
    assert.equal(v.ruleView('seq-rule')!.alerts, 1);
  } finally {
    await v.close();
  }
});
