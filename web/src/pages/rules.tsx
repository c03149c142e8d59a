import { RuleExceptions } from './exceptions';
import {
  EuiBadge,
  EuiBasicTable,
  EuiButton,
  EuiCallOut,
  EuiCheckboxGroup,
  EuiComboBox,
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
  EuiToolTip,
  type Criteria,
  type EuiBasicTableColumn,
} from '@elastic/eui';
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { api, ApiError, type ImportResult, type RuleCost, type RuleCounts, type RuleState, type RuleSummary, type RuleView, type RunRecord } from '../api';
import { AttackLinks } from './alert-detail';
import { ExternalLink, fmtMs, fmtTime, hashParams, HighlightEql, safeHref, Severity, SEVERITIES, useDebounced, writeHashParams } from '../util';

const STATE_COLOR: Record<RuleState, string> = { streaming: 'success', scheduled: 'primary', disabled: 'default', 'cannot run': 'danger' };

/** What a rule does now: streams, runs on its schedule, is disabled, or cannot run (and why, on hover). */
export function RuleStateBadge({ rule }: { rule: Pick<RuleSummary, 'state' | 'problem' | 'interval' | 'from'> }): ReactNode {
  const badge = (
    <EuiBadge color={STATE_COLOR[rule.state]} data-test-subj="ruleState">
      {rule.state === 'scheduled' ? `every ${rule.interval}` : rule.state}
    </EuiBadge>
  );
  return rule.state === 'cannot run' && rule.problem ? <EuiToolTip content={rule.problem}>{badge}</EuiToolTip> : badge;
}

const RULE_SORT_FIELDS: Record<string, string> = { name: 'name', severity: 'severity', state: 'state', alerts: 'alerts', cost: 'cpu', last_run: 'last_run', gaps: 'gaps', type: 'type' };
const TYPES = ['eql', 'query', 'threshold', 'new_terms', 'threat_match', 'machine_learning', 'esql', 'saved_query'];
const STATES: RuleState[] = ['streaming', 'scheduled', 'disabled', 'cannot run'];
const FLAGS: Array<[string, string]> = [
  ['has_alerts', 'Has alerts'],
  ['has_errors', 'Has errors'],
  ['has_data', 'Has data'],
];

/**
 * Fields of listed rules changed since the list was fetched (a toggle and its answer), read by the
 * cells that show them: a toggle draws its own row's cells again, not the whole table (50 rows of
 * the table took 60-130 ms to draw in Chromium here, twice per toggle).
 */
class RowChanges {
  private readonly changes = new Map<string, Partial<RuleSummary>>();
  private readonly listeners = new Set<() => void>();
  get(id: string): Partial<RuleSummary> | undefined {
    return this.changes.get(id);
  }
  set(id: string, fields: Partial<RuleSummary>): void {
    this.changes.set(id, { ...this.changes.get(id), ...fields });
    for (const l of this.listeners) l();
  }
  clear(): void {
    this.changes.clear();
  }
  readonly subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
}

function useRow(changes: RowChanges, r: RuleSummary): RuleSummary {
  const c = useSyncExternalStore(changes.subscribe, () => changes.get(r.rule_id));
  return c ? { ...r, ...c } : r;
}

function RuleSwitch({ rule, changes, onToggle }: { rule: RuleSummary; changes: RowChanges; onToggle: (r: RuleSummary, enabled: boolean) => void }): ReactNode {
  const r = useRow(changes, rule);
  return <EuiSwitch label="" showLabel={false} aria-label={`Enable ${r.name}`} checked={r.enabled} onChange={(ev) => onToggle(r, ev.target.checked)} data-test-subj={`enable-${r.rule_id}`} />;
}

function RuleStateCell({ rule, changes }: { rule: RuleSummary; changes: RowChanges }): ReactNode {
  return <RuleStateBadge rule={useRow(changes, rule)} />;
}

