// The audit event (DESIGN §4.4): what the runtime writes, the store keeps, the CLI exports and the timeline shows.
import * as z from 'zod';

export const auditEventTypes = ['run.start', 'tool.call', 'decision', 'approval', 'apply', 'rollback', 'alert', 'run.end', 'log'] as const;
export const decisions = ['allow', 'deny', 'stage', 'pending', 'approved', 'rejected', 'halt'] as const;
export const approvalLevels = ['auto', 'review', 'require', 'deny'] as const;

export const AuditEventType = z.enum(auditEventTypes);
export const Decision = z.enum(decisions);
export const ApprovalLevel = z.enum(approvalLevels);
export type AuditEventType = z.infer<typeof AuditEventType>;
export type Decision = z.infer<typeof Decision>;
export type ApprovalLevel = z.infer<typeof ApprovalLevel>;

/** `policy`, `agent`, `system` or `human:<name>`. */
export const Actor = z.string().regex(/^(agent|policy|system|human:.+)$/);

/** What a writer hands to the audit log; the log adds seq, ts and the hash chain. */
export const AuditEventInput = z.object({
  runId: z.string(),
  agent: z.string(),
  type: AuditEventType,
  tool: z.string().optional(),
  args: z.unknown().optional(),
  result: z.unknown().optional(),
  decision: Decision.optional(),
  level: ApprovalLevel.optional(),
  rule: z.string().optional(),
  actor: Actor.optional(),
  reason: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  costUsd: z.number().nonnegative().optional(),
});
export type AuditEventInput = z.infer<typeof AuditEventInput>;

export const AuditEvent = AuditEventInput.extend({
  seq: z.number().int().positive(),
  ts: z.string(),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;
