import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { compileHuntRules, defaultWorkers, expandInputs, HuntScanner, runHunt } from '../../src/app/index.js';
import { RuleIndex, RuleSet, type EventInput, type RuleSetEntry, type RuleSetHit } from '../../src/engine/index.js';
import { generateEvents, indicatorDocuments, MINER_SHA256, plantedCounts, rng } from '../../src/gen/index.js';
import { loadRules, type Rule } from '../../src/rules/index.js';
import { vigil } from '../support/cli.js';
import { eqlRule } from '../support/rules.js';
import { ScanBothWays } from '../support/scan-both.js';
import { repoRoot, requireShared } from '../support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-hunt-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NOW = Date.parse('2026-11-24T00:00:00Z');

/**
 * 3,000 generated events (background and planted) where each process event has the parent and the
 * name of other process events: odd parent/child pairs, which many corpus rules look for, so that
 * many rules are candidates and some match.
 */
function oddPairEvents(): Array<Record<string, unknown>> {
  const docs = [...generateEvents({ events: 3000, seed: 11, plantEvery: 100 })].map((l) => JSON.parse(l) as Record<string, unknown>);
  const procs = docs.filter((d) => (d.process as { parent?: unknown } | undefined)?.parent);
  procs.forEach((d, i) => {
    (d.process as Record<string, unknown>).parent = (procs[(i * 7919) % procs.length]!.process as { parent: unknown }).parent;
    (d.process as Record<string, unknown>).name = (procs[(i * 104729) % procs.length]!.process as { name: unknown }).name;
  });
  return docs;
}

test('the generator is deterministic and plants what it says', () => {
  const a = [...generateEvents({ events: 5000, seed: 7, plantEvery: 500 })];
  const b = [...generateEvents({ events: 5000, seed: 7, plantEvery: 500 })];
  const c = [...generateEvents({ events: 5000, seed: 8, plantEvery: 500 })];
  assert.equal(a.length, 5000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const docs = a.map((l) => JSON.parse(l) as { event: { category: string[]; type: string[] }; process?: { args?: string[]; entity_id?: string; parent?: { entity_id?: string } } });
  const cats = new Set(docs.flatMap((d) => d.event.category));
  assert.deepEqual([...cats].sort(), ['authentication', 'file', 'network', 'process', 'registry']);
  assert.ok(docs.every((d) => Array.isArray(d.event.type)));
  assert.ok(docs.some((d) => Array.isArray(d.process?.args) && d.process!.parent?.entity_id));
  // nine plants, in turn: mysql, xp_cmdshell, strace (two events), RWX (two events), netsh, sudoers,
  // 15 kills (one threshold alert), the AWS CLI twice on one host (one new term), then mysql again
  assert.deepEqual(plantedCounts({ events: 5000, seed: 7, plantEvery: 500 }), {
    'Linux Restricted Shell Breakout via the mysql command': 2,
    'Execution via MSSQL xp_cmdshell Stored Procedure': 1,
    'Potential SSH Password Grabbing via strace': 3,
    'Network Connection from Binary with RWX Memory Region': 3,
    'Wireless Credential Dumping using Netsh Command': 1,
    'Potential Privilege Escalation via Sudoers File Modification': 1,
    'High Number of Process Terminations': 1,
    'AWS CLI Command with Custom Endpoint URL': 1,
    // the RWX plant's binary is a known miner, whose hash indicatorDocuments lists
    'Threat Intel Hash Indicator Match': 1,
  });
  assert.equal(a.filter((l) => l.includes('"args":["kill","-9"')).length, 15);
  assert.equal(a.filter((l) => l.includes('--endpoint-url')).length, 2);
  assert.equal(a.filter((l) => l.includes('"name":"strace"')).length, 1);
  assert.equal(a.filter((l) => l.includes('"syscall":"mprotect"')).length, 1);
  assert.equal(a.filter((l) => l.includes('NOPASSWD:ALL')).length, 1);
  // a two-event plant that would end past the last event is not planted, nor counted
  assert.equal([...generateEvents({ events: 301, seed: 1, plantEvery: 100 })].filter((l) => l.includes('"name":"strace"')).length, 0);
  assert.equal(plantedCounts({ events: 301, seed: 1, plantEvery: 100 })['Potential SSH Password Grabbing via strace'], undefined);
  assert.equal(plantedCounts({ events: 302, seed: 1, plantEvery: 100 })['Potential SSH Password Grabbing via strace'], 3);
  assert.throws(() => plantedCounts({ events: 10, seed: 1, plantEvery: 15 }), /at least 16/);
});

test('vigil gen writes the generator\'s lines, and refuses a plant spacing its longest plant (15 events) cannot fit', () => {
  const r = vigil(['gen', '--events', '1200', '--seed', '4', '--plant-every', '300']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, [...generateEvents({ events: 1200, seed: 4, plantEvery: 300 })].join('\n') + '\n');
  for (const bad of ['1', '0', '15', '20.5', 'x']) {
    const b = vigil(['gen', '--events', '10', '--plant-every', bad]);
    assert.equal(b.status, 2, bad);
    assert.match(b.stderr, /--plant-every takes an integer of at least 16/);
    assert.equal(b.stdout, '');
  }
});

test('a reader that stops early (vigil … | head) ends vigil quietly, with no stack trace', async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'gen', '--events', '500000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // the first piece read, the pipe is closed, as head does
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(err, '');
  assert.equal(code, 0);
});

/** Alerts per rule name. */
function alertsByRule(alerts: ReadonlyArray<{ readonly doc: Readonly<Record<string, unknown>> }>): Record<string, number> {
  const byRule: Record<string, number> = {};
  for (const a of alerts) byRule[String(a.doc['kibana.alert.rule.name'])] = (byRule[String(a.doc['kibana.alert.rule.name'])] ?? 0) + 1;
  return byRule;
}

/**
 * The planted counts of the rules a hunt runs of `rules` (the others' plants cannot be found by them;
 * the corpus has deprecated and non-EQL rules named like the seeds).
 */
function plantedFor(rules: readonly Rule[], opts: Parameters<typeof plantedCounts>[0], indicators = false): Record<string, number> {
  const names = new Set(compileHuntRules(rules, undefined, undefined, indicators).entries.map((e) => e.rule.name));
  return Object.fromEntries(Object.entries(plantedCounts(opts)).filter(([name]) => names.has(name)));
}

