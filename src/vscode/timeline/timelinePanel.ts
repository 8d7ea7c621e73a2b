// The Audit Timeline webview panel: builds the page (strict CSP with a fresh nonce, assets only from media/dist),
// routes every webview message through TimelineMessageHandler, and turns event actions into editor commands.
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { embeddableJson, embeddedInitId } from '../../protocol/timelineProtocol';
import type { EventAction, ExportFormat, HostMessage } from '../../protocol/timelineProtocol';
import { TimelineMessageHandler } from './timelineMessageHandler';
import type { ActionTarget, TimelineEditor } from './timelineMessageHandler';
import type { TimelineSource } from './timelineSource';

export const timelineViewType = 'airlock.timeline';

/** How long a new panel waits for its first page to embed it in the HTML (the page asks for it otherwise). */
const embedWaitMs = 300;

/** Editor commands the details pane calls by id; other parts of the extension register them. */
export const timelineActionCommands = {
  /** Shows what an apply (or rollback) changed: argument, the snapshot id. */
  openSnapshot: 'airlock.showSnapshot',
  /** Rolls a snapshot back: argument, the snapshot id. */
  rollback: 'airlock.rollback',
  /** Opens the proposed change behind an approval as a diff: argument, `{ runId, path }`. */
  openDiff: 'airlock.openPendingChange',
  /** Fallback for openDiff: the pending changes list. */
  pendingChanges: 'airlock.showPendingChanges',
} as const;

export interface TimelinePanelDeps {
  readonly extensionUri: vscode.Uri;
  readonly log: vscode.LogOutputChannel;
  readonly openSource: () => Promise<TimelineSource>;
}

const exportFilters: Record<ExportFormat, Record<string, string[]>> = {
  jsonl: { 'JSON Lines': ['jsonl'] },
  csv: { CSV: ['csv'] },
  otlp: { 'OTLP JSON': ['json'] },
};

export class TimelinePanel implements vscode.Disposable {
  readonly handler: TimelineMessageHandler;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly _onDidDispose = new vscode.EventEmitter<void>();
  readonly onDidDispose = this._onDidDispose.event;
  private readonly _onDidRender = new vscode.EventEmitter<{ rows: number; what: 'first' | 'page' | 'live' }>();
  /** The webview drew rows (tests and the bench wait on this). */
  readonly onDidRender = this._onDidRender.event;
  private disposed = false;

