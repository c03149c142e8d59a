/** An EQL rule of our own, as an NDJSON line of the Kibana export format. */
export const eqlRule = (id: string, query: string): string =>
  JSON.stringify({ rule_id: id, name: id, description: 'test', type: 'eql', language: 'eql', query, severity: 'low', risk_score: 21, interval: '5m', from: 'now-9m', max_signals: 100, enabled: true, version: 1 });
