// The Airlock shield in the status bar: running agents and what waits for a human at a glance; clicking it
// offers the kill switch, the timeline and the review views. It also keeps the `airlock.runningCount` and
// `airlock.pendingCount` context keys that menus use.
import * as vscode from 'vscode';
import type { AgentRunner } from './agentRunner';
import type { ApprovalPrompts } from './approvalPrompts';
import type { PendingChanges } from './pendingChanges';

export const statusMenuCommand = 'airlock.showStatusMenu';

interface MenuItem extends vscode.QuickPickItem {
  readonly command?: string;
}

export class AirlockStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('airlock.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly runner: AgentRunner,
    private readonly pending: PendingChanges,
    private readonly approvals: ApprovalPrompts,
  ) {
    this.item.name = 'Agent Airlock';
    this.item.command = statusMenuCommand;
    this.subscriptions.push(this.item, runner.onDidChangeRuns(() => this.update()), pending.onDidChange(() => this.update()), approvals.onDidChange(() => this.update()));
    this.update();
    this.item.show();
  }

  /** What the shield shows now (for tests): its text and tooltip. */
  get shown(): { readonly text: string; readonly tooltip: string } {
    return { text: this.item.text, tooltip: typeof this.item.tooltip === 'string' ? this.item.tooltip : (this.item.tooltip?.value ?? '') };
  }

  private update(): void {
    const running = this.runner.running.length;
    const changes = this.pending.count;
    const asks = this.approvals.pending.length;
    const parts = [running > 0 ? `$(sync~spin) ${running}` : '', changes > 0 ? `$(diff) ${changes}` : '', asks > 0 ? `$(bell-dot) ${asks}` : ''].filter(Boolean);
    this.item.text = ['$(shield)', ...(parts.length > 0 ? parts : ['Airlock'])].join(' ');
    this.item.tooltip = `Agent Airlock — ${running} agent${running === 1 ? '' : 's'} running, ${changes} change${changes === 1 ? '' : 's'} pending review, ${asks} approval${asks === 1 ? '' : 's'} waiting. Click for Stop All Agents, the Audit Timeline and Pending Changes.`;
    this.item.backgroundColor = asks > 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: this.item.tooltip, role: 'button' };
    void vscode.commands.executeCommand('setContext', 'airlock.runningCount', running);
    void vscode.commands.executeCommand('setContext', 'airlock.pendingCount', changes + asks);
  }

  /** The shield's menu. Resolves with the command run, if any. */
  async showMenu(): Promise<string | undefined> {
    const running = this.runner.running.length;
    const items: MenuItem[] = [
      { label: '$(debug-stop) Stop All Agents', description: running > 0 ? `${running} running — each ends within a second` : 'nothing is running', command: 'airlock.stopAll' },
      { label: '$(history) Open Audit Timeline', description: 'every action, decision and answer', command: 'airlock.openTimeline' },
      { label: '$(diff) Pending Changes', description: `${this.pending.count} waiting for review`, command: 'airlock.pendingChanges.focus' },
      { label: '$(bell-dot) Pending Approvals', description: `${this.approvals.pending.length} waiting`, command: 'airlock.pendingApprovals.focus' },
      { label: '$(discard) Roll Back…', description: 'undo an applied change', command: 'airlock.rollback' },
      { label: '$(play) Run Agent…', command: 'airlock.runAgent' },
      { label: '$(shield) Open Policy', command: 'airlock.openPolicy' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'Agent Airlock', placeHolder: this.item.tooltip as string });
    if (!pick?.command) return undefined;
    await vscode.commands.executeCommand(pick.command);
    return pick.command;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
