// Wires the Audit Timeline into the extension: the `airlock.openTimeline` command and the panel serializer that
// brings an open timeline back after a window reload. One panel at a time; opening again reveals it.
import * as vscode from 'vscode';
import { TimelineViewState } from '../../protocol/timelineProtocol';
import { TimelinePanel, timelineViewType } from './timelinePanel';
import type { TimelineSource } from './timelineSource';

export const openTimelineCommand = 'airlock.openTimeline';

export interface TimelineDeps {
  readonly log: vscode.LogOutputChannel;
  /** The audit log as a timeline source; called when a panel first needs data, so activation stays cheap. */
  readonly openSource: () => Promise<TimelineSource>;
  /** How long the source stays loaded after the last timeline closes (default sourceKeepLoadedMs). */
  readonly keepLoadedMs?: number;
}

/** Five minutes: long enough for a reload or a quick reopen, short enough not to hold a large database for nothing. */
export const sourceKeepLoadedMs = 5 * 60_000;

/** What the rest of the extension (and tests) can do with the timeline. */
export interface TimelineController {
  /** Opens (or reveals) the timeline, optionally showing one run. */
  open(options?: { runId?: string }): Promise<TimelinePanel>;
  /** The open panel, if any. */
  readonly current: TimelinePanel | undefined;
}

export function registerTimeline(context: vscode.ExtensionContext, deps: TimelineDeps): TimelineController {
  let current: TimelinePanel | undefined;
  // Opened once and shared by every panel (the source keeps the database open); a failure is retried next time.
  let source: Promise<TimelineSource> | undefined;
  const openSource = () => {
    source ??= deps.openSource().catch((err: unknown) => {
      source = undefined;
      throw err;
    });
    return source;
  };
  const panelDeps = { extensionUri: context.extensionUri, log: deps.log, openSource };

  // The source holds the audit database in memory: release it a while after the last timeline closes (a quick
  // reopen, or a reload, then finds it loaded), and on deactivation.
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const closeSource = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    const s = source;
    source = undefined;
    void s?.then(
      (x) => x.dispose(),
      () => undefined,
    );
  };
  const closeSourceLater = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(closeSource, deps.keepLoadedMs ?? sourceKeepLoadedMs);
  };
  context.subscriptions.push({ dispose: closeSource });

  const adopt = (panel: TimelinePanel): TimelinePanel => {
    current = panel;
    context.subscriptions.push(panel);
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    panel.onDidDispose(() => {
      if (current !== panel) return;
      current = undefined;
      closeSourceLater();
    });
    return panel;
  };

  let creating: Promise<TimelinePanel> | undefined;
  const controller: TimelineController = {
    get current() {
      return current;
    },
    async open(options = {}) {
      // Open the source now, while the webview loads. (The audit source reads the newest page from the journal and
      // loads its database, on a worker thread, only once that page is shown.)
      openSource().catch(() => undefined);
      // One panel, even when open is called again while the first is being created.
      const panel =
        current ??
        (await (creating ??= TimelinePanel.create(panelDeps)
          .then(adopt)
          .finally(() => (creating = undefined))));
      panel.reveal();
      if (options.runId) await panel.showRun(options.runId);
      return panel;
    },
  };

  context.subscriptions.push(
    vscode.commands.registerCommand(openTimelineCommand, async (arg?: string | { runId?: string }) => {
      const runId = typeof arg === 'string' ? arg : typeof arg?.runId === 'string' ? arg.runId : undefined;
      try {
        await controller.open(runId ? { runId } : {});
      } catch (err) {
        deps.log.error(`Timeline: cannot open: ${(err as Error).stack ?? String(err)}`);
        void vscode.window.showErrorMessage(`Airlock: the Audit Timeline cannot open: ${(err as Error).message}`);
      }
      // Nothing is returned: the workbench would try to serialize a panel object.
    }),
    vscode.window.registerWebviewPanelSerializer(timelineViewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        // The page restores its own state and reports it with `ready`; here it is only checked and logged.
        const restored = TimelineViewState.safeParse(state);
        if (state !== undefined && state !== null && !restored.success) deps.log.warn('Timeline: the saved view state was not valid; starting from the latest events.');
        if (current) {
          // Two restored panels: keep the first one.
          panel.dispose();
          return;
        }
        adopt(TimelinePanel.revive(panel, panelDeps));
      },
    }),
  );
  return controller;
}
