// The event list: a window of at most a few pages of rows (keyset pages by seq, fetched in both directions as
// the user scrolls), of which only the rows on screen are in the DOM. Rows of one run are grouped under a
// header with the run's status and counts. Live rows are added only when the window holds the newest events,
// and the row on screen stays where it is while rows come and go above or below it. Following (staying at the
// newest rows) is the user's choice: only their scrolling starts or ends it, never the list's own.
import type { RunSummary, TimelinePage, TimelineRow } from '../../../src/protocol/timelineProtocol';
import { el, icon } from './dom';
import { statusIcon } from './runsView';

/** Row height in px; timeline.css uses the same value (--row-height). */
export const rowHeight = 24;
export const pageSize = 100;
/** The most rows the webview holds at once (four pages), whatever the size of the log. */
export const maxRows = 4 * pageSize;
/** Fetch the next page when fewer than this many items are left beyond the screen. */
const prefetchItems = 60;
/** Extra rows rendered above and below the screen, so fast scrolling does not show blanks. */
const overscan = 10;

type Item = { readonly kind: 'row'; readonly row: TimelineRow } | { readonly kind: 'group'; readonly runId: string; readonly agent: string; readonly key: string };

export interface EventListHost {
  fetch(direction: 'before' | 'after', seq: number): Promise<TimelinePage | undefined>;
  select(row: TimelineRow): void;
  run(runId: string): RunSummary | undefined;
  /** The window moved, follow mode changed, or rows came in: refresh the status line and saved state. */
  changed(): void;
  rendered(rows: number, what: 'first' | 'page' | 'live'): void;
}

