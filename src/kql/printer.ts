import type { KqlLiteral, KqlQuery, KqlValue } from './ast.js';

/**
 * KQL text for a tree: one canonical spelling (`field: value`, keywords in lower case, parentheses
 * only where precedence needs them), which parses back to the same tree.
 */
export function printKql(q: KqlQuery): string {
  return query(q, 0);
}

/** Binding strength: or 1, and 2, not and leaves 3. */
const strength = (kind: string): number => (kind === 'or' ? 1 : kind === 'and' ? 2 : 3);

function query(q: KqlQuery, outer: number): string {
  let s: string;
  switch (q.kind) {
    case 'and':
    case 'or':
      if (q.children.length === 0) return '';
      s = q.children.map((c) => query(c, strength(q.kind) + (c.kind === q.kind ? 1 : 0))).join(` ${q.kind} `);
      break;
    case 'not':
      s = `not ${query(q.child, 3)}`;
      break;
    case 'match':
      s = `${literal(q.field)}: ${value(q.value, true)}`;
      break;
    case 'exists':
      s = `${literal(q.field)}: *`;
      break;
    case 'range':
      s = `${literal(q.field)} ${q.op} ${literal(q.value)}`;
      break;
    case 'nested':
      s = `${literal(q.field)}: { ${query(q.query, 0)} }`;
      break;
    case 'text':
      s = literal(q.value);
      break;
  }
  return strength(q.kind) < outer ? `(${s})` : s;
}

/** A value list; at the top of `field:` anything but a single literal goes in parentheses. */
function value(v: KqlValue, top: boolean, outer = 0): string {
  if (v.kind === 'literal') return literal(v);
  let s: string;
  if (v.kind === 'not') s = `not ${value(v.child, false, 3)}`;
  else s = v.children.map((c) => value(c, false, strength(v.kind) + (c.kind === v.kind ? 1 : 0))).join(` ${v.kind} `);
  return top || strength(v.kind) < outer ? `(${s})` : s;
}

const UNQUOTED_SPECIAL = /[\\():<>"*{}\t\r\n]/g;

/** A literal: quoted as a phrase when it was, else unquoted with its specials escaped and `*` for wildcards. */
export function literal(l: KqlLiteral): string {
  if (l.quoted) return `"${l.parts[0]!.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
  // spaces stay (a value may hold them), but not at either end, and not before a word read as a keyword
  const text = l.parts
    .map((p) => p.replace(UNQUOTED_SPECIAL, (c) => (c === '\t' ? '\\t' : c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\${c}`)))
    .join('*')
    .replace(/^ | $/g, '\\u0020')
    .replace(/( +)(and|or)(?=\s)/gi, '$1\\$2')
    .replace(/( +)(n)(ot)(?=\s)/gi, (_, sp: string, nn: string, ot: string) => `${sp}\\u${nn.charCodeAt(0).toString(16).padStart(4, '0')}${ot}`);
  // a value that reads as a keyword stays a value: `\and`, `\or`, and `\u006eot` (`\n` is a line break)
  if (l.parts.length === 1 && /^(and|or)$/i.test(text)) return `\\${text}`;
  if (l.parts.length === 1 && /^not$/i.test(text)) return `\\u${text.charCodeAt(0).toString(16).padStart(4, '0')}${text.slice(1)}`;
  return text;
}
