// Host side of the sandbox process: starts `node --no-node-snapshot sandbox/dist/main.js` on demand (a Node >= 22
// of its own, an IPC channel), runs agents in it, answers their tool calls through the handlers given per run,
// stops a run within a second, and after a crash starts a fresh process for the next run (a bounded number of
// times per minute). Every message from the sandbox is validated; unknown or malformed ones are refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createMessageConnection, ErrorCodes, IPCMessageReader, IPCMessageWriter, ResponseError, type MessageConnection } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import {
  PingResult,
  pingMethod,
  RunLogParams,
  runLogMethod,
  RunOutcome,
  RunStartParams,
  runStartMethod,
  runStopMethod,
  toolCallMethod,
  ToolCallParams,
  ToolCallResult,
} from '../../protocol/sandboxProtocol';
import { findSandboxNode, type SandboxNode } from './sandboxNode';

export interface RunHandlers {
  /** A tool call from the agent; the answer goes back into the isolate (ok:false rejects the agent's promise). */
  onToolCall(params: ToolCallParams): Promise<ToolCallResult>;
  /** `console.*` or `ctx.log` inside the isolate. */
  onLog(params: RunLogParams): void;
}

export interface SandboxHostOptions {
  /** The folder holding dist/main.js, .node/ and node_modules/. Default: `../sandbox` next to the bundle. */
  readonly sandboxDir?: string;
  /** An explicit Node binary for the sandbox (the `airlock.sandbox.nodePath` setting). */
  readonly nodePath?: string;
  /** Where AIRLOCK_SANDBOX_NODE and PATH are read; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Unexpected process deaths tolerated per minute before runAgent refuses; default 5. */
  readonly maxRestartsPerMinute?: number;
  /** How long stopRun waits for the sandbox to end the run before it kills the process; default 500 ms. */
  readonly stopGraceMs?: number;
  /** The sandbox's stderr (and stdout, which it does not use), for the log. */
  readonly onOutput?: (text: string) => void;
}

export interface SandboxExit {
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the host ended it (dispose, or a run that would not stop); false for a crash. */
  readonly expected: boolean;
  /** "exit code 70: <last stderr line>", "signal SIGKILL", … */
  readonly description: string;
}

export interface RejectedMessage {
  readonly method: string;
  readonly problem: string;
}

export type SandboxErrorReason = 'disposed' | 'not-built' | 'restart-limit' | 'duplicate-run' | 'invalid-params';

export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(
    readonly reason: SandboxErrorReason,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is SandboxError {
    return e instanceof SandboxError;
  }
}

/** An event in the VS Code style, without depending on vscode: subscribe, get something to dispose. */
export type Event<T> = (listener: (e: T) => void) => { dispose(): void };

class Emitter<T> {
  private readonly listeners = new Set<(e: T) => void>();
  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(e: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(e);
      } catch {
        // A listener's failure is its own; the others still hear the event.
      }
    }
  }
  dispose(): void {
    this.listeners.clear();
  }
}

interface SandboxProcess {
  readonly child: ChildProcess;
  readonly connection: MessageConnection;
  readonly runs: Map<string, PendingRun>;
  /** Requests other than runs (ping) that keep the process referenced. */
  busy: number;
  gone: boolean;
  expectedExit: boolean;
  exitDescription: string | undefined;
  stderrTail: string;
  readonly exited: Promise<SandboxExit>;
}

interface PendingRun {
  readonly runId: string;
  readonly handlers: RunHandlers;
  readonly done: Promise<RunOutcome>;
  proc: SandboxProcess | undefined;
  settled: boolean;
  stopReason: string | undefined;
  settle(outcome: RunOutcome): void;
}

const RESTART_WINDOW_MS = 60_000;
/** How long a failed run/start request waits for the process's exit to explain it. */
const EXIT_EXPLAIN_MS = 1_000;

export class SandboxHost {
  private readonly _onDidExit = new Emitter<SandboxExit>();
  /** The sandbox process ended (crash, kill or dispose); pending runs have already been resolved as failed. */
  readonly onDidExit = this._onDidExit.event;
  private readonly _onDidRejectMessage = new Emitter<RejectedMessage>();
  /** The sandbox sent something that is not in the protocol; it was refused. */
  readonly onDidRejectMessage = this._onDidRejectMessage.event;

  readonly sandboxDir: string;
  private readonly maxRestarts: number;
  private readonly stopGraceMs: number;
  private readonly runs = new Map<string, PendingRun>();
  private readonly crashTimes: number[] = [];
  private current: SandboxProcess | undefined;
  private starting: Promise<SandboxProcess> | undefined;
  private node: SandboxNode | undefined;
  private disposed = false;