export class EventList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly empty: HTMLElement;
  private rows: TimelineRow[] = [];
  private items: Item[] = [];
  private readonly rendered = new Map<string, HTMLElement>();
  private hasBeforeFlag = false;
  private hasAfterFlag = false;
  private loading = { before: false, after: false };
  /** Bumped on every reset, so a page that arrives for an older filter is dropped. */
  private generation = 0;
  private followFlag = true;
  private selected: number | undefined;
  /** Events appended to the log since the window last reached its end, while not following. */
  private unseen = 0;
  private renderQueued = false;
  /** Events were appended while an `after` request was in flight: ask again when it is back. */
  private liveAgain = false;
  /**
   * The scroll position that `followFlag` already accounts for: where the list last put the view itself, or
   * where the user's last scroll event found it. A scroll event reaches the page a frame after the scroll, so
   * any other scrollTop is a scroll by the user that the flag does not know about yet.
   */
  private settledTop = 0;
  /** Where to scroll once the list has a size ('bottom' to follow). */
  private pendingTop: number | 'bottom' | undefined;

  constructor(private readonly host: EventListHost) {
    this.spacer = el('div', { className: 'spacer' });
    this.empty = el('div', { className: 'empty', text: 'No events match.' });
    this.element = el('div', { className: 'list', attrs: { role: 'grid', tabindex: '0', 'aria-label': 'Audit events', 'aria-rowcount': '-1' }, children: [this.spacer, this.empty] });
    this.element.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.element.addEventListener('click', (e) => this.onClick(e));
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    // The list has no box until the split layout around it has rendered, and it changes size with the panel:
    // apply a scroll position that could not be applied yet, keep a following view at the bottom, redraw.
    new ResizeObserver(() => {
      if (this.element.clientHeight === 0) return;
      if (this.pendingTop !== undefined) {
        this.place(this.pendingTop === 'bottom' ? this.element.scrollHeight : this.pendingTop);
        this.pendingTop = undefined;
      } else {
        this.noteUserScroll();
        if (this.followFlag) this.place(this.element.scrollHeight);
      }
      this.render();
      this.maybeFetch();
    }).observe(this.element);
  }

  get follow(): boolean {
    return this.followFlag;
  }
  get hasBefore(): boolean {
    return this.hasBeforeFlag;
  }
  get hasAfter(): boolean {
    return this.hasAfterFlag;
  }
  get held(): readonly TimelineRow[] {
    return this.rows;
  }
  get newEvents(): number {
    return this.unseen;
  }
  get selectedSeq(): number | undefined {
    return this.selected;
  }

  /** The seq of the first row on screen (saved, so a reload reopens here). */
  get anchorSeq(): number | undefined {
    const a = this.anchor();
    return a ? Number(a.key.slice(1)) : undefined;
  }

  /** Replaces the window with a fresh first page (filter change, jump to an end, reload). */
  reset(page: TimelinePage, options: { follow: boolean; anchorSeq?: number; selectedSeq?: number }): void {
    this.generation++;
    this.loading = { before: false, after: false };
    this.liveAgain = false;
    this.rows = page.rows.slice();
    this.hasBeforeFlag = page.hasBefore;
    this.hasAfterFlag = page.hasAfter;
    this.unseen = 0;
    this.selected = options.selectedSeq;
    this.followFlag = options.follow && !page.hasAfter;
    this.clearRendered();
    this.rebuild();
    const at = options.anchorSeq ?? options.selectedSeq;
    const idx = !this.followFlag && at !== undefined ? this.items.findIndex((i) => i.kind === 'row' && i.row.seq >= at) : -1;
    const top = this.followFlag ? 'bottom' : idx < 0 ? 0 : Math.max(0, idx - 1) * rowHeight;
    this.place(top === 'bottom' ? this.element.scrollHeight : top);
    this.pendingTop = this.element.clientHeight === 0 ? top : undefined;
    this.render();
    this.maybeFetch();
    this.host.changed();
    afterPaint(() => {
      performance.mark('airlock:first-rows');
      this.host.rendered(this.rows.length, 'first');
    });
  }

  /**
   * `count` events were appended to the log. A following view fetches them (page after page when they are more
   * than one); a view scrolled back fetches them below the rows on screen while the window still ends at the
   * newest event and has room, and otherwise only counts them for the New events button.
   */
  live(count: number): void {
    if (!this.followFlag && (this.hasAfterFlag || this.rows.length >= maxRows)) {
      this.unseen += count;
      this.hasAfterFlag = true;
      this.host.changed();
      return;
    }
    if (this.loading.after) this.liveAgain = true; // the request in flight may predate these events
    else void this.load('after', 'live');
  }

  /** Redraws the group headers (a run's status or counts changed). */
  refreshGroups(): void {
    for (const [key, node] of this.rendered) {
      if (key.startsWith('g')) {
        node.remove();
        this.rendered.delete(key);
      }
    }
    this.render();
  }

  focus(): void {
    this.element.focus();
  }

  /** Selects a row by seq if the window holds it (after a reload). */
  selectSeq(seq: number): void {
    const row = this.rows.find((r) => r.seq === seq);
    if (row) this.choose(row, false);
  }

  private rebuild(): void {
    const items: Item[] = [];
    let prevRun: string | undefined;
    for (const row of this.rows) {
      if (row.runId !== prevRun) items.push({ kind: 'group', runId: row.runId, agent: row.agent, key: `g${row.seq}` });
      prevRun = row.runId;
      items.push({ kind: 'row', row });
    }
    this.items = items;
    this.spacer.style.height = `${items.length * rowHeight}px`;
    this.empty.hidden = items.length > 0;
    this.element.setAttribute('aria-rowcount', String(this.rows.length));
  }

  /** The first row (not header) on screen, and how far the view is scrolled past the top of its item. */
  private anchor(): { key: string; offset: number } | undefined {
    const top = this.element.scrollTop;
    let idx = Math.floor(top / rowHeight);
    while (idx < this.items.length && this.items[idx]!.kind !== 'row') idx++;
    const item = this.items[idx];
    if (!item || item.kind !== 'row') return undefined;
    return { key: `r${item.row.seq}`, offset: top - idx * rowHeight };
  }

  /** Changes the window while the row on screen stays put (or the view stays at the bottom when following). */
  private keepPlace(change: () => void): void {
    // The user may have scrolled away from the bottom a moment ago: their scroll wins over following.
    this.noteUserScroll();
    const anchor = this.anchor();
    change();
    this.rebuild();
    if (this.followFlag) {
      this.place(this.element.scrollHeight);
    } else if (anchor) {
      const idx = this.items.findIndex((i) => i.kind === 'row' && `r${i.row.seq}` === anchor.key);
      if (idx >= 0) this.place(idx * rowHeight + anchor.offset);
    }
    this.render();
  }

  /** Scrolls the view itself; the scroll event this causes is not the user's and leaves following as it is. */
  private place(top: number): void {
    this.element.scrollTop = top;
    this.settledTop = this.element.scrollTop;
  }

  /** Takes in a scroll by the user (its event may not have arrived yet): following starts or ends here only. */
  private noteUserScroll(): void {
    const el = this.element;
    if (el.scrollTop === this.settledTop) return;
    this.settledTop = el.scrollTop;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight / 2;
    // Reaching the bottom starts following only where the window ends at the newest event (otherwise the next
    // page is fetched below); staying at the bottom keeps it, also while a burst of live events larger than a page
    // is still being fetched.
    const follow = atBottom && (this.followFlag || !this.hasAfterFlag);
    if (follow !== this.followFlag) {
      this.followFlag = follow;
      this.host.changed();
    }
  }

  private async load(direction: 'before' | 'after', what: 'page' | 'live'): Promise<void> {
    if (this.loading[direction] || this.rows.length === 0 && direction === 'before') return;
    const edge = direction === 'before' ? this.rows[0]?.seq : this.rows.at(-1)?.seq;
    if (edge === undefined && direction === 'before') return;
    this.loading[direction] = true;
    const generation = this.generation;
    let page: TimelinePage | undefined;
    try {
      page = await this.host.fetch(direction, edge ?? 0);
    } finally {
      if (generation === this.generation) this.loading[direction] = false;
    }
    if (!page || generation !== this.generation) return;
    const got = page;
    this.keepPlace(() => {
      if (direction === 'before') {
        const known = this.rows[0]?.seq ?? Infinity;
        this.rows = got.rows.filter((r) => r.seq < known).concat(this.rows);
        this.hasBeforeFlag = got.hasBefore;
        if (this.rows.length > maxRows) {
          this.rows.length = maxRows;
          this.hasAfterFlag = true;
        }
      } else {
        const known = this.rows.at(-1)?.seq ?? 0;
        // An empty window was filled from the newest end: whether older rows exist is the page's to say.
        if (this.rows.length === 0) this.hasBeforeFlag = got.hasBefore;
        this.rows = this.rows.concat(got.rows.filter((r) => r.seq > known));
        this.hasAfterFlag = got.hasAfter;
        if (!this.hasAfterFlag) this.unseen = 0;
        if (this.rows.length > maxRows) {
          this.rows.splice(0, this.rows.length - maxRows);
          this.hasBeforeFlag = true;
        }
      }
      this.dropRenderedOutside();
    });
    this.host.changed();
    afterPaint(() => this.host.rendered(got.rows.length, what));
    if (direction === 'after') {
      const again = this.liveAgain;
      this.liveAgain = false;
      // Following: keep fetching until the window holds the newest event (a burst can be more than a page), and
      // once more when events were appended while this request was on its way. Scrolled back: only the latter,
      // and only while the window still ends at the newest event.
      if (this.followFlag ? again || this.hasAfterFlag : again && !this.hasAfterFlag) void this.load('after', 'live');
    }
    // A fast scroll may already be past the new rows: keep going.
    this.maybeFetch();
  }

  private onScroll(): void {
    this.noteUserScroll();
    // Ask for the next page at once (a cheap check); draw on the next frame.
    this.maybeFetch();
    if (!this.renderQueued) {
      this.renderQueued = true;
      requestAnimationFrame(() => {
        this.renderQueued = false;
        this.render();
        this.host.changed();
      });
    }
  }

  private maybeFetch(): void {
    if (this.element.clientHeight === 0) return; // not laid out yet: the resize observer calls again
    const first = Math.floor(this.element.scrollTop / rowHeight);
    const last = first + Math.ceil(this.element.clientHeight / rowHeight);
    if (this.hasBeforeFlag && first < prefetchItems) void this.load('before', 'page');
    if (this.hasAfterFlag && this.items.length - last < prefetchItems) void this.load('after', 'page');
  }

  /** Puts the items on screen (plus a margin) into the DOM, reusing the nodes already there. */
  private render(): void {
    const first = Math.max(0, Math.floor(this.element.scrollTop / rowHeight) - overscan);
    const last = Math.min(this.items.length, Math.ceil((this.element.scrollTop + this.element.clientHeight) / rowHeight) + overscan);
    const wanted = new Set<string>();
    for (let i = first; i < last; i++) {
      const item = this.items[i]!;
      const key = item.kind === 'row' ? `r${item.row.seq}` : item.key;
      wanted.add(key);
      let node = this.rendered.get(key);
      if (!node) {
        node = item.kind === 'row' ? this.rowNode(item.row) : this.groupNode(item);
        this.rendered.set(key, node);
        this.element.append(node);
      }
      node.style.top = `${i * rowHeight}px`;
      if (item.kind === 'row') node.setAttribute('aria-rowindex', String(i + 1));
    }
    for (const [key, node] of this.rendered) {
      if (!wanted.has(key)) {
        node.remove();
        this.rendered.delete(key);
      }
    }
  }

  private dropRenderedOutside(): void {
    const held = new Set(this.rows.map((r) => r.seq));
    for (const [key, node] of this.rendered) {
      if (key.startsWith('r') && !held.has(Number(key.slice(1)))) {
        node.remove();
        this.rendered.delete(key);
      } else if (key.startsWith('g')) {
        node.remove();
        this.rendered.delete(key);
      }
    }
  }

  private clearRendered(): void {
    for (const node of this.rendered.values()) node.remove();
    this.rendered.clear();
  }

  private rowNode(r: TimelineRow): HTMLElement {
    const time = new Date(r.ts);
    const row = el('div', {
      className: `row${r.seq === this.selected ? ' selected' : ''}`,
      attrs: { role: 'row', 'data-seq': String(r.seq), 'aria-selected': String(r.seq === this.selected) },
      children: [
        cell('time', Number.isNaN(time.getTime()) ? r.ts : clock(time), r.ts),
        cell('run', shortRun(r.runId), r.runId),
        cell('agent', r.agent),
        cell('type', r.type),
        cell('tool', r.tool ?? ''),
        badgeCell('decision', r.decision),
        badgeCell('level', r.level),
        cell('actor', r.actor ?? ''),
        cell('num duration', r.durationMs !== undefined ? formatMs(r.durationMs) : ''),
        cell('num cost', r.costUsd !== undefined && r.costUsd > 0 ? formatUsd(r.costUsd) : ''),
        cell('summary', r.summary ?? ''),
      ],
    });
    return row;
  }

  private groupNode(g: Extract<Item, { kind: 'group' }>): HTMLElement {
    const run = this.host.run(g.runId);
    const parts: Array<Node | undefined> = [icon(run ? statusIcon(run.status) : 'debug-start'), el('span', { className: 'group-run', text: g.runId, title: g.runId }), el('span', { className: 'group-agent', text: g.agent })];
    if (run) {
      parts.push(el('span', { className: `badge status-${run.status}`, text: run.status }));
      parts.push(el('span', { className: 'group-counts', text: `${run.events} event${run.events === 1 ? '' : 's'}${run.denied ? ` · ${run.denied} denied` : ''}${run.pending ? ` · ${run.pending} pending` : ''}` }));
    }
    return el('div', { className: 'group', attrs: { role: 'row', 'data-run': g.runId }, children: parts });
  }

  private onClick(e: MouseEvent): void {
    const target = (e.target as HTMLElement | null)?.closest<HTMLElement>('.row');
    const seq = Number(target?.dataset.seq);
    const row = this.rows.find((r) => r.seq === seq);
    if (row) this.choose(row, false);
  }

  private onKey(e: KeyboardEvent): void {
    const idx = this.selected === undefined ? -1 : this.rows.findIndex((r) => r.seq === this.selected);
    const perScreen = Math.max(1, Math.floor(this.element.clientHeight / rowHeight) - 1);
    let next: number | undefined;
    if (e.key === 'ArrowDown') next = idx < 0 ? 0 : idx + 1;
    else if (e.key === 'ArrowUp') next = idx < 0 ? this.rows.length - 1 : idx - 1;
    else if (e.key === 'PageDown') next = idx + perScreen;
    else if (e.key === 'PageUp') next = Math.max(0, idx - perScreen);
    else return;
    e.preventDefault();
    const row = this.rows[Math.max(0, Math.min(this.rows.length - 1, next))];
    if (row) this.choose(row, true);
  }

  private choose(row: TimelineRow, reveal: boolean): void {
    const old = this.selected !== undefined ? this.rendered.get(`r${this.selected}`) : undefined;
    old?.classList.remove('selected');
    old?.setAttribute('aria-selected', 'false');
    this.selected = row.seq;
    const node = this.rendered.get(`r${row.seq}`);
    node?.classList.add('selected');
    node?.setAttribute('aria-selected', 'true');
    if (reveal) {
      const idx = this.items.findIndex((i) => i.kind === 'row' && i.row.seq === row.seq);
      const top = idx * rowHeight;
      if (top < this.element.scrollTop) this.element.scrollTop = top;
      else if (top + rowHeight > this.element.scrollTop + this.element.clientHeight) this.element.scrollTop = top + rowHeight - this.element.clientHeight;
    }
    this.host.select(row);
    this.host.changed();
  }
}

function cell(kind: string, text: string, title?: string): HTMLElement {
  return el('span', { className: `cell ${kind}`, text, title: title ?? text, attrs: { role: 'gridcell' } });
}

/** A coloured badge; the class comes from a value the protocol already limited to a fixed set (zod enum). */
function badgeCell(kind: 'decision' | 'level', value: string | undefined): HTMLElement {
  const c = el('span', { className: `cell ${kind}`, attrs: { role: 'gridcell' } });
  if (value) c.append(el('span', { className: `badge ${kind}-${value}`, text: value }));
  return c;
}

/** Run ids share a long date prefix; the row shows the distinctive end (the group header and tooltip the whole). */
export function shortRun(runId: string): string {
  return runId.length > 12 ? `…${runId.slice(-6)}` : runId;
}

function clock(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatUsd(usd: number): string {
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** Runs `f` once the browser has painted what was just changed. */
function afterPaint(f: () => void): void {
  requestAnimationFrame(() => setTimeout(f, 0));
}
