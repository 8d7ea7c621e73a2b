// Tests and the demo open a copy of a workspace, so whatever an agent (or a test) changes never touches the repository.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { repoRoot } from './harnessPaths';

export const demoWorkspace = join(repoRoot, 'examples', 'demo');
export const exampleAgentsDir = join(repoRoot, 'examples', 'agents');

export interface WorkspaceCopyOptions {
  /** Folder to copy; examples/demo by default. */
  readonly from?: string;
  /** Where to put the copy (replaced if present); a new temp folder by default. */
  readonly to?: string;
  /** Also copy examples/agents/*.agent.js into `agents/`, so Run Agent… finds them inside the workspace. */
  readonly withAgents?: boolean;
}

export function copyWorkspace(options: WorkspaceCopyOptions = {}): string {
  const from = options.from ?? demoWorkspace;
  const to = options.to ?? mkdtempSync(join(tmpdir(), 'airlock-workspace-'));
  rmSync(to, { recursive: true, force: true });
  // Run state from earlier CLI runs in the source is not part of the workspace a test starts from.
  cpSync(from, to, { recursive: true, filter: (src) => !relative(from, src).split(sep).join('/').startsWith('.airlock/state') });
  if (options.withAgents) {
    mkdirSync(join(to, 'agents'), { recursive: true });
    for (const f of readdirSync(exampleAgentsDir).filter((n) => /\.agent\.m?js$/.test(n))) cpSync(join(exampleAgentsDir, f), join(to, 'agents', f));
  }
  return to;
}
