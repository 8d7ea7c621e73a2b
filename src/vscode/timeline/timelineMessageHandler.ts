// The host side of the timeline protocol: every message from the webview arrives at `receive`, is safeParsed
// against src/protocol/timelineProtocol.ts and either answered or rejected and logged. No `vscode` import: the
// panel hands in how to post, log and reach the editor, so the same code runs under unit and integration tests.
import type { AuditEvent } from '../../protocol/auditEvent';
import { HostMessage, initialViewState, WebviewMessage } from '../../protocol/timelineProtocol';
import type {
  EventAction,
  ExportFormat,
  TimelineFilter,
  TimelineMethod,
  TimelineRequest,
  TimelineResult,
  TimelineViewState,
  WebviewCommand,
} from '../../protocol/timelineProtocol';
import { detailsOf, isFileApproval, pathOf, snapshotOf } from './timelineRows';
import type { SourceSubscription, TimelineSource } from './timelineSource';

/** Rows of the first page; the webview asks for more in pages of the same size. */
export const firstPageSize = 100;
/** How many runs the runs list and the run filter offer. */
export const runsShown = 200;
/** Live updates are coalesced to at most one notification per this many ms. */
export const appendThrottleMs = 200;

export interface TimelineLog {
  trace?(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What an event action needs from the editor; the panel implements it with vscode.commands. */
export interface ActionTarget {
  readonly event: AuditEvent;
  readonly snapshotId?: string;
  readonly path?: string;
}

export interface TimelineEditor {
  /** Asks where to save an export; undefined when the user cancels. */
  askExportFile(format: ExportFormat): Promise<string | undefined>;
  runAction(action: EventAction, target: ActionTarget): Promise<void>;
  /** Something the user asked for failed: say so, with the next step. */
  showError(message: string): void;
  /** The webview drew rows (first page, next page, live rows). */
  rendered?(rows: number, what: 'first' | 'page' | 'live'): void;
}

export type RejectionReason = 'unknown-message' | 'malformed-message';

export interface Rejection {
  readonly reason: RejectionReason;
  /** What was wrong, as zod put it. */
  readonly detail: string;
  /** The line written to the log. */
  readonly logged: string;
}

export interface TimelineMessageHandlerOptions {
  readonly source: () => Promise<TimelineSource>;
  readonly post: (message: HostMessage) => Thenable<boolean> | Promise<boolean>;
  readonly log: TimelineLog;
  readonly editor: TimelineEditor;
  /** The state the webview reported with `ready` (kept for the serializer's logs and for tests). */
  readonly onState?: (state: TimelineViewState) => void;
}

const knownCommands = new Set<string>(['ready', 'eventAction', 'reportError', 'rendered']);
const knownMethods = new Set<string>(['page', 'details', 'facets', 'verify', 'export']);

export class TimelineMessageHandler {
  private ready = false;
  private disposed = false;
  /** A run the editor asked to show before the page was ready. */
  private runToShow: string | undefined;
  /** Set while a fresh page is loading with an embedded first page from this source (embeddedInit). */
  private embedded: TimelineSource | undefined;
  private appendSub: SourceSubscription | undefined;
  private pendingAppend: { lastSeq: number; count: number } | undefined;
  private appendTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly rejectionListeners = new Set<(r: Rejection) => void>();
  /** The most recent rejections, newest last (a test hook; the log has them all). */
  readonly rejections: Rejection[] = [];

  constructor(private readonly o: TimelineMessageHandlerOptions) {}

  get isReady(): boolean {
    return this.ready;
  }

  /** Fires for every message rejected; returns a function that unsubscribes. */
  onDidReject(listener: (r: Rejection) => void): () => void {
    this.rejectionListeners.add(listener);
    return () => this.rejectionListeners.delete(listener);
  }

  /**
   * The one entry for webview messages: the panel's onDidReceiveMessage calls it, and so do tests. Resolves once
   * the message is handled (a request answered). Never throws.
   */
  async receive(raw: unknown): Promise<void> {
    if (this.disposed) return;
    const parsed = WebviewMessage.safeParse(raw);
    if (!parsed.success) {
      this.reject(raw, parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; '));
      return;
    }
    const msg = parsed.data;
    try {
      if ('command' in msg) await this.onCommand(msg);
      else await this.onRequest(msg);
    } catch (err) {
      this.o.log.error(`Timeline: handling ${'command' in msg ? msg.command : msg.method} failed: ${(err as Error).stack ?? String(err)}`);
    }
  }

  private listenForAppends(source: TimelineSource): void {
    this.appendSub ??= source.onDidAppend((n) => this.noteAppend(n.lastSeq, n.count));
  }

  /** Tells an open webview that events were appended; coalesced, and only once the webview is ready. */
  private noteAppend(lastSeq: number, count: number): void {
    this.pendingAppend = { lastSeq: Math.max(lastSeq, this.pendingAppend?.lastSeq ?? 0), count: count + (this.pendingAppend?.count ?? 0) };
    if (this.appendTimer || !this.ready) return;
    this.appendTimer = setTimeout(() => void this.flushAppend(), appendThrottleMs);
  }

  private async flushAppend(): Promise<void> {
    this.appendTimer = undefined;
    const notice = this.pendingAppend;
    if (!notice || this.disposed || !this.ready) return;
    this.pendingAppend = undefined;
    try {
      const runs = await (await this.o.source()).runs(runsShown);
      await this.post({ kind: 'notification', notification: 'didAppend', lastSeq: notice.lastSeq, count: notice.count, runs });
    } catch (err) {
      this.o.log.warn(`Timeline: live update failed: ${(err as Error).message}`);
    }
  }

  /** Asks the open webview to show one run (the Runs view, the status bar). */
  async showRun(runId: string): Promise<void> {
    // A page still loading shows the run once it is ready (the panel was just opened for it).
    if (this.ready) await this.post({ kind: 'notification', notification: 'showRun', runId });
    else this.runToShow = runId;
  }

  private async showPendingRun(): Promise<void> {
    const runId = this.runToShow;
    this.runToShow = undefined;
    if (runId !== undefined) await this.post({ kind: 'notification', notification: 'showRun', runId });
  }

  /** The webview went away (panel hidden or reloading): nothing is posted until it says `ready` again. */
  webviewReset(): void {
    this.ready = false;
  }

  dispose(): void {
    this.disposed = true;
    this.ready = false;
    if (this.appendTimer) clearTimeout(this.appendTimer);
    this.appendSub?.dispose();
    this.rejectionListeners.clear();
  }

  private async onCommand(msg: WebviewCommand): Promise<void> {
    switch (msg.command) {
      case 'ready':
        if (msg.embedded && this.embedded) return this.onEmbeddedReady(msg.state ?? { filter: {}, follow: true });
        return this.onReady(msg.state ?? { filter: {}, follow: true });
      case 'eventAction':
        return this.onEventAction(msg.seq, msg.action);
      case 'reportError':
        this.o.log.warn(`Timeline webview: ${msg.message}`);
        return;
      case 'rendered':
        this.o.editor.rendered?.(msg.rows, msg.what);
        return;
    }
  }

  /**
   * The first `init` for a fresh page, to embed in its HTML so the first rows need no round trip (the newest page,
   * unfiltered: where every fresh panel starts). Undefined when the source is not there within `waitMs`; the page
   * then asks with `ready` as usual. Appends from now on are kept for the page and announced once it is ready.
   */
  async embeddedInit(waitMs: number): Promise<HostMessage | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
    try {
      const prepared = this.o.source().then(async (source) => {
        this.listenForAppends(source);
        const page = await source.page({ filter: {}, direction: 'latest', limit: firstPageSize });
        return { source, page };
      });
      prepared.catch(() => undefined);
      const got = await Promise.race([prepared, late]);
      if (!got || this.disposed) return undefined;
      this.embedded = got.source;
      // Everything up to this page is in it; what is appended after it is announced once the page is ready.
      this.pendingAppend = undefined;
      return { kind: 'notification', notification: 'init', state: initialViewState, page: got.page };
    } catch (err) {
      this.o.log.warn(`Timeline: the first page could not be embedded (${(err as Error).message}); the page will ask for it.`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The page showed the embedded first page: it is ready, nothing more to post but what was appended since. */
  private async onEmbeddedReady(state: TimelineViewState): Promise<void> {
    this.o.onState?.(state);
    const source = this.embedded!;
    this.embedded = undefined;
    this.ready = true;
    if (this.pendingAppend && !this.appendTimer) this.appendTimer = setTimeout(() => void this.flushAppend(), appendThrottleMs);
    await this.showPendingRun();
    source.prefetch?.();
  }

  private async onReady(state: TimelineViewState): Promise<void> {
    this.embedded = undefined;
    this.o.onState?.(state);
    const started = performance.now();
    const source = await this.o.source();
    const opened = performance.now();
    this.listenForAppends(source);
    const anchor = state.follow ? undefined : (state.anchorSeq ?? state.selectedSeq);
    const page = await source.page({ filter: state.filter, direction: anchor ? 'around' : 'latest', seq: anchor, limit: firstPageSize });
    this.ready = true;
    this.pendingAppend = undefined; // the first page already holds everything up to now
    const queried = performance.now();
    await this.post({ kind: 'notification', notification: 'init', state, page });
    await this.showPendingRun();
    // The first page may have come from the journal alone (deferredTimelineSource.ts): load the rest now.
    source.prefetch?.();
    this.o.log.trace?.(`Timeline: ready answered: source ${(opened - started).toFixed(0)} ms, first page ${(queried - opened).toFixed(0)} ms, posted in ${(performance.now() - queried).toFixed(0)} ms`);
  }

  private async onRequest(req: TimelineRequest): Promise<void> {
    const started = performance.now();
    try {
      const result = await this.answer(req);
      const answered = performance.now();
      await this.post({ kind: 'response', id: req.id, method: req.method, ok: true, result } as HostMessage);
      this.o.log.trace?.(`Timeline: ${req.method} #${req.id} answered in ${(answered - started).toFixed(1)} ms, posted in ${(performance.now() - answered).toFixed(1)} ms`);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      this.o.log.error(`Timeline: ${req.method} failed: ${(err as Error).stack ?? message}`);
      await this.post({ kind: 'response', id: req.id, method: req.method, ok: false, error: message });
    }
  }

  private async answer(req: TimelineRequest): Promise<TimelineResult<TimelineMethod>> {
    const source = await this.o.source();
    switch (req.method) {
      case 'page':
        return source.page(req.params);
      case 'details': {
        const event = await source.event(req.params.seq);
        return event ? detailsOf(event, { path: await this.pathFor(source, event) }) : null;
      }
      case 'facets':
        return source.facets();
      case 'verify': {
        const outcome = await source.verify();
        this.o.log.info(`Timeline: Verify Chain: ${outcome.message}`);
        return outcome;
      }
      case 'export':
        return this.export(source, req.params.format, req.params.filter);
    }
  }

  private async export(source: TimelineSource, format: ExportFormat, filter: TimelineFilter | undefined) {
    const file = await this.o.editor.askExportFile(format);
    if (!file) return { saved: false };
    const events = await source.export(format, file, filter);
    this.o.log.info(`Timeline: exported ${events} event(s) as ${format} to ${file}`);
    return { saved: true, file, events };
  }

  /** The file an approval is about: approval events carry no args, the pending decision just before them does. */
  private async pathFor(source: TimelineSource, e: AuditEvent): Promise<string | undefined> {
    if (!isFileApproval(e)) return undefined;
    const own = pathOf(e);
    if (own) return own;
    const before = await source.page({ filter: { runId: e.runId, tool: e.tool, decision: 'pending' }, direction: 'before', seq: e.seq, limit: 1 });
    const pending = before.rows[0];
    if (!pending) return undefined;
    const full = await source.event(pending.seq);
    return full ? pathOf(full) : undefined;
  }

  private async onEventAction(seq: number, action: EventAction): Promise<void> {
    const source = await this.o.source();
    const event = await source.event(seq);
    if (!event) {
      this.o.editor.showError(`Airlock: event #${seq} is not in the audit log.`);
      return;
    }
    const snapshotId = snapshotOf(event);
    const path = await this.pathFor(source, event);
    const allowed = detailsOf(event, { path }).actions;
    if (!allowed.includes(action)) {
      // The page asked for something the event does not offer: treat it like any other malformed message.
      this.reject({ command: 'eventAction', seq, action }, `event #${seq} (${event.type}) offers no ${action}`, 'malformed-message');
      return;
    }
    try {
      await this.o.editor.runAction(action, { event, ...(snapshotId ? { snapshotId } : {}), ...(path ? { path } : {}) });
    } catch (err) {
      this.o.log.error(`Timeline: ${action} for event #${seq} failed: ${(err as Error).message}`);
      this.o.editor.showError(`Airlock: ${action === 'rollback' ? 'the rollback' : 'opening it'} failed: ${(err as Error).message}`);
    }
  }

  private async post(message: HostMessage): Promise<void> {
    if (this.disposed) return;
    // The host builds these itself; checking them here catches a bug before the webview has to reject it.
    const checked = HostMessage.safeParse(message);
    if (!checked.success) {
      this.o.log.error(`Timeline: not posting an invalid ${describe(message)}: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return;
    }
    await this.o.post(checked.data);
  }

  private reject(raw: unknown, detail: string, forced?: RejectionReason): void {
    const reason = forced ?? (isKnown(raw) ? 'malformed-message' : 'unknown-message');
    const logged = `Timeline: rejected ${reason === 'unknown-message' ? 'an unknown' : 'a malformed'} message from the webview (${preview(raw)}): ${detail}`;
    const rejection: Rejection = { reason, detail, logged };
    this.o.log.warn(logged);
    this.rejections.push(rejection);
    if (this.rejections.length > 50) this.rejections.shift();
    for (const l of this.rejectionListeners) l(rejection);
  }
}

function isKnown(raw: unknown): boolean {
  if (raw === null || typeof raw !== 'object') return false;
  const r = raw as Record<string, unknown>;
  return (typeof r.command === 'string' && knownCommands.has(r.command)) || (typeof r.method === 'string' && knownMethods.has(r.method));
}

function describe(m: HostMessage): string {
  return m.kind === 'response' ? `${m.method} response` : `${m.notification} notification`;
}

/** A short, single-line look at a rejected message for the log (never the whole of a huge payload). */
function preview(raw: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(raw) ?? String(raw);
  } catch {
    s = Object.prototype.toString.call(raw);
  }
  return s.length > 200 ? `${s.slice(0, 200)}… ${s.length} chars` : s;
}
