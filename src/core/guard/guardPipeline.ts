// The guard pipeline (DESIGN §3): every tool call of one run passes validate → scope → limits → breaker →
// approval → execute → output guard, and each outcome is appended to the audit log before its effect is visible.
// An effect is visible once something outside the run can see it: the workspace, the network, a person (a staged
// change, an approval prompt, the report). A read's content and a refusal are seen by the agent alone, which can
// pass them on only through a later call or log line; their events are acknowledged once written to the journal
// (ack 'written') and made durable before that later event's effect (docs/audit.md, "Durability").
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import type { AuditEventInput, ApprovalLevel, Decision } from '../../protocol/auditEvent';
import type { ToolCallParams, ToolCallResult } from '../../protocol/sandboxProtocol';
import type { AppendAck, AuditSink } from '../audit/auditSink';
import { FetchError, type HostFetch } from '../net/hostFetch';
import type { ResolvedPolicy } from '../policy/policySchema';
import type { ApprovalAnswer, ApprovalGate, ApprovalRequest } from '../runtime/approvalGate';
import { OverlayError, type StagingOverlay } from '../staging/stagingOverlay';
import type { CustomToolRegistry } from '../tools/customTools';
import { ApprovalPolicy } from './approvalPolicy';
import { CircuitBreaker } from './circuitBreaker';
import { HostScope } from './hostScope';
import { findInjectionMarker } from './injectionMarkers';
import { PathScope } from './pathScope';
import { RateLimiter } from './rateLimiter';
import { builtinToolArgs, describeArgsError, isBuiltinToolName, type BuiltinArgs } from './toolArgs';
import { matchesTool } from './toolPattern';

/** Redaction the pipeline needs: to show arguments to a human, and to stop raw secrets leaving the machine. */
export interface SecretScanner {
  redact(value: unknown): unknown;
  /** Names of the secret kinds found in the text (empty when none). PII does not count here. */
  findSecrets(text: string): string[];
}

export interface PipelineOptions {
  readonly runId: string;
  readonly agent: string;
  readonly workspace: string;
  readonly policy: ResolvedPolicy;
  readonly overlay: StagingOverlay;
  readonly tools: CustomToolRegistry;
  readonly fetcher: HostFetch;
  readonly gate: ApprovalGate;
  readonly audit: AuditSink;
  readonly scanner: SecretScanner;
  /** Ends the run (the runtime stops the sandbox). Called at most once. */
  readonly halt: (reason: string) => void;
  /** Aborts when the run is over, so pending gates and fetches stop waiting. */
  readonly signal: AbortSignal;
  /** Told when a call starts and stops waiting for a human, so time spent waiting does not count against the run. */
  readonly onHumanWait?: (waiting: boolean) => void;
  readonly now?: () => number;
}

export interface CallStats {
  total: number;
  denied: number;
  bytesWritten: number;
  costUsd: number;
}

/** A refusal or failure inside the pipeline, turned into the agent's rejected promise and an audit event. */
class Refusal {
  constructor(
    readonly message: string,
    readonly rule: string,
    readonly decision: Decision = 'deny',
    readonly kind: 'denial' | 'failure' = 'denial',
  ) {}
}

interface Outcome {
  readonly value: unknown;
  /** What the audit event records as the result (never the full content). */
  readonly auditResult: unknown;
  readonly decision: Decision;
  readonly costUsd?: number;
  /** 'written' when only the agent sees the outcome (see the top of this file); durable otherwise. */
  readonly ack?: AppendAck;
}

const levelRank: Record<ApprovalLevel, number> = { auto: 0, review: 1, require: 2, deny: 3 };
const WRITTEN = { ack: 'written' } as const;

export class GuardPipeline {
  readonly stats: CallStats = { total: 0, denied: 0, bytesWritten: 0, costUsd: 0 };
  private readonly paths: PathScope;
  private readonly hosts: HostScope;
  private readonly rates: RateLimiter;
  private readonly breaker: CircuitBreaker;
  private readonly approval: ApprovalPolicy;
  private readonly now: () => number;
  private haltReason: string | undefined;
  private approvalSeq = 0;

  constructor(private readonly o: PipelineOptions) {
    const { scope, limits, breaker } = o.policy;
    this.now = o.now ?? (() => performance.now());
    this.paths = new PathScope({ workspace: o.workspace, read: scope.read, write: scope.write, deny: scope.deny });
    this.hosts = new HostScope(scope.net);
    this.rates = new RateLimiter(limits.rate, { now: this.now });
    this.breaker = new CircuitBreaker({ failures: breaker.failures, windowMs: breaker.windowMs, now: this.now });
    this.approval = new ApprovalPolicy(o.policy.approval);
  }

