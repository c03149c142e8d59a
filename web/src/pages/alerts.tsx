import {
  EuiBadge,
  EuiBasicTable,
  EuiButton,
  EuiButtonEmpty,
  EuiButtonGroup,
  EuiComboBox,
  EuiFieldSearch,
  EuiFieldText,
  EuiFlexGroup,
  EuiFlexItem,
  EuiFormRow,
  EuiLink,
  EuiModal,
  EuiModalBody,
  EuiModalFooter,
  EuiModalHeader,
  EuiModalHeaderTitle,
  EuiPanel,
  EuiSelect,
  EuiSpacer,
  EuiStat,
  EuiSwitch,
  EuiText,
  EuiTextArea,
  EuiTitle,
  type Criteria,
  type EuiBasicTableColumn,
} from '@elastic/eui';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, type AlertFilter, type AlertGroup, type AlertRow, type AlertStats } from '../api';
import { fmtTime, hashParams, serverNow, SEVERITIES, SEVERITY_COLOR, Severity, Status, STATUSES, syncServerClock, text, writeHashParams } from '../util';

const RANGES: Array<[string, string, number | null]> = [
  ['15m', 'Last 15 minutes', 15 * 60_000],
  ['1h', 'Last hour', 3_600_000],
  ['24h', 'Last 24 hours', 86_400_000],
  ['7d', 'Last 7 days', 7 * 86_400_000],
  ['30d', 'Last 30 days', 30 * 86_400_000],
  ['all', 'All time', null],
];
const SORT_FIELDS: Record<string, string> = { original_time: 'time', severity: 'severity', risk_score: 'risk', rule_id: 'rule', host: 'host' };
const REASONS: Array<[string, string]> = [
  ['false_positive', 'False positive'],
  ['duplicate', 'Duplicate'],
  ['benign', 'Benign (expected activity)'],
  ['true_positive', 'True positive (handled)'],
  ['other', 'Other'],
];
const list = (v: string | null, dflt: string[]): string[] => (v === null ? dflt : v.split(',').filter(Boolean));

/** What a status action applies to: the selected alerts, a group, or every alert the filter selects. */
type Target = { kind: 'ids'; ids: string[] } | { kind: 'filter'; filter: AlertFilter; label: string };

