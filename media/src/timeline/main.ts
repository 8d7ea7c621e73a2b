// The Audit Timeline webview: toolbar, runs list, event list and details pane. It holds a few pages of rows at a
// time and asks the host for more; it says `ready` before the host posts anything and keeps its view state
// with setState so the panel serializer can bring it back after a reload.
import '../../../src/protocol/webviewValidation';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-split-layout/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { HostNotification, TimelineViewState, embeddedInitId, initialViewState } from '../../../src/protocol/timelineProtocol';
import type { ExportFormat, RunSummary, TimelineFilter, TimelinePage } from '../../../src/protocol/timelineProtocol';
import { DetailsView } from './detailsView';
import { el, icon, text } from './dom';
import { EventList, maxRows, pageSize } from './eventList';
import { FilterBar } from './filterBar';
import { HostChannel, HostRequestError } from './hostChannel';
import { RunsView } from './runsView';

/** From this width on, the details pane sits beside the rows rather than below them. */
const wideLayoutPx = 1700;

class TimelineApp {
  private readonly channel = new HostChannel();
  private readonly bar: FilterBar;
  private readonly runs: RunsView;
  private readonly list: EventList;
  private readonly details: DetailsView;
  private readonly status: HTMLElement;
  /** The last thing worth telling (an export saved, a request failed); stays until the next one. */
  private readonly notice: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly newEvents: HTMLElement;
  private filter: TimelineFilter = {};
  /** Bumped by every filter change or jump, so late pages and details for an older view are dropped. */
  private view = 0;
  /** A page request is in flight; appends seen meanwhile are fetched once it has arrived. */
  private pageLoading = false;
  private appendedWhileLoading = false;
  private detailsFor: number | undefined;
  private facetsLoaded = false;

  constructor(root: HTMLElement) {
    this.bar = new FilterBar({ filterChanged: (f) => void this.load(f, { follow: true }), verify: () => void this.verify(), exportAs: (f) => void this.exportAs(f) });
    this.runs = new RunsView((runId) => {
      const f: TimelineFilter = { ...this.filter };
      if (runId) f.runId = runId;
      else delete f.runId;
      this.bar.set(f, true);
    });
    this.list = new EventList({
      fetch: (direction, seq) => this.fetch(direction, seq),
      select: (row) => void this.showDetails(row.seq),
      run: (runId) => this.runs.find(runId),
      changed: () => this.changed(),
      rendered: (rows, what) => {
        this.channel.send({ command: 'rendered', rows, what });
        // The runs and the filter choices are not needed for the first rows: fetch them once those are on screen.
        if (what === 'first' && !this.facetsLoaded) void this.loadFacets();
      },
    });
    this.details = new DetailsView((seq, action) => this.channel.send({ command: 'eventAction', seq, action }));
    this.progress = el('vscode-progress-bar', { attrs: { 'aria-label': 'Loading' } });
    this.progress.hidden = true;
    this.status = el('span', { className: 'status-text', attrs: { role: 'status' } });
    this.notice = el('span', { className: 'notice', attrs: { role: 'alert' } });
    this.newEvents = el('vscode-button', { text: 'New events', attrs: { icon: 'arrow-down', 'data-id': 'new-events' } });
    this.newEvents.hidden = true;
    this.newEvents.addEventListener('click', () => void this.load(this.filter, { follow: true }));
    const oldest = el('vscode-button', { title: 'Oldest events', attrs: { icon: 'fold-up', 'icon-only': '', secondary: '', 'aria-label': 'Jump to the oldest events' } });
    oldest.addEventListener('click', () => void this.load(this.filter, { follow: false, direction: 'oldest' }));
    const latest = el('vscode-button', { title: 'Latest events (follow)', attrs: { icon: 'fold-down', 'icon-only': '', secondary: '', 'aria-label': 'Jump to the latest events and follow' } });
    latest.addEventListener('click', () => void this.load(this.filter, { follow: true }));

    const header = el('div', {
      className: 'columns',
      attrs: { role: 'row', 'aria-hidden': 'true' },
      children: ['Time', 'Run', 'Agent', 'Type', 'Tool', 'Decision', 'Level', 'Actor', 'Duration', 'Cost', 'Subject / reason'].map((t, i) => el('span', { className: `cell col-${i}`, text: t })),
    });
    const table = el('div', { className: 'table', children: [header, this.list.element] });
    const split = el('vscode-split-layout', { className: 'split', attrs: { split: 'horizontal', 'initial-handle-position': '58%', 'min-start': '160px', 'min-end': '120px' } });
    split.append(el('div', { className: 'pane-start', attrs: { slot: 'start' }, children: [table] }), el('div', { className: 'pane-end', attrs: { slot: 'end' }, children: [this.details.element] }));
    const footer = el('footer', { className: 'statusline', children: [oldest, latest, this.status, this.notice, this.newEvents] });
    root.append(this.bar.element, this.progress, el('main', { className: 'body', children: [this.runs.element, split] }), footer);
    // Details beside the rows when there is room for both, below them otherwise (the rows need the width).
    new ResizeObserver(() => {
      const side = root.clientWidth >= wideLayoutPx;
      const want = side ? 'vertical' : 'horizontal';
      if (split.getAttribute('split') !== want) {
        split.setAttribute('split', want);
        split.setAttribute('initial-handle-position', side ? '66%' : '58%');
        (split as HTMLElement & { resetHandlePosition?: () => void }).resetHandlePosition?.();
      }
    }).observe(root);

    this.channel.onNotification((n) => this.onNotification(n));
    const saved = TimelineViewState.safeParse(this.channel.savedState());
    const state = saved.success ? saved.data : initialViewState;
    this.filter = state.filter;
    this.bar.set(state.filter, false);
    // A fresh page (nothing saved) may carry its first page in the HTML: shown at once, no round trip.
    const init = saved.success ? undefined : this.embeddedInit();
    if (init) {
      performance.mark('airlock:ready');
      this.onNotification(init);
      this.channel.send({ command: 'ready', state, embedded: true });
      return;
    }
    this.busy(true);
    this.status.textContent = 'Loading the audit log…';
    performance.mark('airlock:ready');
    this.channel.send({ command: 'ready', state });
  }