test('hunt with the bundled rules finds exactly the planted attacks', async () => {
  const opts = { events: 20_000, seed: 3, plantEvery: 1000 };
  const file = join(dir, 'gen.ndjson');
  // some user names outside ASCII: every chunk then mixes lines of one and of several bytes per character
  const lines = [...generateEvents(opts)].map((l, i) => (i % 7 === 3 ? l.replace('"user":{"name":"', '"user":{"name":"Jos\u00e9 ') : l));
  assert.ok(lines.filter((l) => l.includes('\u00e9')).length > 2000);
  writeFileSync(file, lines.join('\n') + '\n');
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  // the default (the main thread, for input this small) and two workers
  const expected = plantedFor(rules, opts);
  assert.deepEqual(Object.keys(expected).length, 2);
  for (const workers of [undefined, 2]) {
    const r = await runHunt({ rules, inputs: [file], now: NOW, workers });
    assert.deepEqual(alertsByRule(r.alerts), expected, `on ${r.workers} workers`);
    assert.equal(r.events, 20_000);
  }
});

test('hunt with the corpus finds exactly the planted attacks of its rules: an event query, a sequence, a sample, a KQL query, a threshold and two new-terms rules', async () => {
  const opts = { events: 20_000, seed: 5, plantEvery: 400 };
  const file = join(dir, 'gen-corpus.ndjson');
  writeFileSync(file, [...generateEvents(opts)].join('\n') + '\n');
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules;
  const expected = plantedFor(rules, opts);
  // 49 plants, 6 of each kind and a seventh mysql: of the corpus's, the strace sequence and the RWX
  // sample (3 alerts each), netsh (EQL), sudoers (KQL), the kills (threshold), the AWS CLI and
  // xp_cmdshell (new terms, on a host and a command line); the corpus's mysql rule looks for other events
  assert.deepEqual(expected, {
    'Execution via MSSQL xp_cmdshell Stored Procedure': 6,
    'Potential SSH Password Grabbing via strace': 18,
    'Network Connection from Binary with RWX Memory Region': 18,
    'Wireless Credential Dumping using Netsh Command': 6,
    'Potential Privilege Escalation via Sudoers File Modification': 6,
    'High Number of Process Terminations': 6,
    'AWS CLI Command with Custom Endpoint URL': 6,
  });
  // other corpus rules meet the planted activity too, as they would in the field: new-terms rules on a
  // first kill on a host, a first RWX binary and a first read of /etc/shadow (the onboarding sample
  // rule, a threshold of one event per host, is disabled in its file and not hunted)
  const alsoFiring = { 'Unknown Execution of Binary with RWX Memory Region': 1, 'Kill Command Execution': 6, 'Potential Shadow File Read via Command Line Utilities': 1 };
  const ids: string[] = [];
  for (const workers of [0, 2]) {
    const r = await runHunt({ rules, inputs: [file], now: NOW, workers });
    assert.deepEqual(alertsByRule(r.alerts), { ...expected, ...alsoFiring }, `on ${workers} workers`);
    ids.push(JSON.stringify(r.alerts.map((a) => a.id)));
  }
  assert.equal(ids[0], ids[1]);
  // with the indicators of the generated events, the corpus's hash indicator match rule finds the
  // miner of each RWX plant (and nothing else: the other indicators are old or of other hashes)
  const iocs = join(dir, 'indicators.ndjson');
  writeFileSync(iocs, indicatorDocuments().join('\n') + '\n');
  const withIocs = plantedFor(rules, opts, true);
  assert.equal(withIocs['Threat Intel Hash Indicator Match'], 6);
  for (const workers of [0, 2]) {
    const r = await runHunt({ rules, inputs: [file], indicators: [iocs], now: NOW, workers });
    assert.deepEqual(alertsByRule(r.alerts), { ...withIocs, ...alsoFiring }, `with indicators on ${workers} workers`);
    const hit = r.alerts.find((a) => a.doc['kibana.alert.rule.type'] === 'threat_match')!;
    const threat = hit.doc.threat as { enrichments: Array<{ matched: Record<string, unknown>; feed: Record<string, unknown> }> };
    assert.deepEqual(threat.enrichments.map((e) => [e.matched.atomic, e.matched.field, e.matched.id, e.feed.name]), [[MINER_SHA256, 'process.hash.sha256', '0:1', 'AbuseCH Malware']]);
  }
  // the same events as Elasticsearch hits (search results, exports): the documents in them are hunted
  const hits = join(dir, 'gen-corpus-hits.ndjson');
  writeFileSync(hits, [...generateEvents(opts)].map((l, i) => `{"_index":"logs-endpoint.events.process-default","_id":"e${i}","_source":${l}}`).join('\n') + '\n');
  for (const workers of [0, 2]) {
    const r = await runHunt({ rules, inputs: [hits], now: NOW, workers });
    assert.equal(JSON.stringify(r.alerts.map((a) => a.id)), ids[0], `hits on ${workers} workers`);
    assert.ok(r.alerts.every((a) => !('_source' in a.doc)));
  }
  // a sequence's row shows its events' processes in order; its users and host, which they share
  const strace = join(requireShared('corpus/detection-rules'), 'rules', 'linux', 'credential_access_ssh_password_grabbing_via_strace.toml');
  const csv = vigil(['hunt', '--rules', strace, '--events', file, '--format', 'csv']);
  assert.equal(csv.status, 0, csv.stderr);
  const rows = csv.stdout.trim().split('\n').slice(1);
  assert.equal(rows.length, 6);
  for (const r of rows) assert.match(r, /^[^,]+,medium,47,Potential SSH Password Grabbing via strace,lin-\d{4},[A-Za-z-]+,sshd → strace$/);
  // the sample holds a key per background connection; with room for 50, the oldest are given up (with
  // a warning), and the planted samples, whose two events come together, are still found
  const rwx = join(requireShared('corpus/detection-rules'), 'rules', 'linux', 'execution_netcon_from_rwx_mem_region_binary.toml');
  const capped = vigil(['hunt', '--rules', rwx, '--events', file, '--format', 'csv', '--max-open', '50']);
  assert.equal(capped.status, 0, capped.stderr);
  assert.equal(capped.stdout.trim().split('\n').length, 1 + 6);
  const dropped = /warning: ([\d,]+) partial sequences or samples were given up, the oldest first, as a rule held the most open ones it keeps \(--max-open, 50\): matches that needed them are missed/.exec(capped.stderr);
  assert.ok(dropped, capped.stderr);
  const lib = await runHunt({ rules: rules.filter((x) => x.name === 'Network Connection from Binary with RWX Memory Region'), inputs: [file], workers: 0, now: NOW, maxOpenPerRule: 50 });
  assert.equal(Number(dropped[1]!.replace(/,/g, '')), lib.droppedByCap);
  assert.ok(lib.droppedByCap > 1000, String(lib.droppedByCap));
  assert.equal((await runHunt({ rules, inputs: [file], workers: 0, now: NOW })).droppedByCap, 0);
  assert.doesNotMatch(csv.stderr, /given up/);
  assert.equal(vigil(['hunt', '--rules', rwx, '--events', file, '--max-open', '0']).status, 2);
  assert.match(csv.stderr, /hunt: 20,000 events, 1 rule run \(0 skipped\)/);
  // only the rules of a severity or above: the planted high ones (netsh, sudoers), not the medium ones
  const high = vigil(['hunt', '--rules', requireShared('corpus/detection-rules'), '--events', file, '--format', 'csv', '--min-severity', 'high']);
  assert.equal(high.status, 0, high.stderr);
  assert.deepEqual(new Set(high.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[3])), new Set(['Wireless Credential Dumping using Netsh Command', 'Potential Privilege Escalation via Sudoers File Modification']));
  const below = rules.filter((x) => x.severity === 'low' || x.severity === 'medium').length;
  assert.match(high.stderr, new RegExp(`${below.toLocaleString('en-US')} rules below --min-severity high not run`));
  // the rules hunt does not run, by why
  const byWhy = new Map<string, number>();
  for (const x of compileHuntRules(rules.filter((x) => x.severity === 'high' || x.severity === 'critical'), undefined).skipped) byWhy.set(x.reason, (byWhy.get(x.reason) ?? 0) + 1);
  assert.ok((byWhy.get('deprecated') ?? 0) > 0 && (byWhy.get('type esql is not run by hunt') ?? 0) > 0);
  assert.match(high.stderr, new RegExp(`\\nskipped: .*\\b${byWhy.get('deprecated')} deprecated\\b.*\\(hunt runs EQL rules and KQL query, threshold, new-terms and, with --indicators, indicator match rules\\)\\n`));
  assert.match(high.stderr, new RegExp(`\\nskipped: .*\\b${byWhy.get('type esql is not run by hunt')} esql\\b`));
  assert.equal(vigil(['hunt', '--events', file, '--min-severity', 'urgent']).status, 2);
});

