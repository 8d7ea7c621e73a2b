// What the sandbox tests share: where the real sandbox lives, default run parameters, and an in-memory tool
// handler that records every call the host receives (no file system, no network).
import path from 'node:path';
import type { RunLogParams, RunStartParams, ToolCallParams, ToolCallResult } from '../../src/protocol/sandboxProtocol';
import type { RunHandlers } from '../../src/core/runtime/sandboxHost';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const sandboxDir = path.join(repoRoot, 'sandbox');
export const hostileDir = path.join(repoRoot, 'test', 'fixtures', 'hostile');

let seq = 0;
export function runParams(source: string, overrides: Partial<RunStartParams> = {}): RunStartParams {
  return {
    runId: `test-${process.pid}-${++seq}`,
    filename: 'test.agent.js',
    source,
    task: 'the task',
    memoryMb: 64,
    timeoutMs: 10_000,
    maxArgChars: 100_000,
    maxLogLines: 100,
    ...overrides,
  };
}

/**
 * Answers like a tiny workspace: fs.read returns "contents of <path>", fs.list one file, fs.delete is denied,
 * test.object a nested object, test.hang never answers, anything else echoes its arguments.
 */
export class RecordingResponder implements RunHandlers {
  readonly calls: ToolCallParams[] = [];
  readonly logs: RunLogParams[] = [];
  /** Resolvers of test.hang calls, so a test can answer late. */
  readonly hanging: ((r: ToolCallResult) => void)[] = [];
  private readonly logWaiters: { text: string; resolve: () => void }[] = [];

  onToolCall = (p: ToolCallParams): Promise<ToolCallResult> => {
    this.calls.push(p);
    const args = (p.args ?? {}) as Record<string, unknown>;
    switch (p.tool) {
      case 'fs.read':
        return Promise.resolve({ ok: true, value: `contents of ${String(args.path)}` });
      case 'fs.list':
        return Promise.resolve({ ok: true, value: [{ path: 'notes.txt', type: 'file', size: 21 }] });
      case 'fs.delete':
        return Promise.resolve({ ok: false, message: 'fs.delete denied: deleting needs approval' });
      case 'test.object':
        return Promise.resolve({ ok: true, value: { nested: { list: [1, 2, { deep: true }] } } });
      case 'test.hang':
        return new Promise((resolve) => this.hanging.push(resolve));
      default:
        return Promise.resolve({ ok: true, value: { echo: p.args } });
    }
  };

  onLog = (p: RunLogParams): void => {
    this.logs.push(p);
    for (const w of this.logWaiters.filter((w) => p.message.includes(w.text))) w.resolve();
  };

  /** Resolves when a log line containing `text` arrives. */
  logged(text: string): Promise<void> {
    if (this.logs.some((l) => l.message.includes(text))) return Promise.resolve();
    return new Promise((resolve) => this.logWaiters.push({ text, resolve }));
  }
}

export const normalAgent = `export default async function agent(ctx) {
  const text = await ctx.fs.read('notes.txt');
  return { ok: true, text };
}`;
