// The toolbar: text search, the filters (run, agent, tool, type, decision, level, time range), Verify Chain and
// Export. Built from @vscode-elements/elements; option labels (run ids, agent and tool names) are set as text.
import { approvalLevels, auditEventTypes, decisions } from '../../../src/protocol/auditEvent';
import type { ExportFormat, RunSummary, TimelineFacets, TimelineFilter } from '../../../src/protocol/timelineProtocol';
import { maxFilterChars } from '../../../src/protocol/timelineProtocol';
import { clear, el, icon } from './dom';

/** The properties of the vscode-elements form controls this file uses. */
interface ValueElement extends HTMLElement {
  value: string;
}

type SelectKey = 'runId' | 'agent' | 'tool' | 'type' | 'decision' | 'level';

export interface FilterBarHost {
  filterChanged(filter: TimelineFilter): void;
  verify(): void;
  exportAs(format: ExportFormat): void;
}

const searchDelayMs = 250;

export class FilterBar {
  readonly element: HTMLElement;
  private readonly search: ValueElement;
  private readonly selects: Record<SelectKey, ValueElement>;
  private readonly from: ValueElement;
  private readonly to: ValueElement;
  private readonly verifyResult: HTMLElement;
  private readonly exportFormat: ValueElement;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  private filter: TimelineFilter = {};
  /** Set while the bar itself changes control values, so their change events are not taken as user input. */
  private updating = false;

  constructor(private readonly host: FilterBarHost) {
    this.search = el('vscode-textfield', { attrs: { placeholder: 'Search tool, arguments, reason', 'aria-label': 'Search events', maxlength: String(maxFilterChars), class: 'search' } }) as ValueElement;
    this.search.append(el('vscode-icon', { attrs: { slot: 'content-before', name: 'search', title: 'search' } }));
    this.search.addEventListener('input', () => {
      if (this.updating) return;
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.emit(), searchDelayMs);
    });
    this.selects = {
      runId: this.select('runId', 'Any run', []),
      agent: this.select('agent', 'Any agent', []),
      tool: this.select('tool', 'Any tool', []),
      type: this.select('type', 'Any type', auditEventTypes.map((t) => [t, t])),
      decision: this.select('decision', 'Any decision', decisions.map((d) => [d, d])),
      level: this.select('level', 'Any level', approvalLevels.map((l) => [l, l])),
    };
    this.from = this.time('From (local time)');
    this.to = this.time('To (local time)');
    const clearButton = el('vscode-button', { text: 'Clear', title: 'Clear all filters', attrs: { icon: 'clear-all', secondary: '', 'data-id': 'clear' } });
    clearButton.addEventListener('click', () => this.set({}, true));