/** Every hit of a rule set over the events, in input order, as `rule_id event-id[+event-id…]`. */
function ruleSetHits(entries: ReadonlyArray<RuleSetEntry<Rule>>, events: readonly EventInput[], indexed: boolean, lateness: number): string[] {
  const set = new RuleSet(entries, { indexed, lateness });
  const out: Array<RuleSetHit<Rule>> = [];
  for (const e of events) set.push(e, out);
  set.flush(out);
  return out.map((h) => `${h.rule.rule_id} ${'events' in h.hit ? h.hit.events.map((x) => x._id).join('+') : h.hit._id}`);
}

test('the rule-set index never changes results: indexed and rule-by-rule paths agree over the corpus', async (t) => {
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules;
  const { entries } = compileHuntRules(rules, undefined);
  // the active EQL rules, and the KQL query rules, compiled into the same engine
  assert.equal(entries.filter((e) => e.rule.type === 'eql').length, 1024);
  // the KQL query rules, but the 9 its files disable (they promote Elastic Defend's own alerts)
  assert.ok(entries.filter((e) => e.rule.type === 'query').length >= 445);
  const events = oddPairEvents().map((d, i) => ({ _index: 'hunt', _id: String(i), _source: d }));
  // and other shapes of the same fields: dotted keys at the top and one level down, objects in arrays
  events.forEach((e, i) => {
    const src = e._source;
    const proc = src.process as Record<string, unknown> | undefined;
    if (i % 4 === 1 && proc) {
      for (const [k, v] of Object.entries(proc)) src[`process.${k}`] = v;
      delete src.process;
    } else if (i % 4 === 2 && proc?.parent && typeof proc.parent === 'object') {
      for (const [k, v] of Object.entries(proc.parent)) proc[`parent.${k}`] = v;
      delete proc.parent;
    } else if (i % 4 === 3 && src.host) src.host = [src.host];
  });
  const plain = ruleSetHits(entries, events, false, 3_600_000);
  const indexed = ruleSetHits(entries, events, true, 3_600_000);
  assert.ok(plain.length > 50, `only ${plain.length} hits: the comparison would prove little`);
  assert.deepEqual(indexed.sort(), plain.sort());
  t.diagnostic(`${plain.length} hits from ${entries.length} rules over ${events.length} events, both paths`);
});

/** Sample rules of our own that the generated events complete, in several ways (see the worker test). */
const SAMPLE_QUERIES = [
  // one key, two stages; many events per key
  'sample by host.name [process where event.type == "start"] [network where true]',
  // a stage every event passes, ahead of narrower ones: an event can fill either of two stages
  'sample by host.name [any where true] [authentication where true] [file where true]',
  // an optional key; a key that must not be null (events without a parent process stay out)
  'sample by host.name, ?process.parent.name [process where true] [process where process.name != null]',
  'sample by process.parent.name [process where true] [any where process.name != null]',
  // keys of the stages' own
  'sample [process where true] by process.parent.name [process where true] by process.name',
];

test('the rule-set index never changes results on events with odd values where the rules look', async (t) => {
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules;
  const { entries } = compileHuntRules(rules, undefined);
  // null, NaN (no JSON makes one, but a caller can), the infinities (JSON's 1e400), empty, control
  // and long strings, empty and mixed arrays, objects and booleans where the rules expect scalars
  const odd = [null, NaN, Infinity, -Infinity, 0, -1, '', '\u0000', 'x'.repeat(3000), [], [null, 1, 'a'], { a: 1 }, true];
  let seed = 1;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const mutate = (o: Record<string, unknown>, depth: number): void => {
    for (const k of Object.keys(o)) {
      const v = o[k];
      if (next() < 0.2) o[k] = odd[Math.floor(next() * odd.length)];
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth < 5) mutate(v as Record<string, unknown>, depth + 1);
    }
  };
  const events = oddPairEvents().map((d, i) => {
    mutate(d, 0);
    return { _index: 'hunt', _id: String(i), _source: d };
  });
  const plain = ruleSetHits(entries, events, false, 0);
  const indexed = ruleSetHits(entries, events, true, 0);
  assert.ok(plain.length > 20, `only ${plain.length} hits: the comparison would prove little`);
  assert.deepEqual(indexed.sort(), plain.sort());
  t.diagnostic(`${plain.length} hits over ${events.length} events with odd values, both paths`);
});

