export {
  compileQuery,
  compileStatement,
  timeSpanMs,
  type QueryOptions,
  type CompiledQuery,
  type CompileResult,
  type Matcher,
  type MatcherCounters,
  type SearchHits,
  type EventHit,
  type SequenceHit,
  type Judge,
} from './compile-query.js';
export { EventReader, compareEvents, defaultParseTimestamp, type EngineEvent, type EventInput, type EventOptions, type EventText, type Verdict } from './event.js';
export { SequenceMatcher, expandKeys, keyString, type StageSpec, type SequenceMatch, type SequenceCounters } from './sequence.js';
export { ECS_PROCESS_KEYS, ENDGAME_PROCESS_KEYS, type ProcessKeys } from './relationships.js';
export { IndexMapping, parseDate, formatIp, nanosText, compareVersions, type FieldMapping } from './mapping.js';
export { RuleIndex, RuleSet, coverOf, FIELDS_ONLY, type RuleIndexOptions, type RuleSetStats, type RuleSetOptions } from './rule-set.js';
export { StatefulRules, isGated, isStateful, ruleOfCode, statefulCode, type RuleSetEntry, type RuleSetHit, type StatefulCode, type StatefulRulesOptions } from './stateful-rules.js';
export { PieceAutomaton } from './pieces.js';
export { Heap } from './heap.js';
export { rawFilterOf, unionRawFilter, RawText, PASS_ALL, type RawFilter, type Needle } from './raw-filter.js';
export { ThresholdCounter, NewTermsTracker, IndicatorIndex, TermsReader, termsOf, termCombinations, termsKey, MAX_COMBINATIONS, type Term, type ThresholdSpec, type ThresholdBucket, type TermsSighting, type NewTermsSpec, type ThreatMappingSpec, type IndicatorDoc, type IndicatorMatch } from './aggregate.js';