    const verify = el('vscode-button', { text: 'Verify Chain', attrs: { icon: 'verified', 'data-id': 'verify' } });
    verify.addEventListener('click', () => this.host.verify());
    this.verifyResult = el('span', { className: 'verify-result', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.exportFormat = el('vscode-single-select', { attrs: { 'aria-label': 'Export format', class: 'export-format' } }) as ValueElement;
    for (const [v, label] of [['jsonl', 'JSONL'], ['csv', 'CSV'], ['otlp', 'OTLP (JSON)']] as const) this.exportFormat.append(el('vscode-option', { text: label, attrs: { value: v } }));
    const exportButton = el('vscode-button', { text: 'Export…', attrs: { icon: 'export', secondary: '', 'data-id': 'export' } });
    exportButton.addEventListener('click', () => this.host.exportAs((this.exportFormat.value || 'jsonl') as ExportFormat));

    this.element = el('header', {
      className: 'toolbar',
      children: [
        el('div', { className: 'filters', attrs: { role: 'search' }, children: [this.search, ...Object.values(this.selects), this.from, this.to, clearButton] }),
        el('div', { className: 'tools', children: [verify, this.verifyResult, this.exportFormat, exportButton] }),
      ],
    });
  }

  get current(): TimelineFilter {
    return this.filter;
  }

  /** Shows `filter` in the controls; `notify` when it should also reload the timeline. */
  set(filter: TimelineFilter, notify: boolean): void {
    this.updating = true;
    try {
      this.search.value = filter.text ?? '';
      for (const k of Object.keys(this.selects) as SelectKey[]) this.selects[k].value = filter[k] ?? '';
      this.from.value = filter.from ? toLocalInput(filter.from) : '';
      this.to.value = filter.to ? toLocalInput(filter.to) : '';
    } finally {
      this.updating = false;
    }
    this.filter = filter;
    if (notify) this.host.filterChanged(filter);
  }

  /** New choices for the run, agent and tool filters; the current choice stays even when no longer offered. */
  setFacets(f: TimelineFacets): void {
    this.options('runId', 'Any run', f.runs.map((r: RunSummary) => [r.runId, `${r.agent} · ${r.runId}`]));
    this.options('agent', 'Any agent', f.agents.map((a) => [a, a]));
    this.options('tool', 'Any tool', f.tools.map((t) => [t, t]));
  }

  /** Adds what live updates brought (new runs, agents, tools) to the choices, keeping what is there. */
  mergeFacets(runs: readonly RunSummary[], tools: readonly string[]): void {
    const merged = (key: SelectKey, fresh: Array<[string, string]>) => {
      const have = Array.from(this.selects[key].querySelectorAll('vscode-option')).map((o) => [o.getAttribute('value') ?? '', o.textContent ?? ''] as [string, string]).filter(([v]) => v !== '');
      const known = new Set(have.map(([v]) => v));
      const added = fresh.filter(([v]) => !known.has(v));
      return added.length > 0 ? [...have, ...added] : undefined;
    };
    const runChoices = merged('runId', runs.map((r) => [r.runId, `${r.agent} · ${r.runId}`]));
    if (runChoices) this.options('runId', 'Any run', runChoices);
    const agentChoices = merged('agent', runs.map((r) => [r.agent, r.agent]));
    if (agentChoices) this.options('agent', 'Any agent', agentChoices.sort((a, b) => a[0].localeCompare(b[0])));
    const toolChoices = merged('tool', tools.map((t) => [t, t]));
    if (toolChoices) this.options('tool', 'Any tool', toolChoices.sort((a, b) => a[0].localeCompare(b[0])));
  }

  showVerify(text: string, state: 'ok' | 'bad' | 'busy'): void {
    clear(this.verifyResult);
    this.verifyResult.className = `verify-result verify-${state}`;
    this.verifyResult.append(icon(state === 'ok' ? 'pass-filled' : state === 'bad' ? 'error' : 'loading'), el('span', { text }));
  }

  private emit(): void {
    const next: TimelineFilter = {};
    const text = this.search.value.trim().slice(0, maxFilterChars);
    if (text) next.text = text;
    for (const k of Object.keys(this.selects) as SelectKey[]) {
      const v = this.selects[k].value;
      if (v) (next as Record<string, string>)[k] = v;
    }
    const from = fromLocalInput(this.from.value);
    const to = fromLocalInput(this.to.value);
    if (from) next.from = from;
    if (to) next.to = to;
    this.filter = next;
    this.host.filterChanged(next);
  }

  private select(key: SelectKey, any: string, choices: ReadonlyArray<readonly [string, string]>): ValueElement {
    const s = el('vscode-single-select', { attrs: { 'aria-label': any.replace(/^Any /, 'Filter by '), 'data-filter': key, class: `filter-${key}` } }) as ValueElement;
    s.append(el('vscode-option', { text: any, attrs: { value: '' } }));
    for (const [v, label] of choices) s.append(el('vscode-option', { text: label, attrs: { value: v } }));
    s.addEventListener('change', () => {
      if (!this.updating) this.emit();
    });
    return s;
  }

  private options(key: SelectKey, any: string, choices: Array<[string, string]>): void {
    const s = this.selects[key];
    const keep = this.filter[key];
    if (keep && !choices.some(([v]) => v === keep)) choices.unshift([keep, keep]);
    this.updating = true;
    try {
      clear(s);
      // The kept option is marked `selected`: vscode-single-select rebuilds its list from the options when they
      // change (a slotchange, after this returns) and selects the marked one, else the first ("Any …"). Setting
      // `value` alone is matched against the old list, then lost in that rebuild, and the next filter change
      // would silently drop this filter.
      s.append(el('vscode-option', { text: any, attrs: { value: '', ...(keep ? {} : { selected: '' }) } }));
      for (const [v, label] of choices) s.append(el('vscode-option', { text: label, attrs: { value: v, ...(v === keep ? { selected: '' } : {}) } }));
      s.value = keep ?? '';
    } finally {
      this.updating = false;
    }
  }

  private time(label: string): ValueElement {
    const t = el('vscode-textfield', { attrs: { type: 'datetime-local', 'aria-label': label, title: label, class: 'time' } }) as ValueElement;
    t.addEventListener('change', () => {
      if (!this.updating) this.emit();
    });
    return t;
  }
}

/** `datetime-local` values are local wall-clock times without a zone; the filter carries UTC instants. */
function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