test('an event scanned as its fields (read from the line by the projector) gets the hits and codes of its parsed document', async (t) => {
  const rules = (await loadRules([requireShared('corpus/detection-rules')])).rules;
  const { entries } = compileHuntRules(rules, undefined);
  // every fifth event with a dotted key, which the projector leaves to a full parse
  const docs = oddPairEvents();
  docs.forEach((d, i) => {
    if (i % 5 === 4) d['host.os.type'] = 'windows';
  });
  const both = new ScanBothWays(entries, (r) => r.rule_id);
  for (const d of docs) both.compare(d);
  const { read, hits, codes } = both;
  assert.equal(read, docs.length - docs.length / 5);
  assert.ok(hits > 50 && codes > 1000, `${hits} hits, ${codes} codes: the comparison would prove little`);
  t.diagnostic(`${read} of ${docs.length} events read as fields: ${hits} hits and ${codes} stateful codes, the same as from the parsed documents`);
});

test('hunt gives the same alerts on any number of worker threads, sequences included', async (t) => {
  // plus two sequence rules of our own that the generated events complete many times
  const seqFile = join(dir, 'seq-rules.ndjson');
  // and samples of our own, which the generated events complete
  writeFileSync(
    seqFile,
    [
      eqlRule('seq-proc-net', 'sequence by host.name with maxspan=10m [process where event.type == "start"] [network where true]'),
      eqlRule('seq-auth-file', 'sequence by host.name [authentication where true] [file where true] until [registry where true]'),
      ...SAMPLE_QUERIES.map((q, i) => eqlRule(`own-sample-${i}`, q)),
    ].join('\n') + '\n',
  );
  const rules = [...(await loadRules([requireShared('corpus/detection-rules')])).rules, ...(await loadRules([join(repoRoot, 'rules'), seqFile])).rules];
  const docs = oddPairEvents();
  const file = join(dir, 'workers.ndjson');
  writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\nnot json\n');
  const ids: string[][] = [];
  for (const workers of [0, 1, 2, 3]) {
    const r = await runHunt({ rules, inputs: [file], now: NOW, workers });
    assert.equal(r.events, 3000);
    assert.deepEqual(r.badSamples.map((b) => b.line), [3001]);
    ids.push(r.alerts.map((a) => a.id));
    if (workers === 0) assert.ok(r.alerts.filter((a) => a.buildingBlock).length > 100, 'too few sequence alerts to show anything');
    for (let i = 0; i < SAMPLE_QUERIES.length; i++) assert.ok(r.alerts.some((a) => a.doc['kibana.alert.rule.rule_id'] === `own-sample-${i}`), `no sample of ${SAMPLE_QUERIES[i]} on ${workers} workers`);
  }
  assert.ok(ids[0]!.length > 200, `only ${ids[0]!.length} alerts`);
  assert.equal(new Set(ids[0]).size, ids[0]!.length, 'an alert id twice');
  for (const other of ids.slice(1)) assert.deepEqual(other, ids[0]);
  // user names outside ASCII in every third line (which no rule here reads): the same alerts, on 0 and 2 workers
  const wide = join(dir, 'workers-wide.ndjson');
  writeFileSync(wide, docs.map((d, i) => (i % 3 === 0 ? JSON.stringify(d).replace('"user":{"name":"', '"user":{"name":"Jos\u00e9 ') : JSON.stringify(d))).join('\n') + '\nnot json\n');
  for (const workers of [0, 2]) assert.deepEqual((await runHunt({ rules, inputs: [wide], now: NOW, workers })).alerts.map((a) => a.id), ids[0]);
  // (and with verdicts: those lines are parsed in full, and their verdicts worked out on the documents)
  assert.deepEqual((await runHunt({ rules, inputs: [wide], now: NOW, workers: 2, verdicts: true })).alerts.map((a) => a.id), ids[0]);
  // capped: the same first matches whatever the worker count
  const capped = await Promise.all([1, 2].map((workers) => runHunt({ rules, inputs: [file], now: NOW, workers, maxAlerts: 25 })));
  assert.deepEqual(capped[0]!.alerts.map((a) => a.id), capped[1]!.alerts.map((a) => a.id));
  // alerts written out to files seven at a time and merged back: the same alerts, whole, and the files gone after
  const spillDir = mkdtempSync(join(dir, 'spill-'));
  const inMemory = await runHunt({ rules, inputs: [file], now: NOW, workers: 2 });
  // the stateful rules' verdicts worked out where the events are scanned (the default from 5 workers):
  // the same alerts, whole; and verdicts there are, for most of what the stateful rules take
  for (const workers of [0, 2]) assert.deepEqual((await runHunt({ rules, inputs: [file], now: NOW, workers, verdicts: true })).alerts, inMemory.alerts, `on ${workers} workers`);
  const { entries } = compileHuntRules(rules, undefined);
  const scanned = new HuntScanner(new RuleIndex(entries, { judge: true }), 'hunt', NOW).chunk({ fi: 0, firstLine: 1, bytes: readFileSync(file) });
  let codes = 0;
  let judged = 0;
  for (let i = 0; i < scanned.stateful.length; ) {
    const n = scanned.stateful[i + 3]!;
    for (let k = 0; k < n; k++) {
      codes++;
      if (scanned.stateful[i + 4 + 2 * k + 1]! >= 0) judged++;
    }
    i += 4 + 2 * n;
  }
  assert.equal(scanned.times.length, judged);
  assert.ok(judged > 1000 && judged > codes / 4, `${judged} verdicts for ${codes} codes`);
  t.diagnostic(`${judged} verdicts for the ${codes} stateful codes of ${docs.length} events`);
  const spilled = await runHunt({ rules, inputs: [file], now: NOW, workers: 2, holdAlerts: 7, spillDir });
  assert.deepEqual(spilled.alerts, inMemory.alerts);
  assert.deepEqual((await runHunt({ rules, inputs: [file], now: NOW, workers: 0, holdAlerts: 7, spillDir, maxAlerts: 25 })).alerts.map((a) => a.id), capped[0]!.alerts.map((a) => a.id));
  assert.deepEqual(readdirSync(spillDir), []);
  t.diagnostic(`${ids[0]!.length} alerts, identical on 0 (main thread), 1, 2 and 3 workers`);
});

