// One agent run in its own fresh isolate: compile the module, refuse imports, bootstrap `ctx`, call the default
// export, and end the run on completion, on its wall-clock limit, on its memory limit or when asked to stop.
// Only strings, numbers and booleans cross between this thread and the isolate.
import ivm from 'isolated-vm';
import { z } from 'zod';
import type { RunLogParams, RunOutcome, RunStartParams, ToolCallParams, ToolCallResult } from '../src/protocol/sandboxProtocol';
import { bootstrapSource, type BootstrapLimits } from './bootstrap';

/** How the run talks to the host; main.ts wires it to the IPC connection. */
export interface RunBridge {
  toolCall(params: ToolCallParams): Promise<ToolCallResult>;
  log(params: RunLogParams): void;
}

/** Longest log line forwarded; longer lines are clipped inside the isolate. */
const MAX_LOG_CHARS = 16 * 1024;
/** Tool calls in flight per run; more queue inside the isolate (backpressure against call floods). */
const MAX_INFLIGHT = 64;
/** How often a live run checks whether isolated-vm disposed its isolate (the memory limit does that). */
const WATCHDOG_MS = 50;
const MAX_TIMER_MS = 2 ** 31 - 1;

const importMessage = 'agents may not import modules: bundle the agent into one file';

/** What the bootstrap's run() resolves with (as JSON); validated, since it was produced inside the isolate. */
const IsolateResult = z.discriminatedUnion('status', [
  z.object({ status: z.literal('completed'), resultJson: z.string().optional(), logLinesDropped: z.number().int().nonnegative() }),
  z.object({
    status: z.literal('failed'),
    kind: z.enum(['threw', 'invalid-agent']),
    message: z.string(),
    stack: z.string().optional(),
    logLinesDropped: z.number().int().nonnegative(),
  }),
]);

const logLevels = new Set<RunLogParams['level']>(['log', 'info', 'warn', 'error', 'debug']);

type Phase = 'setup' | 'compile' | 'evaluate' | 'run';

export class AgentRun {
  readonly done: Promise<RunOutcome>;
  private resolveDone!: (outcome: RunOutcome) => void;
  private finished = false;
  private isolate: ivm.Isolate | undefined;
  private disposedHere = false;
  private deliverRef: ivm.Reference | undefined;
  private phase: Phase = 'setup';
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private callSeq = 0;
  private inflight = 0;
  private logLines = 0;
  private logDroppedHere = 0;

  constructor(
    private readonly params: RunStartParams,
    private readonly bridge: RunBridge,
  ) {
    this.done = new Promise<RunOutcome>((resolve) => (this.resolveDone = resolve));
  }

  get runId(): string {
    return this.params.runId;
  }

  /** Starts the run; the returned promise is `done`. */
  start(): Promise<RunOutcome> {
    const { timeoutMs } = this.params;
    // setTimeout fires at once for delays past 2^31-1 ms; no run needs longer than that (24.8 days).
    this.timer = setTimeout(() => {
      this.finish({ status: 'failed', kind: 'timeout', message: `the run took longer than its time limit of ${timeoutMs} ms and was stopped` });
    }, Math.min(timeoutMs, MAX_TIMER_MS));
    this.watchdog = setInterval(() => {
      if (this.isolate?.isDisposed && !this.disposedHere) this.finish(this.memoryOutcome());
    }, WATCHDOG_MS);
    this.execute().then(
      (outcome) => this.finish(outcome),
      (error: unknown) => this.finish(this.classify(error)),
    );
    return this.done;
  }

  /** Ends the run now (kill switch, limit, breaker); the isolate is disposed at once, even inside `while(true){}`. */
  stop(reason: string): Promise<RunOutcome> {
    this.finish({ status: 'failed', kind: 'stopped', message: reason });
    return this.done;
  }

