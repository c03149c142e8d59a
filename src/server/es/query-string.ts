import { parsingError } from './errors.js';

/**
 * Lucene's query string syntax, read into the query DSL the rest of the search compiles:
 * `field:value`, `field:"a phrase"`, `field:(a OR b)`, `field:[1 TO 5]` / `{…}`, `field:>=5`,
 * `_exists_:field`, wildcards `*` `?`, `\` escapes, `AND` `OR` `NOT` `&&` `||` `!`, `+` and `-`,
 * parentheses; terms without a field search the given fields (default every field).
 */
export interface QueryStringOptions {
  readonly defaultOperator: 'and' | 'or';
  readonly fields: readonly string[];
}

type Tok = { t: 'word'; v: string; wild: boolean } | { t: 'phrase'; v: string } | { t: 'op'; v: string };

function lex(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"') {
      let v = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        v += text[i++];
      }
      if (i >= text.length) throw parsingError(`Failed to parse query [${text}]: unterminated phrase`);
      i++;
      out.push({ t: 'phrase', v });
      continue;
    }
    if (text.startsWith('&&', i) || text.startsWith('||', i)) {
      out.push({ t: 'op', v: text.startsWith('&&', i) ? 'AND' : 'OR' });
      i += 2;
      continue;
    }
    if ('()[]{}:+-!'.includes(ch) && !(ch === '-' && out.length > 0 && out[out.length - 1]!.t === 'word' && i > 0 && !/\s/.test(text[i - 1]!))) {
      out.push({ t: 'op', v: ch === '!' ? 'NOT' : ch });
      i++;
      continue;
    }
    let v = '';
    let wild = false;
    while (i < text.length && !/\s/.test(text[i]!) && !'()[]{}:"'.includes(text[i]!)) {
      if (text[i] === '\\' && i + 1 < text.length) {
        v += text[i + 1];
        i += 2;
        continue;
      }
      if (text[i] === '*' || text[i] === '?') wild = true;
      v += text[i++];
    }
    if (v === 'AND' || v === 'OR' || v === 'NOT' || v === 'TO') out.push({ t: 'op', v });
    else out.push({ t: 'word', v, wild });
  }
  return out;
}

export function parseQueryString(text: string, opts: QueryStringOptions): unknown {
  const toks = lex(text);
  let pos = 0;
  let depth = 0;
  const peek = (): Tok | undefined => toks[pos];
  const isOp = (v: string): boolean => peek()?.t === 'op' && peek()!.v === v;
  const fail = (why: string): never => {
    throw parsingError(`Failed to parse query [${text}]: ${why}`);
  };

  const leaf = (fields: readonly string[], tok: Tok): unknown => {
    const multi = fields.length !== 1 || fields[0]!.includes('*');
    if (tok.t === 'phrase') return multi ? { multi_match: { query: tok.v, fields, type: 'phrase' } } : { match_phrase: { [fields[0]!]: tok.v } };
    if (tok.t !== 'word') return fail('expected a term');
    if (tok.wild) {
      if (tok.v === '*') return fields.length === 1 && !fields[0]!.includes('*') ? { exists: { field: fields[0] } } : { match_all: {} };
      return fields.length === 1 ? { wildcard: { [fields[0]!]: { value: tok.v } } } : { bool: { should: fields.map((f) => ({ wildcard: { [f]: { value: tok.v } } })) } };
    }
    return multi ? { multi_match: { query: tok.v, fields, lenient: true } } : { match: { [fields[0]!]: { query: tok.v } } };
  };

  const range = (f: string): unknown => {
    const open = (toks[pos++] as { v: string }).v;
    const lo = toks[pos++];
    if (!isOp('TO')) fail('expected TO in a range');
    pos++;
    const hi = toks[pos++];
    const close = peek();
    if (!close || close.t !== 'op' || (close.v !== ']' && close.v !== '}')) fail('unterminated range');
    pos++;
    const r: Record<string, unknown> = {};
    const val = (t: Tok | undefined): string => (t && t.t !== 'op' ? t.v : fail('expected a range bound'));
    const a = val(lo);
    const b = val(hi);
    if (a !== '*') r[open === '[' ? 'gte' : 'gt'] = a;
    if (b !== '*') r[(close as { v: string }).v === ']' ? 'lte' : 'lt'] = b;
    return { range: { [f]: r } };
  };

  const primary = (fields: readonly string[]): unknown => {
    const tok = peek();
    if (!tok) return fail('unexpected end of query');
    if (tok.t === 'op' && tok.v === '(') {
      if (++depth > 30) fail('parentheses nested too deeply (more than 30)');
      pos++;
      const q = or(fields);
      if (!isOp(')')) fail('missing )');
      pos++;
      depth--;
      return q;
    }
    if (tok.t === 'word' && toks[pos + 1]?.t === 'op' && toks[pos + 1]!.v === ':') {
      pos += 2;
      const f = tok.v;
      if (f === '_exists_') {
        const w = toks[pos++];
        return { exists: { field: w && w.t !== 'op' ? w.v : fail('expected a field after _exists_:') } };
      }
      const next = peek();
      if (next?.t === 'op' && (next.v === '[' || next.v === '{')) return range(f);
      if (next?.t === 'word' && /^(>=|<=|>|<)./.test(next.v)) {
        pos++;
        const m = /^(>=|<=|>|<)(.*)$/.exec(next.v)!;
        const key = { '>=': 'gte', '<=': 'lte', '>': 'gt', '<': 'lt' }[m[1]!]!;
        return { range: { [f]: { [key]: m[2] } } };
      }
      return primary([f]);
    }
    if (tok.t === 'op') return fail(`unexpected [${tok.v}]`);
    pos++;
    return leaf(fields, tok);
  };

  const unary = (fields: readonly string[]): unknown => {
    let nots = 0;
    while (isOp('NOT') || isOp('-')) {
      pos++;
      nots++;
    }
    if (isOp('+')) pos++;
    // NOT NOT x is x: an even run of negations cancels, so a long run cannot nest deep
    if (nots > 0) return nots % 2 === 1 ? { bool: { must_not: [primary(fields)] } } : primary(fields);
    return primary(fields);
  };

  const startsClause = (): boolean => {
    const t = peek();
    return t !== undefined && (t.t !== 'op' || ['(', 'NOT', '-', '+'].includes(t.v));
  };

  const and = (fields: readonly string[]): unknown => {
    const parts = [unary(fields)];
    for (;;) {
      if (isOp('AND')) {
        pos++;
        parts.push(unary(fields));
      } else if (opts.defaultOperator === 'and' && startsClause()) parts.push(unary(fields));
      else break;
    }
    return parts.length === 1 ? parts[0] : { bool: { filter: parts } };
  };

  function or(fields: readonly string[]): unknown {
    const parts = [and(fields)];
    for (;;) {
      if (isOp('OR')) {
        pos++;
        parts.push(and(fields));
      } else if (opts.defaultOperator === 'or' && startsClause()) parts.push(and(fields));
      else break;
    }
    return parts.length === 1 ? parts[0] : { bool: { should: parts, minimum_should_match: 1 } };
  }

  if (toks.length === 0) return { match_none: {} };
  const q = or(opts.fields);
  if (pos < toks.length) fail(`unexpected [${(toks[pos] as { v: string }).v}]`);
  return q;
}
