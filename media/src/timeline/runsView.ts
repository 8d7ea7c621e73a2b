// The runs list beside the events: each run with its status and counts; picking one filters the timeline to it.
import type { RunStatus, RunSummary } from '../../../src/protocol/timelineProtocol';
import { clear, el, icon } from './dom';

export function statusIcon(status: RunStatus): string {
  switch (status) {
    case 'running':
      return 'sync';
    case 'completed':
      return 'pass';
    case 'failed':
      return 'error';
    case 'halted':
      return 'circle-slash';
    case 'unknown':
      return 'question';
  }
}

export class RunsView {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private runs: RunSummary[] = [];
  private selected: string | undefined;

  constructor(private readonly onPick: (runId: string | undefined) => void) {
    this.list = el('div', { className: 'runs-list', attrs: { role: 'listbox', 'aria-label': 'Runs' } });
    this.element = el('div', { className: 'runs', children: [el('div', { className: 'pane-title', text: 'Runs' }), this.list] });
    this.list.addEventListener('click', (e) => {
      const item = (e.target as HTMLElement | null)?.closest<HTMLElement>('.run-item');
      if (!item) return;
      const id = item.dataset.run;
      this.onPick(id === '' || id === undefined ? undefined : id);
    });
  }

  get all(): readonly RunSummary[] {
    return this.runs;
  }

  find(runId: string): RunSummary | undefined {
    return this.runs.find((r) => r.runId === runId);
  }

  update(runs: readonly RunSummary[], selected: string | undefined): void {
    this.runs = runs.slice();
    this.selected = selected;
    clear(this.list);
    this.list.append(this.item(undefined));
    for (const r of runs) this.list.append(this.item(r));
  }

  private item(r: RunSummary | undefined): HTMLElement {
    const active = (r?.runId ?? undefined) === this.selected;
    const item = el('div', {
      className: `run-item${active ? ' active' : ''}`,
      attrs: { role: 'option', 'aria-selected': String(active), 'data-run': r?.runId ?? '' },
    });
    if (!r) {
      item.append(icon('list-flat'), el('span', { className: 'run-label', text: 'All runs' }));
      return item;
    }
    const counts = el('vscode-badge', { text: String(r.events), title: `${r.events} events, ${r.denied} denied, ${r.pending} pending` });
    item.append(
      el('span', { className: `run-status status-${r.status}`, children: [icon(statusIcon(r.status), r.status)] }),
      el('span', { className: 'run-label', children: [el('span', { className: 'run-agent', text: r.agent }), el('span', { className: 'run-id', text: r.runId, title: r.runId })] }),
      counts,
    );
    if (r.denied > 0) item.append(el('span', { className: 'badge decision-deny', text: `${r.denied} denied` }));
    return item;
  }
}
