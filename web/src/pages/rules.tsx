import {
  EuiBasicTable,
  EuiButton,
  EuiCallOut,
  EuiDescriptionList,
  EuiFieldSearch,
  EuiFilePicker,
  EuiFlexGroup,
  EuiFlexItem,
  EuiLink,
  EuiMarkdownFormat,
  EuiPanel,
  EuiSpacer,
  EuiSwitch,
  EuiText,
  EuiTitle,
  type EuiBasicTableColumn,
} from '@elastic/eui';
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, type ImportResult, type RuleCost, type RuleView, type RunRecord } from '../api';
import { AttackLinks } from './alert-detail';
import { ExternalLink, fmtMs, fmtTime, HighlightEql, safeHref, Severity } from '../util';

export function RulesPage(): ReactNode {
  const [rules, setRules] = useState<RuleView[] | null>(null);
  const [q, setQ] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => void api.rules().then((r) => setRules(r.rules), () => setRules([])), [tick]);
  const shown = useMemo(() => (rules ?? []).filter((r) => !q || `${r.name} ${r.rule_id} ${(r.tags ?? []).join(' ')}`.toLowerCase().includes(q.toLowerCase())), [rules, q]);

  const toggle = useCallback(async (r: RuleView, enabled: boolean) => {
    await api.setRule(r.rule_id, { enabled });
    setTick((t) => t + 1);
  }, []);

  const columns: Array<EuiBasicTableColumn<RuleView>> = [
    { field: 'name', name: 'Rule', sortable: true, render: (n: string, r: RuleView) => <EuiLink href={`#/rules/${encodeURIComponent(r.rule_id)}`}>{n}</EuiLink> },
    { field: 'type', name: 'Type', width: '70px' },
    { field: 'severity', name: 'Severity', width: '100px', sortable: true, render: (s: string) => <Severity value={s} /> },
    { field: 'interval', name: 'Schedule', width: '150px', render: (i: string | undefined, r: RuleView) => (r.streaming ? 'streaming' : `every ${i ?? '5m'}, ${r.from ?? 'now-6m'}`) },
    {
      field: 'enabled',
      name: 'Enabled',
      width: '80px',
      render: (e: boolean, r: RuleView) => <EuiSwitch label="" showLabel={false} aria-label={`Enable ${r.name}`} checked={e} onChange={(ev) => void toggle(r, ev.target.checked)} data-test-subj={`enable-${r.rule_id}`} />,
    },
    { field: 'last_run', name: 'Last run', width: '150px', render: (run: RunRecord | null) => (run ? `${run.status} · ${fmtTime(run.started).slice(11)}` : '—') },
    { field: 'last_run', name: 'Duration', width: '80px', render: (run: RunRecord | null) => (run ? fmtMs(run.durationMs) : '—') },
    { field: 'cost', name: 'CPU (24 h)', width: '90px', sortable: (r: RuleView) => r.cost.cpu_ms, render: (c: RuleCost) => <span title={`${c.events.toLocaleString('en-US')} events examined in ${c.runs} runs`}>{fmtMs(c.cpu_ms)}</span> },
    { field: 'alerts', name: 'Alerts', width: '70px', sortable: true },
    { field: 'gaps', name: 'Gaps', width: '60px', render: (g: { unfilled: number; total: number }) => `${g.unfilled}/${g.total}` },
    { field: 'problem', name: 'Errors', render: (p: string | null, r: RuleView) => p ?? r.last_run?.error ?? '' },
  ];

  return (
    <>
      <EuiTitle size="m">
        <h2>Rules</h2>
      </EuiTitle>
      <EuiSpacer size="m" />
      <ImportPanel onImported={() => setTick((t) => t + 1)} />
      <EuiSpacer size="m" />
      <EuiFieldSearch placeholder="Filter rules by name, id or tag" value={q} onChange={(e) => setQ(e.target.value)} fullWidth />
      <EuiSpacer size="s" />
      <EuiText size="s">{rules ? `${shown.length} of ${rules.length} rules` : 'Loading…'}</EuiText>
      <EuiBasicTable<RuleView> data-test-subj="rulesTable" items={shown} itemId="rule_id" columns={columns} loading={rules === null} />
    </>
  );
}

/** Upload NDJSON/TOML/Markdown rule files; the server's diagnostics are shown with file:line:col. */
function ImportPanel({ onImported }: { onImported: () => void }): ReactNode {
  const [result, setResult] = useState<ImportResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const onFiles = async (files: FileList | null): Promise<void> => {
    if (!files || files.length === 0) return;
    setResult(null);
    setError(null);
    const all: ImportResult = { success: true, success_count: 0, imported: [], errors: [] };
    for (const f of Array.from(files)) {
      try {
        const r = await api.importRules(f.name, await f.text());
        all.success_count += r.success_count;
        all.imported.push(...r.imported);
        all.errors.push(...r.errors);
      } catch (e) {
        const body = e instanceof ApiError ? (e.body as ImportResult | null) : null;
        if (body && Array.isArray(body.errors)) all.errors.push(...body.errors);
        else setError(e instanceof Error ? e.message : String(e));
      }
    }
    all.success = all.errors.length === 0;
    setResult(all);
    onImported();
  };
  return (
    <EuiPanel hasBorder paddingSize="s">
      <EuiFilePicker multiple initialPromptText="Import rules: NDJSON export, detection-rules TOML or Markdown rule pages" onChange={(f) => void onFiles(f)} display="default" data-test-subj="ruleImport" />
      {error && <EuiCallOut color="danger" title={error} />}
      {result && (
        <div data-test-subj="importResult">
          <EuiSpacer size="s" />
          <EuiCallOut size="s" color={result.errors.length ? 'warning' : 'success'} title={`${result.success_count} rule${result.success_count === 1 ? '' : 's'} imported, ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}`}>
            {result.errors.map((e, i) => (
              <div key={i} data-test-subj="importDiagnostic">
                <code>
                  {e.file}:{e.line}:{e.col}
                </code>{' '}
                {e.code}: {e.message}
              </div>
            ))}
          </EuiCallOut>
        </div>
      )}
    </EuiPanel>
  );
}

