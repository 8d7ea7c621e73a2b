// Runs agents for the editor: starts the sandbox runtime on the first run (not at activation), keeps track of
// running agents for the kill switch, and hands each finished run's proposals to PendingChanges.
import { dirname, relative, isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import { defaultPolicyPath, loadPolicy } from '../core/policy/policyLoader';
import { AgentRuntime } from '../core/runtime/agentRuntime';
import type { AgentRun, RunReport } from '../core/runtime/agentRuntime';
import type { ApprovalGate } from '../core/runtime/approvalGate';
import type { RunState, RunStateOptions } from '../core/runtime/runState';
import type { RunEnd, RunHistoryStore, RunSummaryRecord } from '../core/runtime/runHistoryStore';
import type { PendingChanges } from './pendingChanges';
import type { SandboxNodeSetup } from './sandboxNodeSetup';

export interface AgentRunnerOptions {
  /** The folder with the sandbox's dist/main.js and node_modules (`<extensionPath>/sandbox`). */
  readonly sandboxDir: string;
  /** Audit log, journal and snapshots: the extension's storage, outside the workspace. */
  readonly stateDir: string;
  readonly openState: (stateDir: string, redactPatterns: readonly string[], options: RunStateOptions) => Promise<RunState>;
  /** Snapshot retention from the settings, read each time the state is opened. */
  readonly retention?: () => RunStateOptions['retention'];
  readonly node: SandboxNodeSetup;
  readonly gate: ApprovalGate;
  readonly pending: PendingChanges;
  readonly log: vscode.LogOutputChannel;
  /** Where the list of recent runs is kept across reloads (none: this window's runs only). */
  readonly historyStore?: RunHistoryStore;
}

export interface AgentRunRequest {
  readonly agentFile: string;
  readonly task: string;
  readonly agentName?: string;
  /** Defaults to the workspace folder holding the agent file, else the first folder. */
  readonly workspace?: string;
}

/** A run started from this window: running until `report` is set. */
export interface RunRecord {
  readonly runId: string;
  readonly agent: string;
  readonly agentFile: string;
  readonly task: string;
  readonly workspace: string;
  readonly startedAt: Date;
  readonly report?: RunReport;
  /** Set when the run ended without a report (the sandbox failed in a way the runtime could not classify). */
  readonly error?: string;
  /** How it ended, for a run of an earlier session (its report is gone with that session). */
  readonly ended?: RunEnd;
  /** A run of an earlier session of this workspace, listed again after a reload. */
  readonly earlier?: boolean;
}

/** How a run ended, from its report (this session) or its saved summary (an earlier one). */
export function runEnd(r: RunRecord): RunEnd | undefined {
  if (r.report) return { status: r.report.status, reason: r.report.reason, durationMs: r.report.durationMs, calls: { total: r.report.calls.total, denied: r.report.calls.denied }, changes: r.report.changes.length };
  return r.ended;
}

/** Finished runs kept for the Runs view (the audit timeline keeps everything). */
const HISTORY = 50;

export type AgentRunnerErrorReason = 'untrusted' | 'no-workspace' | 'busy';

export class AgentRunnerError extends Error {
  override readonly name = 'AgentRunnerError';
  constructor(
    readonly reason: AgentRunnerErrorReason,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is AgentRunnerError {
    return e instanceof AgentRunnerError;
  }
}

export class AgentRunner implements vscode.Disposable {
  private runtime: AgentRuntime | undefined;
  /** Runtimes replaced while agents were still running on them; disposed once nothing runs. */
  private retired: AgentRuntime[] = [];
  private openedState: { readonly key: string; readonly opening: Promise<RunState> } | undefined;
  private readonly active = new Map<string, AgentRun>();
  private history: RunRecord[] = [];
  private readonly _onDidChangeRuns = new vscode.EventEmitter<void>();
  /** A run started or ended. */
  readonly onDidChangeRuns = this._onDidChangeRuns.event;
  private readonly subscriptions: vscode.Disposable[] = [this._onDidChangeRuns];

  constructor(private readonly options: AgentRunnerOptions) {
    // A different Node was chosen: the next run starts a new sandbox process on it.
    this.subscriptions.push(options.node.onDidChange(() => this.retireRuntime()));
    if (options.historyStore) {
      const { runs, problem } = options.historyStore.load();
      if (problem) options.log.warn(problem);
      this.history = runs.slice(0, HISTORY).map((s) => ({
        runId: s.runId,
        agent: s.agent,
        agentFile: s.agentFile,
        task: s.task,
        workspace: s.workspace,
        startedAt: new Date(s.startedAt),
        ended: s.ended,
        // A run the window went away from while it ran was stopped with its sandbox.
        error: s.error ?? (s.ended ? undefined : 'the window closed while it ran'),
        earlier: true,
      }));
    }
  }

  /** Saves the list for the next session; a failure costs only that list, and is logged. */
  private saveHistory(): void {
    const store = this.options.historyStore;
    if (!store) return;
    const summaries: RunSummaryRecord[] = this.history.map((r) => {
      const end = runEnd(r);
      return {
        runId: r.runId,
        agent: r.agent,
        agentFile: r.agentFile,
        task: r.task.slice(0, 20_000),
        workspace: r.workspace,
        startedAt: r.startedAt.toISOString(),
        ...(end ? { ended: { ...end, status: end.status.slice(0, 32), reason: end.reason.slice(0, 4000) } } : {}),
        ...(r.error !== undefined ? { error: r.error.slice(0, 4000) } : {}),
      };
    });
    store.save(summaries).catch((e: unknown) => this.options.log.warn(`Could not save the list of runs to ${store.file} (${(e as Error).message}).`));
  }

  get running(): readonly AgentRun[] {
    return [...this.active.values()];
  }

  /** Runs started in this window, newest first: running ones without a report. */
  get runs(): readonly RunRecord[] {
    return this.history;
  }

  /** Stops one running agent; false when it is not running. */
  async stop(runId: string, reason: string): Promise<boolean> {
    const run = this.active.get(runId);
    if (!run) return false;
    await run.stop(reason);
    return true;
  }

  /**
   * Runs an agent to the end and returns its report. Throws before anything runs for an untrusted workspace,
   * an invalid policy (PolicyError), a missing agent file (AgentFileError) or no usable Node (SandboxNodeError).
   */
  async run(request: AgentRunRequest, token?: vscode.CancellationToken): Promise<RunReport> {
    if (!vscode.workspace.isTrusted) {
      throw new AgentRunnerError('untrusted', 'Running agents is disabled in an untrusted workspace: an agent module and the workspace policy decide what runs. Trust the workspace to run agents.');
    }
    const workspace = request.workspace ?? workspaceFor(request.agentFile);
    // Read here as well as by the runtime: an invalid policy stops the run before a sandbox starts, and its
    // redaction patterns must be in force in the audit log before the first event.
    const { policy } = loadPolicy(defaultPolicyPath(workspace));
    const runtime = await this.ensureRuntime();
    const state = await this.openState(policy.redact?.patterns ?? []);
    const run = await runtime.start({
      workspace,
      agentFile: request.agentFile,
      agentName: request.agentName,
      task: request.task,
      gate: this.options.gate,
      audit: state.audit,
      scanner: state.scanner,
      onLog: (l) => this.options.log[l.level === 'error' ? 'error' : l.level === 'warn' ? 'warn' : 'info'](`[${l.runId}] ${l.message}`),
    });
    this.active.set(run.runId, run);
    const record: RunRecord = { runId: run.runId, agent: run.agent, agentFile: request.agentFile, task: request.task, workspace, startedAt: new Date() };
    this.history = [record, ...this.history].slice(0, HISTORY);
    this.saveHistory();
    this._onDidChangeRuns.fire();
    this.options.log.info(`[${run.runId}] ${run.agent} started in ${workspace}`);
    const cancel = token?.onCancellationRequested(() => void run.stop('cancelled in the editor'));
    let failure: string | undefined = 'the run ended without a report';
    try {
      const report = await run.done;
      failure = undefined;
      this.history = this.history.map((r) => (r.runId === run.runId ? { ...r, report } : r));
      this.options.log.info(`[${run.runId}] ${report.status}: ${report.reason} (${report.calls.total} calls, ${report.calls.denied} denied, ${report.changes.length} changes)`);
      this.options.pending.add(workspace, report);
      return report;
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      if (failure !== undefined) this.history = this.history.map((r) => (r.runId === run.runId ? { ...r, error: failure } : r));
      cancel?.dispose();
      this.active.delete(run.runId);
      if (this.active.size === 0) this.disposeRetired();
      this.saveHistory();
      this._onDidChangeRuns.fire();
    }
  }

  /** The kill switch: ends every running agent. Resolves with how many were stopped. */
  async stopAll(reason: string): Promise<number> {
    const runs = [...this.active.values()];
    await Promise.all(runs.map((r) => r.stop(reason)));
    return runs.length;
  }

  private async ensureRuntime(): Promise<AgentRuntime> {
    if (this.runtime) return this.runtime;
    const nodePath = await this.options.node.resolve();
    this.runtime ??= new AgentRuntime({
      sandboxDir: this.options.sandboxDir,
      nodePath,
      onOutput: (text) => this.options.log.debug(`[sandbox] ${text.trimEnd()}`),
    });
    return this.runtime;
  }

  /**
   * The workspace's run state (audit log and snapshot store) for applies and rollbacks from the editor: the one
   * runs use when it is open, else opened with the redaction patterns of the first folder's policy.
   */
  async state(): Promise<RunState> {
    if (this.openedState) return this.openedState.opening;
    const folder = vscode.workspace.workspaceFolders?.[0];
    let patterns: readonly string[] = [];
    if (folder) {
      try {
        patterns = loadPolicy(defaultPolicyPath(folder.uri.fsPath)).policy.redact?.patterns ?? [];
      } catch {
        // An invalid policy refuses runs, not rollbacks: the built-in redaction still applies.
      }
    }
    return this.openState(patterns);
  }

  private async openState(redactPatterns: readonly string[]): Promise<RunState> {
    const key = JSON.stringify(redactPatterns);
    if (this.openedState && this.openedState.key !== key) {
      // The policy's redaction patterns changed. One writer per audit log: reopen it when no run is using it.
      if (this.active.size > 0) {
        throw new AgentRunnerError('busy', 'The policy’s redaction patterns changed while agents are running. Let them finish (or stop them), then run again.');
      }
      const old = this.openedState.opening;
      this.openedState = undefined;
      await old.then((s) => s.close()).catch(() => undefined);
    }
    if (!this.openedState) {
      const opening = this.options.openState(this.options.stateDir, redactPatterns, { lazy: true, retention: this.options.retention?.() });
      this.openedState = { key, opening };
      opening.catch(() => {
        if (this.openedState?.opening === opening) this.openedState = undefined;
      });
    }
    return this.openedState.opening;
  }

  private retireRuntime(): void {
    // Running agents keep their sandbox until they end; only new runs use the new Node.
    if (this.runtime) this.retired.push(this.runtime);
    this.runtime = undefined;
    if (this.active.size === 0) this.disposeRetired();
  }

  private disposeRetired(): void {
    for (const r of this.retired.splice(0)) r.dispose();
  }

  dispose(): void {
    this.runtime?.dispose();
    this.runtime = undefined;
    this.disposeRetired();
    void this.openedState?.opening.then((s) => s.close()).catch(() => undefined);
    for (const d of this.subscriptions) d.dispose();
  }
}

function workspaceFor(agentFile: string): string {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const holding = folders.find((f) => {
    const rel = relative(f.uri.fsPath, agentFile);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  });
  const folder = holding ?? folders[0];
  if (!folder) throw new AgentRunnerError('no-workspace', `Open a folder to run ${agentFile} against (agents work on a workspace folder; ${dirname(agentFile)} is not one).`);
  return folder.uri.fsPath;
}
