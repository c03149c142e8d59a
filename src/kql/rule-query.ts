import { ecsFieldsMatching, ecsFieldType } from '../ecs/index.js';
import { kqlStatement, matchAllStatement, type KqlTranslation } from './to-eql.js';

/**
 * A rule's KQL query as an EQL statement, its fields typed by ECS and field-name patterns expanded
 * against ECS: what every driver runs and `vigil rules validate` checks. An empty query (threshold
 * rules may have one) matches every event. `now` resolves date math in ranges on date fields
 * (indicator queries); without it such a query is refused.
 */
export function ruleKqlStatement(text: string | undefined, now?: number): KqlTranslation {
  if (text === undefined || text.trim() === '') return { ok: true, statement: matchAllStatement() };
  return kqlStatement(text, ecsFieldType, { fieldsMatching: ecsFieldsMatching, now });
}
