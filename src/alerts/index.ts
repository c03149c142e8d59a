export { buildAlerts, matchAlertId, ruleUuid, alertReason, commonFields, type MatchedEvent, type RuleMatch, type AlertContext, type BuiltAlert } from './build-alerts.js';