test('vigil hunt: formats, gzip and folders, bad lines reported with file:line', async () => {
  const sub = join(dir, 'logs');
  rmSync(sub, { recursive: true, force: true });
  const lines = [...generateEvents({ events: 3000, seed: 5, plantEvery: 1000 })];
  mkdirSync(join(sub, 'day2'), { recursive: true });
  writeFileSync(join(sub, 'a.ndjson'), `${lines.slice(0, 1500).join('\n')}\n{broken\n`);
  writeFileSync(join(sub, 'day2', 'b.ndjson.gz'), gzipSync(`${lines.slice(1500).join('\n')}\n`));
  const csv = vigil(['hunt', '--events', sub, '--format', 'csv']);
  assert.equal(csv.status, 1);
  const rows = csv.stdout.trim().split('\n');
  assert.equal(rows[0], 'time,severity,risk,rule,host,user,process');
  assert.equal(rows.length, 1 + 2);
  assert.match(csv.stderr, /a\.ndjson:1501: bad line/);
  assert.match(csv.stderr, /hunt: 3,000 events/);
  // standard error is a pipe here: no progress bar unless asked for
  assert.doesNotMatch(csv.stderr, /MiB .* events .*ETA/);
  const shown = vigil(['hunt', '--events', sub, '--format', 'csv', '--progress']);
  assert.match(shown.stderr, /\r\[#+\.*\] \d+\/\d+ MiB {2}3,000 events .*ETA \d+s {2}bad 1 {2}matches 2/);
  // standard input has no size: what was read, without a bar or an ETA
  const piped = vigil(['hunt', '--format', 'csv', '--progress', '--workers', '0'], `${lines.join('\n')}\n`);
  assert.match(piped.stderr, /\r2 MiB read {2}3,000 events {2}[\d,]+\/s {2}bad 0 {2}matches 2\n/);
  const nd = vigil(['hunt', '--events', sub, '--format', 'ndjson']);
  const docs = nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(docs.length, 2);
  assert.ok(docs.every((d) => typeof d['kibana.alert.uuid'] === 'string' && d['kibana.alert.rule.threat']));
  const table = vigil(['hunt', '--events', join(sub, 'a.ndjson'), '--format', 'table']);
  assert.match(table.stdout, /^time\s+severity\s+risk\s+rule/m);
  assert.match(table.stdout, /by ATT&CK tactic: Execution 1/);
  // -o writes what standard output shows; a path that cannot be written stops the hunt before it starts
  const json = vigil(['hunt', '--events', sub, '--format', 'json']);
  const out = join(dir, 'out.json');
  assert.equal(vigil(['hunt', '--events', sub, '--format', 'json', '-o', out]).status, 1);
  const strip = (t: string): string => t.replace(/"(@timestamp|kibana\.alert\.(start|last_detected))": "[^"]+"/g, '');
  assert.equal(strip(readFileSync(out, 'utf8')), strip(json.stdout));
  assert.equal((JSON.parse(json.stdout) as unknown[]).length, 2);
  const nowhere = vigil(['hunt', '--events', sub, '-o', join(dir, 'no-such-dir', 'out.json')]);
  assert.equal(nowhere.status, 2);
  assert.match(nowhere.stderr, /^vigil hunt: cannot write \S+no-such-dir\/out\.json: ENOENT/);
  assert.doesNotMatch(nowhere.stderr, /hunt: \d/);
  assert.match(table.stdout, /\n {2}by host: lin-\d{4} 1\n/);
  assert.match(table.stdout, /\n {2}by rule:\n {10}1 {2}Linux Restricted Shell Breakout via the mysql command\n/);
  // nothing found: an empty array, and a summary that says none for each count
  const empty = join(dir, 'no-events.ndjson');
  writeFileSync(empty, '');
  const none = vigil(['hunt', '--events', empty, '--format', 'json']);
  assert.equal(none.status, 0);
  assert.equal(none.stdout, '[]\n');
  assert.match(none.stderr, /summary: 0 alerts\n {2}by severity: none\n {2}by ATT&CK tactic: none\n {2}by host: none\n {2}by rule: none\n/);
});

test('an input that cannot be read to its end (truncated or corrupt gzip) is reported, its lines before the break hunted, and the other inputs hunted in full', async () => {
  const sub = join(dir, 'broken-gz');
  rmSync(sub, { recursive: true, force: true });
  mkdirSync(sub, { recursive: true });
  const lines = [...generateEvents({ events: 12_000, seed: 6, plantEvery: 100 })];
  const part = (from: number, to: number): string => `${lines.slice(from, to).join('\n')}\n`;
  writeFileSync(join(sub, 'a.ndjson.gz'), gzipSync(part(0, 3000)));
  // cut short in the middle: the gzip stream ends without its trailer
  const whole = gzipSync(part(3000, 9000));
  writeFileSync(join(sub, 'b-truncated.ndjson.gz'), whole.subarray(0, Math.floor(whole.length / 2)));
  writeFileSync(join(sub, 'c-not-gzip.ndjson.gz'), part(9000, 9100));
  writeFileSync(join(sub, 'd.ndjson'), part(9100, 12_000));
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  const ids: string[] = [];
  for (const workers of [0, 2]) {
    const r = await runHunt({ rules, inputs: [sub], workers, now: NOW });
    assert.deepEqual(r.readErrors.map((e) => [e.file, e.message]), [
      [join(sub, 'b-truncated.ndjson.gz'), 'unexpected end of file'],
      [join(sub, 'c-not-gzip.ndjson.gz'), 'incorrect header check'],
    ], `on ${workers} workers`);
    const got = r.readErrors[0]!.line;
    assert.ok(got > 0 && got < 6000, `${got} lines read of the truncated file`);
    assert.equal(r.readErrors[1]!.line, 0);
    assert.equal(r.events, 3000 + got + 2900);
    // the same alerts as a hunt over what could be read, written out plainly
    const readable = join(dir, 'readable.ndjson');
    writeFileSync(readable, part(0, 3000 + got) + part(9100, 12_000));
    const plain = await runHunt({ rules, inputs: [readable], workers: 0, now: NOW });
    assert.ok(plain.alerts.length > 10);
    assert.deepEqual(alertsByRule(r.alerts), alertsByRule(plain.alerts));
    ids.push(JSON.stringify(r.alerts.map((a) => a.doc['kibana.alert.original_time'])));
  }
  assert.equal(ids[0], ids[1]);
  const cli = vigil(['hunt', '--events', sub, '--format', 'csv']);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /b-truncated\.ndjson\.gz: not read to its end \(unexpected end of file\); lines 1-[\d,]+ were hunted/);
  assert.match(cli.stderr, /c-not-gzip\.ndjson\.gz: not read to its end \(incorrect header check\); no line was read/);
});

test('a line longer than the limit is a bad line, read past without being held, and the lines around it keep their numbers', async () => {
  const lines = [...generateEvents({ events: 400, seed: 8, plantEvery: 50 })];
  const long = (mib: number): string => JSON.stringify({ '@timestamp': '2026-11-23T00:00:00.000Z', event: { category: ['process'] }, message: 'x'.repeat(mib * 1048576) });
  // line 101 too long; line 202 long but under the limit; line 303 broken; the last, 404, too long, with no newline after it
  const text = [...lines.slice(0, 100), long(3), ...lines.slice(100, 200), long(0.75), ...lines.slice(200, 300), '{broken', ...lines.slice(300), long(2)].join('\n');
  const plain = join(dir, 'long-lines.ndjson');
  const gz = join(dir, 'long-lines.ndjson.gz');
  writeFileSync(plain, text);
  writeFileSync(gz, gzipSync(text));
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  const seen: string[] = [];
  const runs: Array<[string, number, string | undefined]> = [[plain, 0, undefined], [plain, 2, undefined], [gz, 0, undefined], [gz, 2, undefined], ['-', 0, text]];
  for (const [file, workers, stdinText] of runs) {
    // standard input in pieces of 64 KiB, as a pipe gives it
    const stdin = stdinText === undefined ? undefined : Readable.from((function* () { for (let i = 0; i < stdinText.length; i += 65536) yield Buffer.from(stdinText.slice(i, i + 65536)); })());
    const r = await runHunt({ rules, inputs: [file], stdin, workers, now: NOW, maxLineBytes: 1048576 });
    const where = `${file} on ${workers}`;
    assert.deepEqual(r.badSamples.map((b) => b.line), [101, 303, 404], where);
    assert.deepEqual(r.badSamples.map((b) => /^line longer than 1 MiB: skipped$/.test(b.message)), [true, false, true], where);
    assert.equal(r.badLines, 3, where);
    assert.equal(r.events, 401, where);
    assert.deepEqual(alertsByRule(r.alerts), plantedFor(rules, { events: 400, seed: 8, plantEvery: 50 }), where);
    seen.push(JSON.stringify(r.alerts.map((a) => a.doc['kibana.alert.ancestors'])));
  }
  assert.equal(new Set(seen.slice(0, 4)).size, 1);
});

test('reading against a model: random lines around the length limit and the chunk size, over plain, gzip and stdin in random pieces', async () => {
  const MiB = 1048576;
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  const r = rng(2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // a JSON object line of exactly n bytes
  const sized = (n: number): string => {
    const head = '{"@timestamp":"2026-11-23T00:00:00.000Z","message":"';
    return `${head}${'y'.repeat(Math.max(0, n - head.length - 2))}"}`;
  };
  for (let round = 0; round < 6; round++) {
    const lines: string[] = [];
    for (let i = 0, n = 20 + Math.floor(r() * 30); i < n; i++) {
      const kind = r();
      if (kind < 0.5) lines.push(sized(60 + Math.floor(r() * 200)));
      else if (kind < 0.6) lines.push(pick(['', '  ', '{broken', 'null', '[1]']));
      // lengths at the limit (a line of MiB - 1 bytes is the longest taken) and around the chunk size
      else lines.push(sized(pick([MiB - 2, MiB - 1, MiB, MiB + 1, MiB / 2 - 1, MiB / 2, MiB / 2 + 1, 3 * MiB])));
    }
    const crlf = r() < 0.3;
    const text = lines.map((l) => (crlf && l ? `${l}\r` : l)).join('\n') + (r() < 0.5 ? '\n' : '');
    // the model: a line of MiB bytes or more (its \r counted) is too long; a blank one is no event
    const want = { events: 0, bad: [] as Array<[number, boolean]> };
    text.split('\n').forEach((l, i, all) => {
      if (i === all.length - 1 && l === '') return;
      if (Buffer.byteLength(l) >= MiB) want.bad.push([i + 1, true]);
      else if (l.trim() === '') return;
      else if (l.replace(/\r$/, '').startsWith('{"@')) want.events++;
      else want.bad.push([i + 1, false]);
    });
    const plain = join(dir, `model-${round}.ndjson`);
    writeFileSync(plain, text);
    writeFileSync(`${plain}.gz`, gzipSync(text));
    const bytes = Buffer.from(text);
    const pieces = (): Readable =>
      Readable.from(
        (function* () {
          for (let at = 0; at < bytes.length; ) {
            const n = 1 + Math.floor(r() * pick([100, 70_000, 600_000, 1_048_576]));
            yield bytes.subarray(at, at + n);
            at += n;
          }
        })(),
      );
    for (const [input, stdin] of [[plain, undefined], [`${plain}.gz`, undefined], ['-', pieces()]] as const) {
      const got = await runHunt({ rules, inputs: [input], stdin, workers: 0, now: NOW, maxLineBytes: MiB });
      const where = `round ${round}, ${input}`;
      assert.equal(got.events, want.events, where);
      assert.equal(got.badLines, want.bad.length, where);
      assert.deepEqual(got.badSamples.map((b) => [b.line, b.message.startsWith('line longer than 1 MiB')]), want.bad.slice(0, 20), where);
    }
  }
});

test('--from and --to hunt only the events of a time window, however their timestamp is written', async () => {
  const opts = { events: 4000, seed: 12, plantEvery: 100 };
  const docs = [...generateEvents(opts)].map((l) => JSON.parse(l) as Record<string, unknown>);
  const times = docs.map((d) => Date.parse(String(d['@timestamp'])));
  const from = times[1000]!;
  const to = times[3000]!;
  // every fifth line as an Elasticsearch hit, every seventh with @timestamp last (no quick read), and
  // lines without a timestamp (outside) and broken (reported whatever the window)
  const lines = docs.map((d, i) => {
    if (i % 5 === 0) return JSON.stringify({ _index: 'x', _id: String(i), _source: d });
    if (i % 7 === 0) {
      const { '@timestamp': ts, ...rest } = d;
      return JSON.stringify({ ...rest, '@timestamp': ts });
    }
    return JSON.stringify(d);
  });
  lines.splice(2000, 0, '{"event":{"category":["process"]}}', '{broken');
  const file = join(dir, 'window.ndjson');
  writeFileSync(file, lines.join('\n') + '\n');
  // the model: the documents in the window, hunted from a file of their own
  const inside = docs.filter((_, i) => times[i]! >= from && times[i]! <= to);
  const plain = join(dir, 'window-inside.ndjson');
  writeFileSync(plain, inside.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  const want = await runHunt({ rules, inputs: [plain], workers: 0, now: NOW });
  assert.ok(want.alerts.length >= 5, String(want.alerts.length));
  for (const workers of [0, 2]) {
    const r = await runHunt({ rules, inputs: [file], workers, now: NOW, from, to });
    assert.equal(r.events, inside.length, `on ${workers} workers`);
    assert.equal(r.outsideWindow, 4000 - inside.length + 1, `outside, on ${workers} workers`);
    assert.deepEqual(r.badSamples.map((b) => b.line), [2002]);
    assert.deepEqual(r.alerts.map((a) => a.doc['kibana.alert.original_time']), want.alerts.map((a) => a.doc['kibana.alert.original_time']));
  }
  const cli = vigil(['hunt', '--events', file, '--format', 'csv', '--from', new Date(from).toISOString(), '--to', String(to)]);
  assert.equal(cli.status, 1, cli.stderr);
  assert.equal(cli.stdout.trim().split('\n').length - 1, want.alerts.length);
  assert.match(cli.stderr, new RegExp(`${(4000 - inside.length + 1).toLocaleString('en-US')} events outside --from \\S+ --to ${to} not hunted`));
  // a date alone is the whole day
  const day = vigil(['hunt', '--events', file, '--format', 'csv', '--from', '2026-11-23', '--to', '2026-11-23']);
  assert.match(day.stderr, /hunt: 4,000 events/);
  assert.match(day.stderr, /\n1 event outside --from 2026-11-23 --to 2026-11-23 not hunted\n/);
  assert.equal(vigil(['hunt', '--events', file, '--from', 'yesterday']).status, 2);
  assert.equal(vigil(['hunt', '--events', file, '--from', '2026-11-24', '--to', '2026-11-23']).status, 2);
});

test('by default a hunt starts workers only for input large enough to pay for them, one per core', async () => {
  const MiB = 1048576;
  assert.equal(defaultWorkers(255 * MiB, 2), 0);
  assert.equal(defaultWorkers(256 * MiB, 2), 2);
  assert.equal(defaultWorkers(128 * MiB, 4), 4);
  assert.equal(defaultWorkers(127 * MiB, 4), 0);
  assert.equal(defaultWorkers(Infinity, 8), 8);
  assert.equal(defaultWorkers(Infinity, 1), 0);
  const file = join(dir, 'small.ndjson');
  writeFileSync(file, `${[...generateEvents({ events: 500, seed: 2 })].join('\n')}\n`);
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  assert.equal((await runHunt({ rules, inputs: [file], now: NOW })).workers, 0);
  assert.equal((await runHunt({ rules, inputs: [file], now: NOW, workers: 2 })).workers, 2);
  assert.match(vigil(['hunt', '--events', file]).stderr, /hunt: 500 events, .* events\/s, main thread\)/);
  assert.match(vigil(['hunt', '--events', file, '--workers', '1']).stderr, /events\/s, 1 worker\)/);
});

test('vigil hunt --lateness puts input that is not in time order in order for sequences; without it the hunt warns', () => {
  const rulesFile = join(dir, 'late-rules.ndjson');
  writeFileSync(
    rulesFile,
    `${eqlRule('late-seq', 'sequence by host.name with maxspan=1m [process where process.name == "a"] [process where process.name == "b"]')}\n`,
  );
  const ev = (t: string, name: string): string => JSON.stringify({ '@timestamp': `2026-11-23T10:00:${t}Z`, host: { name: 'h1' }, event: { category: ['process'] }, process: { name } });
  // read in this order: a at 10:00:20, b at 10:00:05, a at 10:00:00; in time order, the last a and the
  // b are a sequence (and the first a a start that nothing follows)
  const events = join(dir, 'late.ndjson');
  writeFileSync(events, [ev('20', 'a'), ev('05', 'b'), ev('00', 'a')].join('\n') + '\n');
  const sequences = (stdout: string): number => stdout.split('\n').filter((l) => l.includes('"kibana.alert.building_block_type"') === false && l.includes('late-seq')).length;
  const plain = vigil(['hunt', '--rules', rulesFile, '--events', events, '--format', 'ndjson', '--workers', '0']);
  assert.equal(plain.status, 0);
  assert.match(plain.stderr, /warning: 2 events reached a sequence after a later event .* --lateness/);
  for (const lateness of ['30s', 'all']) {
    for (const workers of ['0', '2']) {
      const r = vigil(['hunt', '--rules', rulesFile, '--events', events, '--format', 'ndjson', '--lateness', lateness, '--workers', workers]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(sequences(r.stdout), 1, `--lateness ${lateness} on ${workers} workers`);
      assert.doesNotMatch(r.stderr, /warning/);
    }
  }
  // too little lateness: the events are still late
  assert.match(vigil(['hunt', '--rules', rulesFile, '--events', events, '--format', 'ndjson', '--lateness', '2s']).stderr, /warning: 1 event reached a sequence/);
  for (const [flag, value, message] of [
    ['--lateness', 'soon', /--lateness takes a duration \(30s, 5m, 1h\) or all, not 'soon'/],
    ['--max-alerts', '-1', /--max-alerts takes a whole number, not '-1'/],
    ['--workers', 'two', /--workers takes a whole number/],
  ] as const) {
    const r = vigil(['hunt', '--rules', rulesFile, '--events', events, flag, value]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, message);
  }
});

test('folders expand to their event files, sorted, through subfolders and links to folders, each real folder once', async () => {
  const root = join(dir, 'expand');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'sub'), { recursive: true });
  for (const f of ['b.ndjson', 'a.jsonl', 'notes.txt', join('sub', 'c.ndjson.gz'), join('sub', 'd.json')]) writeFileSync(join(root, f), '');
  symlinkSync(join(root, 'sub'), join(root, 'link'));
  // a link that leads nowhere: an event file that will not open (reported when read), not a folder
  symlinkSync(join(root, 'gone'), join(root, 'dangling.ndjson'));
  const passedOver: string[] = [];
  const got = (await expandInputs([root, '-'], passedOver)).map((f) => (f === '-' ? f : f.slice(root.length + 1)));
  // `link` leads to `sub`: its files are read once, under the name met first
  assert.deepEqual(got, ['a.jsonl', 'b.ndjson', 'dangling.ndjson', join('link', 'c.ndjson.gz'), join('link', 'd.json'), '-']);
  assert.deepEqual(passedOver, [join(root, 'notes.txt')]);
  // a hunt over the folder reads what it can, says which file would not open and which was passed over
  writeFileSync(join(root, 'b.ndjson'), `${[...generateEvents({ events: 50, seed: 1 })].join('\n')}\n`);
  writeFileSync(join(root, 'sub', 'c.ndjson.gz'), gzipSync(''));
  const r = vigil(['hunt', '--events', root, '--format', 'csv']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /hunt: 50 events/);
  assert.match(r.stderr, /dangling\.ndjson: not read to its end \(ENOENT[^)]*\); no line was read/);
  assert.match(r.stderr, /note: 1 file in the folders given was not read, as event files are named \*\.ndjson, \*\.jsonl or \*\.json \(or those \.gz\), such as \S*notes\.txt; name a file to read it whatever its name/);
  // named, a file is read whatever its name
  assert.match(vigil(['hunt', '--events', join(root, 'b.ndjson'), join(root, 'notes.txt'), '--format', 'csv']).stderr, /hunt: 50 events/);
});

