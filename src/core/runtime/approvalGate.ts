// One interface for every human decision a run waits on: the CLI answers from --approve, the extension with UI.
import type { ApprovalLevel } from '../../protocol/auditEvent';

export interface ApprovalRequest {
  readonly id: string;
  readonly runId: string;
  readonly agent: string;
  /** `gate`: a `require` tool call; `escalation`: the agent asked a question with ctx.escalate. */
  readonly kind: 'gate' | 'escalation';
  readonly tool: string;
  /** Redacted arguments, safe to show. */
  readonly args: unknown;
  readonly level: ApprovalLevel;
  /** Which policy entry asked for the human ("approval.rules[0]", "approval.fs.delete"). */
  readonly rule: string;
  /** The agent's stated reason (ctx.reason) or, for an escalation, its question. */
  readonly reason?: string;
  readonly timeoutMs: number;
}

export interface ApprovalAnswer {
  readonly approved: boolean;
  /** `human:<name>`, or `policy` when answered by a rule such as `--approve all` or a timeout. */
  readonly actor: string;
  readonly note?: string;
}

export interface ApprovalGate {
  /** Resolve with the answer. `signal` aborts when the run ends or the gate times out; then resolve or reject promptly. */
  ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer>;
}