/** The rules list: filtered, sorted and paged by the server; its state is in the URL. */
export function RulesPage(): ReactNode {
  const init = useMemo(() => hashParams(), []);
  const [q, setQ] = useState(init.get('q') ?? '');
  const query = useDebounced(q, 25);
  const [types, setTypes] = useState<string[]>(init.get('type')?.split(',') ?? []);
  const [states, setStates] = useState<string[]>(init.get('state')?.split(',') ?? []);
  const [severity, setSeverity] = useState<string[]>(init.get('severity')?.split(',') ?? []);
  const [flags, setFlags] = useState<string[]>(FLAGS.map(([k]) => k).filter((k) => init.get(k) === 'true'));
  const [technique, setTechnique] = useState(init.get('technique') ?? '');
  const [page, setPage] = useState({ index: Number(init.get('page') ?? 0) || 0, size: Number(init.get('size') ?? 50) || 50 });
  const [sort, setSort] = useState<{ field: string; direction: 'asc' | 'desc' }>({ field: init.get('sort') ?? 'name', direction: init.get('order') === 'desc' ? 'desc' : 'asc' });
  const [data, setData] = useState<{ total: number; rules: RuleSummary[] } | null>(null);
  const [counts, setCounts] = useState<RuleCounts | null>(null);
  const changes = useMemo(() => new RowChanges(), []);
  const toggles = useRef(0);
  const [selected, setSelected] = useState<RuleSummary[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  const filter = useMemo(
    () => ({ q: query, type: types.join(','), state: states.join(','), severity: severity.join(','), technique, ...Object.fromEntries(flags.map((f) => [f, 'true'])) }),
    [query, types, states, severity, technique, flags],
  );
  useEffect(() => {
    writeHashParams({ ...filter, sort: sort.field === 'name' && sort.direction === 'asc' ? undefined : sort.field, order: sort.field === 'name' && sort.direction === 'asc' ? undefined : sort.direction, page: page.index || undefined, size: page.size === 50 ? undefined : page.size });
    let live = true;
    const togglesBefore = toggles.current;
    api.rules({ ...filter, sort: RULE_SORT_FIELDS[sort.field] ?? 'name', order: sort.direction, size: page.size, offset: page.index * page.size }).then(
      (d) => {
        if (!live) return;
        setData({ total: d.total, rules: d.rules });
        // a toggle since the list was asked for may be newer than the list: its row and counts stay
        if (toggles.current !== togglesBefore) return;
        changes.clear();
        setCounts(d.counts);
      },
      (e: Error) => live && setNotice(e.message),
    );
    return () => {
      live = false;
    };
  }, [filter, sort, page, tick, changes]);

  // a toggle changes its switch at once, then its row and the counts from the server's answer (the
  // list is not asked for again: the row stays where it is until the next search, as in Kibana)
  const toggle = useCallback(
    async (r: RuleSummary, enabled: boolean) => {
      toggles.current++;
      changes.set(r.rule_id, { enabled });
      try {
        const v = await api.setRule(r.rule_id, { enabled });
        changes.set(r.rule_id, { enabled: v.enabled, streaming: v.streaming, state: v.state, problem: v.problem });
        setCounts(v.counts);
      } catch (e) {
        changes.set(r.rule_id, { enabled: r.enabled });
        setNotice(e instanceof Error ? e.message : String(e));
      }
    },
    [changes],
  );
  const bulk = async (action: 'enable' | 'disable', target: { ids: string[] } | { query: Record<string, string> }): Promise<void> => {
    const r = await api.bulkRules(action, target);
    setNotice(`${action === 'enable' ? 'Enabled' : 'Disabled'} ${r.updated} of ${r.matched} rules`);
    setSelected([]);
    setTick((t) => t + 1);
  };
  const reset = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPage((p) => (p.index === 0 ? p : { ...p, index: 0 })); // the same object when already on the first page: nothing drawn again
  };

  const columns = useMemo((): Array<EuiBasicTableColumn<RuleSummary>> => [
    { field: 'name', name: 'Rule', sortable: true, render: (n: string, r: RuleSummary) => <EuiLink href={`#/rules/${encodeURIComponent(r.rule_id)}`}>{n}</EuiLink> },
    { field: 'type', name: 'Type', width: '100px', sortable: true },
    { field: 'severity', name: 'Severity', width: '100px', sortable: true, render: (s: string) => <Severity value={s} /> },
    { field: 'state', name: 'Runs', width: '120px', sortable: true, render: (_s: RuleState, r: RuleSummary) => <RuleStateCell rule={r} changes={changes} /> },
    { field: 'enabled', name: 'Enabled', width: '80px', render: (_e: boolean, r: RuleSummary) => <RuleSwitch rule={r} changes={changes} onToggle={(x, on) => void toggle(x, on)} /> },
    { field: 'last_run', name: 'Last run', width: '150px', sortable: true, render: (run: RuleSummary['last_run']) => (run ? `${run.status} · ${fmtTime(run.started).slice(11)}` : '—') },
    { field: 'cost', name: 'CPU (24 h)', width: '90px', sortable: true, render: (c: RuleCost) => <span title={`${c.events.toLocaleString('en-US')} events examined in ${c.runs} runs`}>{fmtMs(c.cpu_ms)}</span> },
    { field: 'alerts', name: 'Alerts', width: '70px', sortable: true, render: (n: number, r: RuleSummary) => (n ? <EuiLink href={`#/alerts?rule_id=${encodeURIComponent(r.rule_id)}&status=`}>{n}</EuiLink> : '0') },
    { field: 'gaps', name: 'Gaps', width: '75px', sortable: true, render: (g: { unfilled: number; total: number }) => `${g.unfilled}/${g.total}` },
    { field: 'problem', name: 'Errors', truncateText: true, render: (p: string | null, r: RuleSummary) => p ?? r.last_run?.error ?? '' },
  ], [toggle, changes]);
  // the table drawn again only when its rows, selection, page or order change (not for counts)
  const table = useMemo(
    () => (
      <EuiBasicTable<RuleSummary>
        data-test-subj="rulesTable"
        items={data?.rules ?? []}
        itemId="rule_id"
        columns={columns}
        loading={data === null}
        selection={{ selectable: () => true, onSelectionChange: setSelected, selected }}
        pagination={{ pageIndex: page.index, pageSize: page.size, totalItemCount: data?.total ?? 0, pageSizeOptions: [25, 50, 100] }}
        sorting={{ sort: { field: sort.field as keyof RuleSummary, direction: sort.direction } }}
        onChange={({ page: p, sort: s }: Criteria<RuleSummary>) => {
          if (p) setPage({ index: p.index, size: p.size });
          if (s) setSort({ field: String(s.field), direction: s.direction });
        }}
        noItemsMessage={data ? 'No rules match' : 'Loading…'}
      />
    ),
    [data, columns, selected, page, sort],
  );
  const c = counts;
  return (
    <>
      <EuiTitle size="m">
        <h2>Rules</h2>
      </EuiTitle>
      <EuiSpacer size="s" />
      {c && (
        <EuiText size="s" data-test-subj="ruleCounts">
          {c.total.toLocaleString('en-US')} rules: <strong>{c.running.toLocaleString('en-US')} running</strong> ({c.streaming} streaming, {c.scheduled} scheduled), {c.disabled} disabled,{' '}
          <EuiLink onClick={() => reset(setStates)(['cannot run'])} data-test-subj="cannotRunLink">
            {c.cannot_run} cannot run
          </EuiLink>
          {c.cannot_run > 0 && ` (${Object.entries(c.cannot_run_by_reason).map(([why, n]) => `${n}: ${why}`).join('; ')})`}
        </EuiText>
      )}
      <EuiSpacer size="m" />
      <ImportPanel onImported={() => setTick((t) => t + 1)} />
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="s" wrap>
        <EuiFlexItem style={{ minWidth: 280 }}>
          <EuiFieldSearch placeholder="Filter rules by name, id or tag" value={q} onChange={(e) => reset(setQ)(e.target.value)} fullWidth data-test-subj="ruleSearch" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 180 }}>
          <EuiComboBox aria-label="Type" placeholder="Any type" options={TYPES.map((t) => ({ label: t }))} selectedOptions={types.map((t) => ({ label: t }))} onChange={(o) => reset(setTypes)(o.map((x) => x.label))} data-test-subj="ruleTypeFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiComboBox aria-label="Runs" placeholder="Any state" options={STATES.map((t) => ({ label: t }))} selectedOptions={states.map((t) => ({ label: t }))} onChange={(o) => reset(setStates)(o.map((x) => x.label))} data-test-subj="ruleStateFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 180 }}>
          <EuiComboBox aria-label="Severity" placeholder="Any severity" options={SEVERITIES.map((t) => ({ label: t }))} selectedOptions={severity.map((t) => ({ label: t }))} onChange={(o) => reset(setSeverity)(o.map((x) => x.label))} />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiCheckboxGroup
            compressed
            legend={{ children: 'Only', display: 'hidden' }}
            options={FLAGS.map(([id, label]) => ({ id, label, 'data-test-subj': `ruleFlag-${id}` }))}
            idToSelectedMap={Object.fromEntries(flags.map((f) => [f, true]))}
            onChange={(id) => reset(setFlags)(flags.includes(id) ? flags.filter((f) => f !== id) : [...flags, id])}
          />
        </EuiFlexItem>
      </EuiFlexGroup>
      {technique && (
        <>
          <EuiSpacer size="s" />
          <EuiBadge iconType="cross" iconSide="right" iconOnClick={() => reset(setTechnique)('')} iconOnClickAriaLabel="Remove the technique filter" data-test-subj="techniqueFilter">
            technique {technique}
          </EuiBadge>
        </>
      )}
      <EuiSpacer size="s" />
      <EuiFlexGroup gutterSize="s" alignItems="center" wrap>
        <EuiFlexItem grow={false}>
          <EuiText size="s" data-test-subj="ruleTotal">
            {data && counts ? `${data.total.toLocaleString('en-US')} of ${counts.total.toLocaleString('en-US')} rules` : 'Loading…'}
            {selected.length > 0 && ` · ${selected.length} selected`}
          </EuiText>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButton size="s" isDisabled={selected.length === 0} onClick={() => void bulk('enable', { ids: selected.map((r) => r.rule_id) })} data-test-subj="enableSelected">
            Enable selected
          </EuiButton>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButton size="s" isDisabled={selected.length === 0} onClick={() => void bulk('disable', { ids: selected.map((r) => r.rule_id) })} data-test-subj="disableSelected">
            Disable selected
          </EuiButton>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButton size="s" color="text" isDisabled={!data?.total} onClick={() => void bulk('enable', { query: filter })} data-test-subj="enableMatching">
            Enable all {data?.total ?? ''} matching
          </EuiButton>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButton size="s" color="text" isDisabled={!data?.total} onClick={() => void bulk('disable', { query: filter })} data-test-subj="disableMatching">
            Disable all {data?.total ?? ''} matching
          </EuiButton>
        </EuiFlexItem>
        {notice && (
          <EuiFlexItem grow={false}>
            <EuiText size="s" data-test-subj="ruleNotice">
              {notice}
            </EuiText>
          </EuiFlexItem>
        )}
      </EuiFlexGroup>
      <EuiSpacer size="s" />
      {table}
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
          <EuiButton size="s" href={`#/alerts?rule_id=${encodeURIComponent(rule.rule_id)}&status=${rule.building_block ? '&building_blocks=true' : ''}`} data-test-subj="ruleAlertsLink">
            {rule.alerts} alerts
          </EuiButton>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <RuleStateBadge rule={{ state: rule.state, problem: rule.problem, interval: rule.interval ?? '5m', from: rule.from ?? 'now-6m' }} />
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
              {
                title: 'Alert suppression',
                description: rule.alert_suppression?.group_by?.length
                  ? `one alert per ${rule.alert_suppression.group_by.join(', ')} ${rule.alert_suppression.duration ? `per ${rule.alert_suppression.duration.value}${rule.alert_suppression.duration.unit}` : `per ${rule.interval ?? '5m'} (each run)`}; missing fields ${rule.alert_suppression.missing_fields_strategy === 'doNotSuppress' ? 'not suppressed' : 'suppressed as one group'}`
                  : 'none: one alert per match',
              },
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
        <h3>Exceptions ({rule.exceptions?.items.length ?? 0})</h3>
      </EuiTitle>
      <RuleExceptions rule={rule} onChange={() => setTick((t) => t + 1)} />
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