  /** The `init` embedded in the HTML, validated like any message from the host; undefined when absent or invalid. */
  private embeddedInit(): HostNotification | undefined {
    const block = document.getElementById(embeddedInitId);
    if (!block?.textContent) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(block.textContent);
    } catch (err) {
      this.channel.send({ command: 'reportError', message: `the embedded first page is not JSON: ${(err as Error).message}`.slice(0, 2000) });
      return undefined;
    }
    const parsed = HostNotification.safeParse(raw);
    if (!parsed.success || parsed.data.notification !== 'init') {
      this.channel.send({ command: 'reportError', message: 'the embedded first page is not a valid init message; asked the host instead' });
      return undefined;
    }
    return parsed.data;
  }

  private onNotification(n: HostNotification): void {
    switch (n.notification) {
      case 'init':
        performance.mark('airlock:init');
        this.busy(false);
        this.filter = n.state.filter;
        this.list.reset(n.page, { follow: n.state.follow, anchorSeq: n.state.anchorSeq, selectedSeq: n.state.selectedSeq });
        if (n.state.selectedSeq !== undefined) void this.showDetails(n.state.selectedSeq);
        return;
      case 'didAppend':
        this.updateRuns(n.runs);
        this.bar.mergeFacets(n.runs, []);
        this.list.refreshGroups();
        // A page requested before these events were seen would drop them: fetch them once it has arrived.
        if (this.pageLoading) this.appendedWhileLoading = true;
        else this.list.live(n.count);
        return;
      case 'showRun':
        this.bar.set({ ...this.filter, runId: n.runId }, true);
        return;
    }
  }

  private async loadFacets(): Promise<void> {
    this.facetsLoaded = true;
    try {
      const f = await this.channel.request('facets', {});
      this.bar.setFacets(f);
      this.updateRuns(f.runs);
      this.list.refreshGroups();
    } catch (err) {
      this.facetsLoaded = false;
      this.fail('Loading the runs', err);
    }
  }

  private updateRuns(runs: readonly RunSummary[]): void {
    this.runs.update(runs, this.filter.runId);
  }

  private async load(filter: TimelineFilter, how: { follow: boolean; direction?: 'latest' | 'oldest' }): Promise<void> {
    this.filter = filter;
    const view = ++this.view;
    this.pageLoading = true;
    this.appendedWhileLoading = false;
    this.busy(true);
    this.runs.update(this.runs.all, filter.runId);
    try {
      const page = await this.channel.request('page', { filter, direction: how.direction ?? 'latest', limit: pageSize });
      if (view !== this.view) return;
      this.list.reset(page, { follow: how.follow && how.direction !== 'oldest' });
      this.pageLoading = false;
      if (this.appendedWhileLoading) {
        this.appendedWhileLoading = false;
        this.list.live(0);
      }
      this.details.placeholder('Select an event to see its details.');
    } catch (err) {
      if (view === this.view) this.fail('Loading events', err);
    } finally {
      if (view === this.view) {
        this.pageLoading = false;
        this.busy(false);
      }
    }
  }

  private async fetch(direction: 'before' | 'after', seq: number): Promise<TimelinePage | undefined> {
    const view = this.view;
    try {
      const page = await this.channel.request('page', seq > 0 ? { filter: this.filter, direction, seq, limit: pageSize } : { filter: this.filter, direction: 'latest', limit: pageSize });
      if (view !== this.view) return undefined;
      queueMicrotask(() => this.bar.mergeFacets([], [...new Set(page.rows.flatMap((r) => (r.tool ? [r.tool] : [])))]));
      return page;
    } catch (err) {
      this.fail('Loading more events', err);
      return undefined;
    }
  }

  private async showDetails(seq: number): Promise<void> {
    this.detailsFor = seq;
    try {
      const d = await this.channel.request('details', { seq });
      if (this.detailsFor !== seq) return;
      if (d) this.details.show(d);
      else this.details.placeholder(`Event #${seq} is not in the audit log.`);
    } catch (err) {
      if (this.detailsFor === seq) this.details.placeholder(`The details could not be loaded: ${(err as Error).message}`);
    }
  }

  private async verify(): Promise<void> {
    this.bar.showVerify('Verifying…', 'busy');
    try {
      const v = await this.channel.request('verify', {});
      this.bar.showVerify(v.ok ? `Chain intact · ${v.checked.toLocaleString()} events · ${Math.round(v.ms)} ms` : `Chain broken at #${v.firstBadSeq ?? '?'}: ${v.message}`, v.ok ? 'ok' : 'bad');
    } catch (err) {
      this.bar.showVerify(`Verify failed: ${(err as Error).message}`, 'bad');
    }
  }

  private async exportAs(format: ExportFormat): Promise<void> {
    try {
      const hasFilter = Object.keys(this.filter).length > 0;
      const r = await this.channel.request('export', hasFilter ? { format, filter: this.filter } : { format });
      if (r.saved) this.notice.replaceChildren(icon('pass'), text(` Exported ${r.events?.toLocaleString() ?? ''} events to ${r.file ?? ''}`));
    } catch (err) {
      this.fail('Export', err);
    }
  }

  private changed(): void {
    const rows = this.list.held;
    const first = rows[0]?.seq;
    const last = rows.at(-1)?.seq;
    const unseen = this.list.newEvents;
    this.status.textContent = rows.length === 0 ? 'No events.' : `#${first}–#${last} · ${rows.length} of at most ${maxRows} rows held${this.list.follow ? ' · following new events' : ''}`;
    // The window's bounds, for tests and the bench to wait on.
    document.body.dataset.firstSeq = String(first ?? 0);
    document.body.dataset.lastSeq = String(last ?? 0);
    document.body.dataset.held = String(rows.length);
    this.newEvents.hidden = this.list.follow || !this.list.hasAfter;
    this.newEvents.textContent = unseen > 0 ? `${unseen.toLocaleString()} new event${unseen === 1 ? '' : 's'}` : 'Latest events';
    const state: TimelineViewState = { filter: this.filter, follow: this.list.follow };
    const anchor = this.list.anchorSeq;
    if (anchor !== undefined) state.anchorSeq = anchor;
    if (this.list.selectedSeq !== undefined) state.selectedSeq = this.list.selectedSeq;
    this.channel.saveState(state);
  }

  private busy(on: boolean): void {
    this.progress.hidden = !on;
  }

  private fail(what: string, err: unknown): void {
    const message = HostRequestError.is(err) ? err.message : String((err as Error)?.message ?? err);
    this.notice.replaceChildren(icon('warning'), text(` ${what} failed: ${message}`));
    this.channel.send({ command: 'reportError', message: `${what} failed: ${message}`.slice(0, 2000) });
  }
}

// Marks for the bench: when the script ran, said ready, got its first page (performance.getEntriesByType('mark')).
performance.mark('airlock:script');
const root = document.getElementById('app');
if (root) new TimelineApp(root);
