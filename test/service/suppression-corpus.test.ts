/**
 * The corpus rules that ship with `alert_suppression`: every one's suppression reads, and the six
 * Vigil runs (KQL query rules; the others are ES|QL) apply it on planted events: three matches of
 * one group and one of another in a window give two alerts, counting 2 and 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Vigil } from '../../src/app/index.js';
import { ManualClock } from '../../src/core/index.js';
import { suppressionParams } from '../../src/detect/index.js';
import { loadRules, parseDuration } from '../../src/rules/index.js';
import { requireShared } from '../support/shared.js';

function tomlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tomlFiles(p) : n.endsWith('.toml') ? [p] : [];
  });
}

const W = 130 * 60_000;
const BASE = Math.ceil(Date.UTC(2026, 0, 1) / W) * W + 5_000;

// per rule (by file name): where its events go, and an event of a group given by `g`
const PLANTS: Record<string, { index: string; doc: (g: string) => Record<string, unknown> }> = {
  'persistence_google_workspace_2sv_policy_disabled.toml': { index: 'logs-google_workspace.login-default', doc: (g) => ({ data_stream: { dataset: 'google_workspace.login' }, event: { action: '2sv_disable' }, user: { email: `${g}@corp.example` }, source: { ip: '10.0.0.1' } }) },
  'persistence_google_workspace_role_modified.toml': {
    index: 'logs-google_workspace.admin-default',
    doc: (g) => ({ data_stream: { dataset: 'google_workspace.admin' }, event: { provider: 'admin', category: ['iam'], action: 'ADD_PRIVILEGE' }, user: { email: 'admin@corp.example' }, google_workspace: { admin: { role: { name: g } } }, source: { ip: '10.0.0.2' } }),
  },
  'persistence_google_workspace_password_policy_modified.toml': {
    index: 'logs-google_workspace.admin-default',
    doc: (g) => ({ data_stream: { dataset: 'google_workspace.admin' }, event: { action: 'CHANGE_APPLICATION_SETTING' }, google_workspace: { admin: { setting: { name: 'Password Management - Minimum password length' }, org_unit: { name: g } } }, user: { email: 'admin@corp.example' }, source: { ip: '10.0.0.3' } }),
  },
  'credential_access_credentials_in_s3_bucket.toml': {
    index: 'logs-aws.cloudtrail-default',
    doc: (g) => ({ data_stream: { dataset: 'aws.cloudtrail' }, event: { provider: 's3.amazonaws.com', action: 'GetObject', outcome: 'success' }, aws: { cloudtrail: { flattened: { request_parameters: { key: 'home/u/.aws/credentials' } }, user_identity: { type: 'IAMUser' } } }, source: { ip: g === 'one' ? '198.51.100.1' : '198.51.100.2' }, cloud: { account: { id: '1234' } } }),
  },
  'm365_defender_alert_external_alerts.toml': { index: 'logs-m365_defender.alert-default', doc: (g) => ({ data_stream: { dataset: 'm365_defender.alert' }, event: { kind: 'alert' }, m365_defender: { alert: { id: `alert-${g}`, tenant_id: 't1' } } }) },
  'm365_defender_incident_external_alerts.toml': { index: 'logs-m365_defender.incident-default', doc: (g) => ({ data_stream: { dataset: 'm365_defender.incident' }, event: { kind: 'alert' }, m365_defender: { incident: { id: `inc-${g}`, tenant_id: 't1' } } }) },
};

test('corpus rules with alert_suppression: all 23 read it; the 6 Vigil runs suppress planted matches', async () => {
  const files = tomlFiles(requireShared('corpus/detection-rules')).filter((f) => readFileSync(f, 'utf8').includes('[rule.alert_suppression]'));
  assert.equal(files.length, 23);
  const { rules } = await loadRules(files);
  assert.equal(rules.length, 23);
  for (const r of rules) {
    const p = suppressionParams(r, parseDuration(r.interval) ?? 300_000);
    assert.ok(p.ok && p.params !== null, `${r.name}: ${p.ok ? 'none' : p.problem}`);
  }
  const runnable = files.filter((f) => PLANTS[f.split('/').pop()!] !== undefined);
  assert.equal(runnable.length, 6);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sup-corpus-'));
  try {
    const v = await Vigil.open({ dataDir: join(dir, 'data'), rulePaths: runnable, clock: new ManualClock(BASE + 10 * 60_000), scanThreads: 0, streamingDefault: true });
    const ids = new Map(runnable.map((f) => [f.split('/').pop()!, rules.find((r) => readFileSync(f, 'utf8').includes(r.rule_id))!.rule_id]));
    for (const [file, plant] of Object.entries(PLANTS)) {
      const at = (i: number): string => new Date(BASE + i * 1000).toISOString();
      const docs = [plant.doc('one'), plant.doc('one'), plant.doc('two'), plant.doc('one')].map((d, i) => ({ op: 'create' as const, index: plant.index, json: JSON.stringify({ '@timestamp': at(i), ...d }) }));
      await v.ingest(docs);
      const ruleId = ids.get(file)!;
      assert.ok(v.registry.find(ruleId)?.compiled, `${file} runs`);
      const counts = v.store.alerts
        .search({ ruleId: [ruleId], size: 10 })
        .alerts.map((a) => Number(a.doc['kibana.alert.suppression.docs_count']))
        .sort();
      assert.deepEqual(counts, [0, 2], file);
    }
    await v.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