  /**
   * Opens a new panel beside the active editor. Its HTML carries the first page (the newest events) when the
   * source has it within a moment, so the first rows need no round trip once the page's script runs.
   */
  static async create(deps: TimelinePanelDeps): Promise<TimelinePanel> {
    const panel = vscode.window.createWebviewPanel(timelineViewType, 'Audit Timeline', { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, TimelinePanel.options(deps.extensionUri));
    const timeline = new TimelinePanel(panel, deps);
    const init = await timeline.handler.embeddedInit(embedWaitMs);
    if (!timeline.disposed) panel.webview.html = timeline.html(panel.webview, init);
    return timeline;
  }

  /** Adopts a panel VS Code restored after a reload (the webview restores its own view state). */
  static revive(panel: vscode.WebviewPanel, deps: TimelinePanelDeps): TimelinePanel {
    panel.webview.options = TimelinePanel.options(deps.extensionUri);
    const timeline = new TimelinePanel(panel, deps);
    panel.webview.html = timeline.html(panel.webview);
    return timeline;
  }

  /** Scripts on, and only the bundle folder readable: the page can load nothing else from the disk. */
  static options(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    // No retainContextWhenHidden: a hidden timeline is torn down and restores itself from its saved state.
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media', 'dist')], enableFindWidget: false };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: TimelinePanelDeps,
  ) {
    this.disposables.push(this._onDidDispose, this._onDidRender);
    const editor: TimelineEditor = {
      askExportFile: (format) => this.askExportFile(format),
      runAction: (action, target) => this.runAction(action, target),
      showError: (message) => void vscode.window.showErrorMessage(message),
      rendered: (rows, what) => this._onDidRender.fire({ rows, what }),
    };
    this.handler = new TimelineMessageHandler({
      source: deps.openSource,
      post: (m: HostMessage) => panel.webview.postMessage(m),
      log: deps.log,
      editor,
    });
    this.disposables.push({ dispose: () => this.handler.dispose() });
    this.disposables.push(panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
    // Hidden panels lose their page (no retainContextWhenHidden); post nothing until the new page says ready.
    this.disposables.push(panel.onDidChangeViewState(() => (panel.visible ? undefined : this.handler.webviewReset())));
    this.disposables.push(panel.onDidDispose(() => this.dispose()));
  }

  /** Test hook and the real path alike: onDidReceiveMessage calls exactly this. */
  receive(raw: unknown): Promise<void> {
    return this.handler.receive(raw);
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  async showRun(runId: string): Promise<void> {
    await this.handler.showRun(runId);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this._onDidDispose.fire();
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private html(webview: vscode.Webview, init?: HostMessage): string {
    const nonce = crypto.randomBytes(16).toString('base64');
    const dist = vscode.Uri.joinPath(this.deps.extensionUri, 'media', 'dist');
    const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(dist, ...p)).toString();
    const csp = [
      `default-src 'none'`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `script-src 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${nonce}" id="vscode-codicon-stylesheet" href="${asset('codicons', 'codicon.css')}">
<link rel="stylesheet" nonce="${nonce}" href="${asset('timeline.css')}">
<title>Audit Timeline</title>
</head>
<body>
<div id="app" role="application" aria-label="Audit Timeline"></div>
${init ? `<script nonce="${nonce}" type="application/json" id="${embeddedInitId}">${embeddableJson(init)}</script>\n` : ''}<script nonce="${nonce}" src="${asset('timeline.js')}"></script>
</body>
</html>`;
  }

  private async askExportFile(format: ExportFormat): Promise<string | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `airlock-audit-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${format === 'otlp' ? 'otlp.json' : format}`;
    const uri = await vscode.window.showSaveDialog({
      title: `Export the audit log as ${format.toUpperCase()}`,
      saveLabel: 'Export',
      filters: exportFilters[format],
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, name) } : {}),
    });
    if (!uri) return undefined;
    if (uri.scheme !== 'file' && uri.scheme !== 'vscode-remote') {
      throw new Error(`exports are written to files on disk; ${uri.scheme}: locations are not supported`);
    }
    return uri.fsPath;
  }

  private async runAction(action: EventAction, target: ActionTarget): Promise<void> {
    const known = new Set(await vscode.commands.getCommands(true));
    const missing = (id: string, what: string) =>
      void vscode.window.showWarningMessage(`Airlock: ${what} needs the command ${id}, which is not available in this version. ${target.snapshotId ? `The snapshot is ${target.snapshotId}; \`airlock rollback ${target.snapshotId}\` rolls it back from a terminal.` : ''}`.trim());
    switch (action) {
      case 'openSnapshot': {
        const id = timelineActionCommands.openSnapshot;
        if (!known.has(id)) return missing(id, 'Showing a snapshot');
        await vscode.commands.executeCommand(id, target.snapshotId);
        return;
      }
      case 'rollback': {
        const id = timelineActionCommands.rollback;
        if (!known.has(id)) return missing(id, 'Rolling back');
        await vscode.commands.executeCommand(id, target.snapshotId);
        return;
      }
      case 'openDiff': {
        if (known.has(timelineActionCommands.openDiff)) {
          await vscode.commands.executeCommand(timelineActionCommands.openDiff, { runId: target.event.runId, path: target.path });
          return;
        }
        if (known.has(timelineActionCommands.pendingChanges)) {
          await vscode.commands.executeCommand(timelineActionCommands.pendingChanges);
          return;
        }
        return missing(timelineActionCommands.openDiff, 'Opening the diff');
      }
    }
  }
}