  /** Why the pipeline halted the run, if it did. */
  get halted(): string | undefined {
    return this.haltReason;
  }

  /** The scope, so listings and searches can hide what the agent may not see. */
  get pathScope(): PathScope {
    return this.paths;
  }

  async handle(call: ToolCallParams): Promise<ToolCallResult> {
    const started = this.now();
    this.stats.total++;
    // Events are built as literals, not spread from a shared base: object spread is slow on this hot path.
    const { tool, reason } = call;
    let level: ApprovalLevel | undefined;
    let rule: string | undefined;
    let actor = 'policy';
    try {
      if (this.haltReason) throw new Refusal(`the run was halted: ${this.haltReason}`, 'halt', 'halt');
      // 1. validate (and copy to a typed value)
      const args = this.validate(call.tool, call.args);
      // 2. scope: tools, then paths and hosts per tool
      this.checkToolScope(call.tool);
      // 3. limits
      this.checkLimits(call.tool, args);
      // 5. approval level (the breaker, step 4, counts the outcome below)
      const decided = this.approval.levelOf(call.tool, args);
      level = decided.level;
      rule = decided.rule;
      if (level === 'deny') throw new Refusal(`the policy denies ${call.tool} (${rule})`, rule);
      const preflight = this.preflight(call.tool, args);
      if (call.tool === 'agent.escalate') {
        const answer = await this.askHuman('escalation', call, args, level, rule);
        actor = answer.actor;
        const outcome: Outcome = { value: answer.approved ? 'continue' : 'stop', auditResult: { answer: answer.approved ? 'continue' : 'stop' }, decision: answer.approved ? 'approved' : 'rejected' };
        await this.record({ tool, reason, args, level, rule, actor, decision: outcome.decision, result: outcome.auditResult, durationMs: this.now() - started });
        if (!answer.approved) setImmediate(() => this.haltRun(`the escalation was answered "stop" by ${answer.actor}`));
        return { ok: true, value: outcome.value };
      }
      if (level === 'require') {
        const answer = await this.askHuman('gate', call, args, level, rule);
        actor = answer.actor;
        if (!answer.approved) throw new Refusal(`${call.tool} needs approval and was denied by ${answer.actor}${answer.note ? ` (${answer.note})` : ''}`, rule, 'rejected');
      }
      // 6. execute — the audit event is written inside, before the effect becomes visible
      const outcome = await this.execute(call.tool, args, level, preflight, (o) =>
        this.record({ tool, reason, args: auditArgs(tool, args), level, rule, actor, decision: o.decision, result: o.auditResult, durationMs: this.now() - started, costUsd: o.costUsd }, 'tool.call', o.ack),
      );
      this.breaker.record('success');
      return { ok: true, value: outcome.value };
    } catch (e) {
      const refusal = e instanceof Refusal ? e : toRefusal(e);
      this.stats.denied++;
      const auditFailed = isAuditFailure(e);
      if (!auditFailed) {
        try {
          // The refusal reaches the agent alone (a halt ends the run, whose end event is durable before the report).
          await this.record({ tool, reason, args: auditArgs(tool, call.args), level, rule: refusal.rule, actor, decision: refusal.decision, result: { error: refusal.message }, durationMs: this.now() - started }, 'tool.call', 'written');
        } catch (auditError) {
          this.haltRun(`the audit log cannot be written (${(auditError as Error).message}); an agent never acts unaudited`);
          return { ok: false, message: refusal.message };
        }
        if (refusal.decision !== 'halt' && this.breaker.record(refusal.kind).justOpened) {
          await this.alert(`circuit breaker opened: ${this.o.policy.breaker.failures} failures or denials within ${this.o.policy.breaker.windowMs} ms`, 'breaker');
          this.haltRun(`circuit breaker opened after ${this.o.policy.breaker.failures} failures or denials within ${this.o.policy.breaker.windowMs} ms`);
        }
      } else {
        this.haltRun(`the audit log cannot be written (${(e as Error).message}); an agent never acts unaudited`);
      }
      return { ok: false, message: refusal.message };
    }
  }

