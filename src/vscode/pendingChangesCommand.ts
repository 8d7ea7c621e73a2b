// `Airlock: Show Pending Changes`: lists what finished runs propose (A/M/D) and opens a picked change in the
// review diff. The workspace is not touched.
import * as vscode from 'vscode';
import type { PendingChange, PendingChanges } from './pendingChanges';
import { openProposedDiff } from './proposedDocuments';

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
  await openProposedDiff(pending, pick.pending.runId, pick.pending.change.path);
  return pick.pending;
}
