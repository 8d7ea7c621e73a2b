// Step 1 of the pipeline for built-in tools: the argument shapes the sandbox sends (DESIGN §4.1), as zod schemas.
import { z } from 'zod';

const Path = z.string().max(4096);

export const builtinToolArgs = {
  'fs.read': z.object({ path: Path }).strict(),
  'fs.write': z.object({ path: Path, content: z.string() }).strict(),
  'fs.delete': z.object({ path: Path }).strict(),
  'fs.list': z.object({ path: Path.optional() }).strict(),
  'fs.search': z.object({ pattern: z.string().min(1).max(1000), glob: z.string().max(1000).optional() }).strict(),
  'net.fetch': z
    .object({
      url: z.string().max(8192),
      method: z.string().max(16).optional(),
      headers: z.record(z.string().max(256), z.string().max(8192)).optional(),
      body: z.string().optional(),
    })
    .strict(),
  'agent.escalate': z.object({ question: z.string().min(1).max(4000) }).strict(),
} as const;

export type BuiltinTool = keyof typeof builtinToolArgs;
export type BuiltinArgs<T extends BuiltinTool> = z.infer<(typeof builtinToolArgs)[T]>;

export function isBuiltinToolName(tool: string): tool is BuiltinTool {
  return Object.prototype.hasOwnProperty.call(builtinToolArgs, tool);
}

/** A one-line explanation of why arguments are invalid, for the agent and the audit log. */
export function describeArgsError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`)
    .join('; ');
}
