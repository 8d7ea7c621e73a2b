// The CLI's state for one workspace: the audit log, the redactor and the snapshot store, all kept in
// `<workspace>/.airlock/state/` (agents can never read or write `.airlock/`) unless --state says otherwise.
import { join, resolve } from 'node:path';
import { AuditLog } from '../core/audit/auditLog';
import { Redactor } from '../core/audit/redaction';
import { secretScannerFrom } from '../core/guard/secretScanner';
import type { SecretScanner } from '../core/guard/guardPipeline';
import { SnapshotStore, type ApplyMeta } from '../core/snapshots/snapshotStore';
import type { ProposedChange } from '../core/staging/proposedChange';

export function stateDirFor(workspace: string, override?: string): string {
  return override !== undefined ? resolve(override) : join(resolve(workspace), '.airlock', 'state');
}

export interface WorkspaceState {
  readonly audit: AuditLog;
  readonly scanner: SecretScanner;
  /** Snapshots exactly the touched paths, applies the changes atomically, and returns the snapshot id. */
  applyChanges(workspace: string, changes: readonly ProposedChange[], meta: ApplyMeta): Promise<string>;
  close(): Promise<void>;
}

export async function openWorkspaceState(stateDir: string, options: { redactPatterns: readonly string[] }): Promise<WorkspaceState> {
  const audit = await AuditLog.open(stateDir, { redactPatterns: [...options.redactPatterns] });
  const scanner = secretScannerFrom(new Redactor(options.redactPatterns));
  let snapshots: SnapshotStore | undefined;
  return {
    audit,
    scanner,
    async applyChanges(workspace, changes, meta) {
      snapshots ??= await SnapshotStore.open(stateDir, { audit });
      return (await snapshots.apply(workspace, changes, meta)).id;
    },
    async close() {
      await audit.close();
    },
  };
}
