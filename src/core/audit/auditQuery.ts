// What the timeline and the CLI ask the audit log: filtered pages of events (keyset by seq), and runs.
import type { ApprovalLevel, AuditEvent, AuditEventType, Decision } from '../../protocol/auditEvent';

export interface AuditQuery {
  readonly runId?: string | readonly string[];
  readonly agent?: string | readonly string[];
  readonly tool?: string | readonly string[];
  readonly type?: AuditEventType | readonly AuditEventType[];
  readonly decision?: Decision | readonly Decision[];
  readonly level?: ApprovalLevel | readonly ApprovalLevel[];
  /** ISO 8601 time: events at or after it. */
  readonly since?: string;
  /** ISO 8601 time: events strictly before it. */
  readonly until?: string;
  /** Case-insensitive substring of the tool name, the arguments (as JSON) or the reason. */
  readonly text?: string;
  /** The next older page: events with seq < before, newest first. */
  readonly before?: number;
  /** The next newer page: events with seq > after, oldest first. */
  readonly after?: number;
  /** Events per page: 100 unless given, at most 1000. */
  readonly limit?: number;
}

export interface AuditPage {
  readonly events: readonly AuditEvent[];
  /** `desc` (newest first) unless the query gave `after`. */
  readonly order: 'desc' | 'asc';
  /** More events match beyond the last one of this page, in the same direction. */
  readonly hasMore: boolean;
}

/** `running` until a run.end event arrives; `unknown` when the log never saw the run start. */
export type RunStatus = 'running' | 'completed' | 'failed' | 'halted' | 'unknown';

export interface RunSummary {
  readonly runId: string;
  readonly agent: string;
  readonly status: RunStatus;
  /** The reason given with run.end (why it failed or was halted). */
  readonly reason?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly lastAt: string;
  readonly events: number;
  readonly toolCalls: number;
  readonly denied: number;
  readonly pending: number;
  readonly approvals: number;
  readonly alerts: number;
  readonly costUsd: number;
}

export interface RunDetail extends RunSummary {
  readonly byType: Readonly<Partial<Record<AuditEventType, number>>>;
  readonly byDecision: Readonly<Partial<Record<Decision, number>>>;
}

export interface RunsQuery {
  readonly agent?: string;
  readonly status?: RunStatus;
  /** Runs whose last event is older than this seq (the next page). */
  readonly before?: number;
  readonly limit?: number;
}

export function asList<T>(v: T | readonly T[] | undefined): readonly T[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? (v as readonly T[]) : [v as T];
}
