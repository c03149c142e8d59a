/**
 * Indicator match: the corpus's "Threat Intel Hash Indicator Match" rule, as Elastic ships it, run by
 * the service over endpoint events and threat-intel indicators stored in their own index. An event
 * whose file hash is an indicator's alerts once, with `threat.enrichments` naming the indicator; the
 * rule's indicator query (its date math, modules, field patterns) and filters decide which stored
 * documents are indicators.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runHunt, Vigil, type IngestItem } from '../../src/app/index.js';
import { generateEvents, indicatorDocuments, plantedCounts } from '../../src/gen/index.js';
import { loadRules } from '../../src/rules/index.js';
import { ManualClock } from '../../src/core/index.js';
import { requireShared } from '../support/shared.js';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'vigil-indicators-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const RULE = requireShared('corpus/detection-rules/rules/threat_intel/threat_intel_indicator_match_hash.toml');
const RULE_ID = 'aab184d3-72b3-4639-b242-6597c99d8bca';
const sha = (n: number): string => n.toString(16).padStart(64, 'a');

/** An indicator document as the threat-intel integrations store them. */
function indicator(id: string, hash: string, over: { at?: number; module?: string; kind?: string; feed?: string } = {}): IngestItem {
  return {
    op: 'create',
    index: 'logs-ti_abusech.malware-default',
    id,
    json: JSON.stringify({
      '@timestamp': new Date(over.at ?? T0 - DAY).toISOString(),
      event: { module: over.module ?? 'ti_abusech', category: ['threat'], kind: over.kind ?? 'enrichment', type: ['indicator'] },
      threat: { feed: { name: over.feed ?? 'AbuseCH Malware' }, indicator: { type: 'file', file: { hash: { sha256: hash } }, provider: 'abusech' } },
    }),
  };
}

function processEvent(id: string, hash: string, minute: number): IngestItem {
  return {
    op: 'create',
    index: 'logs-endpoint.events.process-default',
    id,
    json: JSON.stringify({
      '@timestamp': new Date(T0 + minute * MIN).toISOString(),
      event: { category: ['process'], type: ['start'] },
      host: { name: 'WIN-0042', id: 'h42' },
      process: { name: 'invoice.exe', hash: { sha256: hash } },
    }),
  };
}

test('the corpus hash indicator rule alerts on events whose hash is a current indicator, with its enrichment', async () => {
  const clock = new ManualClock(T0);
  const v = await Vigil.open({ dataDir: join(dir, 'data'), memory: true, rulePaths: [RULE], clock, scanThreads: 0 });
  try {
    const rule = v.registry.find(RULE_ID)!;
    assert.equal(rule.problem, null);
    assert.equal(rule.aggregation?.kind, 'threat_match');
    // the rule page says what the rule does with its matches
    assert.match(String(v.ruleView(RULE_ID)!.aggregation), /equals an indicator's \(indicators: filebeat-\*, logs-ti_\*\)/);
    await v.ingest([
      indicator('ioc-1', sha(1)),
      indicator('ioc-2', sha(2), { feed: 'MalwareBazaar' }),
      // not an indicator: 40 days old (the query takes the last 30), another module, not an enrichment
      indicator('old', sha(3), { at: T0 - 40 * DAY }),
      indicator('other-module', sha(4), { module: 'system' }),
      indicator('not-enrichment', sha(5), { kind: 'event' }),
    ]);
    await v.ingest([processEvent('e1', sha(1), 1), processEvent('e2', sha(2), 2), processEvent('e3', sha(3), 3), processEvent('e4', sha(4), 4), processEvent('e5', sha(5), 5), processEvent('e6', sha(99), 6)]);
    // the rule runs hourly over the last 65 minutes, by ingest time
    await v.advanceTo(T0 + 3 * 60 * MIN);
    const alerts = v.store.alerts.search({ size: 100, ruleId: [RULE_ID] }).alerts;
    const byEvent = new Map(alerts.map((a) => [(a.doc['kibana.alert.ancestors'] as Array<{ id: string }>)[0]!.id, a.doc]));
    assert.deepEqual([...byEvent.keys()].sort(), ['e1', 'e2']);
    const threat = byEvent.get('e2')!.threat as { enrichments: Array<{ indicator: Record<string, unknown>; matched: Record<string, unknown>; feed: Record<string, unknown> }> };
    assert.deepEqual(threat.enrichments, [
      {
        indicator: { type: 'file', file: { hash: { sha256: sha(2) } }, provider: 'abusech' },
        matched: { atomic: sha(2), field: 'process.hash.sha256', id: 'ioc-2', index: 'logs-ti_abusech.malware-default', type: 'indicator_match_rule' },
        feed: { name: 'MalwareBazaar' },
      },
    ]);
    assert.equal(byEvent.get('e1')!['kibana.alert.rule.type'], 'threat_match');
    // each event alerts once, however many hourly windows saw it
    assert.equal(alerts.length, 2);
  } finally {
    await v.close();
  }
});

test('over generated events and their indicators, the service finds exactly the planted miners, as the hunt does', async () => {
  const opts = { events: 3000, seed: 21, plantEvery: 100, start: T0 };
  const lines = [...generateEvents(opts)];
  const expected = plantedCounts(opts)['Threat Intel Hash Indicator Match'];
  assert.ok(expected !== undefined && expected >= 3, String(expected));
  const clock = new ManualClock(T0);
  const v = await Vigil.open({ dataDir: join(dir, 'generated'), memory: true, rulePaths: [RULE], clock, scanThreads: 0 });
  try {
    await v.ingest(indicatorDocuments({ start: T0 }).map((json, i) => ({ op: 'create', index: 'logs-ti_abusech.malware-default', id: `ioc-${i}`, json })));
    await v.ingest(lines.map((json, i) => ({ op: 'create', index: 'logs-endpoint.events.process-default', id: `0:${i + 1}`, json })));
    await v.advanceTo(T0 + 3 * 60 * MIN);
    const served = v.store.alerts.search({ size: 100, ruleId: [RULE_ID] }).alerts;
    assert.equal(served.length, expected);
    // the same alerts, with the same ids, as a hunt over the same events with the indicators as a file
    const events = join(dir, 'generated.ndjson');
    const iocs = join(dir, 'generated-iocs.ndjson');
    writeFileSync(events, lines.join('\n') + '\n');
    writeFileSync(iocs, indicatorDocuments({ start: T0 }).join('\n') + '\n');
    const hunt = await runHunt({ rules: (await loadRules([RULE])).rules, inputs: [events], indicators: [iocs], index: 'logs-endpoint.events.process-default', now: T0, workers: 0 });
    assert.deepEqual(hunt.alerts.map((a) => a.id).sort(), served.map((a) => a.id).sort());
  } finally {
    await v.close();
  }
});
