// The details pane: one event in full — who decided it and why, the redacted arguments and result as formatted
// JSON, the hash chain links — and, for apply/rollback/approval events, buttons to open the diff or snapshot
// and to roll back. Every value is shown as text.
import type { EventAction, EventDetails } from '../../../src/protocol/timelineProtocol';
import { clear, el, icon, text } from './dom';
import { formatMs, formatUsd } from './eventList';
import { jsonBlock } from './jsonView';

const actionLabels: Record<EventAction, { label: string; icon: string; secondary: boolean }> = {
  openDiff: { label: 'Open Diff', icon: 'diff', secondary: false },
  openSnapshot: { label: 'Show Snapshot', icon: 'file-symlink-file', secondary: false },
  rollback: { label: 'Roll Back…', icon: 'discard', secondary: true },
};

export class DetailsView {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;

  constructor(private readonly onAction: (seq: number, action: EventAction) => void) {
    this.body = el('div', { className: 'details-body' });
    this.element = el('section', { className: 'details', attrs: { 'aria-label': 'Event details' }, children: [this.body] });
    this.placeholder('Select an event to see its details.');
  }

  placeholder(text: string): void {
    clear(this.body);
    this.body.append(el('p', { className: 'muted', text }));
  }

  show(d: EventDetails): void {
    clear(this.body);
    const r = d.row;
    const title = el('h2', { className: 'details-title', children: [el('span', { text: r.type }), r.tool ? el('span', { className: 'details-tool', text: r.tool }) : undefined, el('span', { className: 'muted', text: `#${r.seq}` })] });
    const fields = el('dl', { className: 'fields' });
    const add = (name: string, value: string | Node | undefined) => {
      if (value === undefined || value === '') return;
      fields.append(el('dt', { text: name }), el('dd', { children: [typeof value === 'string' ? text(value) : value] }));
    };
    add('Time', r.ts);
    add('Run', r.runId);
    add('Agent', r.agent);
    add('Decision', r.decision ? el('span', { className: `badge decision-${r.decision}`, text: r.decision }) : undefined);
    add('Level', r.level ? el('span', { className: `badge level-${r.level}`, text: r.level }) : undefined);
    add('Rule', d.rule);
    add('Actor', r.actor);
    add('Reason', d.reason);
    add('Duration', r.durationMs !== undefined ? formatMs(r.durationMs) : undefined);
    add('Cost', r.costUsd !== undefined ? formatUsd(r.costUsd) : undefined);
    add('Snapshot', d.snapshotId);
    this.body.append(title, fields);

    if (d.actions.length > 0) {
      const bar = el('div', { className: 'actions' });
      for (const a of d.actions) {
        const spec = actionLabels[a];
        const b = el('vscode-button', { text: spec.label, attrs: { icon: spec.icon, 'data-action': a } });
        if (spec.secondary) b.setAttribute('secondary', '');
        b.addEventListener('click', () => this.onAction(r.seq, a));
        bar.append(b);
      }
      this.body.append(bar);
    }
    this.section('Arguments', d.argsJson);
    this.section('Result', d.resultJson);
    const chain = el('dl', { className: 'fields hashes' });
    chain.append(el('dt', { text: 'Hash' }), el('dd', { className: 'hash', text: d.hash }), el('dt', { text: 'Previous' }), el('dd', { className: 'hash', text: d.prevHash }));
    this.body.append(el('h3', { children: [icon('link'), document.createTextNode(' Hash chain')] }), chain);
  }

  private section(name: string, json: string | undefined): void {
    if (json === undefined) return;
    this.body.append(el('h3', { text: name }), jsonBlock(json, name));
  }
}
