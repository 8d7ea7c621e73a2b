// The Airlock view container's three trees: Runs (running and finished, with status and counts), Pending
// Changes (per run, each file with an A/M/D decoration) and Pending Approvals (gated actions waiting for a human).
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { runEnd, type AgentRunner, type RunRecord } from './agentRunner';
import type { ApprovalPrompts } from './approvalPrompts';
import type { PendingChange, PendingChanges, PendingRun } from './pendingChanges';
import type { ApprovalRequest } from '../core/runtime/approvalGate';

export const viewIds = { runs: 'airlock.runs', pendingChanges: 'airlock.pendingChanges', pendingApprovals: 'airlock.pendingApprovals' } as const;

/** Tree items of the Pending Changes view carry their resource under this scheme, so only they get A/M/D badges. */
export const pendingItemScheme = 'airlock-pending';

const kindLetter = { create: 'A', modify: 'M', delete: 'D' } as const;
const kindWord = { create: 'added', modify: 'modified', delete: 'deleted' } as const;
const kindColor = { create: 'gitDecoration.addedResourceForeground', modify: 'gitDecoration.modifiedResourceForeground', delete: 'gitDecoration.deletedResourceForeground' } as const;

/** What every Airlock tree shares: one change event, fired by refresh() when the model behind it changed. */
abstract class AirlockTree<T> implements vscode.TreeDataProvider<T> {
  private readonly _onDidChangeTreeData = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;

  refresh(): void {
    this._onDidChangeTreeData.fire();
  }

  abstract getChildren(element?: T): T[];
  abstract getTreeItem(element: T): vscode.TreeItem;
}

// ---- Runs ----------------------------------------------------------------------------------------------------

export class RunsView extends AirlockTree<RunRecord> {

  constructor(
    private readonly runner: AgentRunner,
    private readonly pending: PendingChanges,
  ) {
    super();
  }

  getChildren(element?: RunRecord): RunRecord[] {
    return element ? [] : [...this.runner.runs];
  }

  getTreeItem(r: RunRecord): vscode.TreeItem {
    const item = new vscode.TreeItem(r.agent, vscode.TreeItemCollapsibleState.None);
    item.id = r.runId;
    const pendingCount = this.pending.forRun(r.runId).length;
    // Runs of earlier sessions show their date too; their log lines went with that session's log channel.
    const when = r.earlier ? r.startedAt.toLocaleString() : r.startedAt.toLocaleTimeString();
    const context = r.earlier ? 'airlock.earlierRun' : 'airlock.run';
    const end = runEnd(r);
    if (!end) {
      item.iconPath = new vscode.ThemeIcon(r.error ? 'error' : 'sync~spin', r.error ? new vscode.ThemeColor('errorForeground') : undefined);
      item.description = r.error ? `failed · ${when}` : `running · since ${when}`;
      item.contextValue = r.error ? `${context}.failed` : `${context}.running`;
    } else {
      const { status, calls, changes } = end;
      item.iconPath = statusIcon(status);
      const counts = `${calls.total} call${calls.total === 1 ? '' : 's'}, ${calls.denied} denied, ${changes} change${changes === 1 ? '' : 's'}${pendingCount > 0 ? ` (${pendingCount} pending)` : ''}`;
      item.description = `${status} · ${counts} · ${when}`;
      item.contextValue = `${context}.${status}`;
    }
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${escapeMd(r.agent)}** \`${escapeMd(r.runId)}\`${r.earlier ? ' (an earlier session)' : ''}\n\n`);
    md.appendMarkdown(`Task: ${escapeMd(r.task)}\n\n`);
    md.appendMarkdown(`Agent module: \`${escapeMd(r.agentFile)}\`\n\n`);
    if (end) md.appendMarkdown(`**${end.status}**: ${escapeMd(end.reason)} (${Math.round(end.durationMs)} ms)`);
    else if (r.error) md.appendMarkdown(`**failed**: ${escapeMd(r.error)}`);
    else md.appendMarkdown('Running in the sandbox. Stop it with the stop button, or Stop All Agents.');
    item.tooltip = md;
    item.command = { command: 'airlock.openTimeline', title: 'Open Audit Timeline', arguments: [{ runId: r.runId }] };
    return item;
  }
}

function statusIcon(status: string): vscode.ThemeIcon {
  switch (status) {
    case 'completed':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'halted':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
    case 'stopped':
      return new vscode.ThemeIcon('debug-stop', new vscode.ThemeColor('editorWarning.foreground'));
    default:
      return new vscode.ThemeIcon('warning', new vscode.ThemeColor('editorWarning.foreground'));
  }
}

// ---- Pending Changes -----------------------------------------------------------------------------------------

export type PendingNode = { readonly kind: 'run'; readonly run: PendingRun } | { readonly kind: 'file'; readonly change: PendingChange };

export class PendingChangesView extends AirlockTree<PendingNode> {

  constructor(private readonly pending: PendingChanges) {
    super();
  }

