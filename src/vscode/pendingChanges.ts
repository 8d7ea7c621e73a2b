// What finished runs propose and nobody has decided on yet, per run. The workspace itself is untouched until a
// change is applied; this is the list the review UI works from.
import * as vscode from 'vscode';
import type { RunReport } from '../core/runtime/agentRuntime';
import type { ProposedChange } from '../core/staging/proposedChange';

export interface PendingChange {
  readonly runId: string;
  readonly agent: string;
  /** The workspace folder the run worked on (absolute path). */
  readonly workspace: string;
  readonly change: ProposedChange;
}

export class PendingChanges implements vscode.Disposable {
  private readonly byRun = new Map<string, PendingChange[]>();
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  readonly onDidChange = this._onDidChange.event;

  /** Records a finished run's proposals (a run with none leaves no entry). */
  add(workspace: string, report: RunReport): void {
    if (report.changes.length === 0) return;
    this.byRun.set(
      report.runId,
      report.changes.map((change) => ({ runId: report.runId, agent: report.agent, workspace, change })),
    );
    this._onDidChange.fire();
  }

  /** Every pending change, newest run first. */
  all(): readonly PendingChange[] {
    return [...this.byRun.values()].reverse().flat();
  }

  forRun(runId: string): readonly PendingChange[] {
    return this.byRun.get(runId) ?? [];
  }

  /** Forgets a change once it was applied or rejected. */
  remove(runId: string, path: string): void {
    const left = (this.byRun.get(runId) ?? []).filter((p) => p.change.path !== path);
    if (left.length > 0) this.byRun.set(runId, left);
    else this.byRun.delete(runId);
    this._onDidChange.fire();
  }

  dispose(): void {
    this._onDidChange.dispose();
  }
}
