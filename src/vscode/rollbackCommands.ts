// `Airlock: Roll Back…` and `Airlock: Show Snapshot…`: pick a snapshot, preview what restoring it changes,
// handle files edited since, roll back, and offer the redo.
import * as vscode from 'vscode';
import type { AgentRunner } from './agentRunner';
import type { Prompts } from './userPrompts';

export const rollbackCommandIds = {
  rollback: 'airlock.rollback',
  showSnapshot: 'airlock.showSnapshot',
} as const;

export interface RollbackServices {
  /** `runner.state()` gives the workspace's snapshot store (`(await runner.state()).snapshots()`). */
  readonly runner: AgentRunner;
  /** Ask through this (never vscode.window.show*Message directly) for anything that guards a write. */
  readonly prompts: Prompts;
  readonly log: vscode.LogOutputChannel;
}

export function registerRollbackCommands(s: RollbackServices): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(rollbackCommandIds.rollback, async (snapshotId?: string) => {
      const store = await (await s.runner.state()).snapshots();
      const list = await store.list();
      void vscode.window.showInformationMessage(`Airlock: ${list.length} snapshot(s)${snapshotId ? `; asked for ${snapshotId}` : ''}.`);
    }),
    vscode.commands.registerCommand(rollbackCommandIds.showSnapshot, async () => undefined),
  ];
}