test('hunt inputs: a link loop ends, a deep tree has no depth limit, a FIFO in a folder is skipped with why, a FIFO named and never written ends on SIGTERM', async () => {
  const root = join(dir, 'walk');
  rmSync(root, { recursive: true, force: true });
  // 400 nested folders with an event file at the bottom, and a link from the bottom to the top
  let deep = root;
  for (let i = 0; i < 400; i++) deep = join(deep, 'd');
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'e.ndjson'), `${[...generateEvents({ events: 20, seed: 2 })].join('\n')}\n`);
  symlinkSync(root, join(deep, 'loop'));
  spawnSync('mkfifo', [join(root, 'pipe.ndjson')]);
  const skipped: Array<{ path: string; reason: string }> = [];
  const files = await expandInputs([root], [], skipped);
  assert.deepEqual(files, [join(deep, 'e.ndjson')]);
  assert.deepEqual(skipped.map((k) => k.path), [join(root, 'pipe.ndjson')]);
  const r = vigil(['hunt', '--events', root, '--format', 'csv']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /hunt: 20 events/);
  assert.match(r.stderr, /pipe\.ndjson: not a regular file/);
  // named, a FIFO is read; one nobody writes to blocks the read, and SIGTERM still ends the hunt
  const child = spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'hunt', '--events', join(root, 'pipe.ndjson'), '--no-progress'], { stdio: 'ignore' });
  await new Promise((res) => setTimeout(res, 1500));
  const t0 = Date.now();
  child.kill('SIGTERM');
  const signal = await new Promise<string | null>((res) => child.on('close', (_code, sig) => res(sig)));
  assert.equal(signal, 'SIGTERM');
  assert.ok(Date.now() - t0 < 5000, `ended ${Date.now() - t0} ms after SIGTERM`);
});

