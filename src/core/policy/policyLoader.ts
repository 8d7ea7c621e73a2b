// Reads `.airlock/policy.json` (JSON with comments), validates it, and merges an agent's policy over the
// file's defaults and the built-in defaults. Errors name the file, the field path and, for syntax, line:column.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { ApprovalLevel } from '../../protocol/auditEvent';
import { compileToolSchema, ToolSchemaError } from '../tools/customTools';
import { PolicyFile, type AgentPolicyInput, type ResolvedPolicy } from './policySchema';

export type PolicyErrorReason = 'unreadable' | 'syntax' | 'invalid';

/** One thing wrong in a policy file, located for the editor's Problems view. */
export interface PolicyProblem {
  /** The JSON path of the field (keys and array indices); empty for a syntax error or the whole file. */
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** For a syntax error: where in the text it is. */
  readonly offset?: number;
  readonly length?: number;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly reason: PolicyErrorReason,
    readonly file: string,
    message: string,
    /** Field paths ("agents.refactor.limits.maxCalls") that failed validation. */
    readonly fields: readonly string[] = [],
    /** Every problem found, with its location (the message names at most five). */
    readonly problems: readonly PolicyProblem[] = [],
  ) {
    super(message);
  }
  static is(e: unknown): e is PolicyError {
    return e instanceof PolicyError;
  }
}

/** Where the CLI and the editor look for the policy of a workspace. */
export function defaultPolicyPath(workspace: string): string {
  return join(workspace, '.airlock', 'policy.json');
}

/** The built-in defaults: read anywhere, write nowhere without approval, no network, no custom tools. */
export const builtinDefaults: Omit<ResolvedPolicy, 'agent' | 'tools' | 'redactPatterns'> = {
  scope: {
    read: ['**'],
    write: ['**'],
    // Secrets stay out of reach unless a policy says otherwise.
    deny: ['**/.env', '**/.env.*', '**/*.pem', '**/*.key', '**/id_rsa', '**/id_ed25519', '**/.git/config', '**/.npmrc'],
    net: [],
    tools: ['fs.*', 'agent.escalate'],
  },
  approval: { levels: { 'fs.write': 'require', 'fs.delete': 'require', 'net.fetch': 'require', '*': 'auto' }, rules: [] },
  limits: {
    rate: { '*': '1200/min' },
    onRateLimit: 'deny',
    maxCalls: 1000,
    maxFilesChanged: 50,
    maxBytesWritten: 10 * 1024 * 1024,
    timeoutMs: 60_000,
    memoryMb: 128,
    budgetUsd: 1,
    approvalTimeoutMs: 5 * 60_000,
  },
  breaker: { failures: 5, windowMs: 60_000 },
  net: { methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], maxRequestBytes: 1024 * 1024, maxResponseBytes: 1024 * 1024, timeoutMs: 10_000, secrets: {} },
};

export interface LoadedPolicy {
  /** The file that was read, or undefined when none exists (built-in defaults apply). */
  readonly file: string | undefined;
  readonly policy: PolicyFile;
}

/** Reads and validates a policy file. A missing file gives the built-in defaults; anything else wrong throws PolicyError. */
export function loadPolicy(file: string): LoadedPolicy {
  if (!existsSync(file)) return { file: undefined, policy: { version: 1 } };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PolicyError('unreadable', file, `Cannot read the policy ${file}: ${(e as Error).message}`);
  }
  return { file, policy: parsePolicyText(text, file) };
}

export function parsePolicyText(text: string, file: string): PolicyFile {
  const errors: ParseError[] = [];
  const raw: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const first = errors[0]!;
    const { line, column } = lineColumn(text, first.offset);
    const problems = errors.map((e) => ({ path: [], message: `${printParseErrorCode(e.error)}`, offset: e.offset, length: e.length }));
    throw new PolicyError('syntax', file, `${file}:${line}:${column}: ${printParseErrorCode(first.error)} — fix the JSON syntax and run again.`, [], problems);
  }
  const parsed = PolicyFile.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const fields = issues.map((i) => fieldPath(i.path));
    const lines = issues.slice(0, 5).map((i) => `  ${fieldPath(i.path) || '(root)'}: ${i.message}`);
    const problems = issues.map((i) => ({ path: i.path.filter((k): k is string | number => typeof k !== 'symbol'), message: i.message }));
    throw new PolicyError('invalid', file, `${file} is not a valid policy:\n${lines.join('\n')}\nNothing was run. Fix the field${issues.length > 1 ? 's' : ''} above (the JSON Schema in the editor shows what is allowed).`, fields, problems);
  }
  for (const [name, tool] of Object.entries(parsed.data.tools ?? {})) {
    if (isBuiltinTool(name)) throw new PolicyError('invalid', file, `${file}: tools.${name}: custom tools cannot use a built-in tool name.`, [`tools.${name}`], [{ path: ['tools', name], message: 'custom tools cannot use a built-in tool name' }]);
    if (tool.input !== undefined) checkToolSchema(name, tool.input, file);
  }
  for (const [where, agent] of agentEntries(parsed.data)) checkRegexes(agent, where, file);
  return parsed.data;
}