  getChildren(element?: PendingNode): PendingNode[] {
    if (!element) return this.pending.runs().map((run) => ({ kind: 'run', run }));
    if (element.kind === 'run') return this.pending.forRun(element.run.runId).map((change) => ({ kind: 'file', change }));
    return [];
  }

  getParent(element: PendingNode): PendingNode | undefined {
    if (element.kind === 'run') return undefined;
    const run = this.pending.runs().find((r) => r.runId === element.change.runId);
    return run ? { kind: 'run', run } : undefined;
  }

  getTreeItem(node: PendingNode): vscode.TreeItem {
    if (node.kind === 'run') {
      const { run } = node;
      const item = new vscode.TreeItem(run.agent, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `run:${run.runId}`;
      item.description = `${run.changes.length} file${run.changes.length === 1 ? '' : 's'} · ${run.runId}`;
      item.iconPath = new vscode.ThemeIcon('hubot');
      item.tooltip = `What ${run.agent} (run ${run.runId}) proposes for ${run.workspace}. Nothing is written until you approve.`;
      item.contextValue = 'airlock.pendingRun';
      return item;
    }
    const p = node.change;
    const c = p.change;
    const item = new vscode.TreeItem(pendingItemUri(p), vscode.TreeItemCollapsibleState.None);
    item.id = `file:${p.runId}:${c.path}`;
    item.label = basename(c.path);
    const dir = c.path.includes('/') ? c.path.slice(0, c.path.lastIndexOf('/')) : '';
    const decided = p.hunkDecisions.size > 0 ? ` · ${[...p.hunkDecisions.values()].filter((d) => d === 'approved').length} approved, ${[...p.hunkDecisions.values()].filter((d) => d === 'rejected').length} rejected hunks` : '';
    item.description = `${dir}${decided}`;
    item.iconPath = vscode.ThemeIcon.File;
    item.tooltip = `${c.path} — ${kindWord[c.kind]} by ${p.agent}${c.level === 'auto' ? '' : ` (policy level: ${c.level})`}. Click to review the diff.`;
    item.contextValue = 'airlock.pendingFile';
    item.command = { command: 'airlock.openPendingChange', title: 'Open Proposed Change', arguments: [{ runId: p.runId, path: c.path }] };
    return item;
  }
}

/** The resource a Pending Changes file item carries (icon by file type, A/M/D badge by decoration). */
export function pendingItemUri(p: PendingChange): vscode.Uri {
  return vscode.Uri.from({ scheme: pendingItemScheme, path: `/${p.change.path}`, query: new URLSearchParams({ run: p.runId, kind: p.change.kind }).toString() });
}

export class PendingChangeDecorations implements vscode.FileDecorationProvider {
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== pendingItemScheme) return undefined;
    const kind = new URLSearchParams(uri.query).get('kind');
    if (kind !== 'create' && kind !== 'modify' && kind !== 'delete') return undefined;
    return new vscode.FileDecoration(kindLetter[kind], `${kindWord[kind]} (pending review)`, new vscode.ThemeColor(kindColor[kind]));
  }
}

// ---- Pending Approvals ---------------------------------------------------------------------------------------

export class PendingApprovalsView extends AirlockTree<ApprovalRequest> {

  constructor(private readonly approvals: ApprovalPrompts) {
    super();
  }

  getChildren(element?: ApprovalRequest): ApprovalRequest[] {
    return element ? [] : [...this.approvals.pending];
  }

  getTreeItem(r: ApprovalRequest): vscode.TreeItem {
    const escalation = r.kind === 'escalation';
    const item = new vscode.TreeItem(escalation ? `${r.agent} asks` : `${r.tool}`, vscode.TreeItemCollapsibleState.None);
    item.id = r.id;
    item.iconPath = new vscode.ThemeIcon(escalation ? 'question' : 'shield', new vscode.ThemeColor('editorWarning.foreground'));
    item.description = escalation ? (r.reason ?? '') : `${r.agent} · ${r.rule}${r.reason ? ` · “${r.reason}”` : ''}`;
    const md = new vscode.MarkdownString();
    md.appendMarkdown(escalation ? `**${escapeMd(r.agent)}** asks:\n\n> ${escapeMd(r.reason ?? '(no question given)')}\n\n` : `**${escapeMd(r.agent)}** wants to call **${escapeMd(r.tool)}** (rule \`${escapeMd(r.rule)}\`, level ${r.level}).\n\n`);
    if (!escalation && r.reason) md.appendMarkdown(`Agent's reason: ${escapeMd(r.reason)}\n\n`);
    if (!escalation) md.appendCodeblock(JSON.stringify(r.args, null, 2) ?? 'undefined', 'json');
    md.appendMarkdown(`\n\nRun \`${escapeMd(r.runId)}\`. No answer within ${Math.round(r.timeoutMs / 1000)} s denies it.`);
    item.tooltip = md;
    item.contextValue = 'airlock.approvalRequest';
    return item;
  }
}

/** Agent-controlled text in a tooltip: shown literally, never as markdown, links or HTML. */
function escapeMd(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&"']/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}
