import {
  EuiBasicTable,
  EuiButton,
  EuiButtonEmpty,
  EuiCallOut,
  EuiCheckbox,
  EuiCodeBlock,
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
  EuiSelect,
  EuiSpacer,
  EuiText,
  EuiTitle,
} from '@elastic/eui';
import { useEffect, useState, type ReactNode } from 'react';
import { api, type ExceptionEntry, type ExceptionItem, type ExceptionListView, type RuleView } from '../api';
import { text } from '../util';

interface Condition {
  field: string;
  use: boolean;
  op: 'is' | 'is not' | 'matches';
  value: string;
}

const toEntry = (c: Condition): ExceptionEntry =>
  c.op === 'matches' ? { field: c.field, type: 'wildcard', operator: 'included', value: c.value } : { field: c.field, type: 'match', operator: c.op === 'is' ? 'included' : 'excluded', value: c.value };

/**
 * Kibana's "Add rule exception", from an alert: its fields prefilled (the first two checked), a
 * count of the stored alerts of the last 7 days it would have excepted, before saving; optionally
 * closing the open alerts it matches.
 */
export function AddExceptionModal({ ruleId, ruleName, fields, onCancel, onSaved }: { ruleId: string; ruleName: string; fields: Array<[string, unknown]>; onCancel: () => void; onSaved: (closed: number) => void }): ReactNode {
  const [conds, setConds] = useState<Condition[]>(() => fields.filter(([, v]) => text(v) !== '').map(([f, v], i) => ({ field: f, use: i < 2, op: 'is', value: text(v) })));
  const [name, setName] = useState(`Exception to ${ruleName}`);
  const [close, setClose] = useState(true);
  const [preview, setPreview] = useState<{ alerts: number; examined: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const entries = conds.filter((c) => c.use && c.value !== '').map(toEntry);
  const key = JSON.stringify(entries);
  useEffect(() => {
    setPreview(null);
    if (entries.length === 0) return;
    let live = true;
    const t = setTimeout(() => {
      api.previewException({ rule_id: ruleId, entries }).then(
        (p) => live && (setPreview(p), setError(null)),
        (e: Error) => live && setError(e.message),
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [key]); // the entries, by value
  const set = (i: number, patch: Partial<Condition>): void => setConds((cs) => cs.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  return (
    <EuiModal onClose={onCancel} style={{ width: 860 }} data-test-subj="addExceptionModal">
      <EuiModalHeader>
        <EuiModalHeaderTitle>Add rule exception</EuiModalHeaderTitle>
      </EuiModalHeader>
      <EuiModalBody>
        <EuiFormRow label="Name" fullWidth>
          <EuiFieldText fullWidth value={name} onChange={(e) => setName(e.target.value)} data-test-subj="exceptionName" />
        </EuiFormRow>
        <EuiText size="xs">
          <p>Alerts are not raised for events where all the checked conditions hold. In a sequence, an excepted event is dropped, so the sequence does not complete.</p>
        </EuiText>
        <EuiSpacer size="s" />
        {conds.map((c, i) => (
          <EuiFlexGroup key={c.field} gutterSize="s" alignItems="center" responsive={false}>
            <EuiFlexItem grow={false}>
              <EuiCheckbox id={`use-${i}`} checked={c.use} onChange={(e) => set(i, { use: e.target.checked })} label="" data-test-subj={`exceptionUse-${c.field}`} />
            </EuiFlexItem>
            <EuiFlexItem style={{ minWidth: 220 }}>
              <code>{c.field}</code>
            </EuiFlexItem>
            <EuiFlexItem grow={false} style={{ width: 120 }}>
              <EuiSelect compressed options={['is', 'is not', 'matches'].map((o) => ({ value: o, text: o }))} value={c.op} onChange={(e) => set(i, { op: e.target.value as Condition['op'] })} aria-label={`operator of ${c.field}`} />
            </EuiFlexItem>
            <EuiFlexItem style={{ minWidth: 320 }}>
              <EuiFieldText compressed value={c.value} onChange={(e) => set(i, { value: e.target.value })} aria-label={`value of ${c.field}`} data-test-subj={`exceptionValue-${c.field}`} />
            </EuiFlexItem>
          </EuiFlexGroup>
        ))}
        <EuiSpacer size="m" />
        <EuiCheckbox id="closeMatching" checked={close} onChange={(e) => setClose(e.target.checked)} label="Close the open alerts this exception matches" data-test-subj="exceptionClose" />
        <EuiSpacer size="s" />
        <EuiText size="s" data-test-subj="exceptionPreview">
          {entries.length === 0 ? 'Check at least one condition.' : preview ? `Would have excepted ${preview.alerts} of ${preview.examined} alerts of this rule in the last 7 days.` : 'Counting…'}
        </EuiText>
        {error && <EuiCallOut color="danger" size="s" title={error} />}
      </EuiModalBody>
      <EuiModalFooter>
        <EuiButtonEmpty onClick={onCancel}>Cancel</EuiButtonEmpty>
        <EuiButton
          fill
          isDisabled={entries.length === 0}
          onClick={() =>
            void api.addException({ rule_id: ruleId, name, entries, close_alerts: close }).then(
              (r) => onSaved(r.closed),
              (e: Error) => setError(e.message),
            )
          }
          data-test-subj="exceptionSave"
        >
          Add exception
        </EuiButton>
      </EuiModalFooter>
    </EuiModal>
  );
}

const describeEntry = (e: ExceptionEntry): string => {
  const not = e.operator === 'excluded';
  switch (e.type) {
    case 'match':
      return `${e.field} ${not ? 'is not' : 'is'} ${String(e.value)}`;
    case 'match_any':
      return `${e.field} ${not ? 'is none of' : 'is one of'} ${(e.value as string[]).join(', ')}`;
    case 'wildcard':
      return `${e.field} ${not ? 'does not match' : 'matches'} ${String(e.value)}`;
    case 'exists':
      return `${e.field} ${not ? 'does not exist' : 'exists'}`;
    case 'list':
      return `${e.field} ${not ? 'is not in' : 'is in'} list ${e.list?.id ?? ''}`;
    case 'nested':
      return `${e.field} has (${(e.entries ?? []).map(describeEntry).join(' and ')})`;
  }
};

/** A rule's exceptions (its page's tab): items with their conditions, and the query condition they add. */
export function RuleExceptions({ rule, onChange }: { rule: RuleView; onChange: () => void }): ReactNode {
  const ex = rule.exceptions;
  if (!ex) return null;
  return (
    <div data-test-subj="ruleExceptions">
      <EuiText size="s">
        <p>{ex.note}</p>
        <p>Lists: {ex.lists.length ? ex.lists.join(', ') : 'none'}</p>
      </EuiText>
      <EuiBasicTable<ExceptionItem>
        items={ex.items}
        noItemsMessage="No exceptions. Add one from an alert of this rule."
        columns={[
          { field: 'name', name: 'Name' },
          { field: 'list_id', name: 'List', width: '180px' },
          { name: 'Conditions (all hold)', render: (i: ExceptionItem) => i.entries.map(describeEntry).join(' and ') + (i.os_types?.length ? ` (on ${i.os_types.join(', ')})` : '') + (i.stage ? ` (stage ${i.stage} only)` : '') },
          { name: 'Expires', width: '180px', render: (i: ExceptionItem) => (i.expire_time ? new Date(i.expire_time).toISOString() : 'never') },
          { name: '', width: '90px', render: (i: ExceptionItem) => <EuiButtonEmpty size="xs" color="danger" onClick={() => void api.removeException(i.item_id).then(onChange)} data-test-subj={`removeException-${i.item_id}`}>Remove</EuiButtonEmpty> },
        ]}
      />
      {ex.condition && (
        <>
          <EuiSpacer size="s" />
          <EuiText size="xs">Added to every event filter of the query:</EuiText>
          <EuiCodeBlock language="eql" fontSize="s" paddingSize="s" data-test-subj="exceptionCondition">
            {ex.condition}
          </EuiCodeBlock>
        </>
      )}
    </div>
  );
}

/** Shared exception lists and value lists. */
export function ExceptionListsPage(): ReactNode {
  const [data, setData] = useState<{ lists: ExceptionListView[]; value_lists: Array<{ id: string; type: string; values: number }>; problems: string[] } | null>(null);
  useEffect(() => void api.exceptionLists().then(setData), []);
  if (!data) return <EuiText>Loading…</EuiText>;
  return (
    <>
      <EuiTitle size="m">
        <h2>Exception lists</h2>
      </EuiTitle>
      {data.problems.map((p) => (
        <EuiCallOut key={p} color="warning" size="s" title={p} />
      ))}
      <EuiBasicTable<ExceptionListView>
        data-test-subj="exceptionLists"
        items={data.lists}
        noItemsMessage="No exception lists. Import Kibana's export with POST /api/exception_lists/_import, or add an exception from an alert."
        columns={[
          { field: 'name', name: 'Name' },
          { field: 'list_id', name: 'List id' },
          { field: 'type', name: 'Type', width: '120px' },
          { name: 'Items', width: '80px', render: (l: ExceptionListView) => l.items.length },
          { name: 'Rules', render: (l: ExceptionListView) => l.rules.map((r, i) => <span key={r.rule_id}>{i ? ', ' : ''}<EuiLink href={`#/rules/${encodeURIComponent(r.rule_id)}`}>{r.name}</EuiLink></span>) },
        ]}
      />
      <EuiSpacer size="l" />
      <EuiTitle size="s">
        <h3>Value lists</h3>
      </EuiTitle>
      <EuiBasicTable
        items={data.value_lists}
        noItemsMessage="No value lists. Upload one with POST /api/lists/_import?list_id=…&type=keyword|ip|ip_range (a value per line)."
        columns={[
          { field: 'id', name: 'Id' },
          { field: 'type', name: 'Type' },
          { field: 'values', name: 'Values' },
        ]}
      />
    </>
  );
}
