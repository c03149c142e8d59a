import { EuiBasicTable, EuiFlexGroup, EuiFlexItem, EuiPanel, EuiSpacer, EuiStat, EuiText, EuiTitle } from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';
import { api, type Health } from '../api';
import { fmtBytes, fmtMs, fmtTime } from '../util';

export function HealthPage(): ReactNode {
  const [h, setH] = useState<Health | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = (): void => void api.health().then(setH, (e: Error) => setError(e.message));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  if (error) return <EuiText color="danger">{error}</EuiText>;
  if (!h) return <EuiText>Loading…</EuiText>;
  const lagged = h.rule_lag.filter((r) => r.lag_ms !== null).sort((a, b) => (b.lag_ms ?? 0) - (a.lag_ms ?? 0));
  return (
    <>
      <EuiTitle size="m">
        <h2>Health</h2>
      </EuiTitle>
      <EuiSpacer size="m" />
      <EuiFlexGroup data-test-subj="healthStats">
        {[
          ['Ingest rate', `${h.events.per_second.toFixed(1)} events/s`],
          ['Events stored', h.events.stored.toLocaleString('en-US')],
          ['Events refused', h.events.failed.toLocaleString('en-US')],
          ['Store size', fmtBytes(h.store_bytes)],
          ['Alerts', `${h.alerts.toLocaleString('en-US')} (+${h.building_block_alerts.toLocaleString('en-US')} building blocks)`],
          ['Rules running', `${h.rules.running}/${h.rules.total} (${h.rules.streaming} streaming, ${h.rules.scheduled} scheduled); ${h.rules.disabled} disabled, ${h.rules.cannot_run} cannot run`],
          ['Worst rule lag', lagged.length ? fmtMs(lagged[0]!.lag_ms) : '—'],
        ].map(([title, value]) => (
          <EuiFlexItem key={title}>
            <EuiPanel hasBorder paddingSize="s">
              <EuiStat title={value} description={title} titleSize="xs" />
            </EuiPanel>
          </EuiFlexItem>
        ))}
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <EuiText size="s">
        Server time {fmtTime(h.now)}, up {fmtMs(h.uptime_ms)}
      </EuiText>
      <EuiSpacer size="m" />
      <EuiTitle size="s">
        <h3>Indices</h3>
      </EuiTitle>
      <EuiBasicTable
        items={h.indices}
        columns={[
          { field: 'name', name: 'Index' },
          { field: 'docs', name: 'Documents' },
          { field: 'firstSeen', name: 'First seen', render: (t: number) => fmtTime(t) },
          { field: 'lastSeen', name: 'Last seen', render: (t: number) => fmtTime(t) },
        ]}
      />
      <EuiSpacer size="m" />
      <EuiTitle size="s">
        <h3>Most expensive rules (CPU, last 24 h)</h3>
      </EuiTitle>
      <EuiBasicTable
        data-test-subj="expensiveRules"
        items={h.expensive_rules}
        columns={[
          { field: 'name', name: 'Rule', render: (n: string, r: { rule_id: string }) => <a href={`#/rules/${encodeURIComponent(r.rule_id)}`}>{n}</a> },
          { field: 'cpu_ms', name: 'CPU', render: (ms: number) => fmtMs(ms) },
          { field: 'events', name: 'Events examined', render: (n: number) => n.toLocaleString('en-US') },
          { field: 'runs', name: 'Runs' },
        ]}
      />
      <EuiSpacer size="m" />
      <EuiTitle size="s">
        <h3>Rule run lag</h3>
      </EuiTitle>
      <EuiBasicTable items={lagged.slice(0, 50)} columns={[{ field: 'rule_id', name: 'Rule' }, { field: 'lag_ms', name: 'Lag', render: (l: number | null) => fmtMs(l) }]} />
    </>
  );
}
