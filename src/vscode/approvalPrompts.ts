// The editor's ApprovalGate: a `require` action or an escalation waits here for a human. Each request is shown
// as a notification with its buttons and kept in a pending list that other UI (and tests) answer through
// `answer()` — the same path the notification buttons take.
import { userInfo } from 'node:os';
import * as vscode from 'vscode';
import type { ApprovalAnswer, ApprovalGate, ApprovalRequest } from '../core/runtime/approvalGate';

interface Waiting {
  readonly request: ApprovalRequest;
  readonly resolve: (answer: ApprovalAnswer) => void;
}

export class ApprovalPrompts implements ApprovalGate, vscode.Disposable {
  private readonly waiting = new Map<string, Waiting>();
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  /** The pending list changed (a request arrived, was answered, or timed out). */
  readonly onDidChange = this._onDidChange.event;
  private readonly human = humanActor();

  /** `timeoutSeconds()`: the editor's own limit on waiting (the `airlock.approvals.timeoutSeconds` setting; 0 = the policy's). */
  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly timeoutSeconds: () => number = () => 0,
  ) {}

  get pending(): readonly ApprovalRequest[] {
    return [...this.waiting.values()].map((w) => w.request);
  }

  ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    return new Promise<ApprovalAnswer>((resolve) => {
      const settle = (answer: ApprovalAnswer) => {
        if (!this.waiting.delete(request.id)) return;
        signal.removeEventListener('abort', onAbort);
        this.log.info(`${request.kind} ${request.id} (${request.tool}) ${answer.approved ? 'approved' : 'denied'} by ${answer.actor}${answer.note ? `: ${answer.note}` : ''}`);
        this._onDidChange.fire();
        resolve(answer);
      };
      // The run ended or the policy's timeout passed: that is a denial, never an approval.
      const onAbort = () => settle({ approved: false, actor: 'policy', note: 'no answer in time (or the run ended)' });
      if (signal.aborted) {
        resolve({ approved: false, actor: 'policy', note: 'the run had already ended' });
        return;
      }
      signal.addEventListener('abort', onAbort);
      // The setting can only shorten the wait the policy allows, never lengthen it.
      const limitMs = this.timeoutSeconds() * 1000;
      const timer = limitMs > 0 && limitMs < request.timeoutMs ? setTimeout(() => settle({ approved: false, actor: 'policy', note: `no answer within ${limitMs / 1000} s (airlock.approvals.timeoutSeconds)` }), limitMs) : undefined;
      this.waiting.set(request.id, {
        request,
        resolve: (answer) => {
          clearTimeout(timer);
          settle(answer);
        },
      });
      this._onDidChange.fire();
      void this.notify(request);
    });
  }

  /** Answers a waiting request as the human at the keyboard. Returns false when it is no longer waiting. */
  answer(id: string, approved: boolean, note?: string): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    w.resolve({ approved, actor: this.human, ...(note ? { note } : {}) });
    return true;
  }

  private async notify(request: ApprovalRequest): Promise<void> {
    const [yes, no] = request.kind === 'escalation' ? ['Continue', 'Stop'] : ['Approve', 'Deny'];
    const seconds = Math.round(request.timeoutMs / 1000);
    const text =
      request.kind === 'escalation'
        ? `Agent "${request.agent}" asks: ${request.reason ?? '(no question given)'}`
        : `Agent "${request.agent}" wants to ${request.tool} ${compact(request.args)} (${request.rule})${request.reason ? ` — “${request.reason}”` : ''}. No answer in ${seconds} s denies it.`;
    const choice = await vscode.window.showWarningMessage(text, yes, no);
    if (choice !== undefined) this.answer(request.id, choice === yes);
  }

  dispose(): void {
    for (const w of this.waiting.values()) w.resolve({ approved: false, actor: 'system', note: 'Airlock was shut down' });
    this._onDidChange.dispose();
  }
}

function compact(args: unknown): string {
  const text = JSON.stringify(args) ?? '';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** `human:<login name>`: the actor recorded for every decision a person takes in the editor. */
export function humanActor(): string {
  let name = 'user';
  try {
    name = userInfo().username || name;
  } catch {
    // No passwd entry (some containers): still a human.
  }
  return `human:${name}`;
}
