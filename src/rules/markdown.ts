import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Diagnostic, Span } from '../core/index.js';
import { buildRule, type BuiltRule } from './build-rule.js';
import { RuleCodes } from './messages.js';
import { ruleToRecord, type Rule, type Threat, type ThreatEntry, type ThreatTechnique } from './model.js';

/**
 * Markdown rule pages in the layout of Elastic's published rule docs (the seeds). Fields the page
 * layout cannot carry (rule_id, language, type-specific fields, …) live in the front matter under
 * `vigil:`, so that model → Markdown → model loses nothing.
 */

const LABELS: Record<string, string> = {
  'Rule type': 'type',
  'Rule indices': 'index',
  Severity: 'severity',
  'Risk score': 'risk_score',
  'Runs every': 'interval',
  'Searches indices from': 'from',
  'Maximum alerts per execution': 'max_signals',
  References: 'references',
  Tags: 'tags',
  Version: 'version',
  'Rule authors': 'author',
  'Rule license': 'license',
};
const LABEL_OF: Record<string, string> = Object.fromEntries(Object.entries(LABELS).map(([k, v]) => [v, k]));
const LIST_FIELDS = new Set(['index', 'references', 'tags', 'author']);
const NUMBER_FIELDS = new Set(['risk_score', 'max_signals', 'version']);
const SECTION = /^## (Investigation guide|Setup|Rule query)(?: \[[^\]]*\])?\s*$/;

interface Body {
  readonly record: Record<string, unknown>;
  readonly spans: Map<string, Span>;
  readonly querySpan: Span | null;
  readonly problems: Array<{ message: string; span: Span }>;
}

/** Reads the page body (everything after the front matter) into Elastic field names. */
function readBody(text: string, offset: number): Body {
  const record: Record<string, unknown> = {};
  const spans = new Map<string, Span>();
  const problems: Array<{ message: string; span: Span }> = [];
  const lines: Array<{ text: string; start: number }> = [];
  let pos = offset;
  for (const l of text.slice(offset).split('\n')) {
    lines.push({ text: l.endsWith('\r') ? l.slice(0, -1) : l, start: pos });
    pos += l.length + 1;
  }
  let i = 0;
  while (i < lines.length && lines[i]!.text.trim() === '') i++;
  const title = lines[i];
  const tm = title ? /^# (.*?)(?: \[([^\]]+)\])?\s*$/.exec(title.text) : null;
  if (!tm) {
    problems.push({ message: "expected a '# Rule name [slug]' title line", span: { start: title?.start ?? offset, end: (title?.start ?? offset) + 1 } });
    return { record, spans, querySpan: null, problems };
  }
  record.name = tm[1];
  spans.set('name', { start: title!.start, end: title!.start + title!.text.length });
  if (tm[2]) record.__slug = tm[2];
  i++;
  const desc: string[] = [];
  while (i < lines.length && !/^\*\*[^*]+\*\*:/.test(lines[i]!.text) && !SECTION.test(lines[i]!.text)) desc.push(lines[i++]!.text);
  record.description = desc.join('\n').trim();
  let querySpan: Span | null = null;
  while (i < lines.length) {
    const line = lines[i]!;
    const label = /^\*\*([^*]+)\*\*:\s*(.*)$/.exec(line.text);
    const section = SECTION.exec(line.text);
    if (label) {
      const key = LABELS[label[1]!];
      i++;
      if (label[1] === 'Framework') {
        const threat = readThreat(lines, i, label[2]!.trim());
        record.threat = [...((record.threat as Threat[] | undefined) ?? []), ...threat.threat];
        spans.set('threat', { start: line.start, end: line.start + line.text.length });
        i = threat.next;
        continue;
      }
      if (!key) continue;
      spans.set(key, { start: line.start, end: line.start + line.text.length });
      const value = label[2]!.trim();
      if (LIST_FIELDS.has(key)) {
        const items: string[] = [];
        if (value !== '' && value !== 'None') items.push(value);
        if (value === '') {
          while (i < lines.length && (lines[i]!.text.trim() === '' || /^\* /.test(lines[i]!.text))) {
            const t = lines[i]!.text;
            if (t.startsWith('* ')) items.push(unlink(t.slice(2).trim()));
            i++;
          }
        }
        record[key] = items;
      } else if (NUMBER_FIELDS.has(key)) {
        record[key] = /^-?\d+$/.test(value) ? Number(value) : value;
      } else if (key === 'from') {
        record[key] = value.split(/\s+/)[0];
      } else record[key] = value;
      continue;
    }
    if (section) {
      i++;
      const body: string[] = [];
      while (i < lines.length && !SECTION.test(lines[i]!.text) && !(section[1] === 'Rule query' && /^\*\*Framework\*\*:/.test(lines[i]!.text))) {
        body.push(lines[i]!.text);
        if (section[1] === 'Rule query' && /^```/.test(lines[i]!.text)) {
          // the query block: fenced, taken verbatim
          const open = i;
          i++;
          const q: string[] = [];
          while (i < lines.length && !/^```\s*$/.test(lines[i]!.text)) q.push(lines[i++]!.text);
          if (i >= lines.length) problems.push({ message: 'the query code block is not closed with ```', span: { start: lines[open]!.start, end: lines[open]!.start + 3 } });
          record.query = q.join('\n');
          const qs = lines[open + 1]?.start ?? lines[open]!.start;
          querySpan = { start: qs, end: qs + (record.query as string).length };
          spans.set('query', { start: lines[open]!.start, end: lines[open]!.start + lines[open]!.text.length });
        }
        i++;
      }
      const content = body.join('\n').trim();
      if (section[1] === 'Investigation guide' && content !== '') record.note = content;
      if (section[1] === 'Setup' && content !== '') record.setup = content;
      continue;
    }
    i++;
  }
  return { record, spans, querySpan, problems };
}

