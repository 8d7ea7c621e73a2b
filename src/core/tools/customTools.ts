// Custom tools declared in the policy's `tools`: arguments are checked against their JSON Schema (ajv), the
// call is recorded as a staged effect, and the declared mock `response` goes back to the agent.
import Ajv, { type ValidateFunction } from 'ajv';
import type { CustomTool } from '../policy/policySchema';

const ajv = new Ajv({ allErrors: true, strict: false });

export class ToolSchemaError extends Error {
  override readonly name = 'ToolSchemaError';
  readonly reason = 'invalid-schema';
  static is(e: unknown): e is ToolSchemaError {
    return e instanceof ToolSchemaError;
  }
}

/** Compiles a tool's input schema; throws ToolSchemaError with ajv's explanation when the schema itself is wrong. */
export function compileToolSchema(schema: Record<string, unknown>): ValidateFunction {
  try {
    return ajv.compile(schema);
  } catch (e) {
    throw new ToolSchemaError((e as Error).message);
  }
}

export interface StagedEffect {
  readonly tool: string;
  readonly args: unknown;
  readonly response: unknown;
  readonly costUsd: number;
}

export class CustomToolRegistry {
  private readonly validators = new Map<string, ValidateFunction | undefined>();
  private readonly staged: StagedEffect[] = [];

  constructor(private readonly tools: Readonly<Record<string, CustomTool>>) {
    for (const [name, tool] of Object.entries(tools)) {
      this.validators.set(name, tool.input ? compileToolSchema(tool.input) : undefined);
    }
  }

  has(name: string): boolean {
    return this.validators.has(name);
  }

  costOf(name: string): number {
    return this.tools[name]?.costUsd ?? 0;
  }

  /** undefined when the arguments are valid, else a readable list of what is wrong. */
  validate(name: string, args: unknown): string | undefined {
    const validate = this.validators.get(name);
    if (!validate || validate(args)) return undefined;
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}`).join('; ');
  }

  /** Records the call as a staged effect and returns the declared mock response (a fresh copy each time). */
  call(name: string, args: unknown): unknown {
    const tool = this.tools[name];
    const response = tool?.response === undefined ? { ok: true } : structuredClone(tool.response);
    this.staged.push({ tool: name, args, response, costUsd: tool?.costUsd ?? 0 });
    return response;
  }

  stagedEffects(): readonly StagedEffect[] {
    return this.staged;
  }
}
