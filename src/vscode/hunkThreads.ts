// Per-hunk review inside the real diff editor: each hunk of a pending change gets a comment thread on the
// proposed side, with Approve Hunk / Reject Hunk in the thread's title bar. Comment threads render inside VS
// Code's diff editor (CodeLens does not by default), so the choice sits right next to the lines it is about.
import * as vscode from 'vscode';
import type { StructuredPatchHunk } from 'diff';
import type { HunkDecision, PendingChanges } from './pendingChanges';
import { ProposedDocuments, proposedScheme } from './proposedDocuments';

export const hunkControllerId = 'airlock.hunks';
export const hunkThreadContext = { pending: 'airlock.hunk.pending', decided: 'airlock.hunk.decided' } as const;

export interface HunkRef {
  readonly runId: string;
  readonly path: string;
  readonly index: number;
}

interface Shown {
  readonly uri: vscode.Uri;
  readonly runId: string;
  readonly path: string;
  readonly threads: vscode.CommentThread[];
}

export class HunkThreads implements vscode.Disposable {
  private readonly controller: vscode.CommentController;
  private readonly refs = new WeakMap<vscode.CommentThread, HunkRef>();
  /** Threads by proposed document URI. */
  private readonly shown = new Map<string, Shown>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly pending: PendingChanges) {
    this.controller = vscode.comments.createCommentController(hunkControllerId, 'Airlock hunk review');
    this.controller.options = { prompt: 'Approve or reject this hunk with the buttons above', placeHolder: 'Airlock records decisions, not comments' };
    this.subscriptions.push(
      this.controller,
      vscode.workspace.onDidOpenTextDocument((d) => this.show(d.uri)),
      vscode.workspace.onDidCloseTextDocument((d) => this.hide(d.uri.toString())),
      pending.onDidChange(() => this.refresh()),
    );
    for (const d of vscode.workspace.textDocuments) this.show(d.uri);
  }

  /** The hunk a thread stands for (the commands get the thread as their argument). */
  refOf(thread: vscode.CommentThread): HunkRef | undefined {
    return this.refs.get(thread);
  }

  /** The threads shown for a pending change, in hunk order (for tests and the e2e flow). */
  threadsFor(runId: string, path: string): readonly vscode.CommentThread[] {
    return this.shown.get(ProposedDocuments.uriFor(runId, path).toString())?.threads ?? [];
  }

  private show(uri: vscode.Uri): void {
    if (uri.scheme !== proposedScheme) return;
    const ref = ProposedDocuments.parse(uri);
    if (!ref || ref.side !== 'after' || this.shown.has(uri.toString())) return;
    const hunks = this.pending.hunks(ref.runId, ref.path);
    if (!hunks.ok) return;
    const threads = hunks.hunks.map((h, index) => {
      const thread = this.controller.createCommentThread(uri, rangeOf(h), []);
      this.refs.set(thread, { runId: ref.runId, path: ref.path, index });
      thread.canReply = false;
      thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
      return thread;
    });
    this.shown.set(uri.toString(), { uri, runId: ref.runId, path: ref.path, threads });
    this.render(this.shown.get(uri.toString())!, hunks.hunks);
  }

  private refresh(): void {
    for (const [key, s] of this.shown) {
      const p = this.pending.get(s.runId, s.path);
      const hunks = this.pending.hunks(s.runId, s.path);
      if (!p || !hunks.ok) {
        for (const t of s.threads) t.dispose();
        this.shown.delete(key);
        continue;
      }
      this.render(s, hunks.hunks);
    }
  }

  private render(s: Shown, hunks: readonly StructuredPatchHunk[]): void {
    const decisions = this.pending.get(s.runId, s.path)?.hunkDecisions ?? new Map<number, HunkDecision>();
    s.threads.forEach((thread, index) => {
      const h = hunks[index]!;
      const decision = decisions.get(index);
      const added = h.lines.filter((l) => l.startsWith('+')).length;
      const removed = h.lines.filter((l) => l.startsWith('-')).length;
      thread.label = `Hunk ${index + 1} of ${hunks.length} · +${added} −${removed}${decision ? ` · ${decision}` : ''}`;
      thread.contextValue = decision ? hunkThreadContext.decided : hunkThreadContext.pending;
      thread.state = decision ? vscode.CommentThreadState.Resolved : vscode.CommentThreadState.Unresolved;
      const body = decision
        ? `${decision === 'approved' ? '✓ Approved' : '✗ Rejected'}. ${decisions.size < hunks.length ? `${hunks.length - decisions.size} hunk${hunks.length - decisions.size === 1 ? '' : 's'} of this file still to decide; the file is applied once every hunk is decided (or use Approve in the editor title for all that are left).` : ''}`
        : '✓ approves this hunk, ✗ rejects it (buttons above). The file is applied once every hunk is decided; Approve / Reject in the editor title decide the whole file.';
      thread.comments = [{ body: new vscode.MarkdownString(body), mode: vscode.CommentMode.Preview, author: { name: 'Agent Airlock' } }];
      if (decision) thread.collapsibleState = vscode.CommentThreadCollapsibleState.Collapsed;
    });
  }

  private hide(key: string): void {
    const s = this.shown.get(key);
    if (!s) return;
    for (const t of s.threads) t.dispose();
    this.shown.delete(key);
  }

  dispose(): void {
    for (const s of this.shown.values()) for (const t of s.threads) t.dispose();
    this.shown.clear();
    for (const d of this.subscriptions) d.dispose();
  }
}

/** The lines of the proposed content a hunk covers (a pure deletion marks the line where the text was). */
function rangeOf(h: StructuredPatchHunk): vscode.Range {
  const first = Math.max(0, h.newLines === 0 ? h.newStart : h.newStart - 1);
  const last = Math.max(first, first + h.newLines - 1);
  return new vscode.Range(first, 0, last, 0);
}