const builtinTools = new Set(['fs.read', 'fs.write', 'fs.delete', 'fs.list', 'fs.search', 'net.fetch', 'agent.escalate']);
export function isBuiltinTool(name: string): boolean {
  return builtinTools.has(name);
}

function checkToolSchema(name: string, schema: Record<string, unknown>, file: string): void {
  try {
    compileToolSchema(schema);
  } catch (e) {
    if (!ToolSchemaError.is(e)) throw e;
    throw new PolicyError('invalid', file, `${file}: tools.${name}.input: not a valid JSON Schema (${e.message}).`, [`tools.${name}.input`], [{ path: ['tools', name, 'input'], message: `not a valid JSON Schema (${e.message})` }]);
  }
}

function agentEntries(p: PolicyFile): Array<[string[], AgentPolicyInput]> {
  const out: Array<[string[], AgentPolicyInput]> = [];
  if (p.defaults) out.push([['defaults'], p.defaults]);
  for (const [k, v] of Object.entries(p.agents ?? {})) out.push([['agents', k], v]);
  return out;
}

function checkRegexes(agent: AgentPolicyInput, at: readonly string[], file: string): void {
  const where = at.join('.');
  (agent.approval?.rules ?? []).forEach((rule, i) => {
    for (const [field, cond] of Object.entries(rule.when ?? {})) {
      if (cond.matches === undefined) continue;
      try {
        new RegExp(cond.matches);
      } catch (e) {
        const path = `${where}.approval.rules[${i}].when.${field}.matches`;
        const message = `not a valid regular expression (${(e as Error).message})`;
        throw new PolicyError('invalid', file, `${file}: ${path}: ${message}.`, [path], [{ path: [...at, 'approval', 'rules', i, 'when', field, 'matches'], message }]);
      }
    }
  });
}

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** Merges built-in defaults ← the file's `defaults` ← `agents[name]`. Objects merge; arrays and scalars replace. */
export function resolveAgentPolicy(policy: PolicyFile, agent: string): ResolvedPolicy {
  const layers = [policy.defaults, policy.agents?.[agent]].filter((l): l is AgentPolicyInput => l !== undefined);
  const d = builtinDefaults;
  let scope = { ...d.scope };
  let levels = { ...d.approval.levels };
  let rules = [...d.approval.rules];
  let ownLevels = false;
  let limits = { ...d.limits, rate: { ...d.limits.rate } };
  let breaker = { ...d.breaker };
  let net = { ...d.net, secrets: { ...d.net.secrets } };
  for (const layer of layers) {
    if (layer.scope) scope = { ...scope, ...definedOnly(layer.scope) };
    if (layer.approval) {
      const { rules: r, ...lv } = layer.approval;
      // The first policy layer that sets levels replaces the built-in ones (a file saying `"*": "auto"` means it);
      // later layers (the agent's own) merge over it.
      levels = { ...(ownLevels ? levels : {}), ...(lv as Record<string, ApprovalLevel>) };
      ownLevels = true;
      if (r) rules = r;
    }
    if (layer.limits) {
      const { rate, ...rest } = layer.limits;
      limits = { ...limits, ...definedOnly(rest), rate: rate ? { ...rate } : limits.rate };
    }
    if (layer.breaker) breaker = { ...breaker, ...layer.breaker };
    if (layer.net) net = { ...net, ...definedOnly(layer.net) } as typeof net;
  }
  return {
    agent,
    scope,
    approval: { levels, rules },
    limits,
    breaker,
    net,
    tools: { ...(policy.tools ?? {}) },
    redactPatterns: [...(policy.redact?.patterns ?? [])],
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
