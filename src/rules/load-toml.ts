import { parse as parseToml, TomlError } from 'smol-toml';
import { LineMap, type Diagnostic, type Span } from '../core/index.js';
import { buildRule, type BuiltRule } from './build-rule.js';
import { RuleCodes } from './messages.js';
import { createOffsetMap, type OffsetMap } from './source-map.js';

/** Reads one detection-rules TOML file (`[metadata]`, `[rule]`, `[[rule.threat]]`, …). */
export function loadTomlRule(text: string, file: string): BuiltRule {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const diagnostics: Diagnostic[] = [];
    if (e instanceof TomlError) {
      const start = offsetOf(text, e.line, e.column);
      diagnostics.push({ code: RuleCodes.badToml, severity: 'error', message: `invalid TOML: ${e.message.split('\n')[0]}`, span: { start, end: start + 1 }, file });
    } else {
      diagnostics.push({ code: RuleCodes.badToml, severity: 'error', message: `invalid TOML: ${String(e)}`, span: { start: 0, end: 1 }, file });
    }
    return { rule: null, diagnostics };
  }
  const ruleTable = doc.rule;
  if (typeof ruleTable !== 'object' || ruleTable === null || Array.isArray(ruleTable)) {
    return {
      rule: null,
      diagnostics: [{ code: RuleCodes.missingField, severity: 'error', message: 'missing the [rule] table', span: { start: 0, end: 1 }, file }],
    };
  }
  const record: Record<string, unknown> = { ...(ruleTable as Record<string, unknown>) };
  // other top-level tables (e.g. [transform]) travel with the rule
  for (const [k, v] of Object.entries(doc)) if (k !== 'rule' && k !== 'metadata') record[k] = v;
  const metadata = (typeof doc.metadata === 'object' && doc.metadata !== null ? doc.metadata : undefined) as Record<string, unknown> | undefined;
  const locate = keyLocator(text);
  const query = typeof record.query === 'string' ? record.query : null;
  return buildRule(record, { file, locate, queryMap: query === null ? null : queryMap(text, query) }, metadata);
}

function offsetOf(text: string, line: number, column: number): number {
  const map = new LineMap(text);
  let offset = 0;
  for (let l = 1; l < line; l++) offset += map.lineText(l).length + 1;
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

/** Finds `key = …` inside the [rule] table (or anywhere, failing that). */
function keyLocator(text: string): (key: string) => Span {
  const ruleStart = Math.max(0, text.search(/^\[rule\]\s*$/m));
  return (key: string): Span => {
    const re = new RegExp(`^[ \\t]*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*=`, 'gm');
    re.lastIndex = ruleStart;
    let m = re.exec(text);
    if (!m) {
      // an array of tables such as [[rule.threat]]
      const table = new RegExp(`^\\[\\[?rule\\.${key}\\]\\]?`, 'm');
      m = table.exec(text);
    }
    if (!m) {
      re.lastIndex = 0;
      m = re.exec(text);
    }
    if (!m) return { start: ruleStart, end: ruleStart + 6 };
    const start = m.index + (m[0].length - m[0].trimStart().length);
    const eol = text.indexOf('\n', start);
    return { start, end: eol < 0 ? text.length : eol };
  };
}

/** Locates the query string's body in the file and maps query offsets into it. */
function queryMap(text: string, query: string): OffsetMap | null {
  const m = /^[ \t]*query[ \t]*=[ \t]*('''|"""|'|")/m.exec(text.slice(Math.max(0, text.search(/^\[rule\]\s*$/m))));
  if (!m) return null;
  const base = Math.max(0, text.search(/^\[rule\]\s*$/m));
  const delim = m[1]!;
  let rawStart = base + m.index + m[0].length;
  if (delim.length === 3) {
    // TOML drops a newline right after the opening delimiter
    if (text.startsWith('\r\n', rawStart)) rawStart += 2;
    else if (text[rawStart] === '\n') rawStart += 1;
  }
  let rawEnd: number;
  if (delim === "'''" || delim === "'") {
    rawEnd = rawStart + query.length;
    return createOffsetMap(text, rawStart, rawEnd, 'literal', query);
  }
  // basic strings: find the closing quote that is not escaped
  let i = rawStart;
  for (;;) {
    const j = text.indexOf(delim, i);
    if (j < 0) return null;
    let bs = 0;
    for (let k = j - 1; k >= rawStart && text[k] === '\\'; k--) bs++;
    if (bs % 2 === 0) {
      rawEnd = j;
      break;
    }
    i = j + 1;
  }
  return createOffsetMap(text, rawStart, rawEnd, 'toml-basic', query);
}
