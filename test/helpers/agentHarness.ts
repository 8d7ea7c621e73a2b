// Runs real agents for tests: a temporary workspace, the real sandbox process, the real guard pipeline and a
// real audit log on disk. Events are also kept in memory, in order, for assertions.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AuditEvent, AuditEventInput } from '../../src/protocol/auditEvent';
import { AuditLog } from '../../src/core/audit/auditLog';
import type { AuditSink } from '../../src/core/audit/auditSink';
import { Redactor } from '../../src/core/audit/redaction';
import { secretScannerFrom } from '../../src/core/guard/secretScanner';
import type { ApprovalAnswer, ApprovalGate, ApprovalRequest } from '../../src/core/runtime/approvalGate';
import { AgentRuntime, type RunLogLine, type RunReport } from '../../src/core/runtime/agentRuntime';

export const repoRoot = join(__dirname, '..', '..', '..');
export const sandboxDir = join(repoRoot, 'sandbox');

let shared: AgentRuntime | undefined;
/** One runtime (one sandbox process) for a whole test file; call disposeRuntime() in after(). */
export function testRuntime(): AgentRuntime {
  return (shared ??= new AgentRuntime({ sandboxDir }));
}
export function disposeRuntime(): void {
  shared?.dispose();
  shared = undefined;
}

/** A fresh workspace: a copy of examples/demo, or the given files. */
export function makeWorkspace(files?: Record<string, string | Buffer>): string {
  const ws = mkdtempSync(join(tmpdir(), 'airlock-ws-'));
  if (!files) {
    cpSync(join(repoRoot, 'examples', 'demo'), ws, { recursive: true, filter: (src) => !src.includes(`${join('.airlock', 'state')}`) });
    return ws;
  }
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(ws, rel)), { recursive: true });
    writeFileSync(join(ws, rel), content);
  }
  return ws;
}

export function writeAgent(source: string, name = 'test'): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-agent-'));
  const file = join(dir, `${name}.agent.js`);
  writeFileSync(file, source);
  return file;
}

export function writePolicy(workspace: string, policy: unknown): void {
  mkdirSync(join(workspace, '.airlock'), { recursive: true });
  writeFileSync(join(workspace, '.airlock', 'policy.json'), typeof policy === 'string' ? policy : JSON.stringify(policy));
}

export class RecordingSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  constructor(readonly inner: AuditSink) {}
  async append(e: AuditEventInput): Promise<AuditEvent> {
    const stored = await this.inner.append(e);
    this.events.push(stored);
    return stored;
  }
}

/** Answers gates with a fixed answer, or a function of the request; records what was asked. */
export class ScriptedGate implements ApprovalGate {
  readonly asked: ApprovalRequest[] = [];
  constructor(private readonly answer: boolean | ((r: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalAnswer> | ApprovalAnswer)) {}
  async ask(r: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    this.asked.push(r);
    if (typeof this.answer === 'function') return this.answer(r, signal);
    return { approved: this.answer, actor: 'human:tester' };
  }
}

export interface AgentResult {
  readonly report: RunReport;
  readonly events: AuditEvent[];
  readonly logs: RunLogLine[];
  readonly gate: ScriptedGate;
  readonly stateDir: string;
}

export async function runAgent(
  workspace: string,
  agentFile: string,
  o: { task?: string; policy?: unknown; gate?: ScriptedGate; agentName?: string; runtime?: AgentRuntime; onStart?: (stop: (r: string) => Promise<void>) => void } = {},
): Promise<AgentResult> {
  if (o.policy !== undefined) writePolicy(workspace, o.policy);
  const stateDir = mkdtempSync(join(tmpdir(), 'airlock-state-'));
  const log = await AuditLog.open(stateDir, {});
  const sink = new RecordingSink(log);
  const gate = o.gate ?? new ScriptedGate(false);
  const logs: RunLogLine[] = [];
  try {
    const run = await (o.runtime ?? testRuntime()).start({
      workspace,
      agentFile,
      agentName: o.agentName,
      task: o.task ?? '',
      gate,
      audit: sink,
      scanner: secretScannerFrom(new Redactor()),
      onLog: (l) => logs.push(l),
    });
    o.onStart?.((r) => run.stop(r));
    const report = await run.done;
    return { report, events: sink.events, logs, gate, stateDir };
  } finally {
    await log.close();
  }
}
