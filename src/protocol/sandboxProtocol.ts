// Messages between the host (src/core/runtime) and the sandbox process (sandbox/), carried by vscode-jsonrpc
// over the Node IPC channel. Every message is declared once here; the receiver safeParses it.
import { z } from 'zod';

// ---- host → sandbox ----

/** Host → sandbox request: run one agent module in a fresh isolate. Resolves when the run is over. */
export const runStartMethod = 'run/start';
export const RunStartParams = z.object({
  runId: z.string().min(1),
  filename: z.string().min(1),
  source: z.string(),
  task: z.string(),
  memoryMb: z.number().int().min(8).max(8192),
  /** Wall-clock limit for the whole run; the sandbox disposes the isolate when it passes. */
  timeoutMs: z.number().int().positive(),
  /** Largest tool-call argument payload (JSON characters) the sandbox forwards. */
  maxArgChars: z.number().int().positive(),
  /** Log lines kept per run; the rest are counted and dropped. */
  maxLogLines: z.number().int().positive(),
});
export type RunStartParams = z.infer<typeof RunStartParams>;

export const RunFailureKind = z.enum(['threw', 'timeout', 'memory', 'syntax', 'import', 'stopped', 'invalid-agent', 'internal']);
export type RunFailureKind = z.infer<typeof RunFailureKind>;

/** Log lines the run wrote past `maxLogLines` (counted, not sent); absent when none were dropped or the run was cut off. */
const logLinesDropped = z.number().int().nonnegative().optional();
export const RunOutcome = z.discriminatedUnion('status', [
  z.object({ status: z.literal('completed'), resultJson: z.string().optional(), logLinesDropped }),
  z.object({
    status: z.literal('failed'),
    kind: RunFailureKind,
    message: z.string(),
    line: z.number().int().optional(),
    column: z.number().int().optional(),
    logLinesDropped,
  }),
]);
export type RunOutcome = z.infer<typeof RunOutcome>;

/** Host → sandbox request: stop a run now (kill switch, limit, breaker). Resolves once the isolate is gone. */
export const runStopMethod = 'run/stop';
export const RunStopParams = z.object({ runId: z.string(), reason: z.string() });
export type RunStopParams = z.infer<typeof RunStopParams>;
/** `stopped` is false when the sandbox had no such run (already over, or never started). */
export const RunStopResult = z.object({ stopped: z.boolean() });
export type RunStopResult = z.infer<typeof RunStopResult>;

/** Host → sandbox request: is the process alive and what is it running on. */
export const pingMethod = 'sandbox/ping';
export const PingResult = z.object({ node: z.string(), isolatedVm: z.string(), runs: z.number().int() });
export type PingResult = z.infer<typeof PingResult>;

// ---- sandbox → host ----

/** Sandbox → host request: the agent called a tool. Arguments were copied out of the isolate once, as JSON. */
export const toolCallMethod = 'tool/call';
export const ToolCallParams = z.object({
  runId: z.string(),
  callId: z.number().int().nonnegative(),
  tool: z.string(),
  args: z.unknown(),
  /** The last `ctx.reason(...)` the agent gave, if any, consumed by this call. */
  reason: z.string().optional(),
});
export type ToolCallParams = z.infer<typeof ToolCallParams>;

// `args` per built-in tool, as `ctx.*` builds them from the agent's call (keys whose value is undefined are
// left out; the guard pipeline validates them, src/core/guard/toolArgs.ts):
//   fs.read {path} · fs.write {path, content} · fs.delete {path} · fs.list {path?} · fs.search {pattern, glob?}
//   net.fetch {url, method?, headers?, body?} · agent.escalate {question}
// `ctx.tools.call(name, args)` sends `tool: name` and the agent's `args` as given (`{}` when omitted).

export const ToolCallResult = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), message: z.string() }),
]);
export type ToolCallResult = z.infer<typeof ToolCallResult>;

/** Sandbox → host notification: `console.*` or `ctx.log` inside the isolate. */
export const runLogMethod = 'run/log';
export const RunLogParams = z.object({
  runId: z.string(),
  level: z.enum(['log', 'info', 'warn', 'error', 'debug']),
  source: z.enum(['console', 'ctx']),
  message: z.string(),
});
export type RunLogParams = z.infer<typeof RunLogParams>;