  /** Writes an alert event and halts the run (limits, breaker, kill). */
  async alert(message: string, rule: string): Promise<void> {
    try {
      await this.o.audit.append({ runId: this.o.runId, agent: this.o.agent, type: 'alert', decision: 'halt', rule, actor: 'system', reason: message });
    } catch {
      // The run is ending anyway; the halt reason still reaches the report.
    }
  }

  private haltRun(reason: string): void {
    if (this.haltReason) return;
    this.haltReason = reason;
    this.o.halt(reason);
  }

  /** Appends a `tool.call` event (or another type); a failure to write it is an AuditFailure, which halts the run. */
  private async record(e: Omit<AuditEventInput, 'runId' | 'agent' | 'type'>, type: AuditEventInput['type'] = 'tool.call', ack: AppendAck = 'durable'): Promise<void> {
    // `e` is always a fresh literal of the caller's: completing it in place spares a copy.
    const event = e as { -readonly [K in keyof AuditEventInput]: AuditEventInput[K] };
    event.runId = this.o.runId;
    event.agent = this.o.agent;
    event.type = type;
    try {
      await this.o.audit.append(event, ack === 'durable' ? undefined : WRITTEN);
    } catch (err) {
      throw new AuditFailure((err as Error).message);
    }
  }

  private validate(tool: string, raw: unknown): unknown {
    if (isBuiltinToolName(tool)) {
      const parsed = builtinToolArgs[tool].safeParse(raw);
      if (!parsed.success) throw new Refusal(`invalid arguments for ${tool}: ${describeArgsError(parsed.error)}`, 'validate', 'deny', 'failure');
      return parsed.data;
    }
    if (!this.o.tools.has(tool)) throw new Refusal(`unknown tool "${tool}": it is not declared in the policy's "tools"`, 'validate', 'deny', 'failure');
    const problem = this.o.tools.validate(tool, raw);
    if (problem) throw new Refusal(`invalid arguments for ${tool}: ${problem}`, 'validate', 'deny', 'failure');
    return raw;
  }

  private checkToolScope(tool: string): void {
    // Escalation is the agent's way to ask a human; it is always allowed to ask.
    if (tool === 'agent.escalate') return;
    if (!this.o.policy.scope.tools.some((p) => matchesTool(p, tool))) {
      throw new Refusal(`${tool} is not in this agent's scope.tools (${this.o.policy.scope.tools.join(', ') || 'none'})`, 'scope.tools');
    }
  }

  private checkLimits(tool: string, args: unknown): void {
    const limits = this.o.policy.limits;
    if (this.stats.total > limits.maxCalls) {
      this.haltRun(`limit reached: maxCalls ${limits.maxCalls}`);
      throw new Refusal(`limit reached: maxCalls ${limits.maxCalls}; the run is halted`, 'limits.maxCalls', 'halt');
    }
    const rate = this.rates.tryTake(tool);
    if (!rate.ok) {
      const message = `rate limit ${rate.pattern} = ${limits.rate[rate.pattern]} reached; retry in ${Math.ceil(rate.retryAfterMs)} ms`;
      if (limits.onRateLimit === 'halt') {
        this.haltRun(message);
        throw new Refusal(`${message}; the run is halted`, `limits.rate.${rate.pattern}`, 'halt');
      }
      throw new Refusal(message, `limits.rate.${rate.pattern}`);
    }
    if (tool === 'fs.write' || tool === 'fs.delete') {
      const { path } = args as { path: string };
      const rel = this.paths.check(path, 'write');
      if (rel.ok && this.o.overlay.isNewChange(rel.resolvedRelPath) && this.o.overlay.changedFileCount() >= limits.maxFilesChanged) {
        throw new Refusal(`limit reached: maxFilesChanged ${limits.maxFilesChanged}`, 'limits.maxFilesChanged');
      }
    }
    if (tool === 'fs.write') {
      const bytes = Buffer.byteLength((args as BuiltinArgs<'fs.write'>).content);
      if (this.stats.bytesWritten + bytes > limits.maxBytesWritten) {
        throw new Refusal(`limit reached: maxBytesWritten ${limits.maxBytesWritten} (this write is ${bytes} bytes, ${this.stats.bytesWritten} already written)`, 'limits.maxBytesWritten');
      }
    }
    const cost = this.o.tools.has(tool) ? this.o.tools.costOf(tool) : 0;
    if (cost > 0 && this.stats.costUsd + cost > limits.budgetUsd) {
      this.haltRun(`limit reached: budgetUsd ${limits.budgetUsd}`);
      throw new Refusal(`limit reached: budgetUsd ${limits.budgetUsd}; the run is halted`, 'limits.budgetUsd', 'halt');
    }
  }