  private async execute(): Promise<RunOutcome> {
    const { params } = this;
    const isolate = new ivm.Isolate({
      memoryLimit: params.memoryMb,
      // isolated-vm's advice: V8 lost control of the isolate, so the process must not go on serving runs.
      onCatastrophicError: (message) => {
        process.stderr.write(`[airlock sandbox] catastrophic isolate error in run ${params.runId}: ${message}\n`);
        process.exit(70);
      },
    });
    this.isolate = isolate;
    if (this.finished) return this.done;
    const context = await isolate.createContext();

    const limits: BootstrapLimits = { maxArgChars: params.maxArgChars, maxLogLines: params.maxLogLines, maxLogChars: MAX_LOG_CHARS, maxInflight: MAX_INFLIGHT };
    const sendCall = new ivm.Callback((id: unknown, tool: unknown, json: unknown, reason: unknown) => this.onCall(id, tool, json, reason), { ignored: true });
    const sendLog = new ivm.Callback((level: unknown, source: unknown, message: unknown) => this.onLog(level, source, message), { ignored: true });
    const api = (await context.evalClosure(
      bootstrapSource,
      [sendCall, sendLog, limits.maxArgChars, limits.maxLogLines, limits.maxLogChars, limits.maxInflight],
      { filename: 'airlock:bootstrap', result: { reference: true } },
    )) as ivm.Reference;
    const runRef = (await api.get('run', { reference: true })) as ivm.Reference;
    this.deliverRef = (await api.get('deliver', { reference: true })) as ivm.Reference;
    api.release();

    this.phase = 'compile';
    const module = await isolate.compileModule(params.source, { filename: params.filename });
    const imports = module.dependencySpecifiers;
    if (imports.length > 0) {
      const named = imports.slice(0, 3).map((s) => `'${s}'`).join(', ');
      return { status: 'failed', kind: 'import', message: `${importMessage} (it imports ${named})` };
    }
    await module.instantiate(context, (specifier) => {
      throw new Error(`${importMessage} (it imports '${specifier}')`);
    });
    this.phase = 'evaluate';
    await module.evaluate();
    this.phase = 'run';
    const raw: unknown = await runRef.apply(undefined, [module.namespace.derefInto(), params.task], { result: { promise: true, copy: true } });
    return this.fromIsolate(raw);
  }

  /** sendCall from the isolate: copy once more as plain data and ask the host. */
  private onCall(id: unknown, tool: unknown, json: unknown, reason: unknown): void {
    if (this.finished) return;
    if (typeof id !== 'number' || typeof tool !== 'string' || typeof json !== 'string' || (reason !== undefined && typeof reason !== 'string')) return;
    if (json.length > this.params.maxArgChars || this.inflight >= MAX_INFLIGHT) {
      this.deliver(id, false, `${tool}: the call was refused by the sandbox`);
      return;
    }
    let args: unknown;
    try {
      args = JSON.parse(json);
    } catch {
      this.deliver(id, false, `${tool}: the arguments are not JSON`);
      return;
    }
    this.inflight++;
    const callId = this.callSeq++;
    const call: ToolCallParams = reason === undefined ? { runId: this.runId, callId, tool, args } : { runId: this.runId, callId, tool, args, reason };
    this.bridge.toolCall(call).then(
      (result) => {
        this.inflight--;
        if (result.ok) this.deliver(id, true, result.value === undefined ? undefined : JSON.stringify(result.value));
        else this.deliver(id, false, result.message);
      },
      (error: unknown) => {
        this.inflight--;
        this.deliver(id, false, `${tool}: the host did not answer (${error instanceof Error ? error.message : String(error)})`);
      },
    );
  }

  private deliver(id: number, ok: boolean, payload: string | undefined): void {
    if (this.finished || !this.deliverRef) return;
    try {
      this.deliverRef.applyIgnored(undefined, [id, ok, payload]);
    } catch {
      // The isolate is gone; the run is ending anyway.
    }
  }

  /** sendLog from the isolate: enforce the line cap here too, then notify the host. */
  private onLog(level: unknown, source: unknown, message: unknown): void {
    if (this.finished || typeof message !== 'string') return;
    if (!logLevels.has(level as RunLogParams['level']) || (source !== 'console' && source !== 'ctx')) return;
    if (this.logLines >= this.params.maxLogLines) {
      if (this.logDroppedHere++ === 0) {
        this.bridge.log({
          runId: this.runId,
          level: 'warn',
          source: 'console',
          message: `[airlock] this run reached its limit of ${this.params.maxLogLines} log lines; further lines are counted and dropped`,
        });
      }
      return;
    }
    this.logLines++;
    this.bridge.log({ runId: this.runId, level: level as RunLogParams['level'], source, message: message.slice(0, MAX_LOG_CHARS + 64) });
  }

