// Registers the Airlock commands (package.json `contributes.commands`). Each handler is small and delegates to
// the service that owns the behaviour; every registration is returned for the extension's subscriptions.
import * as vscode from 'vscode';
import type { AgentRunner, RunRecord } from './agentRunner';
import type { ApprovalPrompts } from './approvalPrompts';
import type { ChangeReview, ReviewOutcome } from './changeReview';
import type { HunkThreads } from './hunkThreads';
import { openPolicy } from './openPolicyCommand';
import type { PendingChanges } from './pendingChanges';
import type { PendingNode } from './airlockViews';
import { showPendingChanges } from './pendingChangesCommand';
import { openProposedDiff, ProposedDocuments } from './proposedDocuments';
import type { RunAgentCommand } from './runAgentCommand';
import type { AirlockStatusBar } from './statusBar';

export const commandIds = {
  runAgent: 'airlock.runAgent',
  stopAll: 'airlock.stopAll',
  stopRun: 'airlock.stopRun',
  openTimeline: 'airlock.openTimeline',
  rollback: 'airlock.rollback',
  openPolicy: 'airlock.openPolicy',
  showPendingChanges: 'airlock.showPendingChanges',
  openPendingChange: 'airlock.openPendingChange',
  approveChange: 'airlock.approveChange',
  rejectChange: 'airlock.rejectChange',
  approveRun: 'airlock.approveRun',
  rejectRun: 'airlock.rejectRun',
  approveHunk: 'airlock.approveHunk',
  rejectHunk: 'airlock.rejectHunk',
  approveRequest: 'airlock.approveRequest',
  denyRequest: 'airlock.denyRequest',
  showRunLog: 'airlock.showRunLog',
  showStatusMenu: 'airlock.showStatusMenu',
} as const;

export interface CommandServices {
  readonly runAgent: RunAgentCommand;
  readonly runner: AgentRunner;
  readonly pending: PendingChanges;
  readonly review: ChangeReview;
  readonly hunks: HunkThreads;
  readonly approvals: ApprovalPrompts;
  readonly statusBar: AirlockStatusBar;
  readonly log: vscode.LogOutputChannel;
}

/** What names one pending change: a tree item, the `{ runId, path }` the timeline and tests pass, or a proposed document URI (editor title). */
type ChangeArg = PendingNode | { runId: string; path: string } | vscode.Uri | undefined;
/** What names one run: a tree item of either view, or its id. */
type RunArg = PendingNode | RunRecord | { runId: string } | string | undefined;

