// The timeline's view of the AuditLog: keyset pages by seq in both directions, event details, runs, verify,
// export, and live appends (the log's own appends, plus a cheap poll that picks up other writers' events).
// No `vscode` import: unit-tested against a real AuditLog.
import type { AuditLog } from '../../core/audit/auditLog';
import type { AuditPage, AuditQuery, RunSummary as AuditRunSummary } from '../../core/audit/auditQuery';
import type { AuditEvent } from '../../protocol/auditEvent';
import type { ExportFormat, PageQuery, RunSummary, TimelineFacets, TimelineFilter, TimelinePage, VerifyOutcome } from '../../protocol/timelineProtocol';
import { rowOf } from './timelineRows';
import type { AppendNotice, SourceSubscription, TimelineSource } from './timelineSource';

/** Writes `events` to `file` in `format`; resolves with how many were written (the CLI's exporter). */
export type AuditExporter = (format: ExportFormat, events: AsyncIterable<AuditEvent>, file: string) => Promise<number>;

/** What the timeline reads: an AuditLog, or an AuditReader (the same reads, the database on a worker thread). */
export type TimelineAuditLog = Pick<AuditLog, 'query' | 'get' | 'runs' | 'verify' | 'iterate' | 'onDidAppend' | 'close' | 'sync' | 'lastEvent'>;

export interface AuditTimelineSourceOptions {
  readonly exporter: AuditExporter;
  /** How often to look for events appended by another writer while someone listens; 0 turns polling off. */
  readonly pollMs?: number;
  /** Runs offered in the runs list and the run filter. */
  readonly maxRuns?: number;
  /** Close the log when the source is disposed (the source opened it). */
  readonly ownsLog?: boolean;
}

/** Built-in tools, always offered by the tool filter (custom tools join them as they appear). */
const builtinTools = ['agent.escalate', 'fs.delete', 'fs.list', 'fs.read', 'fs.search', 'fs.write', 'net.fetch'];

export class AuditTimelineSource implements TimelineSource {
  private readonly listeners = new Set<(n: AppendNotice) => void>();
  private logSub: { dispose(): void } | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private readonly seenTools = new Set<string>(builtinTools);

  constructor(
    private readonly log: TimelineAuditLog,
    private readonly o: AuditTimelineSourceOptions,
  ) {}

  async page(q: PageQuery): Promise<TimelinePage> {
    const base = toAuditQuery(q.filter);
    switch (q.direction) {
      case 'latest': {
        const p = await this.log.query({ ...base, limit: q.limit });
        return { rows: ascending(p).map(rowOf), hasBefore: p.hasMore, hasAfter: false };
      }
      case 'oldest': {
        const p = await this.log.query({ ...base, after: 0, limit: q.limit });
        return { rows: ascending(p).map(rowOf), hasBefore: false, hasAfter: p.hasMore };
      }
      case 'before': {
        const p = await this.log.query({ ...base, before: q.seq ?? Number.MAX_SAFE_INTEGER, limit: q.limit });
        // The caller holds the row at `seq`, so there is something after this page.
        return { rows: ascending(p).map(rowOf), hasBefore: p.hasMore, hasAfter: q.seq !== undefined };
      }
      case 'after': {
        const p = await this.log.query({ ...base, after: q.seq ?? 0, limit: q.limit });
        return { rows: ascending(p).map(rowOf), hasBefore: (q.seq ?? 0) > 0, hasAfter: p.hasMore };
      }
      case 'around': {
        const seq = q.seq ?? 1;
        const half = Math.floor(q.limit / 2);
        const [older, newer] = await Promise.all([
          half > 0 ? this.log.query({ ...base, before: seq, limit: half }) : Promise.resolve<AuditPage>({ events: [], order: 'desc', hasMore: true }),
          this.log.query({ ...base, after: seq - 1, limit: q.limit - half }),
        ]);
        return { rows: [...ascending(older), ...ascending(newer)].map(rowOf), hasBefore: older.hasMore, hasAfter: newer.hasMore };
      }
    }
  }