  private fromIsolate(raw: unknown): RunOutcome {
    let parsed: z.infer<typeof IsolateResult> | undefined;
    if (typeof raw === 'string') {
      try {
        const r = IsolateResult.safeParse(JSON.parse(raw));
        if (r.success) parsed = r.data;
      } catch {
        parsed = undefined;
      }
    }
    if (!parsed) return { status: 'failed', kind: 'internal', message: 'the isolate returned an unreadable outcome' };
    const logLinesDropped = Math.max(parsed.logLinesDropped, this.logDroppedHere) || undefined;
    if (parsed.status === 'completed') {
      return parsed.resultJson === undefined ? { status: 'completed', logLinesDropped } : { status: 'completed', resultJson: parsed.resultJson, logLinesDropped };
    }
    if (parsed.kind === 'threw' && isDynamicImportRefusal(parsed.message)) {
      return { status: 'failed', kind: 'import', message: `${importMessage} (dynamic import() is refused)`, logLinesDropped };
    }
    return { status: 'failed', kind: parsed.kind, message: parsed.message, ...this.location(parsed.stack), logLinesDropped };
  }

  /** The first stack frame in the agent's own file, for the run report. */
  private location(stack: string | undefined): { line?: number; column?: number } {
    if (!stack) return {};
    const file = this.params.filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = new RegExp(`${file}:(\\d+):(\\d+)`).exec(stack);
    return m ? { line: Number(m[1]), column: Number(m[2]) } : {};
  }

  private classify(error: unknown): RunOutcome {
    const message = error instanceof Error ? error.message : String(error);
    // isolated-vm disposes the isolate itself when it goes over its memory limit.
    if ((this.isolate?.isDisposed && !this.disposedHere) || /^Isolate was disposed during execution due to memory limit/.test(message)) return this.memoryOutcome();
    if (this.phase === 'compile' && error instanceof Error && error.name === 'SyntaxError') {
      // isolated-vm appends " [file:line:column]" to compile errors.
      const m = / \[(.*):(\d+):(\d+)\]$/.exec(message);
      const text = m ? message.slice(0, m.index) : message;
      return m
        ? { status: 'failed', kind: 'syntax', message: `SyntaxError: ${text}`, line: Number(m[2]), column: Number(m[3]) }
        : { status: 'failed', kind: 'syntax', message: `SyntaxError: ${text}` };
    }
    if (this.phase === 'evaluate') {
      // The module's top level threw (its value was copied out of the isolate by isolated-vm).
      const name = error instanceof Error && error.name ? error.name : 'Error';
      const text = error instanceof Error ? `${name}: ${message.replace(/ \[.*:\d+:\d+\]$/, '')}` : `the agent threw ${message}`;
      if (isDynamicImportRefusal(text)) return { status: 'failed', kind: 'import', message: `${importMessage} (dynamic import() is refused)` };
      return { status: 'failed', kind: 'threw', message: text, ...this.location(error instanceof Error ? error.stack : undefined) };
    }
    return { status: 'failed', kind: 'internal', message: `the sandbox could not run the agent (${this.phase}): ${message}` };
  }

  private memoryOutcome(): RunOutcome {
    return { status: 'failed', kind: 'memory', message: `the run went over its memory limit of ${this.params.memoryMb} MB and was stopped` };
  }

  private finish(outcome: RunOutcome): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    const isolate = this.isolate;
    if (isolate && !isolate.isDisposed) {
      this.disposedHere = true;
      try {
        isolate.dispose();
      } catch {
        // Already gone.
      }
    }
    this.deliverRef = undefined;
    this.resolveDone(outcome);
  }
}

/** V8 rejects `import()` with "Not supported" when the embedder (isolated-vm) has no dynamic-import hook. */
function isDynamicImportRefusal(message: string): boolean {
  return message === 'Error: Not supported';
}
