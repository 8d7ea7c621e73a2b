// `Airlock: Show Pending Changes`: lists what finished runs propose (A/M/D) and shows a picked change as a
// unified diff. The workspace is not touched.
import * as vscode from 'vscode';
import { unifiedDiff } from '../core/diff/unifiedDiff';
import type { PendingChange, PendingChanges } from './pendingChanges';

const kindLetter = { create: 'A', modify: 'M', delete: 'D' } as const;

interface ChangePick extends vscode.QuickPickItem {
  readonly pending: PendingChange;
}

/** Resolves with the change the user opened, if any. */
export async function showPendingChanges(pending: PendingChanges): Promise<PendingChange | undefined> {
  const all = pending.all();
  if (all.length === 0) {
    void vscode.window.showInformationMessage('No pending changes. Run an agent (Airlock: Run Agent…); what it proposes waits here for your review.');
    return undefined;
  }
  const items: ChangePick[] = all.map((p) => ({
    label: `${kindLetter[p.change.kind]}  ${p.change.path}`,
    description: `${p.agent} · ${p.runId}`,
    detail: p.change.level === 'auto' ? 'allowed by the policy' : `needs approval (${p.change.level})`,
    pending: p,
  }));
  const pick = await vscode.window.showQuickPick(items, { title: `Airlock: Pending Changes (${all.length})`, placeHolder: 'Pick a change to see its diff', matchOnDescription: true });
  if (!pick) return undefined;
  const { change } = pick.pending;
  const doc = await vscode.workspace.openTextDocument({ language: 'diff', content: unifiedDiff(change.path, change.before, change.after) });
  await vscode.window.showTextDocument(doc, { preview: true });
  return pick.pending;
}