  constructor(private readonly options: SandboxHostOptions = {}) {
    // Bundled into dist/extension.js and dist/cli.js, so the sandbox folder is a sibling of dist/.
    this.sandboxDir = path.resolve(options.sandboxDir ?? path.join(__dirname, '..', 'sandbox'));
    this.maxRestarts = options.maxRestartsPerMinute ?? 5;
    this.stopGraceMs = options.stopGraceMs ?? 500;
  }

  /** The live sandbox process id, if one is running. */
  get pid(): number | undefined {
    return this.current && !this.current.gone ? this.current.child.pid : undefined;
  }

  get activeRuns(): number {
    return this.runs.size;
  }

  /**
   * Runs one agent in a fresh isolate and resolves with how it ended. It never rejects for anything the agent
   * does; it rejects with SandboxError / SandboxNodeError when no sandbox can be had at all.
   */
  async runAgent(params: RunStartParams, handlers: RunHandlers): Promise<RunOutcome> {
    if (this.disposed) throw new SandboxError('disposed', 'The agent sandbox has been shut down.');
    const checked = RunStartParams.safeParse(params);
    if (!checked.success) throw new SandboxError('invalid-params', `Invalid run parameters: ${issues(checked.error)}`);
    const { runId } = checked.data;
    if (this.runs.has(runId)) throw new SandboxError('duplicate-run', `A run with id ${runId} is already running.`);

    let resolveDone!: (o: RunOutcome) => void;
    const run: PendingRun = {
      runId,
      handlers,
      done: new Promise<RunOutcome>((resolve) => (resolveDone = resolve)),
      proc: undefined,
      settled: false,
      stopReason: undefined,
      settle: (outcome) => {
        if (run.settled) return;
        run.settled = true;
        this.runs.delete(runId);
        if (run.proc) {
          run.proc.runs.delete(runId);
          this.keepAlive(run.proc);
        }
        resolveDone(outcome);
      },
    };
    // Registered before anything awaits, so stopRun works even while the process is still starting.
    this.runs.set(runId, run);

    let proc: SandboxProcess;
    try {
      proc = await this.ensureProcess();
    } catch (error) {
      this.runs.delete(runId);
      throw error;
    }
    if (run.stopReason !== undefined) {
      run.settle(stoppedOutcome(run.stopReason));
      return run.done;
    }
    if (this.disposed) {
      run.settle(stoppedOutcome('the agent sandbox was shut down'));
      return run.done;
    }
    if (proc.gone) {
      run.settle(internal(`the sandbox process died before the run could start (${proc.exitDescription ?? 'it was stopped'})`));
      return run.done;
    }
    run.proc = proc;
    proc.runs.set(runId, run);
    this.keepAlive(proc);
    let request: Promise<unknown>;
    try {
      request = proc.connection.sendRequest(runStartMethod, checked.data);
    } catch (error) {
      run.settle(internal(`the sandbox did not take the run: ${messageOf(error)}`));
      return run.done;
    }
    request.then(
      (raw: unknown) => {
        const outcome = RunOutcome.safeParse(raw);
        run.settle(outcome.success ? outcome.data : internal(`the sandbox answered run/start with an invalid outcome (${issues(outcome.error)})`));
      },
      (error: unknown) => {
        // Usually the process died and its exit (with code and signal) explains it better than the connection does.
        const fallback = setTimeout(() => run.settle(internal(`the sandbox did not run the agent: ${messageOf(error)}`)), EXIT_EXPLAIN_MS);
        void proc.exited.then(() => clearTimeout(fallback));
      },
    );
    return run.done;
  }

