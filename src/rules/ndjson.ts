import type { Diagnostic, Span } from '../core/index.js';
import { buildRule } from './build-rule.js';
import { RuleCodes } from './messages.js';
import { ruleToRecord, type Rule } from './model.js';
import { createOffsetMap, type OffsetMap } from './source-map.js';

export interface LoadedRules {
  readonly rules: Rule[];
  readonly diagnostics: Diagnostic[];
}

/**
 * Reads Kibana's rule export format: one JSON rule per line. The export summary line and exception
 * list lines are recognised and skipped. A bad line is reported and the others still load.
 */
export function loadNdjsonRules(text: string, file: string): LoadedRules {
  const rules: Rule[] = [];
  const diagnostics: Diagnostic[] = [];
  let lineStart = 0;
  for (const line of text.split('\n')) {
    const start = lineStart;
    lineStart += line.length + 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      diagnostics.push({ code: RuleCodes.badJson, severity: 'error', message: `invalid JSON: ${(e as Error).message}`, span: { start, end: start + Math.max(1, line.length) }, file });
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      diagnostics.push({ code: RuleCodes.badJson, severity: 'error', message: 'each line must be a JSON object', span: { start, end: start + line.length }, file });
      continue;
    }
    const record = { ...(value as Record<string, unknown>) };
    if ('exported_count' in record || ('list_id' in record && !('rule_id' in record))) continue;
    let metadata: Record<string, unknown> | undefined;
    const meta = record.meta as Record<string, unknown> | undefined;
    if (meta && typeof meta === 'object' && typeof meta.detection_rules === 'object') {
      metadata = meta.detection_rules as Record<string, unknown>;
      const rest = { ...meta };
      delete rest.detection_rules;
      if (Object.keys(rest).length > 0) record.meta = rest;
      else delete record.meta;
    }
    const locate = (key: string): Span => {
      const at = line.indexOf(`"${key}":`);
      return at < 0 ? { start, end: start + 1 } : { start: start + at, end: start + at + key.length + 2 };
    };
    const query = typeof record.query === 'string' ? record.query : null;
    const built = buildRule(record, { file, locate, queryMap: query === null ? null : jsonQueryMap(text, start, line, query) }, metadata);
    diagnostics.push(...built.diagnostics);
    if (built.rule) rules.push(built.rule);
  }
  return { rules, diagnostics };
}

function jsonQueryMap(text: string, lineStart: number, line: string, query: string): OffsetMap | null {
  const m = /"query"\s*:\s*"/.exec(line);
  if (!m) return null;
  const rawStart = lineStart + m.index + m[0].length;
  let i = rawStart;
  while (i < lineStart + line.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === '"') break;
    else i++;
  }
  return createOffsetMap(text, rawStart, i, 'json', query);
}

/** Writes rules in Kibana's export format, with the summary line Kibana appends. */
export function writeNdjsonRules(rules: readonly Rule[]): string {
  const lines = rules.map((r) => {
    const rec = ruleToRecord(r);
    if (r.metadata) rec.meta = { ...((rec.meta as Record<string, unknown> | undefined) ?? {}), detection_rules: r.metadata };
    return JSON.stringify(rec);
  });
  lines.push(
    JSON.stringify({
      exported_count: rules.length,
      exported_rules_count: rules.length,
      missing_rules: [],
      missing_rules_count: 0,
      exported_exception_list_count: 0,
      exported_exception_list_item_count: 0,
      missing_exception_list_item_count: 0,
      missing_exception_list_items: [],
      missing_exception_lists: [],
      missing_exception_lists_count: 0,
    }),
  );
  return `${lines.join('\n')}\n`;
}
