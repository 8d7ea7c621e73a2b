// Turns stored audit events into what the timeline webview shows: a short row per event and, for the details
// pane, the whole (already redacted) event with its args and result as pretty JSON. Everything here is plain
// data; the webview renders all of it as text. No `vscode` import: unit-tested directly.
import type { AuditEvent } from '../../protocol/auditEvent';
import type { EventAction, EventDetails, TimelineRow } from '../../protocol/timelineProtocol';

/** Longest row summary; the webview cuts it visually too, this keeps page messages small. */
export const maxSummaryChars = 240;
/** Longest single string inside the details JSON; a 10 MB file body is not useful in a details pane. */
export const maxDetailStringChars = 20_000;
/** Longest details JSON text per field. */
export const maxDetailJsonChars = 200_000;

export function rowOf(e: AuditEvent): TimelineRow {
  const row: TimelineRow = { seq: e.seq, ts: e.ts, runId: e.runId, agent: e.agent, type: e.type };
  if (e.tool !== undefined) row.tool = e.tool;
  if (e.decision !== undefined) row.decision = e.decision;
  if (e.level !== undefined) row.level = e.level;
  if (e.actor !== undefined) row.actor = e.actor;
  if (e.durationMs !== undefined) row.durationMs = e.durationMs;
  if (e.costUsd !== undefined) row.costUsd = e.costUsd;
  const summary = summaryOf(e);
  if (summary) row.summary = cut(summary, maxSummaryChars);
  return row;
}

/** The one thing a reader wants to see on the row: the file, the URL, the question, the snapshot, the reason. */
function summaryOf(e: AuditEvent): string | undefined {
  const args = asRecord(e.args);
  const pick = (...keys: string[]) => {
    for (const k of keys) {
      const v = args?.[k];
      if (typeof v === 'string' && v.length > 0) return v;
    }
    return undefined;
  };
  if (e.type === 'apply' || e.type === 'rollback') {
    const snapshot = pick('snapshot');
    const files = Array.isArray(args?.files) ? args.files.length : undefined;
    if (snapshot) return `${snapshot}${files !== undefined ? ` · ${files} file${files === 1 ? '' : 's'}` : ''}`;
  }
  if (e.type === 'run.start') return pick('task', 'agentFile') ?? e.reason;
  const subject = pick('path', 'url', 'question', 'pattern');
  if (subject && e.reason) return `${subject} — ${e.reason}`;
  return subject ?? e.reason ?? errorOf(e.result);
}

function errorOf(result: unknown): string | undefined {
  const r = asRecord(result);
  return typeof r?.error === 'string' ? r.error : undefined;
}

export function detailsOf(e: AuditEvent, extra: { path?: string } = {}): EventDetails {
  const d: EventDetails = { row: rowOf(e), hash: e.hash, prevHash: e.prevHash, actions: actionsOf(e, extra.path) };
  if (e.args !== undefined) d.argsJson = prettyJson(e.args);
  if (e.result !== undefined) d.resultJson = prettyJson(e.result);
  if (e.rule !== undefined) d.rule = e.rule;
  if (e.reason !== undefined) d.reason = cut(e.reason, maxDetailStringChars);
  const snapshot = snapshotOf(e);
  if (snapshot) d.snapshotId = snapshot;
  return d;
}

/** The snapshot an apply or rollback event names (args.snapshot, written by the snapshot store). */
export function snapshotOf(e: AuditEvent): string | undefined {
  if (e.type !== 'apply' && e.type !== 'rollback') return undefined;
  const s = asRecord(e.args)?.snapshot;
  return typeof s === 'string' && s.length > 0 ? s : undefined;
}

/** The workspace path a file tool's event is about, when its args say. */
export function pathOf(e: AuditEvent): string | undefined {
  const p = asRecord(e.args)?.path;
  return typeof p === 'string' && p.length > 0 ? p : undefined;
}

/** File tools whose approvals have a proposed change (a diff) behind them. */
export const diffTools: ReadonlySet<string> = new Set(['fs.write', 'fs.delete']);

/** Whether an event is one a human decides on for a file: the approval itself or the pending decision before it. */
export function isFileApproval(e: AuditEvent): boolean {
  return (e.type === 'approval' || (e.type === 'decision' && e.decision === 'pending')) && e.tool !== undefined && diffTools.has(e.tool);
}

function actionsOf(e: AuditEvent, path: string | undefined): EventAction[] {
  if (snapshotOf(e)) return ['openSnapshot', 'rollback'];
  if (isFileApproval(e) && (path ?? pathOf(e))) return ['openDiff'];
  return [];
}

/** Pretty JSON of a stored value, with very long strings and the total size cut so the page stays responsive. */
export function prettyJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? cut(v, maxDetailStringChars) : v), 2) ?? 'undefined';
  } catch (err) {
    text = `(cannot be shown: ${(err as Error).message})`;
  }
  return cut(text, maxDetailJsonChars);
}

export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  // Never split a surrogate pair: a lone surrogate is not valid text.
  let end = max;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${s.slice(0, end)}… (${s.length - end} more characters)`;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