test('hunt inputs: an unreadable folder is reported and skipped, the rest hunted; a folder of 130,000 files is listed whole', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-hunt-perm-'));
  try {
    chmodSync(root, 0o755);
    const events = (seed: number): string => `${[...generateEvents({ events: 10, seed })].join('\n')}\n`;
    mkdirSync(join(root, 'locked'));
    mkdirSync(join(root, 'open'));
    writeFileSync(join(root, 'a.ndjson'), events(3));
    writeFileSync(join(root, 'locked', 'b.ndjson'), events(4));
    writeFileSync(join(root, 'open', 'c.ndjson'), events(5));
    chmodSync(join(root, 'locked'), 0o000);
    // root reads every folder whatever its mode: the hunt runs without the capabilities that let it
    const main = join(repoRoot, 'dist/src/cli/main.js');
    const asRoot = process.getuid?.() === 0;
    const r = asRoot
      ? spawnSync('setpriv', ['--bounding-set=-dac_override,-dac_read_search', process.execPath, main, 'hunt', '--events', root, '--no-progress', '--format', 'csv'], { encoding: 'utf8' })
      : spawnSync(process.execPath, [main, 'hunt', '--events', root, '--no-progress', '--format', 'csv'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /hunt: 20 events/, 'the two readable files were hunted');
    assert.match(r.stderr, new RegExp(`${join(root, 'locked').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: folder not read \\(EACCES\\)`), r.stderr);
    chmodSync(join(root, 'locked'), 0o755);

    // one folder of 130,000 event files (a spread of "...subtree" over it once overflowed the stack)
    const wide = join(root, 'wide');
    mkdirSync(wide);
    for (let i = 0; i < 130_000; i++) writeFileSync(join(wide, `f${String(i).padStart(6, '0')}.ndjson`), '');
    const skipped: Array<{ path: string; reason: string }> = [];
    const files = await expandInputs([wide], [], skipped);
    assert.equal(files.length, 130_000);
    assert.equal(files[129_999], join(wide, 'f129999.ndjson'), 'sorted');
    assert.deepEqual(skipped, []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('hunt reads input in chunks without losing or renumbering a line: a line longer than a chunk, CRLF, blank lines, no final newline, gzip, any worker count', async () => {
  const opts = { events: 6000, seed: 9, plantEvery: 500 };
  const lines = [...generateEvents(opts)];
  const huge = JSON.stringify({ '@timestamp': '2026-11-23T00:00:00.000Z', event: { category: ['process'] }, message: 'x'.repeat(3 << 19) });
  // line numbers: generated lines 1-10, the huge line 11, generated 12-2010, a blank line, a bad line 2012, the rest
  const text = [...lines.slice(0, 10), huge, ...lines.slice(10, 2009), '', '{bad', ...lines.slice(2009)].map((l, i) => (i % 3 === 0 ? `${l}\r` : l)).join('\n');
  const plain = join(dir, 'chunks.ndjson');
  const gz = join(dir, 'chunks.ndjson.gz');
  writeFileSync(plain, text); // no final newline
  writeFileSync(gz, gzipSync(text));
  const rules = (await loadRules([join(repoRoot, 'rules')])).rules;
  const seen: string[] = [];
  for (const [file, workers] of [[plain, 0], [plain, 1], [plain, 2], [gz, 2]] as const) {
    const r = await runHunt({ rules, inputs: [file], workers, now: NOW });
    assert.equal(r.events, lines.length + 1, `${file} on ${workers}`);
    assert.deepEqual(r.badSamples.map((b) => b.line), [2012], `${file} on ${workers}`);
    assert.deepEqual(alertsByRule(r.alerts), plantedFor(rules, opts));
    seen.push(JSON.stringify(r.alerts.map((a) => a.id)));
  }
  assert.equal(new Set(seen).size, 1);
});
