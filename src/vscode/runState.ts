// Opens the state a run writes to in the editor: the audit log and the secret scanner, kept in the extension's
// storage folder (outside the workspace, where no agent can reach it).
import { mkdir } from 'node:fs/promises';
import type { RunState } from './agentRunner';

export async function openRunState(stateDir: string): Promise<RunState> {
  await mkdir(stateDir, { recursive: true });
  throw new Error('the audit log is not available in this build yet');
}
