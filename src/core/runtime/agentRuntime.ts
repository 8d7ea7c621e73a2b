// Runs an agent: loads its policy, starts it in a fresh isolate in the sandbox process, puts every tool call
// through the guard pipeline, and reports what it proposes. The workspace is never written by a run.
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { AuditEventInput } from '../../protocol/auditEvent';
import type { RunLogParams, RunOutcome } from '../../protocol/sandboxProtocol';
import type { AuditSink } from '../audit/auditSink';
import { GuardPipeline, type SecretScanner } from '../guard/guardPipeline';
import { HostFetch } from '../net/hostFetch';
import { defaultPolicyPath, loadPolicy, resolveAgentPolicy } from '../policy/policyLoader';
import type { ResolvedPolicy } from '../policy/policySchema';
import type { ProposedChange } from '../staging/proposedChange';
import { StagingOverlay } from '../staging/stagingOverlay';
import { CustomToolRegistry, type StagedEffect } from '../tools/customTools';
import type { ApprovalGate } from './approvalGate';
import { PausableTimer } from './pausableTimer';
import { SandboxHost, type SandboxHostOptions } from './sandboxHost';

export type RunStatus = 'completed' | 'failed' | 'halted';

export interface RunLogLine {
  readonly runId: string;
  readonly level: RunLogParams['level'];
  readonly source: RunLogParams['source'];
  readonly message: string;
}

export interface RunRequest {
  readonly workspace: string;
  readonly agentFile: string;
  /** Policy key; defaults to the file name without `.agent.js` / `.agent.mjs`. */
  readonly agentName?: string;
  readonly task: string;
  /** Defaults to `<workspace>/.airlock/policy.json`; a missing file means the built-in defaults. */
  readonly policyFile?: string;
  readonly gate: ApprovalGate;
  readonly audit: AuditSink;
  readonly scanner: SecretScanner;
  readonly onLog?: (line: RunLogLine) => void;
}

export interface RunReport {
  readonly runId: string;
  readonly agent: string;
  readonly status: RunStatus;
  readonly reason: string;
  readonly result: unknown;
  readonly changes: ProposedChange[];
  /** Custom-tool calls recorded as staged effects (nothing was really done). */
  readonly effects: readonly StagedEffect[];
  readonly calls: { total: number; denied: number };
  readonly durationMs: number;
  /** The policy file used, or undefined for the built-in defaults. */
  readonly policyFile: string | undefined;
}

export interface AgentRun {
  readonly runId: string;
  readonly agent: string;
  readonly policy: ResolvedPolicy;
  /** Ends the run now (kill switch); resolves once it is over. */
  stop(reason: string): Promise<void>;
  readonly done: Promise<RunReport>;
}

export type AgentFileErrorReason = 'not-found' | 'unreadable' | 'workspace-not-found';

export class AgentFileError extends Error {
  override readonly name = 'AgentFileError';
  constructor(
    readonly reason: AgentFileErrorReason,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is AgentFileError {
    return e instanceof AgentFileError;
  }
}

/** Largest JSON payload of one tool call's arguments the sandbox forwards. */
const MAX_ARG_CHARS = 32 * 1024 * 1024;
const MAX_LOG_LINES = 5000;

export function agentNameOf(file: string): string {
  return basename(file).replace(/\.agent\.m?js$|\.m?js$/, '');
}

export function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `run-${t}-${randomBytes(3).toString('hex')}`;
}

export class AgentRuntime {
  private readonly sandbox: SandboxHost;
  private readonly active = new Map<string, AgentRun>();

  constructor(options: SandboxHostOptions = {}) {
    this.sandbox = new SandboxHost(options);
  }

  get activeRuns(): readonly AgentRun[] {
    return [...this.active.values()];
  }

  /** The sandbox process's id while one is running (for diagnostics and the benchmark's CPU figures). */
  get sandboxPid(): number | undefined {
    return this.sandbox.pid;
  }

