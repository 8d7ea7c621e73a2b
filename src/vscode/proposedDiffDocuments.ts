// Read-only documents showing a pending change as a unified diff (`airlock-diff:` URIs), so looking at a
// proposal never leaves an unsaved editor behind and never writes anything.
import * as vscode from 'vscode';
import { unifiedDiff } from '../core/diff/unifiedDiff';
import type { PendingChanges } from './pendingChanges';

export const proposedDiffScheme = 'airlock-diff';

export class ProposedDiffDocuments implements vscode.TextDocumentContentProvider {
  constructor(private readonly pending: PendingChanges) {}

  /** `airlock-diff:/<path>.diff?run=<runId>`: the path reads well in the tab title. */
  static uriFor(runId: string, path: string): vscode.Uri {
    return vscode.Uri.from({ scheme: proposedDiffScheme, path: `/${path}.diff`, query: new URLSearchParams({ run: runId }).toString() });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const runId = new URLSearchParams(uri.query).get('run') ?? '';
    const path = uri.path.replace(/^\//, '').replace(/\.diff$/, '');
    const found = this.pending.forRun(runId).find((p) => p.change.path === path);
    if (!found) return `No pending change for ${path} in run ${runId} (it was applied, rejected, or the window was reloaded).\n`;
    return unifiedDiff(found.change.path, found.change.before, found.change.after);
  }
}
