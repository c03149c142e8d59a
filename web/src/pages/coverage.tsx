import { EuiFlexGroup, EuiFlexItem, EuiSpacer, EuiText, EuiTitle, EuiToolTip } from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';
import { api, type RuleView } from '../api';

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

interface Cell {
  id: string;
  name: string;
  rules: RuleView[];
  withData: number;
}

/** Tactics × techniques named by the loaded rules, coloured by enabled rules and whether they have data. */
export function CoveragePage(): ReactNode {
  const [rules, setRules] = useState<RuleView[] | null>(null);
  useEffect(() => void api.rules().then((r) => setRules(r.rules), () => setRules([])), []);
  if (!rules) return <EuiText>Loading…</EuiText>;
  const columns = new Map<string, Map<string, Cell>>(TACTICS.map(([id]) => [id, new Map()]));
  for (const r of rules) {
    for (const t of r.threat ?? []) {
      const tactic = t.tactic?.id;
      if (!tactic) continue;
      if (!columns.has(tactic)) columns.set(tactic, new Map());
      for (const tech of t.technique ?? []) {
        const col = columns.get(tactic)!;
        const cell = col.get(tech.id) ?? { id: tech.id, name: tech.name, rules: [], withData: 0 };
        if (!cell.rules.includes(r)) {
          cell.rules.push(r);
          if (r.enabled && r.has_data) cell.withData++;
        }
        col.set(tech.id, cell);
      }
    }
  }
  const tacticName = new Map(TACTICS);
  const enabled = rules.filter((r) => r.enabled).length;
  return (
    <>
      <EuiTitle size="m">
        <h2>MITRE ATT&CK coverage</h2>
      </EuiTitle>
      <EuiText size="s">
        <p>
          Techniques named by the {rules.length} loaded rules ({enabled} enabled). Green: an enabled rule covers it and its indices have events; amber: enabled rules cover it but no
          matching index has events; white: only disabled rules name it.
        </p>
      </EuiText>
      <EuiSpacer size="m" />
      <div style={{ overflowX: 'auto' }} data-test-subj="attackMatrix">
        <EuiFlexGroup gutterSize="s" responsive={false}>
          {[...columns.entries()].map(([tactic, cells]) => (
            <EuiFlexItem key={tactic} className="attack-col" grow={false}>
              <EuiText size="xs">
                <strong>{tacticName.get(tactic) ?? tactic}</strong>
                <div>{cells.size} techniques</div>
              </EuiText>
              <EuiSpacer size="xs" />
              {[...cells.values()]
                .sort((a, b) => a.id.localeCompare(b.id))
                .map((c) => {
                  const on = c.rules.filter((r) => r.enabled).length;
                  const cls = `attack-cell${on ? ' covered' : ''}${on && c.withData === 0 ? ' nodata' : ''}`;
                  return (
                    <EuiToolTip key={c.id} content={c.rules.map((r) => `${r.enabled ? '●' : '○'} ${r.name}`).join('\n')}>
                      <div className={cls} data-test-subj={`technique-${c.id}`}>
                        {c.id} {c.name}
                        <div>
                          {on}/{c.rules.length} rules enabled
                        </div>
                      </div>
                    </EuiToolTip>
                  );
                })}
            </EuiFlexItem>
          ))}
        </EuiFlexGroup>
      </div>
    </>
  );
}