  /**
   * Ends a run now: the sandbox disposes its isolate; if it has not answered within stopGraceMs (500 ms), the
   * process is killed. Resolves once the run is over — within a second. Unknown or finished runs are a no-op.
   */
  async stopRun(runId: string, reason: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    run.stopReason ??= reason;
    const proc = run.proc;
    if (!proc) {
      // Still waiting for the process: runAgent settles it as stopped as soon as it can.
      await run.done;
      return;
    }
    proc.connection.sendRequest(runStopMethod, { runId, reason: run.stopReason }).catch(() => undefined);
    const timer = setTimeout(() => {
      if (!run.settled) this.kill(proc, `run ${runId} did not stop within ${this.stopGraceMs} ms`);
    }, this.stopGraceMs);
    try {
      await run.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The kill switch: ends every run. */
  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.runs.keys()].map((id) => this.stopRun(id, reason)));
  }

  /** Starts the process if needed and asks what it runs on. */
  async ping(): Promise<PingResult> {
    if (this.disposed) throw new SandboxError('disposed', 'The agent sandbox has been shut down.');
    const proc = await this.ensureProcess();
    proc.busy++;
    this.keepAlive(proc);
    try {
      const raw: unknown = await proc.connection.sendRequest(pingMethod);
      const result = PingResult.safeParse(raw);
      if (!result.success) throw new Error(`the sandbox answered ${pingMethod} with an invalid result (${issues(result.error)})`);
      return result.data;
    } finally {
      proc.busy--;
      this.keepAlive(proc);
    }
  }

  /** Ends every run (as stopped) and the process. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const run of [...this.runs.values()]) {
      run.stopReason ??= 'the agent sandbox was shut down';
      run.settle(stoppedOutcome(run.stopReason));
    }
    if (this.current) this.kill(this.current, 'the sandbox host was disposed');
    this._onDidExit.dispose();
    this._onDidRejectMessage.dispose();
  }

  private ensureProcess(): Promise<SandboxProcess> {
    if (this.current && !this.current.gone) return Promise.resolve(this.current);
    this.starting ??= this.startProcess().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async startProcess(): Promise<SandboxProcess> {
    const mainJs = path.join(this.sandboxDir, 'dist', 'main.js');
    if (!existsSync(mainJs)) {
      throw new SandboxError('not-built', `The agent sandbox is not built: ${mainJs} is missing. Run \`npm run build\` (or \`npm install\`) in the Airlock folder.`);
    }
    const now = Date.now();
    while (this.crashTimes.length > 0 && now - this.crashTimes[0]! > RESTART_WINDOW_MS) this.crashTimes.shift();
    if (this.crashTimes.length >= this.maxRestarts) {
      const wait = Math.ceil((RESTART_WINDOW_MS - (now - this.crashTimes[0]!)) / 1000);
      throw new SandboxError(
        'restart-limit',
        `The agent sandbox process crashed ${this.crashTimes.length} times in the last minute, so Airlock stopped restarting it. ` +
          `Look at the sandbox output in the log for the cause; a new run can start it again in ${wait} s.`,
      );
    }
    this.node ??= await findSandboxNode({ sandboxDir: this.sandboxDir, nodePath: this.options.nodePath, env: this.options.env });
    if (this.disposed) throw new SandboxError('disposed', 'The agent sandbox has been shut down.');

    const child = spawn(this.node.path, ['--no-node-snapshot', mainJs], {
      cwd: this.sandboxDir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: sandboxEnv(this.options.env ?? process.env),
      windowsHide: true,
      serialization: 'json',
    });
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    let resolveExited!: (e: SandboxExit) => void;
    const proc: SandboxProcess = {
      child,
      connection,
      runs: new Map(),
      busy: 0,
      gone: false,
      expectedExit: false,
      exitDescription: undefined,
      stderrTail: '',
      exited: new Promise<SandboxExit>((resolve) => (resolveExited = resolve)),
    };
    const output = (chunk: Buffer | string) => {
      const text = chunk.toString();
      proc.stderrTail = (proc.stderrTail + text).slice(-2000);
      this.options.onOutput?.(text);
    };
    child.stdout?.on('data', output);
    child.stderr?.on('data', output);
    let exitSeen = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (exitSeen) return;
      exitSeen = true;
      const exit = this.handleExit(proc, code, signal, error);
      resolveExited(exit);
    };
    // 'close' rather than 'exit': by then stderr is drained, so the last words of a crash are in stderrTail.
    child.on('close', (code, signal) => onExit(code, signal));
    // Spawn failures (no such binary) come as 'error' without an 'exit'.
    child.on('error', (error) => {
      if (child.pid === undefined) onExit(null, null, error);
    });

    connection.onRequest((method, params) => this.onSandboxRequest(proc, method, params));
    connection.onNotification((method, params) => this.onSandboxNotification(proc, method, params));
    connection.onError(() => undefined);
    connection.listen();
    this.current = proc;
    this.keepAlive(proc);
    return proc;
  }

  private onSandboxRequest(proc: SandboxProcess, method: string, params: unknown): Promise<ToolCallResult> | ResponseError<void> {
    if (method !== toolCallMethod) return this.refuse(method, ErrorCodes.MethodNotFound, `unknown method ${method}`);
    const parsed = ToolCallParams.safeParse(params);
    if (!parsed.success) return this.refuse(method, ErrorCodes.InvalidParams, `invalid ${method} params: ${issues(parsed.error)}`);
    const call = parsed.data;
    const run = proc.runs.get(call.runId);
    if (!run || run.settled) return this.refuse(method, ErrorCodes.InvalidParams, `${method} for a run that is not running here (${call.runId})`);
    // After a stop nothing more is executed for the run, whatever was already on its way.
    if (run.stopReason !== undefined) return Promise.resolve({ ok: false, message: `the run is being stopped: ${run.stopReason}` });
    const failed = (error: unknown): ToolCallResult => ({ ok: false, message: `${call.tool}: internal error: ${messageOf(error)}` });
    let answer: Promise<ToolCallResult>;
    try {
      answer = run.handlers.onToolCall(call);
    } catch (error) {
      return Promise.resolve(failed(error));
    }
    return Promise.resolve(answer).then((value): ToolCallResult => {
      const result = ToolCallResult.safeParse(value);
      return result.success ? result.data : { ok: false, message: `${call.tool}: internal error: the tool handler gave an invalid answer` };
    }, failed);
  }

  private onSandboxNotification(proc: SandboxProcess, method: string, params: unknown): void {
    if (method !== runLogMethod) {
      this.refuse(method, ErrorCodes.MethodNotFound, `unknown notification ${method}`);
      return;
    }
    const parsed = RunLogParams.safeParse(params);
    if (!parsed.success) {
      this.refuse(method, ErrorCodes.InvalidParams, `invalid ${method} params: ${issues(parsed.error)}`);
      return;
    }
    const run = proc.runs.get(parsed.data.runId);
    if (!run) return;
    try {
      run.handlers.onLog(parsed.data);
    } catch {
      // A failing log sink must not end the run.
    }
  }

  private refuse(method: string, code: number, problem: string): ResponseError<void> {
    this._onDidRejectMessage.fire({ method, problem });
    return new ResponseError(code, problem);
  }

  /** Kills the process at once; its runs end now (the one being stopped as stopped, the others as lost). */
  private kill(proc: SandboxProcess, why: string): void {
    if (proc.gone) return;
    proc.expectedExit = true;
    proc.gone = true;
    if (this.current === proc) this.current = undefined;
    for (const run of [...proc.runs.values()]) {
      run.settle(run.stopReason !== undefined ? stoppedOutcome(run.stopReason) : internal(`the sandbox process was killed because ${why}; this run was lost with it`));
    }
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
    disposeConnection(proc);
  }

  private handleExit(proc: SandboxProcess, code: number | null, signal: NodeJS.Signals | null, error?: Error): SandboxExit {
    proc.gone = true;
    if (this.current === proc) this.current = undefined;
    const expected = proc.expectedExit;
    if (!expected) this.crashTimes.push(Date.now());
    const lastLine = proc.stderrTail.trim().split('\n').pop()?.trim();
    const description =
      (error ? `it could not be started: ${error.message}` : signal ? `signal ${signal}` : `exit code ${code}`) + (lastLine ? `: ${lastLine.slice(0, 300)}` : '');
    proc.exitDescription = description;
    for (const run of [...proc.runs.values()]) {
      run.settle(
        run.stopReason !== undefined
          ? stoppedOutcome(run.stopReason)
          : internal(`the sandbox process died (${description}); the run was lost. The next run starts a fresh sandbox process`),
      );
    }
    disposeConnection(proc);
    const exit: SandboxExit = { pid: proc.child.pid, code, signal, expected, description };
    this._onDidExit.fire(exit);
    return exit;
  }

  /** An idle sandbox must not keep a CLI (or a test runner) alive; a busy one must. */
  private keepAlive(proc: SandboxProcess): void {
    if (proc.gone) return;
    const busy = proc.runs.size > 0 || proc.busy > 0;
    const handles = [proc.child, proc.child.channel, proc.child.stdout, proc.child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
    for (const h of handles) {
      if (busy) h?.ref?.();
      else h?.unref?.();
    }
  }
}

function disposeConnection(proc: SandboxProcess): void {
  try {
    proc.connection.dispose();
  } catch {
    // Already disposed.
  }
}

function stoppedOutcome(reason: string): RunOutcome {
  return { status: 'failed', kind: 'stopped', message: reason };
}

function internal(message: string): RunOutcome {
  return { status: 'failed', kind: 'internal', message };
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`)
    .join('; ');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The sandbox gets a minimal environment: it needs none of the user's secrets, and NODE_OPTIONS from the
 * environment must not change how it starts.
 */
function sandboxEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = ['PATH', 'Path', 'SystemRoot', 'SYSTEMROOT', 'TEMP', 'TMP', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'];
  const out: NodeJS.ProcessEnv = {};
  for (const key of keep) if (env[key] !== undefined) out[key] = env[key];
  return out;
}
