import { EuiSpacer, EuiSwitch, EuiText, EuiTitle, EuiToolTip } from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';
import { api, type Coverage, type RuleState } from '../api';

/** Enterprise ATT&CK tactics in kill-chain order. */
const TACTICS: Array<[string, string]> = [
  ['TA0043', 'Reconnaissance'],
  ['TA0042', 'Resource Development'],
  ['TA0001', 'Initial Access'],
  ['TA0002', 'Execution'],
  ['TA0003', 'Persistence'],
  ['TA0004', 'Privilege Escalation'],
  ['TA0005', 'Defense Evasion'],
  ['TA0006', 'Credential Access'],
  ['TA0007', 'Discovery'],
  ['TA0008', 'Lateral Movement'],
  ['TA0009', 'Collection'],
  ['TA0011', 'Command and Control'],
  ['TA0010', 'Exfiltration'],
  ['TA0040', 'Impact'],
];

/**
 * Tactics × techniques named by the loaded rules. A technique counts as covered only by rules that
 * run (streaming or scheduled): green when one of them has events in its indices, amber when none
 * has, white when only disabled rules or rules Vigil cannot run name it. Each links to its rules.
 */
export function CoveragePage(): ReactNode {
  const [cov, setCov] = useState<Coverage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [onlyData, setOnlyData] = useState(false);
  useEffect(() => void api.coverage().then(setCov, (e: Error) => setError(e.message)), []);
  if (error) return <EuiText color="danger">{error}</EuiText>;
  if (!cov) return <EuiText>Loading…</EuiText>;
  const running = (r: { state: RuleState }): boolean => r.state === 'streaming' || r.state === 'scheduled';
  const known = new Map(cov.tactics.map((t) => [t.id, t]));
  const order = [...TACTICS.map(([id]) => id).filter((id) => known.has(id)), ...cov.tactics.map((t) => t.id).filter((id) => !TACTICS.some(([x]) => x === id))];
  // a technique under several tactics counts once, with the rules of all its cells
  const byId = new Map<string, Array<{ state: RuleState; has_data: boolean }>>();
  for (const t of cov.tactics) for (const c of t.techniques) byId.set(c.id, [...(byId.get(c.id) ?? []), ...c.rules]);
  const all = [...byId.values()];
  const green = all.filter((rs) => rs.some((r) => running(r) && r.has_data)).length;
  const amber = all.filter((rs) => rs.some(running) && !rs.some((r) => running(r) && r.has_data)).length;
  const total = all.length;
  return (
    <>
      <EuiTitle size="m">
        <h2>MITRE ATT&CK coverage</h2>
      </EuiTitle>
      <EuiText size="s">
        <p data-test-subj="coverageSummary">
          {total} techniques named by the loaded rules: {green} covered by running rules with data (green), {amber} by running rules whose indices have no events yet (amber), {total - green - amber} only by
          rules that are disabled or cannot run (white). Click a technique for its rules.
        </p>
      </EuiText>
      <EuiSwitch label="Only techniques whose running rules have data" checked={onlyData} onChange={(e) => setOnlyData(e.target.checked)} data-test-subj="coverageOnlyData" />
      <EuiSpacer size="m" />
      <div className="attack-grid" data-test-subj="attackMatrix">
        {order.map((id) => {
          const tactic = known.get(id)!;
          const cells = tactic.techniques.filter((c) => !onlyData || c.rules.some((r) => running(r) && r.has_data));
          return (
            <div key={id} className="attack-col">
              <EuiText size="xs">
                <strong>{TACTICS.find(([x]) => x === id)?.[1] ?? tactic.name}</strong>
                <div>{cells.length} techniques</div>
              </EuiText>
              <EuiSpacer size="xs" />
              {cells.map((c) => {
                const on = c.rules.filter(running);
                const withData = on.filter((r) => r.has_data).length;
                const cls = `attack-cell${on.length ? ' covered' : ''}${on.length && withData === 0 ? ' nodata' : ''}`;
                return (
                  <EuiToolTip key={c.id} content={c.rules.map((r) => `${running(r) ? '●' : '○'} ${r.name} (${r.state})`).join('\n')}>
                    <a className={cls} href={`#/rules?technique=${encodeURIComponent(c.id)}`} data-test-subj={`technique-${c.id}`}>
                      {c.id} {c.name}
                      <span className="attack-count">
                        {on.length}/{c.rules.length} rules running{on.length ? `, ${withData} with data` : ''}
                      </span>
                    </a>
                  </EuiToolTip>
                );
              })}
            </div>
          );
        })}
      </div>
    </>
  );
}
