// Every message between the Audit Timeline webview (media/src/timeline) and its host panel
// (src/vscode/timeline). Commands go webview→host, requests go webview→host and get exactly one typed response,
// notifications go host→webview. Both sides safeParse what they receive and reject (and log) anything else:
// objects are strict, strings and lists are bounded, so a hostile or broken peer cannot smuggle in extra fields.
import * as z from 'zod';
import { approvalLevels, auditEventTypes, decisions } from './auditEvent';

// ---- shared shapes ----

/** Longest text a filter field may carry; a search box does not need more. */
export const maxFilterChars = 500;
/** Rows per page the host returns at most; the webview holds only a few pages at a time. */
export const maxPageSize = 500;

const id = z.string().min(1).max(200);
const seq = z.number().int().positive();

/** What the timeline shows: every field optional, all of them ANDed. `text` searches tool, args and reason. */
export const TimelineFilter = z.strictObject({
  runId: id.optional(),
  agent: id.optional(),
  tool: id.optional(),
  type: z.enum(auditEventTypes).optional(),
  decision: z.enum(decisions).optional(),
  level: z.enum(approvalLevels).optional(),
  /** ISO 8601 instants; `from` inclusive, `to` exclusive. */
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  text: z.string().min(1).max(maxFilterChars).optional(),
});
export type TimelineFilter = z.infer<typeof TimelineFilter>;

/**
 * Keyset paging by seq. `latest`/`oldest` start at either end; `before`/`after` continue from a seq the webview
 * already holds; `around` opens a page centred on a seq (restoring the selection after a reload).
 */
export const PageQuery = z.strictObject({
  filter: TimelineFilter,
  direction: z.enum(['latest', 'oldest', 'before', 'after', 'around']),
  seq: seq.optional(),
  limit: z.number().int().min(1).max(maxPageSize),
});
export type PageQuery = z.infer<typeof PageQuery>;

/** One line of the timeline: what the row shows, nothing more (args and result come with `details`). */
export const TimelineRow = z.strictObject({
  seq,
  ts: z.string().max(64),
  runId: z.string(),
  agent: z.string(),
  type: z.enum(auditEventTypes),
  tool: z.string().optional(),
  decision: z.enum(decisions).optional(),
  level: z.enum(approvalLevels).optional(),
  actor: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  costUsd: z.number().nonnegative().optional(),
  /** A short, already truncated subject: the path, URL, question or reason. Agent-controlled: render as text. */
  summary: z.string().optional(),
});
export type TimelineRow = z.infer<typeof TimelineRow>;

/** Rows are always in ascending seq order; `hasBefore`/`hasAfter` say whether more match on either side. */
export const TimelinePage = z.strictObject({
  rows: z.array(TimelineRow).max(maxPageSize),
  hasBefore: z.boolean(),
  hasAfter: z.boolean(),
});
export type TimelinePage = z.infer<typeof TimelinePage>;

export const RunStatus = z.enum(['running', 'completed', 'failed', 'halted', 'unknown']);
export type RunStatus = z.infer<typeof RunStatus>;

/** A run as a group: its status and how many events, denials and pending approvals it has. */
export const RunSummary = z.strictObject({
  runId: z.string(),
  agent: z.string(),
  status: RunStatus,
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  events: z.number().int().nonnegative(),
  denied: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  reason: z.string().optional(),
});
export type RunSummary = z.infer<typeof RunSummary>;

/** Values the filter drop-downs offer. */
export const TimelineFacets = z.strictObject({
  runs: z.array(RunSummary),
  agents: z.array(z.string()),
  tools: z.array(z.string()),
});
export type TimelineFacets = z.infer<typeof TimelineFacets>;

/** What the details pane can do with an event: jump to its diff or snapshot, roll it back. */
export const EventAction = z.enum(['openDiff', 'openSnapshot', 'rollback']);
export type EventAction = z.infer<typeof EventAction>;

/**
 * One event in full, for the details pane. `args` and `result` are the redacted values as pretty JSON text
 * (the host formats them, so the webview never evaluates anything); very long strings are cut.
 */
export const EventDetails = z.strictObject({
  row: TimelineRow,
  argsJson: z.string().optional(),
  resultJson: z.string().optional(),
  rule: z.string().optional(),
  reason: z.string().optional(),
  hash: z.string(),
  prevHash: z.string(),
  actions: z.array(EventAction),
  /** The snapshot an apply or rollback event names, for the buttons' labels. */
  snapshotId: z.string().optional(),
});
export type EventDetails = z.infer<typeof EventDetails>;

export const VerifyOutcome = z.strictObject({
  ok: z.boolean(),
  checked: z.number().int().nonnegative(),
  /** The first event that does not chain, when `ok` is false. */
  firstBadSeq: z.number().int().optional(),
  message: z.string(),
  ms: z.number().nonnegative(),
});
export type VerifyOutcome = z.infer<typeof VerifyOutcome>;

export const ExportFormat = z.enum(['jsonl', 'csv', 'otlp']);
export type ExportFormat = z.infer<typeof ExportFormat>;

export const ExportOutcome = z.strictObject({
  /** False when the user closed the save dialog. */
  saved: z.boolean(),
  file: z.string().optional(),
  events: z.number().int().nonnegative().optional(),
});
export type ExportOutcome = z.infer<typeof ExportOutcome>;

/** What the webview keeps through vscode.setState and the panel serializer hands back after a reload. */
export const TimelineViewState = z.strictObject({
  filter: TimelineFilter,
  selectedSeq: seq.optional(),
  /** The seq of the first row on screen, to reopen at the same place. */
  anchorSeq: seq.optional(),
  /** True when the view follows new events at the bottom. */
  follow: z.boolean(),
});
export type TimelineViewState = z.infer<typeof TimelineViewState>;

