// The state runs write to, for the CLI and the editor alike: the hash-chained audit log, the redactor behind it,
// the output guard's secret scanner, and the snapshot store for applies — all in one state folder outside the
// reach of agents (the extension's storage, or `<workspace>/.airlock/state/` for the CLI).
import { mkdir } from 'node:fs/promises';
import { AuditLog } from '../audit/auditLog';
import { Redactor } from '../audit/redaction';
import type { SecretScanner } from '../guard/guardPipeline';
import { secretScannerFrom } from '../guard/secretScanner';
import { SnapshotStore, type ApplyMeta, type ApplyOptions, type SnapshotStoreOptions } from '../snapshots/snapshotStore';
import type { ProposedChange } from '../staging/proposedChange';

export interface RunState {
  readonly audit: AuditLog;
  readonly scanner: SecretScanner;
  /** The policy's extra redaction patterns this state was opened with. */
  readonly redactPatterns: readonly string[];
  /** Snapshots exactly the touched paths, applies the changes atomically, and returns the snapshot id. */
  applyChanges(workspace: string, changes: readonly ProposedChange[], meta: ApplyMeta, options?: ApplyOptions): Promise<string>;
  /** The snapshot store behind applies (opened, and crash-recovered, on first use): list, plan and roll back. */
  snapshots(): Promise<SnapshotStore>;
  close(): Promise<void>;
}

/**
 * `redactPatterns`: the policy's extra `redact.patterns`. Runs only append, so by default the writer is lazy: it
 * never loads the query database (the timeline and `airlock audit` open their own readers).
 */
export interface RunStateOptions {
  readonly lazy?: boolean;
  /** Snapshot retention (keep the newest N, and everything younger than D days). */
  readonly retention?: Pick<SnapshotStoreOptions, 'keepLast' | 'keepDays'>;
}

export async function openRunState(stateDir: string, redactPatterns: readonly string[], options: RunStateOptions = {}): Promise<RunState> {
  await mkdir(stateDir, { recursive: true });
  const redactor = new Redactor(redactPatterns);
  const audit = await AuditLog.open(stateDir, { redactor, lazy: options.lazy ?? true });
  let opening: Promise<SnapshotStore> | undefined;
  const snapshots = (): Promise<SnapshotStore> => {
    if (!opening) {
      const p = SnapshotStore.open(stateDir, { audit, ...options.retention });
      // A failed open (another process held the store too long) is retried on the next call.
      p.catch(() => {
        if (opening === p) opening = undefined;
      });
      opening = p;
    }
    return opening;
  };
  return {
    audit,
    scanner: secretScannerFrom(redactor),
    redactPatterns,
    async applyChanges(workspace, changes, meta, applyOptions) {
      return (await (await snapshots()).apply(workspace, changes, meta, applyOptions)).id;
    },
    snapshots,
    close: () => audit.close(),
  };
}
