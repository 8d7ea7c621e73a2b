// The policy file `.airlock/policy.json` (DESIGN §4.2) as one zod schema. The JSON Schema that the editor
// uses for completion and squiggles is generated from this same schema (scripts/build.mjs → dist/policy.schema.json).
import { z } from 'zod';
import { ApprovalLevel } from '../../protocol/auditEvent';

const Glob = z.string().min(1).describe('A glob (picomatch syntax), relative to the workspace root.');

/** "N/sec", "N/min", "N/hour" or "N/day". */
export const RateSpec = z
  .string()
  .regex(/^\s*\d+(\.\d+)?\s*\/\s*(sec|second|min|minute|hour|day)\s*$/, 'expected "N/sec", "N/min", "N/hour" or "N/day"')
  .describe('Token-bucket rate: "N/sec", "N/min", "N/hour" or "N/day".');

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const Condition = z
  .object({
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    eq: Scalar.optional(),
    ne: Scalar.optional(),
    in: z.array(Scalar).optional(),
    matches: z.string().optional().describe('A regular expression the field (as text) must match.'),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'a condition needs at least one of gt gte lt lte eq ne in matches');
export type Condition = z.infer<typeof Condition>;

export const ApprovalRule = z
  .object({
    tool: z.string().min(1).describe('Tool name or pattern ("refund.process", "fs.*").'),
    when: z.record(z.string(), Condition).optional().describe('Argument field (dot path) → condition; all must hold.'),
    level: ApprovalLevel,
    description: z.string().optional(),
  })
  .strict();
export type ApprovalRule = z.infer<typeof ApprovalRule>;

export const Scope = z
  .object({
    read: z.array(Glob).optional(),
    write: z.array(Glob).optional(),
    deny: z.array(Glob).optional().describe('Paths that are neither readable nor writable, whatever read/write say.'),
    net: z.array(z.string().min(1)).optional().describe('Host names the agent may fetch from ("api.example.com", "*.example.com").'),
    tools: z.array(z.string().min(1)).optional().describe('Tool names or patterns the agent may call ("fs.*", "net.fetch").'),
  })
  .strict();

export const Approval = z
  .object({ rules: z.array(ApprovalRule).optional() })
  .catchall(ApprovalLevel)
  .describe('Tool name or pattern → level, plus `rules` on argument values. A rule beats a tool entry, which beats "*".');

export const Limits = z
  .object({
    rate: z.record(z.string(), RateSpec).optional(),
    onRateLimit: z.enum(['deny', 'halt']).optional().describe('What a rate-limit hit does: deny the call (default) or halt the run.'),
    maxCalls: z.number().int().positive().optional(),
    maxFilesChanged: z.number().int().nonnegative().optional(),
    maxBytesWritten: z.number().int().nonnegative().optional(),
    timeoutMs: z.number().int().positive().max(24 * 3600 * 1000).optional(),
    memoryMb: z.number().int().min(8).max(8192).optional(),
    budgetUsd: z.number().nonnegative().optional(),
    approvalTimeoutMs: z.number().int().positive().optional().describe('How long a `require` gate waits for a human before it denies.'),
  })
  .strict();

export const Breaker = z
  .object({
    failures: z.number().int().positive(),
    windowMs: z.number().int().positive(),
  })
  .strict();

export const NetOptions = z
  .object({
    methods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])).optional(),
    maxRequestBytes: z.number().int().nonnegative().optional(),
    maxResponseBytes: z.number().int().positive().optional(),
    timeoutMs: z.number().int().positive().optional(),
    /** Header name → secret reference ("env:NAME"); the host injects the value, the agent never sees it. */
    secrets: z.record(z.string(), z.record(z.string(), z.string().regex(/^env:[A-Za-z_][A-Za-z0-9_]*$/))).optional()
      .describe('Host → { header: "env:VAR" }: credentials the host adds to requests; agents never see them.'),
  })
  .strict();

export const AgentPolicy = z
  .object({
    scope: Scope.optional(),
    approval: Approval.optional(),
    limits: Limits.optional(),
    breaker: Breaker.optional(),
    net: NetOptions.optional(),
  })
  .strict();
export type AgentPolicyInput = z.infer<typeof AgentPolicy>;

export const CustomTool = z
  .object({
    description: z.string().optional(),
    input: z.record(z.string(), z.unknown()).optional().describe('JSON Schema of the arguments.'),
    response: z.unknown().optional().describe('The mock response returned to the agent; the call is recorded as a staged effect.'),
    costUsd: z.number().nonnegative().optional(),
  })
  .strict();
export type CustomTool = z.infer<typeof CustomTool>;

export const Redaction = z
  .object({
    patterns: z.array(z.string().min(1)).optional().describe('Extra regular expressions whose matches are redacted from the audit log.'),
  })
  .strict();

export const PolicyFile = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    defaults: AgentPolicy.optional(),
    agents: z.record(z.string(), AgentPolicy).optional(),
    tools: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), CustomTool).optional(),
    redact: Redaction.optional(),
  })
  .strict();
export type PolicyFile = z.infer<typeof PolicyFile>;

/** An agent's policy after merging: every field present. */
export interface ResolvedPolicy {
  readonly agent: string;
  readonly scope: { read: string[]; write: string[]; deny: string[]; net: string[]; tools: string[] };
  readonly approval: { levels: Record<string, ApprovalLevel>; rules: ApprovalRule[] };
  readonly limits: {
    rate: Record<string, string>;
    onRateLimit: 'deny' | 'halt';
    maxCalls: number;
    maxFilesChanged: number;
    maxBytesWritten: number;
    timeoutMs: number;
    memoryMb: number;
    budgetUsd: number;
    approvalTimeoutMs: number;
  };
  readonly breaker: { failures: number; windowMs: number };
  readonly net: { methods: string[]; maxRequestBytes: number; maxResponseBytes: number; timeoutMs: number; secrets: Record<string, Record<string, string>> };
  readonly tools: Record<string, CustomTool>;
  readonly redactPatterns: string[];
}
