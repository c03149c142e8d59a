/**
 * A hunt worker thread: its share of the rules (every `parts`-th, from `part`) over every batch of
 * lines, in order. It answers each batch with the events it parsed, the bad lines, and the alert
 * groups completed so far; the flush ends the input (sequences report what they hold).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RuleSet } from '../engine/index.js';
import { compileHuntRules, HuntFeed, type AlertGroup, type BatchTally, type HuntWorkerReply, type HuntWorkerSetup } from './hunt.js';

const setup = workerData as HuntWorkerSetup & { part: number; parts: number };
const { entries } = compileHuntRules(setup.rules, setup.index);
// dealt like cards, stateful rules (sequences, samples, pipes: the costly ones) first, so that
// every worker gets its share of both kinds
const stateful = (e: (typeof entries)[number]): boolean => e.query.kind !== 'event' || e.query.ast.pipes.length > 0;
const dealt = [...entries.filter(stateful), ...entries.filter((e) => !stateful(e))];
const mine = dealt.filter((_, i) => i % setup.parts === setup.part);
const feed = new HuntFeed(new RuleSet(mine, { indexed: setup.indexed, lateness: setup.lateness }), setup.index ?? 'hunt', setup.now);

parentPort!.on('message', (m: { id: number; batch?: { fi: number; lines: string[]; lineNos: number[] }; flush?: true }) => {
  const groups: AlertGroup[] = [];
  try {
    if (m.batch) {
      const { fi, lines, lineNos } = m.batch;
      const tally: BatchTally = { fi, events: 0, bad: [] };
      for (let i = 0; i < lines.length; i++) {
        const problem = feed.line(fi, lines[i]!, lineNos[i]!, groups);
        if (problem === null) tally.events++;
        else tally.bad.push({ lineNo: lineNos[i]!, message: problem });
      }
      parentPort!.postMessage({ id: m.id, tally, groups } satisfies HuntWorkerReply);
    } else if (m.flush) {
      feed.flush(groups);
      parentPort!.postMessage({ id: m.id, groups } satisfies HuntWorkerReply);
    }
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies HuntWorkerReply);
  }
});
