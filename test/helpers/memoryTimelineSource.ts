// A TimelineSource over an array of events, for tests of the timeline panel's message handling (the real
// source over AuditLog has its own tests). Paging follows the same keyset rules.
import type { AuditEvent } from '../../src/protocol/auditEvent';
import type { ExportFormat, PageQuery, RunSummary, TimelineFacets, TimelineFilter, TimelinePage, VerifyOutcome } from '../../src/protocol/timelineProtocol';
import { rowOf } from '../../src/vscode/timeline/timelineRows';
import type { AppendNotice, SourceSubscription, TimelineSource } from '../../src/vscode/timeline/timelineSource';

export class MemoryTimelineSource implements TimelineSource {
  readonly exports: Array<{ format: ExportFormat; file: string; filter?: TimelineFilter }> = [];
  private readonly listeners = new Set<(n: AppendNotice) => void>();

  constructor(readonly events: AuditEvent[] = []) {}

  push(...events: AuditEvent[]): void {
    this.events.push(...events);
    for (const l of this.listeners) l({ lastSeq: events.at(-1)!.seq, count: events.length });
  }

  async page(q: PageQuery): Promise<TimelinePage> {
    const all = this.events.filter((e) => matches(e, q.filter));
    let rows: AuditEvent[];
    let hasBefore: boolean;
    let hasAfter: boolean;
    switch (q.direction) {
      case 'latest':
        rows = all.slice(-q.limit);
        hasBefore = all.length > rows.length;
        hasAfter = false;
        break;
      case 'oldest':
        rows = all.slice(0, q.limit);
        hasBefore = false;
        hasAfter = all.length > rows.length;
        break;
      case 'before': {
        const older = all.filter((e) => e.seq < q.seq!);
        rows = older.slice(-q.limit);
        hasBefore = older.length > rows.length;
        hasAfter = all.some((e) => e.seq >= q.seq!);
        break;
      }
      case 'after':
      case 'around': {
        const from = q.direction === 'around' ? Math.max(0, all.findIndex((e) => e.seq >= q.seq!) - Math.floor(q.limit / 2)) : all.findIndex((e) => e.seq > q.seq!);
        rows = from < 0 ? [] : all.slice(from, from + q.limit);
        hasBefore = from > 0;
        hasAfter = from >= 0 && from + q.limit < all.length;
        break;
      }
    }
    return { rows: rows.map(rowOf), hasBefore, hasAfter };
  }

  async event(seq: number): Promise<AuditEvent | undefined> {
    return this.events.find((e) => e.seq === seq);
  }

  async runs(limit: number): Promise<RunSummary[]> {
    const byRun = new Map<string, RunSummary>();
    for (const e of this.events) {
      const r = byRun.get(e.runId) ?? { runId: e.runId, agent: e.agent, status: 'running', events: 0, denied: 0, pending: 0 };
      r.events++;
      if (e.decision === 'deny' || e.decision === 'rejected') r.denied++;
      if (e.type === 'run.end') r.status = 'completed';
      byRun.set(e.runId, r);
    }
    return [...byRun.values()].reverse().slice(0, limit);
  }

  async facets(): Promise<TimelineFacets> {
    return {
      runs: await this.runs(200),
      agents: [...new Set(this.events.map((e) => e.agent))].sort(),
      tools: [...new Set(this.events.flatMap((e) => (e.tool ? [e.tool] : [])))].sort(),
    };
  }

  async verify(): Promise<VerifyOutcome> {
    return { ok: true, checked: this.events.length, message: `${this.events.length} events verified`, ms: 0 };
  }

  async export(format: ExportFormat, file: string, filter?: TimelineFilter): Promise<number> {
    this.exports.push({ format, file, ...(filter ? { filter } : {}) });
    return this.events.filter((e) => matches(e, filter ?? {})).length;
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
  }

  onDidAppend(listener: (n: AppendNotice) => void): SourceSubscription {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}

function matches(e: AuditEvent, f: TimelineFilter): boolean {
  if (f.runId && e.runId !== f.runId) return false;
  if (f.agent && e.agent !== f.agent) return false;
  if (f.tool && e.tool !== f.tool) return false;
  if (f.type && e.type !== f.type) return false;
  if (f.decision && e.decision !== f.decision) return false;
  if (f.level && e.level !== f.level) return false;
  if (f.from && e.ts < f.from) return false;
  if (f.to && e.ts >= f.to) return false;
  if (f.text && !`${e.tool ?? ''} ${JSON.stringify(e.args ?? '')} ${e.reason ?? ''}`.toLowerCase().includes(f.text.toLowerCase())) return false;
  return true;
}

/** A plausible event; `over` replaces fields. Hashes are placeholders (this source does not chain). */
export function fakeEvent(seq: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    seq,
    ts: new Date(Date.UTC(2026, 10, 21, 10, 0, 0, seq)).toISOString(),
    runId: 'run-1',
    agent: 'refactor',
    type: 'tool.call',
    tool: 'fs.read',
    args: { path: `src/file${seq}.js` },
    decision: 'allow',
    level: 'auto',
    actor: 'policy',
    prevHash: 'p'.repeat(64),
    hash: 'h'.repeat(64),
    ...over,
  };
}
