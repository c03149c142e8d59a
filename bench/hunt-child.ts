/**
 * One hunt for the benchmark, in a process of its own so that its peak memory is its own:
 * `node hunt-child.js <rules dir> <events file> <workers> [index] [types] [tuning]` prints one JSON line (with
 * an index, events belong to it and the rules' index patterns apply, as `vigil hunt --index`; '' for
 * none). `types` (comma-separated rule types, e.g. `eql`) keeps only rules of those types; `tuning`
 * `exceptions` gives every rule the tuning bench's exceptions.
 */
import { runHunt } from '../src/app/index.js';
import { loadRules } from '../src/rules/index.js';
import { withBenchExceptions } from './exceptions.js';

const [rulesDir, file, workers, index, types, tuning] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined, string | undefined];
const only = types ? new Set(types.split(',')) : null;
const loaded = (await loadRules([rulesDir])).rules.filter((x) => only === null || only.has(x.type));
// `exceptions`: every rule with the tuning bench's 1,000 items and value list (see exceptions.ts)
const rules = tuning === 'exceptions' ? withBenchExceptions(loaded) : loaded;
const t0 = performance.now();
const r = await runHunt({ rules, inputs: [file], workers: Number(workers), now: 0, index: index || undefined });
const ms = performance.now() - t0;
const byRule: Record<string, number> = {};
for (const a of r.alerts) byRule[String(a.doc['kibana.alert.rule.name'])] = (byRule[String(a.doc['kibana.alert.rule.name'])] ?? 0) + 1;
// the rules run, by name, for the parent to tell which plants they can find
const skipped = new Set(r.rulesSkipped.map((s) => s.rule_id));
const ran = rules.filter((x) => !skipped.has(x.rule_id)).map((x) => x.name);
process.stdout.write(`${JSON.stringify({ events: r.events, ms, alerts: r.alerts.length, byRule, ran, rules: r.rulesRun, maxRssKb: process.resourceUsage().maxRSS })}\n`);
