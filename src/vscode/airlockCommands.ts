// Registers the Airlock commands (package.json `contributes.commands`). Each handler is small and delegates to
// the service that owns the behaviour; every registration is returned for the extension's subscriptions.
import * as vscode from 'vscode';
import type { AgentRunner } from './agentRunner';
import { openPolicy } from './openPolicyCommand';
import type { PendingChanges } from './pendingChanges';
import { showPendingChanges } from './pendingChangesCommand';
import type { RunAgentCommand } from './runAgentCommand';

export const commandIds = {
  runAgent: 'airlock.runAgent',
  stopAll: 'airlock.stopAll',
  openTimeline: 'airlock.openTimeline',
  rollback: 'airlock.rollback',
  openPolicy: 'airlock.openPolicy',
  showPendingChanges: 'airlock.showPendingChanges',
} as const;

export interface CommandServices {
  readonly runAgent: RunAgentCommand;
  readonly runner: AgentRunner;
  readonly pending: PendingChanges;
  readonly log: vscode.LogOutputChannel;
  /** Where this workspace's audit log and snapshots live (shown to the user). */
  readonly stateDir: string;
}

export function registerCommands(s: CommandServices): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(commandIds.runAgent, (arg?: vscode.Uri | { agentFile?: string; task?: string }) => s.runAgent.execute(arg)),

    vscode.commands.registerCommand(commandIds.stopAll, async () => {
      const stopped = await s.runner.stopAll('Stop All Agents (kill switch)');
      void vscode.window.showInformationMessage(stopped === 0 ? 'Airlock: no agents are running.' : `Airlock: stopped ${stopped} running agent${stopped === 1 ? '' : 's'}.`);
      return stopped;
    }),

    // commandIds.openTimeline is registered by registerTimeline (src/vscode/timeline/registerTimeline.ts).

    // commandIds.rollback and airlock.showSnapshot are registered by registerRollbackCommands (rollbackCommands.ts).

    vscode.commands.registerCommand(commandIds.openPolicy, () => openPolicy(s.log)),

    vscode.commands.registerCommand(commandIds.showPendingChanges, () => showPendingChanges(s.pending)),
  ];
}