export function registerCommands(s: CommandServices): vscode.Disposable[] {
  const decided = (o: ReviewOutcome) => {
    if (o.outcome === 'applied') {
      const rollBack = 'Roll Back';
      void vscode.window
        .showInformationMessage(`Airlock: applied ${list(o.paths)} (snapshot ${o.snapshotId}).`, rollBack)
        .then((c) => (c === rollBack ? vscode.commands.executeCommand(commandIds.rollback, o.snapshotId) : undefined));
    } else if (o.outcome === 'rejected') {
      void vscode.window.showInformationMessage(`Airlock: rejected ${list(o.paths)}; the workspace was not changed.`);
    } else if (o.outcome === 'cancelled') {
      void vscode.window.showInformationMessage(`Airlock: nothing was written (${o.why}); the change is still pending.`);
    }
    return o;
  };
  const failed = (what: string) => (e: unknown) => {
    s.log.error(`${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    void vscode.window.showErrorMessage(`Airlock: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  };
  const change = (arg: ChangeArg) => {
    // The editor title passes the URI of the side it was clicked on; fall back to the diff in front.
    const ref = changeRef(arg) ?? changeRef(activeProposed());
    if (!ref) throw new Error('Pick a pending change in the Pending Changes view, or open its diff, first.');
    return ref;
  };

  return [
    vscode.commands.registerCommand(commandIds.runAgent, (arg?: vscode.Uri | { agentFile?: string; task?: string }) => s.runAgent.execute(arg)),

    vscode.commands.registerCommand(commandIds.stopAll, async () => {
      const stopped = await s.runner.stopAll('Stop All Agents (kill switch)');
      void vscode.window.showInformationMessage(stopped === 0 ? 'Airlock: no agents are running.' : `Airlock: stopped ${stopped} running agent${stopped === 1 ? '' : 's'}.`);
      return stopped;
    }),
    vscode.commands.registerCommand(commandIds.stopRun, async (arg: RunArg) => {
      const runId = runIdOf(arg);
      return runId ? s.runner.stop(runId, 'stopped in the editor') : false;
    }),

    // commandIds.openTimeline is registered by registerTimeline (src/vscode/timeline/registerTimeline.ts);
    // commandIds.rollback and airlock.showSnapshot by registerRollbackCommands (rollbackCommands.ts).

    vscode.commands.registerCommand(commandIds.openPolicy, () => openPolicy(s.log)),
    vscode.commands.registerCommand(commandIds.showPendingChanges, () => showPendingChanges(s.pending)),
    vscode.commands.registerCommand(commandIds.openPendingChange, (arg: ChangeArg) => {
      const { runId, path } = change(arg);
      return openProposedDiff(s.pending, runId, path);
    }),

    vscode.commands.registerCommand(commandIds.approveChange, (arg: ChangeArg) => {
      const { runId, path } = change(arg);
      return s.review.approve(runId, path).then(decided, failed(`Applying ${path}`));
    }),
    vscode.commands.registerCommand(commandIds.rejectChange, (arg: ChangeArg) => {
      const { runId, path } = change(arg);
      return s.review.reject(runId, path).then(decided, failed(`Rejecting ${path}`));
    }),
    vscode.commands.registerCommand(commandIds.approveRun, (arg: RunArg) => {
      const runId = runIdOf(arg);
      return runId ? s.review.approveRun(runId).then(decided, failed(`Applying run ${runId}`)) : undefined;
    }),
    vscode.commands.registerCommand(commandIds.rejectRun, (arg: RunArg) => {
      const runId = runIdOf(arg);
      return runId ? s.review.rejectRun(runId).then(decided, failed(`Rejecting run ${runId}`)) : undefined;
    }),
    vscode.commands.registerCommand(commandIds.approveHunk, (thread: vscode.CommentThread) => {
      const ref = s.hunks.refOf(thread);
      return ref ? s.review.decideHunk(ref.runId, ref.path, ref.index, 'approved').then(decided, failed(`Applying a hunk of ${ref.path}`)) : undefined;
    }),
    vscode.commands.registerCommand(commandIds.rejectHunk, (thread: vscode.CommentThread) => {
      const ref = s.hunks.refOf(thread);
      return ref ? s.review.decideHunk(ref.runId, ref.path, ref.index, 'rejected').then(decided, failed(`Rejecting a hunk of ${ref.path}`)) : undefined;
    }),

    vscode.commands.registerCommand(commandIds.approveRequest, (arg: { id: string } | string) => s.approvals.answer(typeof arg === 'string' ? arg : arg.id, true)),
    vscode.commands.registerCommand(commandIds.denyRequest, (arg: { id: string } | string) => s.approvals.answer(typeof arg === 'string' ? arg : arg.id, false)),

    vscode.commands.registerCommand(commandIds.showRunLog, () => s.log.show(true)),
    vscode.commands.registerCommand(commandIds.showStatusMenu, () => s.statusBar.showMenu()),
  ];
}

function changeRef(arg: ChangeArg): { runId: string; path: string } | undefined {
  if (!arg) return undefined;
  if (arg instanceof vscode.Uri) return ProposedDocuments.parse(arg);
  if ('kind' in arg) return arg.kind === 'file' ? { runId: arg.change.runId, path: arg.change.change.path } : undefined;
  return arg;
}

function runIdOf(arg: RunArg): string | undefined {
  if (!arg) return undefined;
  if (typeof arg === 'string') return arg;
  if ('kind' in arg) return arg.kind === 'run' ? arg.run.runId : arg.change.runId;
  return arg.runId;
}

/** The proposed side of the diff editor in front (the editor title's Approve / Reject). */
function activeProposed(): vscode.Uri | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  if (uri && ProposedDocuments.parse(uri)) return uri;
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (tab instanceof vscode.TabInputTextDiff && ProposedDocuments.parse(tab.modified)) return tab.modified;
  return undefined;
}

function list(paths: readonly string[]): string {
  return paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more`;
}
