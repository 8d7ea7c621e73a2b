// `Airlock: Run Agent…`: pick an agent module, say what it should do, run it in the sandbox with a cancellable
// progress notification, and report what it proposes. Called with a Uri (explorer, editor title) or with
// `{ agentFile, task }` (tests, other extensions) it skips the questions it has answers for.
import { basename, relative } from 'node:path';
import * as vscode from 'vscode';
import { PolicyError } from '../core/policy/policyLoader';
import { AgentFileError } from '../core/runtime/agentRuntime';
import type { RunReport } from '../core/runtime/agentRuntime';
import { SandboxNodeError } from '../core/runtime/sandboxNode';
import { AgentRunnerError } from './agentRunner';
import type { AgentRunner } from './agentRunner';
import type { SandboxNodeSetup } from './sandboxNodeSetup';

export interface RunAgentArgs {
  readonly agentFile?: string;
  readonly task?: string;
  readonly agentName?: string;
}

export class RunAgentCommand {
  constructor(
    private readonly runner: AgentRunner,
    private readonly node: SandboxNodeSetup,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Resolves with the run's report, or undefined when the user backed out or the run could not start. */
  async execute(arg?: vscode.Uri | RunAgentArgs): Promise<RunReport | undefined> {
    const programmatic = arg !== undefined && !(arg instanceof vscode.Uri);
    const args: RunAgentArgs = arg instanceof vscode.Uri ? { agentFile: arg.fsPath } : (arg ?? {});
    if (!vscode.workspace.isTrusted) {
      const manage = 'Manage Workspace Trust';
      // Not awaited: the command ends now; the message stays until the user acts on it.
      void vscode.window
        .showWarningMessage('Airlock does not run agents in an untrusted workspace: the agent modules and the policy here decide what runs. Trust this workspace to run agents.', manage)
        .then((choice) => (choice === manage ? vscode.commands.executeCommand('workbench.trust.manage') : undefined));
      return undefined;
    }
    const agentFile = args.agentFile ?? (await pickAgentFile());
    if (!agentFile) return undefined;
    const name = basename(agentFile).replace(/\.agent\.m?js$/, '');
    const task =
      args.task ??
      (await vscode.window.showInputBox({
        title: `Airlock: Run ${name}`,
        prompt: 'The task for the agent (it reads it as ctx.task). It runs in the sandbox; nothing in the workspace changes until you approve.',
        placeHolder: 'e.g. rename formatPrice to formatMoney',
        ignoreFocusOut: true,
      }));
    if (task === undefined) return undefined;

    try {
      const report = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Airlock: running ${name} in the sandbox…`, cancellable: true },
        (_progress, token) => this.runner.run({ agentFile, task, agentName: args.agentName }, token),
      );
      void this.showReport(report);
      return report;
    } catch (e) {
      void this.showError(e);
      if (programmatic) throw e;
      return undefined;
    }
  }

  private async showReport(report: RunReport): Promise<void> {
    const n = report.changes.length;
    const changes = n === 0 ? 'No changes proposed' : `${n} proposed change${n === 1 ? '' : 's'} (the workspace is unchanged until you approve)`;
    const text = `${report.agent} ${report.status}: ${report.reason}. ${changes}. ${report.calls.total} tool calls, ${report.calls.denied} denied.`;
    const show = 'Show Pending Changes';
    const logs = 'Show Log';
    const buttons = n > 0 ? [show, logs] : [logs];
    const choice = report.status === 'completed' ? await vscode.window.showInformationMessage(text, ...buttons) : await vscode.window.showWarningMessage(text, ...buttons);
    if (choice === show) await vscode.commands.executeCommand('airlock.showPendingChanges');
    if (choice === logs) this.log.show(true);
  }

  private async showError(e: unknown): Promise<void> {
    if (SandboxNodeError.is(e)) return this.node.explain(e);
    this.log.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    if (PolicyError.is(e)) {
      const open = 'Open Policy';
      if ((await vscode.window.showErrorMessage(`Airlock did not run the agent: ${e.message}`, open)) === open) {
        await vscode.window.showTextDocument(vscode.Uri.file(e.file));
      }
      return;
    }
    const known = AgentFileError.is(e) || AgentRunnerError.is(e);
    const message = known ? (e as Error).message : `Airlock could not run the agent: ${e instanceof Error ? e.message : String(e)}`;
    const logs = 'Show Log';
    if ((await vscode.window.showErrorMessage(message, logs)) === logs) this.log.show(true);
  }
}

interface AgentPick extends vscode.QuickPickItem {
  readonly file?: string;
}

async function pickAgentFile(): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.agent.{js,mjs}', '**/node_modules/**', 200);
  const items: AgentPick[] = found
    .map((u) => u.fsPath)
    .sort()
    .map((file) => ({ label: `$(hubot) ${basename(file)}`, description: describe(file), file }));
  const browse: AgentPick = { label: '$(folder-opened) Browse…', description: 'an agent module outside the workspace' };
  const pick = await vscode.window.showQuickPick([...items, browse], {
    title: 'Airlock: Run Agent',
    placeHolder: items.length > 0 ? 'Pick the agent to run in the sandbox' : 'No *.agent.js or *.agent.mjs files in this workspace — browse for one',
    matchOnDescription: true,
  });
  if (!pick) return undefined;
  if (pick.file) return pick.file;
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Run in Airlock', filters: { 'Agent modules': ['js', 'mjs'] } });
  return chosen?.[0]?.fsPath;
}

function describe(file: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
  return folder ? relative(folder.uri.fsPath, file) : file;
}