// ---- webview → host: commands (no answer) ----

export const WebviewCommand = z.discriminatedUnion('command', [
  /** Webview → host, once its script has loaded: the host may post now. Carries the state the webview restored;
   *  `embedded` when a fresh page showed the `init` embedded in its HTML (the host then posts no other). */
  z.strictObject({ command: z.literal('ready'), state: TimelineViewState.optional(), embedded: z.literal(true).optional() }),
  /** Webview → host, from the details pane of an apply/approval/rollback event: the host looks the event up by
   *  seq itself (it never trusts a snapshot id or path from the page) and runs the editor command. */
  z.strictObject({ command: z.literal('eventAction'), seq, action: EventAction }),
  /** Webview → host, when the webview itself rejected a host message or hit an error: goes to the log. */
  z.strictObject({ command: z.literal('reportError'), message: z.string().max(2000) }),
  /** Webview → host, after the first rows are on screen (the bench and e2e tests measure up to this point). */
  z.strictObject({ command: z.literal('rendered'), rows: z.number().int().nonnegative(), what: z.enum(['first', 'page', 'live']) }),
]);
export type WebviewCommand = z.infer<typeof WebviewCommand>;

// ---- webview → host: requests (each answered by one `response` with the same id) ----

const requestId = z.number().int().nonnegative();

export const TimelineRequest = z.discriminatedUnion('method', [
  /** Webview → host, when it scrolls near either end of what it holds, or a filter changes. */
  z.strictObject({ kind: z.literal('request'), id: requestId, method: z.literal('page'), params: PageQuery }),
  /** Webview → host, when a row is selected: the event in full for the details pane. */
  z.strictObject({ kind: z.literal('request'), id: requestId, method: z.literal('details'), params: z.strictObject({ seq }) }),
  /** Webview → host, to refresh the runs list and the filter choices. */
  z.strictObject({ kind: z.literal('request'), id: requestId, method: z.literal('facets'), params: z.strictObject({}) }),
  /** Webview → host, from the Verify Chain button. */
  z.strictObject({ kind: z.literal('request'), id: requestId, method: z.literal('verify'), params: z.strictObject({}) }),
  /** Webview → host, from the Export menu: the host asks where to save (showSaveDialog) and writes the file. */
  z.strictObject({ kind: z.literal('request'), id: requestId, method: z.literal('export'), params: z.strictObject({ format: ExportFormat, filter: TimelineFilter.optional() }) }),
]);
export type TimelineRequest = z.infer<typeof TimelineRequest>;
export type TimelineMethod = TimelineRequest['method'];

/** The result type of each request method. */
export const responseResults = {
  page: TimelinePage,
  details: EventDetails.nullable(),
  facets: TimelineFacets,
  verify: VerifyOutcome,
  export: ExportOutcome,
} as const satisfies Record<TimelineMethod, z.ZodType>;
export type TimelineResult<M extends TimelineMethod> = z.infer<(typeof responseResults)[M]>;

export type TimelineParams<M extends TimelineMethod> = Extract<TimelineRequest, { method: M }>['params'];

/** Everything the webview may send. */
export const WebviewMessage = z.union([WebviewCommand, TimelineRequest]);
export type WebviewMessage = z.infer<typeof WebviewMessage>;

// ---- host → webview: responses and notifications ----

const ok = <M extends TimelineMethod>(method: M) =>
  z.strictObject({ kind: z.literal('response'), id: requestId, method: z.literal(method), ok: z.literal(true), result: responseResults[method] });

/** Host → webview, answering one request by id; `ok: false` carries a message for the user instead. */
export const TimelineResponse = z.union([
  ok('page'),
  ok('details'),
  ok('facets'),
  ok('verify'),
  ok('export'),
  z.strictObject({ kind: z.literal('response'), id: requestId, method: z.enum(['page', 'details', 'facets', 'verify', 'export']), ok: z.literal(false), error: z.string() }),
]);
export type TimelineResponse = z.infer<typeof TimelineResponse>;

export const HostNotification = z.discriminatedUnion('notification', [
  /** Host → webview, answering `ready`: the first page for the restored filter, so the first rows need a single
   *  round trip. The runs and filter choices follow with a `facets` request once those rows are on screen. */
  z.strictObject({ kind: z.literal('notification'), notification: z.literal('init'), state: TimelineViewState, page: TimelinePage }),
  /** Host → webview, while runs are active (coalesced): events were appended up to `lastSeq`. The webview fetches
   *  them with `page after` only when it holds the tail, so the scroll position is never disturbed. */
  z.strictObject({ kind: z.literal('notification'), notification: z.literal('didAppend'), lastSeq: seq, count: z.number().int().positive(), runs: z.array(RunSummary) }),
  /** Host → webview, when the editor asks the open timeline to show one run (Runs view, status bar). */
  z.strictObject({ kind: z.literal('notification'), notification: z.literal('showRun'), runId: id }),
]);
export type HostNotification = z.infer<typeof HostNotification>;

/** Everything the host may send. */
export const HostMessage = z.union([TimelineResponse, HostNotification]);
export type HostMessage = z.infer<typeof HostMessage>;

/** The id of the `<script type="application/json">` in a fresh page's HTML holding its first `init` (as JSON). */
export const embeddedInitId = 'airlock-init';

/**
 * JSON for that data block: `<`, `>`, `&` and the line separators as \u escapes, so no string in it (agent-written)
 * can end the block or start markup; JSON.parse reads the same value back.
 */
export function embeddableJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The webview's empty starting state. */
export const initialViewState: TimelineViewState = { filter: {}, follow: true };