  /** Scope checks that depend on the tool's arguments; returns what execute needs. */
  private preflight(tool: string, args: unknown): { rel?: string; url?: URL; wildcard?: boolean } {
    switch (tool) {
      case 'fs.read':
      case 'fs.write':
      case 'fs.delete': {
        const access = tool === 'fs.read' ? 'read' : 'write';
        const r = this.paths.check((args as { path: string }).path, access);
        if (!r.ok) throw new Refusal(r.message, `scope.${access === 'read' ? 'read' : 'write'}`);
        // Staged under the resolved path, so a write through an in-workspace symlink changes the real file.
        return { rel: r.resolvedRelPath };
      }
      case 'fs.list': {
        const r = this.paths.checkDir((args as BuiltinArgs<'fs.list'>).path ?? '.');
        if (!r.ok) throw new Refusal(r.message, 'scope.read');
        return { rel: r.resolvedRelPath };
      }
      case 'net.fetch': {
        const a = args as BuiltinArgs<'net.fetch'>;
        const h = this.hosts.check(a.url);
        if (!h.ok) throw new Refusal(h.message, 'scope.net');
        try {
          this.o.fetcher.checkRequest((a.method ?? 'GET').toUpperCase(), a.body);
        } catch (e) {
          throw toRefusal(e, 'net');
        }
        this.blockOutboundSecrets(tool, { url: a.url, headers: a.headers ?? {}, body: a.body ?? '' });
        return { url: h.url, wildcard: h.wildcard };
      }
      default:
        if (this.o.tools.has(tool)) this.blockOutboundSecrets(tool, args);
        return {};
    }
  }

  private blockOutboundSecrets(tool: string, data: unknown): void {
    const found = this.o.scanner.findSecrets(JSON.stringify(data) ?? '');
    if (found.length > 0) throw new Refusal(`${tool} would send a secret (${found.join(', ')}) out of the sandbox; blocked`, 'output.secrets');
  }

  private async askHuman(kind: 'gate' | 'escalation', call: ToolCallParams, args: unknown, level: ApprovalLevel, rule: string): Promise<ApprovalAnswer> {
    const timeoutMs = this.o.policy.limits.approvalTimeoutMs;
    const request: ApprovalRequest = {
      id: `${this.o.runId}-a${++this.approvalSeq}`,
      runId: this.o.runId,
      agent: this.o.agent,
      kind,
      tool: call.tool,
      args: this.o.scanner.redact(auditArgs(call.tool, args)),
      level,
      rule,
      reason: kind === 'escalation' ? (args as BuiltinArgs<'agent.escalate'>).question : call.reason,
      timeoutMs,
    };
    await this.record({ tool: call.tool, args: auditArgs(call.tool, args), level, rule, actor: 'policy', decision: 'pending', reason: call.reason }, 'decision');
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    this.o.onHumanWait?.(true);
    const signal = AbortSignal.any([this.o.signal, timeout.signal]);
    let answer: ApprovalAnswer;
    try {
      answer = await Promise.race([
        this.o.gate.ask(request, signal),
        new Promise<ApprovalAnswer>((resolve) =>
          signal.addEventListener('abort', () => resolve({ approved: false, actor: 'policy', note: timeout.signal.aborted ? `no answer within ${timeoutMs} ms` : 'the run ended' }), { once: true }),
        ),
      ]);
    } catch (e) {
      answer = { approved: false, actor: 'policy', note: `the approval could not be asked: ${(e as Error).message}` };
    } finally {
      clearTimeout(timer);
      this.o.onHumanWait?.(false);
    }
    await this.record(
      { tool: call.tool, decision: answer.approved ? 'approved' : 'rejected', level, rule, actor: answer.actor, reason: answer.note ?? (kind === 'escalation' ? request.reason : undefined) },
      'approval',
    );
    return answer;
  }

