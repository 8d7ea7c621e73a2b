// Read-only documents with what a run proposes (`airlock-proposed:` URIs): the right side of the review diff
// (and an empty left side for a file the run creates). Looking at a proposal never writes anything and never
// leaves an unsaved editor behind.
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import type { PendingChanges } from './pendingChanges';

export const proposedScheme = 'airlock-proposed';

type Side = 'before' | 'after';

export interface ProposedRef {
  readonly runId: string;
  readonly path: string;
  readonly side: Side;
}

export class ProposedDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly _onDidChange = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this._onDidChange.event;
  private readonly subscription: vscode.Disposable;
  private shown = new Set<string>();

  constructor(private readonly pending: PendingChanges) {
    // A change that was applied or rejected: its open proposal says so instead of going on showing it.
    this.subscription = pending.onDidChange(() => {
      for (const key of this.shown) {
        const uri = vscode.Uri.parse(key);
        const ref = ProposedDocuments.parse(uri);
        if (ref && !this.pending.get(ref.runId, ref.path)) {
          this.shown.delete(key);
          this._onDidChange.fire(uri);
        }
      }
    });
  }

  /** `airlock-proposed:/<path>?run=<runId>`: the path keeps its extension, so the language (and the tab title) fit. */
  static uriFor(runId: string, path: string, side: Side = 'after'): vscode.Uri {
    const query = new URLSearchParams({ run: runId, ...(side === 'before' ? { side } : {}) }).toString();
    return vscode.Uri.from({ scheme: proposedScheme, path: `/${path}`, query });
  }

  static parse(uri: vscode.Uri): ProposedRef | undefined {
    if (uri.scheme !== proposedScheme) return undefined;
    const q = new URLSearchParams(uri.query);
    const runId = q.get('run');
    if (!runId) return undefined;
    return { runId, path: uri.path.replace(/^\//, ''), side: q.get('side') === 'before' ? 'before' : 'after' };
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const ref = ProposedDocuments.parse(uri);
    const found = ref && this.pending.get(ref.runId, ref.path);
    if (!ref || !found) return `This change is no longer pending (it was applied or rejected, or the window was reloaded).\n`;
    this.shown.add(uri.toString());
    const bytes = ref.side === 'before' ? found.change.before : found.change.after;
    if (bytes === null) return '';
    return isText(bytes) ? bytes.toString('utf8') : `(binary content, ${bytes.length} bytes: approve or reject the whole file)\n`;
  }

  dispose(): void {
    this.subscription.dispose();
    this._onDidChange.dispose();
  }
}

/** Opens the review diff of a pending change: the workspace file (or nothing) ↔ the proposed content. */
export async function openProposedDiff(pending: PendingChanges, runId: string, path: string, options: vscode.TextDocumentShowOptions = {}): Promise<boolean> {
  const p = pending.get(runId, path);
  if (!p) {
    void vscode.window.showInformationMessage(`Airlock: ${path} from run ${runId} is no longer pending (it was applied or rejected).`);
    return false;
  }
  const left = p.change.before === null ? ProposedDocuments.uriFor(runId, path, 'before') : vscode.Uri.file(join(p.workspace, ...path.split('/')));
  const right = ProposedDocuments.uriFor(runId, path);
  const what = p.change.kind === 'create' ? 'new file' : p.change.kind === 'delete' ? 'deleted' : 'proposed';
  await vscode.commands.executeCommand('vscode.diff', left, right, `${basename(path)} (${what} by ${p.agent})`, { preview: false, ...options });
  return true;
}

/** Valid UTF-8 without NUL bytes: shown as text; anything else is described, not dumped. */
function isText(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
