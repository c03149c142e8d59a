import {
  EuiBasicTable,
  EuiButton,
  EuiButtonGroup,
  EuiComboBox,
  EuiFieldSearch,
  EuiFieldText,
  EuiFlexGroup,
  EuiFlexItem,
  EuiLink,
  EuiPanel,
  EuiSelect,
  EuiSpacer,
  EuiStat,
  EuiText,
  EuiTitle,
  type Criteria,
  type EuiBasicTableColumn,
} from '@elastic/eui';
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, type AlertFilter, type AlertRow, type AlertStats, type RuleView } from '../api';
import { fmtTime, SEVERITIES, SEVERITY_COLOR, Severity, Status, STATUSES } from '../util';

const RANGES: Array<[string, string, number | null]> = [
  ['15m', 'Last 15 minutes', 15 * 60_000],
  ['1h', 'Last hour', 3_600_000],
  ['24h', 'Last 24 hours', 86_400_000],
  ['7d', 'Last 7 days', 7 * 86_400_000],
  ['30d', 'Last 30 days', 30 * 86_400_000],
  ['all', 'All time', null],
];
const SORT_FIELDS: Record<string, string> = { original_time: 'time', severity: 'severity', risk_score: 'risk', rule_id: 'rule', host: 'host' };

export function AlertsPage(): ReactNode {
  const [range, setRange] = useState('all');
  const [severity, setSeverity] = useState<string[]>([]);
  const [status, setStatus] = useState<string[]>(['open', 'acknowledged']);
  const [rules, setRules] = useState<RuleView[]>([]);
  const [ruleIds, setRuleIds] = useState<string[]>([]);
  const [host, setHost] = useState('');
  const [q, setQ] = useState('');
  const [page, setPage] = useState({ index: 0, size: 50 });
  const [sort, setSort] = useState<{ field: string; direction: 'asc' | 'desc' }>({ field: 'original_time', direction: 'desc' });
  const [data, setData] = useState<{ total: number; alerts: AlertRow[] } | null>(null);
  const [stats, setStats] = useState<AlertStats | null>(null);
  const [selected, setSelected] = useState<AlertRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => void api.rules().then((r) => setRules(r.rules), () => undefined), []);
  const ruleName = useMemo(() => new Map(rules.map((r) => [r.rule_id, r.name])), [rules]);

  const filter = useMemo<AlertFilter>(() => {
    const span = RANGES.find((r) => r[0] === range)?.[2] ?? null;
    return { from: span === null ? undefined : new Date(Date.now() - span).toISOString(), severity, status, rule_id: ruleIds, host: host || undefined, q: q || undefined };
  }, [range, severity, status, ruleIds, host, q]);

  useEffect(() => {
    let live = true;
    api
      .alerts(filter, { size: page.size, offset: page.index * page.size, sort: SORT_FIELDS[sort.field] ?? 'time', order: sort.direction })
      .then((d) => live && (setData(d), setError(null)), (e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [filter, page, sort, tick]);

  useEffect(() => {
    let live = true;
    const span = RANGES.find((r) => r[0] === range)?.[2] ?? 30 * 86_400_000;
    api.stats(filter, Math.max(60_000, Math.floor(span / 48))).then((s) => live && setStats(s), () => undefined);
    return () => {
      live = false;
    };
  }, [filter, range, tick]);

  const setSelectedStatus = useCallback(
    async (to: string) => {
      await api.setStatus(selected.map((a) => a.id), to);
      setSelected([]);
      setTick((t) => t + 1);
    },
    [selected],
  );

  const columns: Array<EuiBasicTableColumn<AlertRow>> = [
    { field: 'original_time', name: 'Time', sortable: true, width: '180px', render: (t: number | null, a: AlertRow) => <EuiLink href={`#/alerts/${encodeURIComponent(a.id)}`} data-test-subj="alertLink">{fmtTime(t)}</EuiLink> },
    { field: 'severity', name: 'Severity', sortable: true, width: '110px', render: (s: string) => <Severity value={s} /> },
    { field: 'risk_score', name: 'Risk', sortable: true, width: '70px' },
    { field: 'rule_id', name: 'Rule', sortable: true, render: (id: string) => <EuiLink href={`#/rules/${encodeURIComponent(id)}`}>{ruleName.get(id) ?? id}</EuiLink> },
    { field: 'host', name: 'Host', sortable: true, render: (h: string | null) => h ?? '—' },
    { field: 'user', name: 'User', render: (u: string | null) => u ?? '—' },
    { field: 'process', name: 'Process', truncateText: true, render: (p: string | null) => p ?? '—' },
    { field: 'status', name: 'Status', width: '120px', render: (s: string) => <Status value={s} /> },
  ];

  const onChange = ({ page: p, sort: s }: Criteria<AlertRow>): void => {
    if (p) setPage({ index: p.index, size: p.size });
    if (s) setSort({ field: String(s.field), direction: s.direction });
  };

  return (
    <>
      <EuiTitle size="m">
        <h2>Alerts</h2>
      </EuiTitle>
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="s" wrap>
        <EuiFlexItem grow={false} style={{ minWidth: 170 }}>
          <EuiSelect aria-label="Time range" data-test-subj="rangeSelect" options={RANGES.map(([value, text]) => ({ value, text }))} value={range} onChange={(e) => (setRange(e.target.value), setPage({ ...page, index: 0 }))} />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiComboBox aria-label="Severity" placeholder="Any severity" options={SEVERITIES.map((s) => ({ label: s }))} selectedOptions={severity.map((s) => ({ label: s }))} onChange={(o) => (setSeverity(o.map((x) => x.label)), setPage({ ...page, index: 0 }))} data-test-subj="severityFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 220 }}>
          <EuiComboBox aria-label="Status" placeholder="Any status" options={STATUSES.map((s) => ({ label: s }))} selectedOptions={status.map((s) => ({ label: s }))} onChange={(o) => (setStatus(o.map((x) => x.label)), setPage({ ...page, index: 0 }))} data-test-subj="statusFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 240 }}>
          <EuiComboBox aria-label="Rule" placeholder="Any rule" options={rules.map((r) => ({ label: r.name, value: r.rule_id }))} selectedOptions={ruleIds.map((id) => ({ label: ruleName.get(id) ?? id, value: id }))} onChange={(o) => (setRuleIds(o.map((x) => String(x.value))), setPage({ ...page, index: 0 }))} />
        </EuiFlexItem>
        <EuiFlexItem grow={false} style={{ minWidth: 160 }}>
          <EuiFieldText aria-label="Host" placeholder="Host" value={host} onChange={(e) => (setHost(e.target.value), setPage({ ...page, index: 0 }))} data-test-subj="hostFilter" />
        </EuiFlexItem>
        <EuiFlexItem style={{ minWidth: 200 }}>
          <EuiFieldSearch aria-label="Free text" placeholder="Search alert text" incremental={false} onSearch={(v) => (setQ(v), setPage({ ...page, index: 0 }))} data-test-subj="textFilter" />
        </EuiFlexItem>
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      {stats && <AlertCharts stats={stats} ruleName={ruleName} />}
      <EuiSpacer size="m" />
      <EuiFlexGroup gutterSize="s" alignItems="center">
        <EuiFlexItem grow={false}>
          <EuiText size="s" data-test-subj="alertTotal">
            {data ? `${data.total.toLocaleString('en-US')} alerts` : 'Loading…'}
            {selected.length > 0 && ` · ${selected.length} selected`}
          </EuiText>
        </EuiFlexItem>
        {STATUSES.map((s) => (
          <EuiFlexItem grow={false} key={s}>
            <EuiButton size="s" isDisabled={selected.length === 0} onClick={() => void setSelectedStatus(s)} data-test-subj={`markAs-${s}`}>
              Mark {s}
            </EuiButton>
          </EuiFlexItem>
        ))}
      </EuiFlexGroup>
      <EuiSpacer size="s" />
      {error && <EuiText color="danger">{error}</EuiText>}
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
    </>
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
