/**
 * `npm run bench`: prints figures, asserts nothing. Every figure is measured in this run, beside its
 * baseline, because machines here are noisy.
 */
import { benchParse } from './parse.js';
import { benchRules } from './rules.js';
import { benchAdversarial } from './adversarial.js';
import { benchIngest } from './ingest.js';
import { benchHunt } from './hunt.js';
import { benchService } from './service.js';
import { benchAlerts } from './alerts.js';
import { benchUi } from './ui.js';
import { benchExceptions } from './exceptions.js';
import { benchSearch } from './search.js';
import { benchBudgets } from './budgets.js';
import { benchCluster } from './cluster.js';

const results = [benchParse(), await benchRules(), benchAdversarial(), await benchIngest(), await benchHunt(), await benchExceptions(), benchAlerts(), await benchSearch(), await benchBudgets(), await benchService(), await benchCluster(), await benchUi()];
for (const r of results) {
  process.stdout.write(`\n## ${r.title}\n`);
  for (const line of r.lines) process.stdout.write(`${line}\n`);
}