  event(seq: number): Promise<AuditEvent | undefined> {
    return this.log.get(seq);
  }

  async runs(limit: number): Promise<RunSummary[]> {
    return (await this.log.runs({ limit: Math.min(limit, this.o.maxRuns ?? 200) })).map(toRunSummary);
  }

  async facets(): Promise<TimelineFacets> {
    const runs = await this.runs(this.o.maxRuns ?? 200);
    // Agents: every run's, not only the recent ones (the log keeps run summaries in memory).
    const agents = new Set((await this.log.runs({ limit: 10_000 })).map((r) => r.agent));
    // Custom tools: whatever the newest events used (the log offers no distinct-values query).
    const recent = await this.log.query({ limit: 200 });
    for (const e of recent.events) if (e.tool) this.seenTools.add(e.tool);
    return { runs, agents: [...agents].sort(), tools: [...this.seenTools].sort() };
  }

  async verify(): Promise<VerifyOutcome> {
    const started = performance.now();
    const v = await this.log.verify();
    const outcome: VerifyOutcome = { ok: v.ok, checked: v.events, message: v.message, ms: performance.now() - started };
    if (v.firstBadSeq !== undefined) outcome.firstBadSeq = v.firstBadSeq;
    return outcome;
  }

  export(format: ExportFormat, file: string, filter?: TimelineFilter): Promise<number> {
    return this.o.exporter(format, this.log.iterate(filter ? toAuditQuery(filter) : {}), file);
  }

  onDidAppend(listener: (n: AppendNotice) => void): SourceSubscription {
    this.listeners.add(listener);
    this.logSub ??= this.log.onDidAppend((events) => {
      const last = events.at(-1);
      if (last) this.fire({ lastSeq: last.seq, count: events.length });
    });
    const pollMs = this.o.pollMs ?? 500;
    if (pollMs > 0 && !this.poll) {
      this.poll = setInterval(() => void this.pollOnce(), pollMs);
      this.poll.unref?.();
    }
    return {
      dispose: () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.stop();
      },
    };
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
    this.stop();
    if (this.o.ownsLog) await this.log.close();
  }

  private stop(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    this.logSub?.dispose();
    this.logSub = undefined;
  }

  /** Another process (the runner's writer, the CLI) may have appended: sync() reads only what is new. */
  private async pollOnce(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const added = await this.log.sync();
      if (added > 0) this.fire({ lastSeq: this.log.lastEvent.seq, count: added });
    } catch {
      // A failed look is retried on the next tick; the panel keeps what it shows.
    } finally {
      this.polling = false;
    }
  }

  private fire(n: AppendNotice): void {
    for (const l of this.listeners) l(n);
  }
}

/** The timeline's filter in the AuditLog's terms. */
export function toAuditQuery(f: TimelineFilter): AuditQuery {
  const q: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } = {};
  if (f.runId) q.runId = f.runId;
  if (f.agent) q.agent = f.agent;
  if (f.tool) q.tool = f.tool;
  if (f.type) q.type = f.type;
  if (f.decision) q.decision = f.decision;
  if (f.level) q.level = f.level;
  if (f.from) q.since = new Date(f.from).toISOString();
  if (f.to) q.until = new Date(f.to).toISOString();
  if (f.text) q.text = f.text;
  return q;
}

function ascending(p: AuditPage): readonly AuditEvent[] {
  return p.order === 'asc' ? p.events : [...p.events].reverse();
}

function toRunSummary(r: AuditRunSummary): RunSummary {
  const s: RunSummary = { runId: r.runId, agent: r.agent, status: r.status, events: r.events, denied: r.denied, pending: r.pending };
  if (r.startedAt) s.startedAt = r.startedAt;
  if (r.endedAt) s.endedAt = r.endedAt;
  if (r.reason) s.reason = r.reason;
  return s;
}
