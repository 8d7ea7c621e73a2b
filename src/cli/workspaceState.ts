// Where the CLI keeps a workspace's state: `<workspace>/.airlock/state/` (agents can never read or write
// `.airlock/`) unless --state says otherwise.
import { join, resolve } from 'node:path';

export function stateDirFor(workspace: string, override?: string): string {
  return override !== undefined ? resolve(override) : join(resolve(workspace), '.airlock', 'state');
}
