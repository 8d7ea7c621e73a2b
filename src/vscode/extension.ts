// The Agent Airlock extension. activate() only wires: the log channel first, then each service, every one
// registered for disposal the moment it exists. The sandbox itself starts on the first run, not here.
import * as vscode from 'vscode';
import { registerCommands } from './airlockCommands';
import { AgentRunner } from './agentRunner';
import { ApprovalPrompts } from './approvalPrompts';
import { PendingChanges } from './pendingChanges';
import { ProposedDiffDocuments, proposedDiffScheme } from './proposedDiffDocuments';
import { RunAgentCommand } from './runAgentCommand';
import { registerRollbackCommands } from './rollbackCommands';
import { Prompts } from './userPrompts';
import { openRunState } from '../core/runtime/runState';
import { SandboxNodeSetup } from './sandboxNodeSetup';
import { openTimelineSource } from './timeline/openTimelineSource';
import { registerTimeline } from './timeline/registerTimeline';
import type { TimelineController } from './timeline/registerTimeline';
import { exportAuditEvents } from './timeline/timelineExport';

/** What activate() returns: the services behind the commands, for tests and for other extensions. */
export interface AirlockApi {
  readonly runner: AgentRunner;
  readonly pendingChanges: PendingChanges;
  readonly approvals: ApprovalPrompts;
  readonly timeline: TimelineController;
  /** The questions asked before writing to the workspace; tests answer them through `prompts.answerWith`. */
  readonly prompts: Prompts;
}

export function activate(context: vscode.ExtensionContext): AirlockApi {
  const log = vscode.window.createOutputChannel('Agent Airlock', { log: true });
  context.subscriptions.push(log);

  // Audit log and snapshots live in the extension's storage for this workspace, never inside the workspace.
  const stateDir = (context.storageUri ?? context.globalStorageUri).fsPath;
  // A packaged extension carries sandbox/dist/main.js and sandbox/node_modules/isolated-vm; so does a checkout.
  const sandboxDir = context.asAbsolutePath('sandbox');

  const node = new SandboxNodeSetup(sandboxDir, context.globalStorageUri, log);
  context.subscriptions.push(node);
  const prompts = new Prompts();
  const approvals = new ApprovalPrompts(log);
  context.subscriptions.push(approvals);
  const pendingChanges = new PendingChanges();
  context.subscriptions.push(pendingChanges);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(proposedDiffScheme, new ProposedDiffDocuments(pendingChanges)));
  const retention = () => {
    const c = vscode.workspace.getConfiguration('airlock.snapshots');
    return { keepLast: c.get<number>('keepLast', 100), keepDays: c.get<number>('keepDays', 30) };
  };
  const runner = new AgentRunner({ sandboxDir, stateDir, openState: openRunState, retention, node, gate: approvals, pending: pendingChanges, log });
  context.subscriptions.push(runner);

  context.subscriptions.push(...registerCommands({ runAgent: new RunAgentCommand(runner, node, log), runner, pending: pendingChanges, log, stateDir }));
  context.subscriptions.push(...registerRollbackCommands({ runner, prompts, log }));
  const timeline = registerTimeline(context, { log, openSource: () => openTimelineSource(stateDir, log, exportAuditEvents) });

  log.info(`Agent Airlock ${context.extension.packageJSON.version as string} active; run state in ${stateDir}; sandbox in ${sandboxDir}`);
  return { runner, pendingChanges, approvals, timeline, prompts };
}

export function deactivate(): void {
  // Everything is in context.subscriptions, which VS Code disposes.
}