export function RuleDetailPage({ id }: { id: string }): ReactNode {
  const [rule, setRule] = useState<RuleView | null>(null);
  const [runs, setRuns] = useState<RunRecord[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api.rule(id).then(setRule, (e: Error) => setError(e.message));
    api.runs(id).then((r) => setRuns(r.runs), () => undefined);
  }, [id, tick]);
  if (error) return <EuiText color="danger">{error}</EuiText>;
  if (!rule) return <EuiText>Loading…</EuiText>;
  return (
    <>
      <EuiText size="s">
        <EuiLink href="#/rules">← Rules</EuiLink>
      </EuiText>
      <EuiSpacer size="s" />
      <EuiFlexGroup alignItems="center" gutterSize="m">
        <EuiFlexItem grow={false}>
          <EuiTitle size="m">
            <h2 data-test-subj="ruleTitle">{rule.name}</h2>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiSwitch label="Enabled" checked={rule.enabled} onChange={(e) => void api.setRule(rule.rule_id, { enabled: e.target.checked }).then(() => setTick((t) => t + 1))} />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiSwitch label="Streaming" disabled={!rule.streamable} checked={rule.streaming} onChange={(e) => void api.setRule(rule.rule_id, { streaming: e.target.checked }).then(() => setTick((t) => t + 1))} />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButton size="s" href={`#/alerts`} onClick={() => undefined}>
            {rule.alerts} alerts
          </EuiButton>
        </EuiFlexItem>
      </EuiFlexGroup>
      {rule.problem && <EuiCallOut color="danger" title={rule.problem} />}
      <EuiSpacer size="m" />
      <EuiText size="s">
        <p>{rule.description}</p>
      </EuiText>
      <EuiSpacer size="s" />
      {rule.query && <HighlightEql query={rule.query} />}
      <EuiSpacer size="m" />
      <EuiFlexGroup>
        <EuiFlexItem>
          <EuiDescriptionList
            compressed
            type="column"
            listItems={[
              { title: 'Rule id', description: rule.rule_id },
              { title: 'Type', description: `${rule.type}${rule.language ? ` (${rule.language})` : ''}` },
              ...(rule.aggregation ? [{ title: 'Alerts', description: rule.aggregation }] : []),
              { title: 'Severity', description: <Severity value={rule.severity} /> },
              { title: 'Risk score', description: String(rule.risk_score) },
              { title: 'Schedule', description: `every ${rule.interval ?? '5m'}, looks back to ${rule.from ?? 'now-6m'}, at most ${rule.max_signals ?? 100} alerts per run` },
              { title: 'Indices', description: (rule.index ?? []).join(', ') || 'default' },
              { title: 'Data', description: rule.has_data ? 'events seen in matching indices' : 'no matching index has events yet' },
              { title: 'Tags', description: (rule.tags ?? []).join(', ') || '—' },
              { title: 'Version / author / licence', description: `${rule.version ?? '—'} / ${(rule.author ?? []).join(', ')} / ${rule.license ?? '—'}` },
              { title: 'Gaps', description: `${rule.gaps.unfilled} unfilled of ${rule.gaps.total}` },
            ]}
          />
        </EuiFlexItem>
        <EuiFlexItem>
          <AttackLinks threat={rule.threat ?? []} />
          {(rule.references ?? []).length > 0 && (
            <EuiPanel hasBorder paddingSize="s">
              <EuiText size="s">
                <strong>References</strong>
                {(rule.references ?? []).map((r) => (
                  <div key={r}>{safeHref(r) ? <ExternalLink href={r}>{r}</ExternalLink> : r}</div>
                ))}
              </EuiText>
            </EuiPanel>
          )}
        </EuiFlexItem>
      </EuiFlexGroup>
      {rule.note && (
        <>
          <EuiSpacer size="m" />
          <EuiPanel hasBorder paddingSize="m">
            <EuiMarkdownFormat textSize="s">{rule.note}</EuiMarkdownFormat>
          </EuiPanel>
        </>
      )}
      <EuiSpacer size="m" />
      <EuiTitle size="s">
        <h3>Run history</h3>
      </EuiTitle>
      <EuiBasicTable<RunRecord>
        data-test-subj="runHistory"
        items={runs}
        columns={[
          { field: 'started', name: 'Started', render: (t: number) => fmtTime(t) },
          { field: 'kind', name: 'Kind' },
          { field: 'windowFrom', name: 'Window', render: (f: number, r: RunRecord) => `${fmtTime(f).slice(11)} → ${fmtTime(r.windowTo).slice(11)}` },
          { field: 'durationMs', name: 'Duration', render: (d: number) => fmtMs(d) },
          { field: 'cpuMs', name: 'CPU', render: (d: number) => fmtMs(d) },
          { field: 'searched', name: 'Searched' },
          { field: 'matches', name: 'Matches' },
          { field: 'written', name: 'Written' },
          { field: 'dropped', name: 'Dropped' },
          { field: 'gapMs', name: 'Gap', render: (g: number) => (g ? fmtMs(g) : '') },
          { field: 'status', name: 'Status' },
          { field: 'error', name: 'Error', render: (e: string | null) => e ?? '' },
        ]}
      />
    </>
  );
}
