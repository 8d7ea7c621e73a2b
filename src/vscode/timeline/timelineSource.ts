// What the Audit Timeline panel reads from. The panel depends on this interface only, so it can be driven by the
// real audit log (auditTimelineSource.ts) or by a test's own source. No `vscode` import: unit tests use it as is.
import type { AuditEvent } from '../../protocol/auditEvent';
import type { ExportFormat, PageQuery, RunSummary, TimelineFacets, TimelinePage, TimelineFilter, VerifyOutcome } from '../../protocol/timelineProtocol';

/** Events were appended (possibly by another process); `lastSeq` is the newest one. */
export interface AppendNotice {
  readonly lastSeq: number;
  readonly count: number;
}

export interface SourceSubscription {
  dispose(): void;
}

export interface TimelineSource {
  /** One page of rows in ascending seq order (keyset paging, see PageQuery). */
  page(query: PageQuery): Promise<TimelinePage>;
  /** The whole event, or undefined when there is no such seq. */
  event(seq: number): Promise<AuditEvent | undefined>;
  /** The most recent runs (newest first), with status and counts. */
  runs(limit: number): Promise<RunSummary[]>;
  /** Values for the filter drop-downs. */
  facets(): Promise<TimelineFacets>;
  /** Checks the hash chain of the whole log. */
  verify(): Promise<VerifyOutcome>;
  /** Writes the events matching `filter` (all when absent) to `file`; resolves with how many were written. */
  export(format: ExportFormat, file: string, filter?: TimelineFilter): Promise<number>;
  /** Fires when events are appended; listeners may be called often, the panel coalesces. */
  onDidAppend(listener: (notice: AppendNotice) => void): SourceSubscription;
  /** Optional: start loading whatever later requests will need (called once the first page is posted). */
  prefetch?(): void;
  /** Stops polling and releases what the source opened. */
  dispose(): Promise<void>;
}
