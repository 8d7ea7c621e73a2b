// The Agent Airlock extension. activate() only wires: the log channel first, then each service, every one
// registered for disposal the moment it exists. The sandbox itself starts on the first run, not here.
import * as vscode from 'vscode';
import { registerCommands } from './airlockCommands';
import { AgentRunner } from './agentRunner';
import { PendingApprovalsView, PendingChangeDecorations, PendingChangesView, RunsView, viewIds } from './airlockViews';
import { ApprovalPrompts } from './approvalPrompts';
import { ChangeReview } from './changeReview';
import { HunkThreads } from './hunkThreads';
import { PendingChanges } from './pendingChanges';
import { PolicyDiagnostics } from './policyDiagnostics';
import { ProposedDocuments, proposedScheme } from './proposedDocuments';
import { RunAgentCommand } from './runAgentCommand';
import { registerRollbackCommands } from './rollbackCommands';
import { openRunState } from '../core/runtime/runState';
import { PendingStore } from '../core/staging/pendingStore';
import { RunHistoryStore } from '../core/runtime/runHistoryStore';
import { SandboxNodeSetup } from './sandboxNodeSetup';
import { AirlockStatusBar } from './statusBar';
import { openTimelineSource } from './timeline/openTimelineSource';
import { registerTimeline } from './timeline/registerTimeline';
import type { TimelineController } from './timeline/registerTimeline';
import { exportAuditEvents } from './timeline/timelineExport';
import { Prompts } from './userPrompts';

/** What activate() returns: the services behind the commands, for tests and for other extensions. */
export interface AirlockApi {
  readonly runner: AgentRunner;
  readonly pendingChanges: PendingChanges;
  readonly approvals: ApprovalPrompts;
  readonly review: ChangeReview;
  readonly hunks: HunkThreads;
  readonly statusBar: AirlockStatusBar;
  readonly policyProblems: PolicyDiagnostics;
  readonly timeline: TimelineController;
  /** The questions asked before writing to the workspace; tests answer them through `prompts.answerWith`. */
  readonly prompts: Prompts;
  /** Settles once the changes earlier sessions left pending are listed again. */
  readonly restored: Promise<void>;
}

export function activate(context: vscode.ExtensionContext): AirlockApi {
  const log = vscode.window.createOutputChannel('Agent Airlock', { log: true });
  context.subscriptions.push(log);
  const own = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };

  // Audit log and snapshots live in the extension's storage for this workspace, never inside the workspace.
  const stateDir = (context.storageUri ?? context.globalStorageUri).fsPath;
  // A packaged extension carries sandbox/dist/main.js and sandbox/node_modules/isolated-vm; so does a checkout.
  const sandboxDir = context.asAbsolutePath('sandbox');
  const settings = () => vscode.workspace.getConfiguration('airlock');

  const node = own(new SandboxNodeSetup(sandboxDir, context.globalStorageUri, log));
  const prompts = new Prompts();
  const approvals = own(new ApprovalPrompts(log, () => settings().get<number>('approvals.timeoutSeconds', 0)));
  const pendingChanges = own(new PendingChanges({ store: new PendingStore(stateDir), log }));
  own(vscode.workspace.registerTextDocumentContentProvider(proposedScheme, own(new ProposedDocuments(pendingChanges))));
  const retention = () => ({ keepLast: settings().get<number>('snapshots.keepLast', 100), keepDays: settings().get<number>('snapshots.keepDays', 30) });
  const runner = own(new AgentRunner({ sandboxDir, stateDir, openState: openRunState, retention, node, gate: approvals, pending: pendingChanges, log, historyStore: new RunHistoryStore(stateDir) }));
  const review = new ChangeReview({ pending: pendingChanges, state: () => runner.state(), prompts, log });
  const hunks = own(new HunkThreads(pendingChanges));
  const statusBar = own(new AirlockStatusBar(runner, pendingChanges, approvals));
  const policyProblems = own(new PolicyDiagnostics());

  const runsView = new RunsView(runner, pendingChanges);
  const changesView = new PendingChangesView(pendingChanges);
  const approvalsView = new PendingApprovalsView(approvals);
  own(vscode.window.createTreeView(viewIds.runs, { treeDataProvider: runsView }));
  const changesTree = own(vscode.window.createTreeView(viewIds.pendingChanges, { treeDataProvider: changesView, showCollapseAll: true }));
  const approvalsTree = own(vscode.window.createTreeView(viewIds.pendingApprovals, { treeDataProvider: approvalsView }));
  own(vscode.window.registerFileDecorationProvider(new PendingChangeDecorations()));
  own(runner.onDidChangeRuns(() => runsView.refresh()));
  own(
    pendingChanges.onDidChange(() => {
      changesView.refresh();
      runsView.refresh();
      changesTree.badge = pendingChanges.count > 0 ? { value: pendingChanges.count, tooltip: `${pendingChanges.count} change(s) waiting for review` } : undefined;
    }),
  );
  own(
    approvals.onDidChange(() => {
      approvalsView.refresh();
      const n = approvals.pending.length;
      approvalsTree.badge = n > 0 ? { value: n, tooltip: `${n} gated action(s) waiting for your answer` } : undefined;
    }),
  );

  context.subscriptions.push(...registerCommands({ runAgent: new RunAgentCommand(runner, node, log), runner, pending: pendingChanges, review, hunks, approvals, statusBar, log }));
  context.subscriptions.push(...registerRollbackCommands({ runner, prompts, log }));
  const timeline = registerTimeline(context, { log, openSource: () => openTimelineSource(stateDir, log, exportAuditEvents) });

  log.info(`Agent Airlock ${context.extension.packageJSON.version as string} active; run state in ${stateDir}; sandbox in ${sandboxDir}`);
  const restored = restorePending(pendingChanges, log);
  return { runner, pendingChanges, approvals, review, hunks, statusBar, policyProblems, timeline, prompts, restored };
}

/** Lists again what earlier sessions left pending; what cannot be read back is said, not dropped silently. */
async function restorePending(pending: PendingChanges, log: vscode.LogOutputChannel): Promise<void> {
  try {
    const r = await pending.restore();
    if (r.runs > 0) log.info(`Restored ${r.changes} pending change(s) of ${r.runs} earlier run(s) for review.`);
    for (const p of r.problems) log.warn(p);
    if (r.problems.length > 0) {
      void vscode.window.showWarningMessage(`${r.problems[0]}${r.problems.length > 1 ? ` (and ${r.problems.length - 1} more; see the Agent Airlock output)` : ''}`);
    }
  } catch (err) {
    log.error(`Could not read the pending changes of earlier sessions: ${(err as Error).message}`);
    void vscode.window.showWarningMessage(`Agent Airlock could not read the pending changes of earlier sessions: ${(err as Error).message}`);
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions, which VS Code disposes.
}
