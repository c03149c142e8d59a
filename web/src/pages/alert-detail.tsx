import {
  EuiBasicTable,
  EuiButton,
  EuiButtonEmpty,
  EuiCodeBlock,
  EuiDescriptionList,
  EuiFlexGroup,
  EuiFieldText,
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
import { CloseModal } from './alerts';
import { AddExceptionModal } from './exceptions';

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
  const [nearby, setNearby] = useState<AlertRow[] | null>(null);
  const [closing, setClosing] = useState(false);
  const [excepting, setExcepting] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [assignTo, setAssignTo] = useState('');
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
    setNearby(null);
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
        // the other alerts of its host or user in the hour either side
        const t = a.original_time ?? a.created;
        const around = { from: new Date(t - HOUR).toISOString(), to: new Date(t + HOUR).toISOString(), status: [] };
        void Promise.all([a.host ? api.alerts({ ...around, host: a.host }, NEARBY_PAGE) : null, a.user ? api.alerts({ ...around, user: a.user }, NEARBY_PAGE) : null]).then(
          (rs) => {
            if (!live) return;
            const seen = new Map<string, AlertRow>();
            for (const r of rs) for (const x of r?.alerts ?? []) if (x.id !== a.id) seen.set(x.id, x);
            setNearby([...seen.values()].sort((x, y) => (x.original_time ?? 0) - (y.original_time ?? 0)));
          },
          () => live && setNearby([]),
        );
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
  const notes = (doc['vigil.alert.notes'] as Array<{ at: string; status: string; reason: string | null; by: string | null; text: string }> | undefined) ?? [];
  const flat = new Map(fields);
  // the fields an analyst decides by, then the ones the rule's query names
  const queryFields = rule?.query ? [...new Set(rule.query.match(/[A-Za-z_@][\w@]*(?:\.[\w@]+)+/g) ?? [])] : [];
  const deciding = [...new Set([...DECIDING, ...queryFields])].filter((f) => flat.has(f) && text(flat.get(f)) !== '').map((f) => [f, flat.get(f)] as [string, unknown]);
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
          <Status value={alert.status} reason={doc['kibana.alert.workflow_reason']} />
        </EuiFlexItem>
        {STATUSES.filter((s) => s !== alert.status).map((s) => (
          <EuiFlexItem grow={false} key={s}>
            <EuiButton size="s" onClick={() => (s === 'closed' ? setClosing(true) : void api.setStatus([alert.id], s).then(() => setTick((t) => t + 1)))} data-test-subj={`detailMark-${s}`}>
              {s === 'closed' ? 'Close…' : `Mark ${s}`}
            </EuiButton>
          </EuiFlexItem>
        ))}
        <EuiFlexItem grow={false}>
          <EuiButton size="s" onClick={() => setExcepting(true)} data-test-subj="addException">
            Add exception…
          </EuiButton>
        </EuiFlexItem>
        <EuiFlexItem grow={false}>
          <EuiFieldText
            compressed
            placeholder={alert.assignee ? `Assigned to ${alert.assignee}` : 'Assign to…'}
            aria-label="Assign to"
            value={assignTo}
            onChange={(e) => setAssignTo(e.target.value)}
            append={
              <EuiButtonEmpty size="xs" onClick={() => void api.assign([alert.id], assignTo.trim() || null).then(() => (setAssignTo(''), setTick((t) => t + 1)))} data-test-subj="detailAssign">
                {assignTo.trim() ? 'Assign' : 'Unassign'}
              </EuiButtonEmpty>
            }
            data-test-subj="detailAssignTo"
          />
        </EuiFlexItem>
      </EuiFlexGroup>
      {closing && (
        <CloseModal
          what="this alert"
          onCancel={() => setClosing(false)}
          onClose={(reason, note) => {
            setClosing(false);
            void api.setStatus([alert.id], 'closed', { reason, note: note || undefined }).then(() => setTick((t) => t + 1));
          }}
        />
      )}
      {excepting && (
        <AddExceptionModal
          ruleId={String(doc['kibana.alert.rule.rule_id'] ?? alert.rule_id)}
          ruleName={text(doc['kibana.alert.rule.name'])}
          fields={deciding}
          onCancel={() => setExcepting(false)}
          onSaved={(closed) => {
            setExcepting(false);
            setNotice(`Exception added${closed ? `; ${closed} open alert${closed === 1 ? '' : 's'} closed` : ''}.`);
            setTick((t) => t + 1);
          }}
        />
      )}
      {notice && (
        <EuiText size="s" color="success" data-test-subj="exceptionNotice">
          {notice}
        </EuiText>
      )}
      {notes.length > 0 && (
        <EuiText size="xs" data-test-subj="alertNotes">
          {notes.map((n, i) => (
            <div key={i}>
              {fmtTime(n.at)} · {n.status}
              {n.reason ? ` (${n.reason.replace(/_/g, ' ')})` : ''}
              {n.by ? ` · ${n.by}` : ''}: <span className="field-value">{n.text}</span>
            </div>
          ))}
        </EuiText>
      )}
      <EuiSpacer size="m" />
      <EuiPanel hasBorder paddingSize="m" data-test-subj="decidingFields">
        <EuiDescriptionList compressed type="column" listItems={deciding.map(([f, v]) => ({ title: f, description: <FieldValue field={f} value={v} host={alert.host} t={alert.original_time} /> }))} />
      </EuiPanel>
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
                items={fields.map(([field, value]) => ({ field, value: text(value), raw: value }))}
                columns={[
                  { field: 'field', name: 'Field', width: '35%' },
                  { field: 'value', name: 'Value', render: (_v: string, row: { field: string; raw: unknown }) => <FieldValue field={row.field} value={row.raw} host={alert.host} t={alert.original_time} /> },
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
          {
            id: 'around',
            name: `Around it${nearby ? ` (${nearby.length})` : ''}`,
            content: (
              <div data-test-subj="aroundIt">
                <EuiText size="s">
                  <p>
                    Other alerts of {alert.host ?? 'its host'}
                    {alert.user ? ` or ${alert.user}` : ''} in the hour either side.{' '}
                    {alert.host && (
                      <EuiLink href={searchHref(`any where host.name == ${eqlString(alert.host)}`, alert.original_time, 15 * 60_000)} data-test-subj="hostEvents">
                        The host&apos;s events in the 15 minutes either side
                      </EuiLink>
                    )}
                  </p>
                </EuiText>
                <EuiBasicTable<AlertRow>
                  items={nearby ?? []}
                  loading={nearby === null}
                  noItemsMessage="No other alerts"
                  columns={[
                    { field: 'original_time', name: 'Time', width: '190px', render: (t: number | null, a: AlertRow) => <EuiLink href={`#/alerts/${encodeURIComponent(a.id)}`}>{fmtTime(t)}</EuiLink> },
                    { field: 'severity', name: 'Severity', width: '100px', render: (v: string) => <Severity value={v} /> },
                    { field: 'doc', name: 'Rule', render: (d: Record<string, unknown>) => text(d['kibana.alert.rule.name']) },
                    { field: 'host', name: 'Host', render: (h: string | null) => h ?? '—' },
                    { field: 'user', name: 'User', render: (u: string | null) => u ?? '—' },
                    { field: 'process', name: 'Process', render: (p: string | null) => p ?? '—' },
                    { field: 'status', name: 'Status', width: '110px', render: (v: string) => <Status value={v} /> },
                  ]}
                />
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
                            {text(get(m.doc, 'process.command_line') ?? get(m.doc, 'process.args')) && <div className="field-value" data-test-subj="stepCommandLine">{text(get(m.doc, 'process.command_line') ?? get(m.doc, 'process.args'))}</div>}
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

const HOUR = 3_600_000;
const NEARBY_PAGE = { size: 50, offset: 0, sort: 'time', order: 'asc' as const };
/** The fields an analyst reads first. */
const DECIDING = ['process.command_line', 'process.parent.command_line', 'process.executable', 'process.parent.executable', 'user.name', 'host.name', 'host.os.type', 'source.ip', 'destination.ip', 'file.path', 'registry.path', 'dns.question.name', 'url.full'];

/** An EQL string literal for any text. */
const eqlString = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** The EQL search page with a query over the window `span` either side of `t`. */
function searchHref(query: string, t: number | null, span: number): string {
  const p = new URLSearchParams({ index: 'logs-*,winlogbeat-*,auditbeat-*,filebeat-*,endgame-*', query });
  if (t !== null) {
    p.set('from', new Date(t - span).toISOString());
    p.set('to', new Date(t + span).toISOString());
  }
  return `#/search?${p.toString()}`;
}

/**
 * A field's value, wrapped, with filter in / out (the alerts list with or without that value, as
 * Kibana's alert flyout) and "events with / without it" searches (on the alert's host, around its time).
 */
function FieldValue({ field, value, host, t }: { field: string; value: unknown; host: string | null; t: number | null }): ReactNode {
  const shown = text(value);
  const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
  const lit = typeof value === 'string' ? eqlString(value) : String(value);
  const onHost = host ? ` and host.name == ${eqlString(host)}` : '';
  const alerts = (negate: boolean): string => `#/alerts?${new URLSearchParams({ field: `${negate ? '-' : ''}${field}:${String(value)}`, status: 'open,acknowledged' }).toString()}`;
  return (
    <span className="field-value">
      {shown}
      {scalar && /^[A-Za-z_@][\w@.-]*$/.test(field) && (
        <span className="field-actions">
          {' '}
          <EuiLink href={alerts(false)} title={`Alerts with ${field}: ${shown}`} data-test-subj="filterIn">
            ⊕
          </EuiLink>{' '}
          <EuiLink href={alerts(true)} title={`Alerts without ${field}: ${shown}`} data-test-subj="filterOut">
            ⊖
          </EuiLink>{' '}
          <EuiLink href={searchHref(`any where ${field} == ${lit}`, t, HOUR)} title={`Events with ${field} == ${shown}`} data-test-subj="eventsWith">
            events
          </EuiLink>{' '}
          <EuiLink href={searchHref(`any where ${field} != ${lit}${onHost}`, t, 15 * 60_000)} title={`The host's events without ${field} == ${shown}`} data-test-subj="eventsWithout">
            others
          </EuiLink>
        </span>
      )}
    </span>
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