export function AlertsPage(): ReactNode {
  const init = useMemo(() => hashParams(), []);
  const [range, setRange] = useState(init.get('range') ?? 'all');
  const [severity, setSeverity] = useState<string[]>(list(init.get('severity'), []));
  const [status, setStatus] = useState<string[]>(list(init.get('status'), ['open', 'acknowledged']));
  const [ruleIds, setRuleIds] = useState<string[]>(list(init.get('rule_id'), []));
  const [ruleNames, setRuleNames] = useState<Map<string, string>>(new Map());
  const [host, setHost] = useState(init.get('host') ?? '');
  const [user, setUser] = useState(init.get('user') ?? '');
  const [assignee, setAssignee] = useState(init.get('assignee') ?? '');
  const [q, setQ] = useState(init.get('q') ?? '');
  // field filters from an alert page's filter in/out: path:value, or -path:value for without
  const [fields, setFields] = useState<string[]>(init.getAll('field'));
  const [groupBy, setGroupBy] = useState(init.get('group') ?? 'none');
  const [page, setPage] = useState({ index: Number(init.get('page') ?? 0) || 0, size: Number(init.get('size') ?? 50) || 50 });
  const [sort, setSort] = useState<{ field: string; direction: 'asc' | 'desc' }>({ field: init.get('sort') ?? 'original_time', direction: init.get('order') === 'asc' ? 'asc' : 'desc' });
  const [data, setData] = useState<{ total: number; alerts: AlertRow[] } | null>(null);
  const [groups, setGroups] = useState<{ total: number; groups: AlertGroup[] } | null>(null);
  const [stats, setStats] = useState<AlertStats | null>(null);
  const [selected, setSelected] = useState<AlertRow[]>([]);
  const [closing, setClosing] = useState<Target | null>(null);
  const [assignTo, setAssignTo] = useState('');
  const [auto, setAuto] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [clockReady, setClockReady] = useState(false);

  // time ranges count back from the server's clock (a --clock server or back-filled data)
  useEffect(() => void syncServerClock(api.clock).then(() => setClockReady(true)), [tick]);
  useEffect(() => {
    if (!auto) return;
    const t = setInterval(() => setTick((x) => x + 1), 30_000);
    return () => clearInterval(t);
  }, [auto]);
  // rule names for the filter and the chart, from the alerts' own rules (not the whole rule list)
  useEffect(() => void api.groups({}, 'rule').then((g) => setRuleNames(new Map(g.groups.filter((x) => x.key).map((x) => [x.key!, x.name ?? x.key!]))), () => undefined), [tick]);

  const filter = useMemo<AlertFilter>(() => {
    const span = RANGES.find((r) => r[0] === range)?.[2] ?? null;
    return { from: span === null ? undefined : new Date(serverNow() - span).toISOString(), severity, status, rule_id: ruleIds, host: host || undefined, user: user || undefined, assignee: assignee || undefined, q: q || undefined, field: fields };
  }, [range, severity, status, ruleIds, host, user, assignee, q, fields, tick, clockReady]);

  useEffect(() => {
    writeHashParams({
      range: range === 'all' ? undefined : range,
      severity: severity.join(','),
      status: status.join(',') === 'open,acknowledged' ? undefined : status.join(',') || '',
      rule_id: ruleIds.join(','),
      host,
      user,
      assignee,
      q,
      field: fields,
      group: groupBy === 'none' ? undefined : groupBy,
      sort: sort.field === 'original_time' ? undefined : sort.field,
      order: sort.direction === 'desc' ? undefined : sort.direction,
      page: page.index || undefined,
      size: page.size === 50 ? undefined : page.size,
    });
    // an empty status list (any status) is kept in the URL as status=
    if (status.length === 0 && !window.location.hash.includes('status=')) window.history.replaceState(null, '', `${window.location.hash}${window.location.hash.includes('?') ? '&' : '?'}status=`);
  }, [range, severity, status, ruleIds, host, user, assignee, q, fields, groupBy, sort, page]);

  useEffect(() => {
    if (!clockReady) return;
    let live = true;
    if (groupBy !== 'none') api.groups(filter, groupBy).then((g) => live && (setGroups(g), setError(null)), (e: Error) => live && setError(e.message));
    else
      api
        .alerts(filter, { size: page.size, offset: page.index * page.size, sort: SORT_FIELDS[sort.field] ?? 'time', order: sort.direction })
        .then((d) => live && (setData(d), setError(null)), (e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [filter, page, sort, groupBy, clockReady]);

  useEffect(() => {
    if (!clockReady) return;
    let live = true;
    api.stats(filter, 'auto').then((s) => live && setStats(s), () => undefined);
    return () => {
      live = false;
    };
  }, [filter, clockReady]);

  const refresh = (): void => {
    setSelected([]);
    setTick((t) => t + 1);
  };
  const apply = async (target: Target, to: string, extra: { reason?: string; note?: string } = {}): Promise<void> => {
    if (target.kind === 'ids') await api.setStatus(target.ids, to, extra);
    else await api.setStatusWhere(target.filter, to, extra);
    refresh();
  };
  const act = (target: Target, to: string): void => {
    if (to === 'closed') setClosing(target);
    else void apply(target, to);
  };
  const resetPage = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPage((p) => (p.index === 0 ? p : { ...p, index: 0 }));
  };
  const groupFilter = (g: AlertGroup): AlertFilter => ({ ...filter, ...(groupBy === 'rule' ? { rule_id: [g.key ?? ''] } : groupBy === 'host' ? { host: g.key ?? '' } : { user: g.key ?? '' }) });
  const openGroup = (g: AlertGroup): void => {
    if (groupBy === 'rule') setRuleIds(g.key ? [g.key] : []);
    else if (groupBy === 'host') setHost(g.key ?? '');
    else setUser(g.key ?? '');
    setGroupBy('none');
    setPage((p) => (p.index === 0 ? p : { ...p, index: 0 }));
  };

  const columns: Array<EuiBasicTableColumn<AlertRow>> = [
    { field: 'original_time', name: 'Time', sortable: true, width: '180px', render: (t: number | null, a: AlertRow) => <EuiLink href={`#/alerts/${encodeURIComponent(a.id)}`} data-test-subj="alertLink">{fmtTime(t)}</EuiLink> },
    { field: 'severity', name: 'Severity', sortable: true, width: '110px', render: (s: string) => <Severity value={s} /> },
    { field: 'risk_score', name: 'Risk', sortable: true, width: '70px' },
    {
      field: 'rule_id',
      name: 'Rule',
      sortable: true,
      render: (id: string, a: AlertRow) => {
        // alert suppression: the matches counted into this alert
        const more = Number(a.doc['kibana.alert.suppression.docs_count'] ?? 0);
        return (
          <span>
            <EuiLink href={`#/rules/${encodeURIComponent(id)}`}>{text(a.doc['kibana.alert.rule.name']) || id}</EuiLink>
            {more > 0 && (
              <span className="suppressed-count" title="more matches of the same group suppressed into this alert" data-test-subj="suppressedCount">
                {' '}
                +{more}
              </span>
            )}
          </span>
        );
      },
    },
    { field: 'host', name: 'Host', sortable: true, render: (h: string | null) => h ?? '—' },
    { field: 'user', name: 'User', render: (u: string | null) => u ?? '—' },
    { field: 'process', name: 'Process', truncateText: true, render: (p: string | null) => p ?? '—' },
    { field: 'assignee', name: 'Assignee', width: '100px', render: (u: string | null) => u ?? '' },
    { field: 'status', name: 'Status', width: '120px', render: (s: string, a: AlertRow) => <Status value={s} reason={a.doc['kibana.alert.workflow_reason']} /> },
  ];
  const groupColumns: Array<EuiBasicTableColumn<AlertGroup>> = [
    { field: 'name', name: groupBy === 'rule' ? 'Rule' : groupBy === 'host' ? 'Host' : 'User', render: (n: string | null, g: AlertGroup) => <EuiLink onClick={() => openGroup(g)} data-test-subj="groupLink">{n ?? `(no ${groupBy})`}</EuiLink> },
    { field: 'count', name: 'Alerts', width: '80px' },
    { field: 'open', name: 'Open', width: '70px' },
    { field: 'severity', name: 'Highest severity', width: '140px', render: (s: string) => <Severity value={s} /> },
    { field: 'first', name: 'From – to', width: '330px', render: (f: number | null, g: AlertGroup) => `${fmtTime(f)} – ${fmtTime(g.last)}` },
    {
      name: 'Actions',
      width: '230px',
      render: (g: AlertGroup) => (
        <EuiFlexGroup gutterSize="xs" responsive={false}>
          <EuiFlexItem grow={false}>
            <EuiButtonEmpty size="xs" onClick={() => act({ kind: 'filter', filter: groupFilter(g), label: `the ${g.count} alerts of ${g.name ?? g.key}` }, 'acknowledged')} data-test-subj="groupAck">
              Acknowledge
            </EuiButtonEmpty>
          </EuiFlexItem>
          <EuiFlexItem grow={false}>
            <EuiButtonEmpty size="xs" color="danger" onClick={() => act({ kind: 'filter', filter: groupFilter(g), label: `the ${g.count} alerts of ${g.name ?? g.key}` }, 'closed')} data-test-subj="groupClose">
              Close…
            </EuiButtonEmpty>
          </EuiFlexItem>
        </EuiFlexGroup>
      ),
    },
  ];

  const onChange = ({ page: p, sort: s }: Criteria<AlertRow>): void => {
    if (p) setPage({ index: p.index, size: p.size });
    if (s) setSort({ field: String(s.field), direction: s.direction });
  };
  const target: Target = selected.length ? { kind: 'ids', ids: selected.map((a) => a.id) } : { kind: 'filter', filter, label: `all ${data?.total ?? 0} matching alerts` };

  return (
    <>
      <EuiFlexGroup alignItems="center" gutterSize="s">
        <EuiFlexItem>
          <EuiTitle size="m">
            <h2>Alerts</h2>
          </EuiTitle>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiSwitch label="Refresh every 30 s" checked={auto} onChange={(e) => setAuto(e.target.checked)} data-test-subj="autoRefresh" />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiButton size="s" iconType="refresh" onClick={refresh} data-test-subj="refresh">
            Refresh
          </EuiButton>
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="s" wrap>
        <EuiFlexItem grow={false} style={{ minWidth: 170 }}>
          <EuiSelect aria-label="Time range" data-test-subj="rangeSelect" options={RANGES.map(([value, label]) => ({ value, text: label }))} value={range} onChange={(e) => resetPage(setRange)(e.target.value)} />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiComboBox aria-label="Severity" placeholder="Any severity" options={SEVERITIES.map((s) => ({ label: s }))} selectedOptions={severity.map((s) => ({ label: s }))} onChange={(o) => resetPage(setSeverity)(o.map((x) => x.label))} data-test-subj="severityFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 220 }}>
          <EuiComboBox aria-label="Status" placeholder="Any status" options={STATUSES.map((s) => ({ label: s }))} selectedOptions={status.map((s) => ({ label: s }))} onChange={(o) => resetPage(setStatus)(o.map((x) => x.label))} data-test-subj="statusFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 240 }}>
          <EuiComboBox
            aria-label="Rule"
            placeholder="Any rule"
            options={[...ruleNames].map(([value, label]) => ({ label, value }))}
            selectedOptions={ruleIds.map((id) => ({ label: ruleNames.get(id) ?? id, value: id }))}
            onChange={(o) => resetPage(setRuleIds)(o.map((x) => String(x.value)))}
            data-test-subj="ruleFilter"
          />
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ minWidth: 140 }}>
          <EuiFieldText aria-label="Host" placeholder="Host" value={host} onChange={(e) => resetPage(setHost)(e.target.value)} data-test-subj="hostFilter" />
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ minWidth: 120 }}>
          <EuiFieldText aria-label="User" placeholder="User" value={user} onChange={(e) => resetPage(setUser)(e.target.value)} data-test-subj="userFilter" />
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ minWidth: 120 }}>
          <EuiFieldText aria-label="Assignee" placeholder="Assignee" value={assignee} onChange={(e) => resetPage(setAssignee)(e.target.value)} data-test-subj="assigneeFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiFieldSearch aria-label="Free text" placeholder="Search the alerts' events" defaultValue={q} incremental={false} onSearch={(v) => resetPage(setQ)(v)} data-test-subj="textFilter" />
        </EuiFlexItem>
      </EuiFlexGroup>
      {fields.length > 0 && (
        <>
          <EuiSpacer size="s" />
          <EuiFlexGroup gutterSize="xs" wrap data-test-subj="fieldFilters">
            {fields.map((f) => {
              const out = f.startsWith('-');
              const at = f.indexOf(':');
              return (
                <EuiFlexItem grow={false} key={f}>
                  <EuiBadge color={out ? 'danger' : 'hollow'} iconType="cross" iconSide="right" iconOnClick={() => resetPage(setFields)(fields.filter((x) => x !== f))} iconOnClickAriaLabel={`Remove the filter ${f}`} data-test-subj="fieldFilter">
                    {out ? 'NOT ' : ''}
                    {f.slice(out ? 1 : 0, at)}: {f.slice(at + 1)}
                  </EuiBadge>
                </EuiFlexItem>
              );
            })}
          </EuiFlexGroup>
        </>
      )}
      <EuiSpacer size="m" />
      {stats && <AlertCharts stats={stats} ruleName={ruleNames} />}
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="s" alignItems="center" wrap>
        <EuiFlexItem grow={false} style={{ minWidth: 150 }}>
          <EuiSelect
            compressed
            prepend="Group by"
            aria-label="Group by"
            data-test-subj="groupBy"
            options={[
              { value: 'none', text: 'nothing' },
              { value: 'rule', text: 'rule' },
              { value: 'host', text: 'host' },
              { value: 'user', text: 'user' },
            ]}
            value={groupBy}
            onChange={(e) => resetPage(setGroupBy)(e.target.value)}
          />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiText size="s" data-test-subj="alertTotal">
            {groupBy !== 'none' ? (groups ? `${groups.total.toLocaleString('en-US')} groups` : 'Loading…') : data ? `${data.total.toLocaleString('en-US')} alert${data.total === 1 ? '' : 's'}` : 'Loading…'}
            {selected.length > 0 && ` · ${selected.length} selected`}
          </EuiText>
        </EuiFlexItem>
        {groupBy === 'none' &&
          STATUSES.map((s) => (
            <EuiFlexItem grow={false} key={s}>
              <EuiButton size="s" isDisabled={selected.length === 0 && !data?.total} onClick={() => act(target, s)} data-test-subj={`markAs-${s}`}>
                {s === 'closed' ? 'Close…' : `Mark ${s}`}
                {selected.length === 0 && data?.total ? ` (all ${data.total})` : ''}
              </EuiButton>
            </EuiFlexItem>
          ))}
        {groupBy === 'none' && (
          <EuiFlexItem grow={false}>
            <EuiFieldText
              compressed
              placeholder="Assign selected to…"
              aria-label="Assign selected to"
              value={assignTo}
              onChange={(e) => setAssignTo(e.target.value)}
              append={
                <EuiButtonEmpty size="xs" isDisabled={selected.length === 0} onClick={() => void api.assign(selected.map((a) => a.id), assignTo.trim() || null).then(refresh)} data-test-subj="assignSelected">
                  {assignTo.trim() ? 'Assign' : 'Unassign'}
                </EuiButtonEmpty>
              }
              data-test-subj="assignTo"
            />
          </EuiFlexItem>
        )}
      </EuiFlexGroup>
      <EuiSpacer size="s" />
      {error && <EuiText color="danger">{error}</EuiText>}
      {groupBy !== 'none' ? (
        <EuiBasicTable<AlertGroup> data-test-subj="groupsTable" items={groups?.groups ?? []} columns={groupColumns} loading={groups === null} noItemsMessage={groups ? 'No alerts match' : 'Loading…'} />
      ) : (
        <EuiBasicTable<AlertRow>
          data-test-subj="alertsTable"
          items={data?.alerts ?? []}
          itemId="id"
          columns={columns}
          loading={data === null}
          selection={{ selectable: () => true, onSelectionChange: setSelected, selected }}
          pagination={{ pageIndex: page.index, pageSize: page.size, totalItemCount: data?.total ?? 0, pageSizeOptions: [25, 50, 100] }}
          sorting={{ sort: { field: sort.field as keyof AlertRow, direction: sort.direction } }}
          onChange={onChange}
          noItemsMessage={data ? 'No alerts match' : 'Loading…'}
        />
      )}
      {closing && (
        <CloseModal
          what={closing.kind === 'ids' ? `${closing.ids.length} selected alert${closing.ids.length === 1 ? '' : 's'}` : closing.label}
          onCancel={() => setClosing(null)}
          onClose={(reason, note) => {
            const t = closing;
            setClosing(null);
            void apply(t, 'closed', { reason, note: note || undefined });
          }}
        />
      )}
    </>
  );
}

