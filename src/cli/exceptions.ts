import { readFile } from 'node:fs/promises';
import { formatDiagnostics } from '../core/index.js';
import { parseExceptionNdjson, parseValueList, VALUE_LIST_TYPES, type ExceptionItem, type ExceptionList, type ValueList, type ValueListType } from '../rules/index.js';

export interface LoadedExceptions {
  readonly lists: ExceptionList[];
  readonly items: ExceptionItem[];
  readonly valueLists: Map<string, ValueList>;
  /** Problems, located (file:line:col); what they concern is left out, the rest loaded. */
  readonly problems: string[];
}

/**
 * Exception list files (Kibana's export NDJSON) and value lists given as `id:type:file` (type
 * keyword, ip or ip_range; a value per line). A bad file, line or item is reported and left out;
 * the others load.
 */
export async function loadExceptionFiles(files: readonly string[], valueListSpecs: readonly string[]): Promise<LoadedExceptions> {
  const problems: string[] = [];
  const valueLists = new Map<string, ValueList>();
  for (const spec of valueListSpecs) {
    const m = /^([^:]+):([^:]+):(.+)$/.exec(spec);
    if (!m || !(VALUE_LIST_TYPES as readonly string[]).includes(m[2]!)) {
      problems.push(`--value-list ${spec}: give id:type:file, type one of ${VALUE_LIST_TYPES.join(', ')}`);
      continue;
    }
    const [, id, type, file] = m;
    let text: string;
    try {
      text = await readFile(file!, 'utf8');
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
      continue;
    }
    const r = parseValueList(id!, type as ValueListType, text, file);
    if (r.diagnostics.length) problems.push(formatDiagnostics(r.diagnostics, text, { context: false }));
    valueLists.set(id!, r.list);
  }
  const lists: ExceptionList[] = [];
  const items: ExceptionItem[] = [];
  const texts: Array<{ file: string; text: string }> = [];
  for (const file of files) {
    try {
      texts.push({ file, text: await readFile(file, 'utf8') });
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    }
  }
  // an item may be in another file than its list
  const known = new Set<string>();
  for (const { file, text } of texts) for (const l of parseExceptionNdjson(text, file).lists) known.add(l.list_id);
  for (const { file, text } of texts) {
    const r = parseExceptionNdjson(text, file, known);
    lists.push(...r.lists);
    items.push(...r.items);
    if (r.diagnostics.length) problems.push(formatDiagnostics(r.diagnostics, text, { context: false }));
  }
  return { lists, items, valueLists, problems };
}