function unlink(s: string): string {
  const m = /^\[([^\]]*)\]\(([^)]*)\)$/.exec(s);
  return m ? m[2]! : s;
}

function readThreat(lines: Array<{ text: string }>, start: number, framework: string): { threat: Threat[]; next: number } {
  const fw = framework === 'MITRE ATT&CKTM' ? 'MITRE ATT&CK' : framework;
  const threat: Array<{ framework: string; tactic: ThreatEntry; technique?: ThreatTechnique[] }> = [];
  let i = start;
  const readEntry = (): ThreatEntry => {
    const e = { id: '', name: '', reference: '' };
    while (i < lines.length) {
      const t = lines[i]!.text;
      const m = /^\s+\* (Name|ID|Reference URL): (.*)$/.exec(t);
      if (m) {
        if (m[1] === 'Name') e.name = m[2]!.trim();
        else if (m[1] === 'ID') e.id = m[2]!.trim();
        else e.reference = unlink(m[2]!.trim());
        i++;
      } else if (t.trim() === '') i++;
      else break;
    }
    return e;
  };
  while (i < lines.length) {
    const t = lines[i]!.text;
    if (t.trim() === '') {
      i++;
      continue;
    }
    const m = /^\* (Tactic|Technique|Sub-technique):\s*$/.exec(t);
    if (!m) break;
    i++;
    const e = readEntry();
    if (m[1] === 'Tactic') threat.push({ framework: fw, tactic: e });
    else if (threat.length > 0) {
      const last = threat[threat.length - 1]!;
      if (m[1] === 'Technique') last.technique = [...(last.technique ?? []), e];
      else if (last.technique && last.technique.length > 0) {
        const te = last.technique[last.technique.length - 1]!;
        last.technique[last.technique.length - 1] = { ...te, subtechnique: [...(te.subtechnique ?? []), e] };
      }
    }
  }
  return { threat, next: i };
}

/** Reads one Markdown rule page. */
export function loadMarkdownRule(text: string, file: string): BuiltRule {
  const diagnostics: Diagnostic[] = [];
  let offset = 0;
  let front: Record<string, unknown> = {};
  if (text.startsWith('---\n') || text.startsWith('---\r\n')) {
    const end = text.indexOf('\n---', 3);
    if (end < 0) {
      return { rule: null, diagnostics: [{ code: RuleCodes.badFrontMatter, severity: 'error', message: 'front matter opened with --- is never closed', span: { start: 0, end: 3 }, file }] };
    }
    try {
      const parsed: unknown = parseYaml(text.slice(text.indexOf('\n') + 1, end + 1));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) front = parsed as Record<string, unknown>;
      else if (parsed !== null && parsed !== undefined) throw new Error('front matter must be a mapping');
    } catch (e) {
      const err = e as { message: string; linePos?: Array<{ line: number; col: number }> };
      const lp = err.linePos?.[0];
      let start = 4;
      if (lp) {
        const lines = text.split('\n');
        start = lines.slice(0, lp.line).reduce((n, l) => n + l.length + 1, 0) + lp.col - 1;
      }
      return { rule: null, diagnostics: [{ code: RuleCodes.badFrontMatter, severity: 'error', message: `invalid front matter: ${err.message.split('\n')[0]}`, span: { start, end: start + 1 }, file }] };
    }
    offset = text.indexOf('\n', end + 1) + 1 || text.length;
  }
  const body = readBody(text, offset);
  for (const p of body.problems) diagnostics.push({ code: RuleCodes.badMarkdown, severity: 'error', message: p.message, span: p.span, file });
  const record = { ...body.record };
  const slug = record.__slug as string | undefined;
  delete record.__slug;
  const vigil = (front.vigil ?? {}) as Record<string, unknown>;
  const metadata = vigil.metadata as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(vigil)) {
    if (k === 'metadata') continue;
    if (v === null) delete record[k];
    else record[k] = v;
  }
  if (record.rule_id === undefined && slug) record.rule_id = slug.replace(/^prebuilt-rule-\d+-\d+-\d+-/, '');
  const fallback: Span = { start: offset, end: offset + 1 };
  const querySpan = body.querySpan;
  const built = buildRule(
    record,
    {
      file,
      locate: (key) => body.spans.get(key) ?? fallback,
      queryMap: querySpan && vigil.query === undefined ? (i) => querySpan.start + i : null,
    },
    metadata,
  );
  return { rule: built.rule, diagnostics: [...diagnostics, ...built.diagnostics] };
}