/** Closing asks why (Kibana's reasons) and takes a note. */
export function CloseModal({ what, onCancel, onClose }: { what: string; onCancel: () => void; onClose: (reason: string, note: string) => void }): ReactNode {
  const [reason, setReason] = useState('false_positive');
  const [note, setNote] = useState('');
  return (
    <EuiModal onClose={onCancel} data-test-subj="closeModal">
      <EuiModalHeader>
        <EuiModalHeaderTitle>Close {what}</EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiFormRow label="Reason">
          <EuiSelect options={REASONS.map(([value, label]) => ({ value, text: label }))} value={reason} onChange={(e) => setReason(e.target.value)} data-test-subj="closeReason" />
        </EuiFormRow>
        <EuiFormRow label="Note">
          <EuiTextArea value={note} onChange={(e) => setNote(e.target.value)} rows={3} data-test-subj="closeNote" />
        </EuiFormRow>
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onCancel}>Cancel</EuiButtonEmpty>
        <EuiButton fill color="danger" onClick={() => onClose(reason, note)} data-test-subj="closeConfirm">
          Close alerts
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  );
}

const RULE_COLORS = ['#54B399', '#6092C0', '#D36086', '#9170B8', '#CA8EAE', '#D6BF57', '#B9A888', '#DA8B45', '#AA6556', '#E7664C'];

