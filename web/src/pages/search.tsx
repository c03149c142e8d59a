import { EuiBasicTable, EuiButton, EuiCallOut, EuiFieldText, EuiFlexGroup, EuiFlexItem, EuiFormRow, EuiSelect, EuiSpacer, EuiText, EuiTextArea, EuiTitle } from '@elastic/eui';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, type EqlHit, type EqlResponse } from '../api';
import { fmtTime, get, hashParams, serverNow, syncServerClock, text } from '../util';

const RANGES: Array<[string, string, number | null]> = [
  ['1h', 'Last hour', 3_600_000],
  ['24h', 'Last 24 hours', 86_400_000],
  ['7d', 'Last 7 days', 7 * 86_400_000],
  ['all', 'All time', null],
];

interface Problem {
  line: number;
  col: number;
  message: string;
}

/** "line 1:9: …" lines of an Elasticsearch EQL error (Elasticsearch counts columns from 0). */
function problemsOf(reason: string): Problem[] {
  const out: Problem[] = [];
  for (const m of reason.matchAll(/line (\d+):(\d+): ([^\n]*)/g)) out.push({ line: Number(m[1]), col: Number(m[2]), message: m[3]! });
  return out;
}

/** EQL over the stored events. The hash may carry index, query and a from/to window (the alert page's "events around it"); a query given so runs at once. */
export function SearchPage(): ReactNode {
  const init = useMemo(() => hashParams(), []);
  const [index, setIndex] = useState(init.get('index') ?? 'logs-*');
  const [query, setQuery] = useState(init.get('query') ?? 'process where process.name : "*sh"');
  const window_ = useMemo(() => (init.get('from') || init.get('to') ? { from: init.get('from') ?? undefined, to: init.get('to') ?? undefined } : null), [init]);
  const [range, setRange] = useState(window_ ? 'window' : 'all');
  const [size, setSize] = useState(init.get('size') ?? '100');
  const [result, setResult] = useState<EqlResponse | null>(null);
  const [error, setError] = useState<{ reason: string; problems: Problem[] } | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setResult(null);
    await syncServerClock(api.clock);
    const span = RANGES.find((r) => r[0] === range)?.[2] ?? null;
    const body: Record<string, unknown> = { query, size: Number(size) || 100 };
    if (range === 'window' && window_) body.filter = { range: { '@timestamp': { ...(window_.from ? { gte: window_.from } : {}), ...(window_.to ? { lte: window_.to } : {}) } } };
    else if (span !== null) body.filter = { range: { '@timestamp': { gte: new Date(serverNow() - span).toISOString() } } };
    try {
      setResult(await api.eql(index, body));
    } catch (e) {
      const reason = e instanceof ApiError ? e.message : String(e);
      setError({ reason, problems: problemsOf(reason) });
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    if (init.get('query')) void run();
    // once, for a query the URL brought
  }, []);
  const ranges = window_ ? [...RANGES, ['window', `${fmtTime(window_.from ?? null)} – ${fmtTime(window_.to ?? null)}`, null] as [string, string, number | null]] : RANGES;

  const lines = query.split('\n');
  const columns = [
    { field: '_source', name: 'Time', width: '190px', render: (s: Record<string, unknown>) => fmtTime(text(get(s, '@timestamp'))) },
    { field: '_index', name: 'Index', width: '220px' },
    { field: '_source', name: 'Category', width: '110px', render: (s: Record<string, unknown>) => text(get(s, 'event.category')) },
    { field: '_source', name: 'Host', render: (s: Record<string, unknown>) => text(get(s, 'host.name')) },
    { field: '_source', name: 'Process', render: (s: Record<string, unknown>) => text(get(s, 'process.name')) },
    { field: '_source', name: 'Command line / args', render: (s: Record<string, unknown>) => <span className="field-value">{text(get(s, 'process.command_line') ?? get(s, 'process.args'))}</span> },
  ];

  return (
    <>
      <EuiTitle size="m">
        <h2>EQL search</h2>
      </EuiTitle>
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="s">
        <EuiFlexItem grow={false} style={{ minWidth: 220 }}>
          <EuiFormRow label="Index pattern">
            <EuiFieldText value={index} onChange={(e) => setIndex(e.target.value)} data-test-subj="eqlIndex" />
          </EuiFormRow>
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ minWidth: 170 }}>
          <EuiFormRow label="Time range">
            <EuiSelect options={ranges.map(([value, t]) => ({ value, text: t }))} value={range} onChange={(e) => setRange(e.target.value)} />
          </EuiFormRow>
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ width: 100 }}>
          <EuiFormRow label="Size">
            <EuiFieldText value={size} onChange={(e) => setSize(e.target.value)} />
          </EuiFormRow>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiFormRow label="Query" fullWidth>
        <EuiTextArea fullWidth rows={4} value={query} onChange={(e) => setQuery(e.target.value)} style={{ fontFamily: 'Menlo, Consolas, monospace' }} data-test-subj="eqlQueryInput" />
      </EuiFormRow>
      <EuiButton fill onClick={() => void run()} isLoading={busy} data-test-subj="eqlRun">
        Search
      </EuiButton>
      <EuiSpacer size="m" />
      {error && (
        <EuiCallOut color="danger" title="The query has problems" data-test-subj="eqlError">
          {error.problems.length === 0 && <p>{error.reason}</p>}
          {error.problems.map((p, i) => (
            <div key={i} data-test-subj="eqlDiagnostic">
              <pre className="caret-block">
                <span data-test-subj="eqlErrorLine">{lines[p.line - 1] ?? ''}</span>
                {'\n'}
                <span className="caret" data-test-subj="eqlCaret">{`${' '.repeat(Math.max(0, p.col))}^`}</span>
              </pre>
              <p>
                line {p.line}, column {p.col + 1}: {p.message}
              </p>
            </div>
          ))}
        </EuiCallOut>
      )}
      {result && (
        <div data-test-subj="eqlResults">
          <EuiText size="s">
            {result.hits.total.value} {result.hits.sequences ? 'sequences' : 'events'} in {result.took} ms
          </EuiText>
          {result.hits.events && <EuiBasicTable<EqlHit> items={result.hits.events} columns={columns} />}
          {result.hits.sequences?.map((s, i) => (
            <div key={i} className="timeline-item">
              <EuiText size="s">
                <strong>
                  Sequence {i + 1}
                  {s.join_keys?.length ? ` · ${s.join_keys.map(text).join(', ')}` : ''}
                </strong>
              </EuiText>
              <EuiBasicTable<EqlHit> items={s.events} columns={columns} compressed />
            </div>
          ))}
        </div>
      )}
    </>
  );
}