/** Renders the page body the way Elastic's docs lay it out. */
function renderBody(rule: Rule, slug: string): string {
  const out: string[] = [`# ${rule.name} [${slug}]`, '', rule.description, ''];
  const field = (key: string, value: unknown): void => {
    const label = LABEL_OF[key]!;
    if (LIST_FIELDS.has(key)) {
      const items = (value as string[] | undefined) ?? [];
      if (items.length === 0) out.push(`**${label}**: None`, '');
      else {
        out.push(`**${label}**:`, '');
        for (const it of items) out.push(key === 'references' ? `* [${it}](${it})` : `* ${it}`);
        out.push('');
      }
    } else if (value !== undefined) out.push(`**${label}**: ${String(value)}`, '');
  };
  field('type', rule.type);
  if (rule.index) field('index', rule.index);
  field('severity', rule.severity);
  field('risk_score', rule.risk_score);
  field('interval', rule.interval);
  field('from', rule.from);
  field('max_signals', rule.max_signals);
  field('references', rule.references);
  field('tags', rule.tags);
  field('version', rule.version);
  field('author', rule.author);
  field('license', rule.license);
  if (rule.note !== undefined) out.push('## Investigation guide', '', rule.note, '');
  if (rule.setup !== undefined) out.push('## Setup', '', rule.setup, '');
  if (rule.query !== undefined) out.push('## Rule query', '', '```js', rule.query, '```', '');
  const byFramework = new Map<string, Threat[]>();
  for (const t of rule.threat) byFramework.set(t.framework, [...(byFramework.get(t.framework) ?? []), t]);
  for (const [fw, threats] of byFramework) {
    out.push(`**Framework**: ${fw === 'MITRE ATT&CK' ? 'MITRE ATT&CKTM' : fw}`, '');
    const entry = (kind: string, e: ThreatEntry): void => {
      out.push(`* ${kind}:`, '', `    * Name: ${e.name}`, `    * ID: ${e.id}`, `    * Reference URL: [${e.reference}](${e.reference})`, '');
    };
    for (const t of threats) {
      entry('Tactic', t.tactic);
      for (const te of t.technique ?? []) {
        entry('Technique', te);
        for (const st of te.subtechnique ?? []) entry('Sub-technique', st);
      }
    }
  }
  return out.join('\n');
}

/** Writes a rule as a Markdown page that reads back into the same model. */
export function writeMarkdownRule(rule: Rule): string {
  const slug = rule.rule_id;
  const body = renderBody(rule, slug);
  const { record } = readBody(body, 0);
  delete record.__slug;
  const none: Span = { start: 0, end: 0 };
  const seen = buildRule({ ...record, rule_id: rule.rule_id }, { file: '', locate: () => none, queryMap: null }).rule;
  const fromBody: Record<string, unknown> = seen ? ruleToRecord(seen) : {};
  const vigil: Record<string, unknown> = { rule_id: rule.rule_id };
  // whatever the body cannot carry exactly (after defaults) goes into the front matter
  const want = ruleToRecord(rule);
  for (const k of new Set([...Object.keys(want), ...Object.keys(fromBody)])) {
    // null marks a field the body seems to hold but the rule does not have
    if (k !== 'rule_id' && !isDeepStrictEqual(normalise(fromBody[k]), normalise(want[k]))) vigil[k] = want[k] ?? null;
  }
  if (rule.metadata) vigil.metadata = rule.metadata;
  return `---\n${stringifyYaml({ vigil }, { lineWidth: 0 })}---\n\n${body}`;
}

/** Threat entries written without subtechnique lists read back without them. */
function normalise(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null)) as unknown;
}