  /**
   * Starts a run. Throws PolicyError (invalid policy) or AgentFileError (no such agent or workspace) before
   * anything runs; everything after that ends up in the report.
   */
  async start(req: RunRequest): Promise<AgentRun> {
    const workspace = realWorkspace(req.workspace);
    const agentFile = resolve(req.agentFile);
    const source = readAgent(agentFile);
    const agent = req.agentName ?? agentNameOf(agentFile);
    const loaded = loadPolicy(req.policyFile ?? defaultPolicyPath(workspace));
    const policy = resolveAgentPolicy(loaded.policy, agent);
    // Start (or reach) the sandbox process first, so a missing Node >= 22 is a clear error before anything runs.
    await this.sandbox.ping();
    const runId = newRunId();
    const started = performance.now();
    const controller = new AbortController();
    let stopReason: string | undefined;

    const overlay = new StagingOverlay(workspace, (rel, kind) => pipeline.pathScope.isVisible(rel, kind));
    const tools = new CustomToolRegistry(policy.tools);
    const timer = new PausableTimer(policy.limits.timeoutMs, () => {
      timedOut = true;
      void this.sandbox.stopRun(runId, 'timeout');
    });
    let timedOut = false;
    const pipeline: GuardPipeline = new GuardPipeline({
      runId,
      agent,
      workspace,
      policy,
      overlay,
      tools,
      fetcher: new HostFetch(policy.net),
      gate: req.gate,
      audit: req.audit,
      scanner: req.scanner,
      signal: controller.signal,
      halt: (reason) => void this.sandbox.stopRun(runId, reason),
      onHumanWait: (waiting) => (waiting ? timer.pause() : timer.resume()),
    });
    // `e` is always a fresh literal: completed in place rather than spread (spread is slow, and log lines are many).
    const append = (e: Omit<AuditEventInput, 'runId' | 'agent'>) => req.audit.append(Object.assign(e, { runId, agent }));

    const run = async (): Promise<RunReport> => {
      let outcome: RunOutcome;
      let auditError: string | undefined;
      try {
        await append({ type: 'run.start', actor: 'system', args: { agentFile: basename(agentFile), task: req.task, policy: loaded.file ?? 'built-in defaults' } });
      } catch (e) {
        auditError = (e as Error).message;
      }
      if (auditError === undefined) {
        timer.start();
        outcome = await this.sandbox
          .runAgent(
          { runId, filename: basename(agentFile), source, task: req.task, memoryMb: policy.limits.memoryMb, timeoutMs: policy.limits.timeoutMs * 100, maxArgChars: MAX_ARG_CHARS, maxLogLines: MAX_LOG_LINES },
          {
            onToolCall: (p) => pipeline.handle(p),
            onLog: (p) => {
              // A log line is shown only once its event is durable: it may carry what the agent read (whose events
              // were acknowledged as merely written), and showing it is an effect like any other. Lines resolve in
              // order, and before the run's end event. A line the log cannot record is not shown (the run halts).
              append({ type: 'log', actor: 'agent', reason: p.message, result: { level: p.level, source: p.source } }).then(
                () => req.onLog?.({ runId, level: p.level, source: p.source, message: p.message }),
                () => undefined,
              );
            },
          },
        )
          .catch((e: unknown): RunOutcome => ({ status: 'failed', kind: 'internal', message: e instanceof Error ? e.message : String(e) }));
        timer.stop();
      } else {
        outcome = { status: 'failed', kind: 'internal', message: 'not started' };
      }
      controller.abort();
      const { status, reason, result } = classify(outcome, { auditError, halted: pipeline.halted, stopReason, timedOut, timeoutMs: policy.limits.timeoutMs });
      const changes = overlay.changes();
      if (status !== 'completed' && auditError === undefined) {
        await append({ type: 'alert', actor: 'system', decision: 'halt', reason }).catch(() => undefined);
      }
      await append({
        type: 'run.end',
        actor: 'system',
        decision: status === 'completed' ? 'allow' : 'halt',
        reason,
        result: { status, changes: changes.length, calls: { total: pipeline.stats.total, denied: pipeline.stats.denied } },
        durationMs: performance.now() - started,
        costUsd: pipeline.stats.costUsd,
      }).catch(() => undefined);
      this.active.delete(runId);
      return {
        runId,
        agent,
        status,
        reason,
        result,
        changes,
        effects: tools.stagedEffects(),
        calls: { total: pipeline.stats.total, denied: pipeline.stats.denied },
        durationMs: performance.now() - started,
        policyFile: loaded.file,
      };
    };

    const agentRun: AgentRun = {
      runId,
      agent,
      policy,
      stop: async (reason: string) => {
        stopReason ??= reason;
        await this.sandbox.stopRun(runId, reason);
        await done;
      },
      done: undefined as unknown as Promise<RunReport>,
    };
    const done = run();
    (agentRun as { done: Promise<RunReport> }).done = done;
    this.active.set(runId, agentRun);
    return agentRun;
  }

  /** The kill switch: ends every active run. */
  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.active.values()].map((r) => r.stop(reason)));
  }

  dispose(): void {
    for (const r of this.active.values()) void r.stop('the runtime is shutting down');
    this.sandbox.dispose();
  }
}

function classify(
  outcome: RunOutcome,
  ctx: { auditError: string | undefined; halted: string | undefined; stopReason: string | undefined; timedOut: boolean; timeoutMs: number },
): { status: RunStatus; reason: string; result: unknown } {
  if (ctx.auditError !== undefined) return { status: 'halted', reason: `the audit log cannot be written (${ctx.auditError}); the agent was not started`, result: null };
  if (ctx.stopReason !== undefined) return { status: 'halted', reason: `stopped: ${ctx.stopReason}`, result: null };
  if (ctx.halted !== undefined) return { status: 'halted', reason: ctx.halted, result: null };
  if (ctx.timedOut) return { status: 'failed', reason: `timed out after ${ctx.timeoutMs} ms (limits.timeoutMs)`, result: null };
  if (outcome.status === 'completed') {
    let result: unknown = null;
    try {
      result = outcome.resultJson === undefined ? null : JSON.parse(outcome.resultJson);
    } catch {
      result = null;
    }
    return { status: 'completed', reason: 'the agent finished', result };
  }
  const where = outcome.line !== undefined ? ` (line ${outcome.line}${outcome.column !== undefined ? `, column ${outcome.column}` : ''})` : '';
  const prefix: Record<typeof outcome.kind, string> = {
    threw: 'the agent threw',
    timeout: 'timed out',
    memory: 'ran out of memory',
    syntax: 'syntax error',
    import: 'import refused',
    stopped: 'stopped',
    'invalid-agent': 'not an agent',
    internal: 'sandbox failure',
  };
  return { status: 'failed', reason: `${prefix[outcome.kind]}: ${outcome.message}${where}`, result: null };
}

function realWorkspace(dir: string): string {
  try {
    const real = realpathSync(resolve(dir));
    if (!statSync(real).isDirectory()) throw new Error('not a directory');
    return real;
  } catch {
    throw new AgentFileError('workspace-not-found', `The workspace ${dir} does not exist or is not a folder.`);
  }
}

function readAgent(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AgentFileError('not-found', `No agent file at ${file}. Give the path to an *.agent.js or *.agent.mjs module.`);
    throw new AgentFileError('unreadable', `Cannot read the agent file ${file}: ${(e as Error).message}`);
  }
}
