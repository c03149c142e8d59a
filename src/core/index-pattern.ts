/**
 * Elasticsearch index patterns: comma-separated names with `*` wildcards; a leading `-` excludes
 * what earlier parts included; `_all` and `*` mean every index. Cross-cluster prefixes
 * (`remote:logs-*`) name another cluster and match nothing here.
 */
export function createIndexMatcher(patterns: readonly string[]): (name: string) => boolean {
  const parts = patterns.flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p.length > 0);
  const steps = parts.map((p, i) => {
    const exclude = p.startsWith('-') && i > 0;
    const body = exclude ? p.slice(1) : p;
    return { exclude, test: body === '_all' ? (n: string) => !n.startsWith('.') : body.includes(':') ? () => false : globTest(body) };
  });
  return (name) => {
    let hit = false;
    for (const s of steps) {
      if (s.exclude) {
        if (hit && s.test(name)) hit = false;
      } else if (!hit && s.test(name)) hit = true;
    }
    return hit;
  };
}

function globTest(glob: string): (name: string) => boolean {
  if (!glob.includes('*')) return (name) => name === glob;
  const re = new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  // as Elasticsearch's hidden indices: a wildcard reaches a dot-index (the alerts) only when it starts with the dot
  if (!glob.startsWith('.')) return (name) => !name.startsWith('.') && re.test(name);
  return (name) => re.test(name);
}