/** Alerts over time stacked by severity or by rule, and counts by severity and rule; plain SVG. */
function AlertCharts({ stats, ruleName }: { stats: AlertStats; ruleName: Map<string, string> }): ReactNode {
  const [by, setBy] = useState<'severity' | 'rule'>('severity');
  const series = by === 'severity' ? [...SEVERITIES] : stats.byRule.slice(0, 10).map((r) => r.ruleId);
  const color = (k: string, i: number): string => (by === 'severity' ? SEVERITY_COLOR[k]! : RULE_COLORS[i % RULE_COLORS.length]!);
  const label = (k: string): string => (by === 'severity' ? k : (ruleName.get(k) ?? k));
  const buckets = new Map<number, Record<string, number>>();
  const points = by === 'severity' ? stats.overTime.map((b) => ({ t: b.t, k: b.severity, n: b.count })) : stats.overTimeByRule.map((b) => ({ t: b.t, k: b.ruleId, n: b.count }));
  for (const p of points) {
    const row = buckets.get(p.t) ?? {};
    row[p.k] = (row[p.k] ?? 0) + p.n;
    buckets.set(p.t, row);
  }
  const times = [...buckets.keys()].sort((a, b) => a - b);
  const max = Math.max(1, ...times.map((t) => Object.values(buckets.get(t)!).reduce((a, b) => a + b, 0)));
  const W = 640;
  const H = 120;
  const bw = times.length ? Math.max(2, Math.min(24, W / times.length - 2)) : 0;
  const step = times.length ? W / times.length : 0;
  return (
    <EuiFlexGroup gutterSize="m">
      <EuiFlexItem grow={false}>
        <EuiPanel paddingSize="s" hasBorder>
          <EuiFlexGroup gutterSize="m">
            {SEVERITIES.map((s) => (
              <EuiFlexItem key={s} grow={false}>
                <EuiStat title={(stats.bySeverity[s] ?? 0).toLocaleString('en-US')} description={s} titleSize="s" titleColor={SEVERITY_COLOR[s]} data-test-subj={`count-${s}`} />
              </EuiFlexItem>
            ))}
          </EuiFlexGroup>
        </EuiPanel>
      </EuiFlexItem>
      <EuiFlexItem>
        <EuiPanel paddingSize="s" hasBorder>
          <EuiButtonGroup
            legend="Chart alerts by"
            buttonSize="compressed"
            idSelected={by}
            onChange={(id) => setBy(id as 'severity' | 'rule')}
            options={[
              { id: 'severity', label: 'By severity' },
              { id: 'rule', label: 'By rule', 'data-test-subj': 'chartByRule' },
            ]}
          />
          <EuiSpacer size="xs" />
          <svg width="100%" viewBox={`0 0 ${W} ${H + 14}`} role="img" aria-label={`Alerts over time by ${by}`} data-test-subj="alertsChart">
            {times.map((t, i) => {
              let y = H;
              const row = buckets.get(t)!;
              return (
                <g key={t}>
                  <title>{`${new Date(t).toISOString()}: ${series.map((k) => `${row[k] ?? 0} ${label(k)}`).join(', ')}`}</title>
                  {series.map((k, si) => {
                    const h = ((row[k] ?? 0) / max) * H;
                    y -= h;
                    return h > 0 ? <rect key={k} className="chart-bar" x={i * step} y={y} width={bw} height={h} fill={color(k, si)} /> : null;
                  })}
                </g>
              );
            })}
            {times.length > 0 && (
              <>
                <text x={0} y={H + 12} fontSize="10">{new Date(times[0]!).toISOString().slice(0, 16)}</text>
                <text x={W} y={H + 12} fontSize="10" textAnchor="end">{new Date(times[times.length - 1]!).toISOString().slice(0, 16)}</text>
              </>
            )}
          </svg>
        </EuiPanel>
      </EuiFlexItem>
      <EuiFlexItem grow={false} style={{ minWidth: 260 }}>
        <EuiPanel paddingSize="s" hasBorder>
          <EuiText size="xs" data-test-subj="topRules">
            <strong>Top rules</strong>
            {stats.byRule.slice(0, 10).map((r, i) => (
              <div key={r.ruleId}>
                {by === 'rule' && <span style={{ color: color(r.ruleId, i) }}>■ </span>}
                {r.count.toLocaleString('en-US')} · {ruleName.get(r.ruleId) ?? r.ruleId}
              </div>
            ))}
          </EuiText>
        </EuiPanel>
      </EuiFlexItem>
    </EuiFlexGroup>
  );
}
