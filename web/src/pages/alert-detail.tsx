import {
  EuiBasicTable,
  EuiButton,
  EuiCodeBlock,
  EuiDescriptionList,
  EuiFlexGroup,
  EuiFlexItem,
  EuiLink,
  EuiMarkdownFormat,
  EuiPanel,
  EuiSpacer,
  EuiTabbedContent,
  EuiText,
  EuiTitle,
} from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';
import { api, type AlertRow, type RuleView, type Threat } from '../api';
import { ExternalLink, flatten, fmtTime, get, Severity, Status, STATUSES, text } from '../util';

interface Ancestor {
  id: string;
  index: string;
  type: string;
}

export function AlertDetailPage({ id }: { id: string }): ReactNode {
  const [alert, setAlert] = useState<AlertRow | null>(null);
  const [rule, setRule] = useState<RuleView | null>(null);
  const [source, setSource] = useState<Record<string, unknown> | null>(null);
  const [group, setGroup] = useState<AlertRow[]>([]);
  const [chain, setChain] = useState<Array<{ _index: string; _id: string; ts: number | null; _source: Record<string, unknown> }>>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  // another alert in the same tab: nothing of the one before may stay on the page
  const [shownId, setShownId] = useState(id);
  if (shownId !== id) {
    setShownId(id);
    setAlert(null);
    setRule(null);
    setSource(null);
    setGroup([]);
    setChain([]);
    setError(null);
  }

  useEffect(() => {
    let live = true;
    api.alert(id).then(
      async (a) => {
        if (!live) return;
        setAlert(a);
        api.rule(a.rule_id).then((r) => live && setRule(r), () => undefined);
        if (a.group_id) api.group(a.group_id).then((g) => live && setGroup(g.alerts), () => undefined);
        const ev = ((a.doc['kibana.alert.ancestors'] as Ancestor[] | undefined) ?? []).find((x) => x.type === 'event');
        if (ev) {
          api.event(ev.index, ev.id).then((e) => live && setSource(e._source), () => undefined);
          api.ancestry(ev.index, ev.id).then((c) => live && setChain(c.chain), () => undefined);
        }
      },
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [id, tick]);

  if (error) return <EuiText color="danger">{error}</EuiText>;
  if (!alert) return <EuiText>Loading…</EuiText>;
  const doc = alert.doc;
  const threat = (doc['kibana.alert.rule.threat'] as Threat[] | undefined) ?? rule?.threat ?? [];
  const eventDoc = source ?? Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('kibana.')));
  const fields = flatten(eventDoc).sort((a, b) => a[0].localeCompare(b[0]));
  const members = group.filter((g) => g.building_block && g.doc['kibana.alert.group.index'] !== undefined).sort((a, b) => (a.original_time ?? 0) - (b.original_time ?? 0));

  return (
    <>
      <EuiText size="s">
        <EuiLink href="#/alerts">← Alerts</EuiLink>
      </EuiText>
      <EuiSpacer size="s" />
      <EuiTitle size="m">
        <h2 data-test-subj="alertTitle">{text(doc['kibana.alert.rule.name'])}</h2>
      </EuiTitle>
      <EuiSpacer size="s" />
      <EuiFlexGroup gutterSize="m" alignItems="center" wrap>
        <EuiFlexItem grow={false}>
          <Severity value={alert.severity} />
        </EuiFlexItem>
        <EuiFlexItem grow={false}>Risk {alert.risk_score}</EuiFlexItem>
        <EuiFlexItem grow={false}>{fmtTime(alert.original_time)}</EuiFlexItem>
        <EuiFlexItem grow={false} data-test-subj="alertStatus">
          <Status value={alert.status} />
        </EuiFlexItem>
        {STATUSES.filter((s) => s !== alert.status).map((s) => (
          <EuiFlexItem grow={false} key={s}>
            <EuiButton size="s" onClick={() => void api.setStatus([alert.id], s).then(() => setTick((t) => t + 1))} data-test-subj={`detailMark-${s}`}>
              Mark {s}
            </EuiButton>
          </EuiFlexItem>
        ))}
      </EuiFlexGroup>
      <EuiSpacer size="m" />
      <EuiPanel hasBorder paddingSize="m">
        <EuiText size="s">
          <strong>Reason</strong>
          <p data-test-subj="alertReason">{text(doc['kibana.alert.reason'])}</p>
        </EuiText>
        <EuiDescriptionList
          compressed
          type="column"
          listItems={[
            { title: 'Rule', description: <EuiLink href={`#/rules/${encodeURIComponent(alert.rule_id)}`}>{text(doc['kibana.alert.rule.name'])}</EuiLink> },
            { title: 'Host', description: alert.host ?? '—' },
            { title: 'User', description: alert.user ?? '—' },
            { title: 'Process', description: alert.process ?? '—' },
            { title: 'Alert id', description: alert.id },
          ]}
        />
      </EuiPanel>
      <EuiSpacer size="m" />
      <AttackLinks threat={threat} />
      <EuiSpacer size="m" />
      <EuiTabbedContent
        tabs={[
          {
            id: 'fields',
            name: 'Event fields',
            content: (
              <EuiBasicTable
                data-test-subj="fieldTable"
                items={fields.map(([field, value]) => ({ field, value: text(value) }))}
                columns={[
                  { field: 'field', name: 'Field', width: '35%' },
                  { field: 'value', name: 'Value', render: (v: string) => <span className="field-value">{v}</span> },
                ]}
              />
            ),
          },
          { id: 'json', name: 'JSON', content: <EuiCodeBlock language="json" isCopyable overflowHeight={500} data-test-subj="eventJson">{JSON.stringify(eventDoc, null, 2)}</EuiCodeBlock> },
          {
            id: 'guide',
            name: 'Investigation guide',
            content: rule?.note ? (
              <EuiPanel paddingSize="m" data-test-subj="investigationGuide">
                <EuiMarkdownFormat textSize="s">{rule.note}</EuiMarkdownFormat>
              </EuiPanel>
            ) : (
              <EuiText size="s">This rule has no investigation guide.</EuiText>
            ),
          },
          {
            id: 'ancestry',
            name: 'Process ancestry',
            content: (
              <div data-test-subj="ancestry">
                {chain.length === 0 && <EuiText size="s">No process events stored for this alert.</EuiText>}
                {chain.map((c, i) => (
                  <div key={`${c._index}/${c._id}`} className="timeline-item" style={{ marginLeft: (chain.length - 1 - i) * 16 }}>
                    <EuiText size="s">
                      <strong>{text(get(c._source, 'process.name')) || '(unknown)'}</strong> pid {text(get(c._source, 'process.pid'))} · {fmtTime(c.ts)}
                      <div>{text(get(c._source, 'process.command_line')) || text(get(c._source, 'process.args'))}</div>
                    </EuiText>
                  </div>
                )).reverse()}
              </div>
            ),
          },
          ...(members.length
            ? [
                {
                  id: 'sequence',
                  name: `Sequence (${members.length} events)`,
                  content: (
                    <div data-test-subj="sequenceTimeline">
                      {members.map((m, i) => (
                        <div key={m.id} className="timeline-item">
                          <EuiText size="s">
                            <strong>
                              {i + 1}. {fmtTime(m.original_time)}
                            </strong>{' '}
                            {text(get(m.doc, 'event.category'))} · {m.host ?? '—'} · {m.process ?? '—'}
                            <div>{text(m.doc['kibana.alert.reason'])}</div>
                          </EuiText>
                        </div>
                      ))}
                    </div>
                  ),
                },
              ]
            : []),
        ]}
      />
    </>
  );
}

/** One tactic, technique or subtechnique: its name and id, linked to its ATT&CK page. */
function AttackLink({ entry }: { entry: { name?: string; id?: string; reference?: string } | undefined }): ReactNode {
  return (
    <ExternalLink href={entry?.reference}>
      {entry?.name} ({entry?.id})
    </ExternalLink>
  );
}

export function AttackLinks({ threat }: { threat: Threat[] }): ReactNode {
  if (threat.length === 0) return null;
  return (
    <EuiPanel hasBorder paddingSize="s" data-test-subj="attackLinks">
      <EuiText size="s">
        <strong>MITRE ATT&CK</strong>
        {threat.map((t, i) => (
          <div key={i}>
            <AttackLink entry={t.tactic} />
            {(t.technique ?? []).map((tech) => (
              <span key={tech.id}>
                {' → '}
                <AttackLink entry={tech} />
                {(tech.subtechnique ?? []).map((sub) => (
                  <span key={sub.id}>
                    {' → '}
                    <AttackLink entry={sub} />
                  </span>
                ))}
              </span>
            ))}
          </div>
        ))}
      </EuiText>
    </EuiPanel>
  );
}
