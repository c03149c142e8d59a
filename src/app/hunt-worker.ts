/**
 * A hunt worker thread: its share of the rules (every `parts`-th, from `part`) over every batch of
 * lines, in order. It answers each batch with the events it parsed, the bad lines, and the alert
 * groups completed so far; the flush ends the input (sequences report what they hold).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RuleSet, type RuleSetHit } from '../engine/index.js';
import type { Rule } from '../rules/index.js';
import { compileHuntRules, huntAlerts, parseEventLine, type BatchTally, type HuntWorkerReply, type HuntWorkerSetup } from './hunt.js';

const setup = workerData as HuntWorkerSetup & { part: number; parts: number };
const { entries } = compileHuntRules(setup.rules, setup.index);
// dealt like cards, stateful rules (sequences, samples, pipes: the costly ones) first, so that
// every worker gets its share of both kinds
const stateful = (e: (typeof entries)[number]): boolean => e.query.kind !== 'event' || e.query.ast.pipes.length > 0;
const dealt = [...entries.filter(stateful), ...entries.filter((e) => !stateful(e))];
const mine = dealt.filter((_, i) => i % setup.parts === setup.part);
const set = new RuleSet(mine, { indexed: setup.indexed, lateness: setup.lateness });
const index = setup.index ?? 'hunt';
const hits: Array<RuleSetHit<Rule>> = [];

parentPort!.on('message', (m: { id: number; batch?: { fi: number; lines: string[]; lineNos: number[] }; flush?: true }) => {
  const groups: Parameters<typeof huntAlerts>[2] = [];
  try {
    if (m.batch) {
      const { fi, lines, lineNos } = m.batch;
      const tally: BatchTally = { fi, events: 0, bad: [] };
      for (let i = 0; i < lines.length; i++) {
        const p = parseEventLine(lines[i]!);
        if ('bad' in p) {
          tally.bad.push({ lineNo: lineNos[i]!, message: p.bad });
          continue;
        }
        tally.events++;
        set.push({ _index: index, _id: `${fi}:${lineNos[i]}`, _source: p.doc }, hits);
      }
      huntAlerts(hits, setup.now, groups);
      hits.length = 0;
      parentPort!.postMessage({ id: m.id, tally, groups } satisfies HuntWorkerReply);
    } else if (m.flush) {
      set.flush(hits);
      huntAlerts(hits, setup.now, groups);
      hits.length = 0;
      parentPort!.postMessage({ id: m.id, groups } satisfies HuntWorkerReply);
    }
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies HuntWorkerReply);
  }
});
