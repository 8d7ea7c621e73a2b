// The JSON Schema of `.airlock/policy.json`, generated from the zod schema so the editor and the runtime
// can never disagree. scripts/build.mjs writes it to dist/policy.schema.json.
import { z } from 'zod';
import { PolicyFile } from './policySchema';

export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PolicyFile, { target: 'draft-7', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://agent-airlock.dev/schemas/policy.schema.json',
    title: 'Agent Airlock policy',
    description: 'Scope, approval levels, limits and custom tools for agents run by Agent Airlock (.airlock/policy.json).',
    // Comments are allowed in the policy file (JSON with comments).
    allowComments: true,
    allowTrailingCommas: true,
  };
}
