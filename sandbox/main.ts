// The sandbox process (Node >= 22, started with --no-node-snapshot by src/core/runtime/sandboxHost.ts). It runs
// agent modules in isolated-vm isolates, one fresh isolate per run, and decides nothing: every tool call is
// forwarded to the host over the IPC channel. Every message it receives is validated; unknown ones are refused.
import { createRequire } from 'node:module';
import { createMessageConnection, ErrorCodes, IPCMessageReader, IPCMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import {
  pingMethod,
  runLogMethod,
  RunStartParams,
  runStartMethod,
  RunStopParams,
  runStopMethod,
  toolCallMethod,
  ToolCallResult,
  type PingResult,
  type RunOutcome,
  type RunStopResult,
  type ToolCallParams,
} from '../src/protocol/sandboxProtocol';
import { AgentRun, type RunBridge } from './agentRun';

function fatal(what: string, error: unknown): never {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`[airlock sandbox] ${what}: ${text}\n`);
  // The host sees the exit code and decides whether to start a fresh process.
  process.exit(70);
}

process.on('uncaughtException', (error) => fatal('uncaught exception', error));
process.on('unhandledRejection', (error) => fatal('unhandled rejection', error));

if (!process.send) {
  process.stderr.write('[airlock sandbox] started without an IPC channel; it is meant to be started by Airlock.\n');
  process.exit(64);
}
// The host went away: nothing is left to serve.
process.on('disconnect', () => process.exit(0));

const isolatedVmVersion = (createRequire(__filename)('isolated-vm/package.json') as { version: string }).version;

const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
const runs = new Map<string, AgentRun>();

function invalid(method: string, error: z.ZodError): ResponseError<void> {
  const issues = error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
  return new ResponseError(ErrorCodes.InvalidParams, `invalid ${method} params: ${issues}`);
}

/** What every run uses to reach the host: tool calls are requests (answer validated), logs are notifications. */
const bridge: RunBridge = {
  async toolCall(params: ToolCallParams) {
    const raw: unknown = await connection.sendRequest(toolCallMethod, params);
    const result = ToolCallResult.safeParse(raw);
    return result.success ? result.data : { ok: false, message: `${params.tool}: the host answered with an invalid result` };
  },
  log(params) {
    connection.sendNotification(runLogMethod, params).catch(() => undefined);
  },
};

connection.onRequest((method, params) => {
  switch (method) {
    case runStartMethod: {
      const parsed = RunStartParams.safeParse(params);
      if (!parsed.success) return invalid(method, parsed.error);
      const { runId } = parsed.data;
      if (runs.has(runId)) return new ResponseError(ErrorCodes.InvalidRequest, `run ${runId} is already running`);
      // Registered before anything awaits, so a run/stop right behind this message finds it.
      const run = new AgentRun(parsed.data, bridge);
      runs.set(runId, run);
      return run.start().finally(() => runs.delete(runId)) satisfies Promise<RunOutcome>;
    }
    case runStopMethod: {
      const parsed = RunStopParams.safeParse(params);
      if (!parsed.success) return invalid(method, parsed.error);
      const run = runs.get(parsed.data.runId);
      if (!run) return { stopped: false } satisfies RunStopResult;
      return run.stop(parsed.data.reason).then((): RunStopResult => ({ stopped: true }));
    }
    case pingMethod: {
      if (params !== undefined && params !== null && !(typeof params === 'object' && Object.keys(params).length === 0)) {
        return new ResponseError(ErrorCodes.InvalidParams, `${method} takes no params`);
      }
      return { node: process.versions.node, isolatedVm: isolatedVmVersion, runs: runs.size } satisfies PingResult;
    }
    default:
      return new ResponseError(ErrorCodes.MethodNotFound, `unknown method ${method}`);
  }
});

connection.onNotification((method) => {
  // The host sends no notifications; anything that arrives is refused (and said so on stderr, which the host logs).
  process.stderr.write(`[airlock sandbox] refused unknown notification ${JSON.stringify(method).slice(0, 200)}\n`);
});
connection.onClose(() => process.exit(0));
connection.listen();
