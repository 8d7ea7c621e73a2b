// The headless answer to approval gates: `--approve all` approves every `require` gate and escalation,
// `none` and `policy` deny them. `deny` levels never reach a gate, so nothing here can override them.
import type { ApprovalAnswer, ApprovalGate, ApprovalRequest } from '../core/runtime/approvalGate';

export type ApproveMode = 'none' | 'policy' | 'all';

export class CliApprovalGate implements ApprovalGate {
  readonly asked: ApprovalRequest[] = [];

  constructor(
    private readonly mode: ApproveMode,
    private readonly onAsk?: (request: ApprovalRequest, answer: ApprovalAnswer) => void,
  ) {}

  async ask(request: ApprovalRequest): Promise<ApprovalAnswer> {
    this.asked.push(request);
    const answer: ApprovalAnswer =
      this.mode === 'all' ? { approved: true, actor: 'policy', note: '--approve all' } : { approved: false, actor: 'policy', note: `--approve ${this.mode}` };
    this.onAsk?.(request, answer);
    return answer;
  }
}