  private async execute(tool: string, args: unknown, level: ApprovalLevel, pre: { rel?: string; url?: URL; wildcard?: boolean }, audit: (o: Outcome) => Promise<void>): Promise<Outcome> {
    const overlay = this.o.overlay;
    const finish = async (o: Outcome, effect?: () => void): Promise<Outcome> => {
      await audit(o);
      effect?.();
      return o;
    };
    try {
      switch (tool) {
        case 'fs.read': {
          const data = overlay.read(pre.rel!);
          const text = data.toString('utf8');
          const marker = findInjectionMarker(text);
          return await finish({ value: text, decision: 'allow', ack: 'written', auditResult: { bytes: data.length, ...(marker ? { flagged: `possible prompt injection: ${marker}` } : {}) } });
        }
        case 'fs.write': {
          const { content } = args as BuiltinArgs<'fs.write'>;
          const data = Buffer.from(content, 'utf8');
          const kind = overlay.exists(pre.rel!) ? 'modify' : 'create';
          return await finish({ value: { path: pre.rel, kind, staged: true }, decision: 'stage', auditResult: { kind, bytes: data.length } }, () => {
            overlay.write(pre.rel!, data, stagedLevel(level));
            this.stats.bytesWritten += data.length;
          });
        }
        case 'fs.delete': {
          if (!overlay.exists(pre.rel!)) throw new OverlayError('not-found', `${pre.rel} does not exist`);
          return await finish({ value: { path: pre.rel, kind: 'delete', staged: true }, decision: 'stage', auditResult: { kind: 'delete' } }, () => overlay.delete(pre.rel!, stagedLevel(level)));
        }
        case 'fs.list': {
          const entries = overlay.list(pre.rel!);
          return await finish({ value: entries, decision: 'allow', ack: 'written', auditResult: { entries: entries.length } });
        }
        case 'fs.search': {
          const { pattern, glob } = args as BuiltinArgs<'fs.search'>;
          const include = glob ? picomatch(glob, { dot: true }) : () => true;
          const { hits, truncated } = overlay.search(pattern, (rel) => include(rel) && this.paths.isVisible(rel));
          return await finish({ value: hits, decision: 'allow', ack: 'written', auditResult: { hits: hits.length, truncated } });
        }
        case 'net.fetch': {
          const a = args as BuiltinArgs<'net.fetch'>;
          const method = (a.method ?? 'GET').toUpperCase();
          // The request itself is the effect: its decision is durable before anything leaves the machine.
          await this.record({ tool, args: auditArgs(tool, args), decision: 'allow', level, actor: 'policy' }, 'decision');
          const res = await this.o.fetcher.fetch({ url: pre.url!, method, headers: a.headers ?? {}, body: a.body, publicOnly: pre.wildcard === true }, this.o.signal);
          const marker = findInjectionMarker(res.body);
          return await finish({
            value: res,
            decision: 'allow',
            auditResult: { status: res.status, bytes: Buffer.byteLength(res.body), truncated: res.truncated, ...(marker ? { flagged: `possible prompt injection: ${marker}` } : {}) },
          });
        }
        default: {
          const cost = this.o.tools.costOf(tool);
          const response = this.o.tools.call(tool, args);
          this.stats.costUsd += cost;
          return await finish({ value: response, decision: 'stage', auditResult: { staged: true, response }, costUsd: cost });
        }
      }
    } catch (e) {
      if (e instanceof AuditFailure || e instanceof Refusal) throw e;
      throw toRefusal(e, tool);
    }
  }
}

class AuditFailure extends Error {
  override readonly name = 'AuditFailure';
}

function isAuditFailure(e: unknown): boolean {
  return e instanceof AuditFailure;
}

function toRefusal(e: unknown, rule = 'execute'): Refusal {
  if (OverlayError.is(e)) return new Refusal(e.message, 'execute', 'deny', 'failure');
  if (FetchError.is(e)) return new Refusal(e.message, `net.${e.reason}`, 'deny', 'failure');
  return new Refusal(e instanceof Error ? e.message : String(e), rule, 'deny', 'failure');
}

/** What `require` or `review` mean for a staged change: the strictest level it went through. */
function stagedLevel(level: ApprovalLevel): ApprovalLevel {
  return levelRank[level] >= levelRank.review ? level : 'auto';
}

/** The audit log keeps what was asked, not whole file contents: a write is recorded by size and hash. */
function auditArgs(tool: string, args: unknown): unknown {
  if (tool === 'fs.write' && args && typeof args === 'object' && typeof (args as { content?: unknown }).content === 'string') {
    const { path, content } = args as { path: unknown; content: string };
    return { path, bytes: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex') };
  }
  if (tool === 'net.fetch' && args && typeof args === 'object') {
    const { body, ...rest } = args as { body?: unknown };
    return typeof body === 'string' ? { ...rest, bodyBytes: Buffer.byteLength(body) } : rest;
  }
  return args;
}
