// The one error the snapshot store throws. Every reason leaves the workspace as it was, except `undo-failed`,
// where the journal is kept so the next open finishes the undo.

export type SnapshotErrorReason =
  /** No snapshot with that id (or id prefix). */
  | 'unknown-snapshot'
  /** The id prefix matches more than one snapshot. */
  | 'ambiguous-snapshot'
  /** A change is malformed: bad or duplicate path, kind that does not match its content, nothing to apply. */
  | 'invalid-change'
  /** A path escapes the workspace (`..`, absolute, a symlinked parent pointing outside) or points into `.git/` or the state folder. */
  | 'unsafe-path'
  /** The path exists but is not a regular file (a directory, a symlink, a device). */
  | 'unsupported-file'
  /** A parent of the path is a file, so the path cannot be written. */
  | 'not-a-directory'
  /** The workspace no longer holds what the change was made against (someone edited the file since). */
  | 'stale'
  /** Rollback refused: files changed since the snapshot's operation wrote them. See `conflicts`. */
  | 'conflicts'
  /** The snapshot was already undone by a later rollback (roll that one back to redo). */
  | 'already-rolled-back'
  /** A stored blob no longer matches its sha256: the bytes cannot be trusted, so nothing is restored. */
  | 'damaged-blob'
  /** A manifest in the state folder cannot be read or does not validate. */
  | 'damaged-manifest'
  /** The file system refused a write (read-only file or folder, immutable file, read-only mount). */
  | 'read-only'
  /** The disk (or quota) is full. */
  | 'no-space'
  /** Another process holds the store's lock for longer than we wait. */
  | 'locked'
  /** The audit sink refused the event, so the change was not made. */
  | 'audit-failed'
  /** The operation failed and undoing it failed too; the journal is kept and the next open retries. */
  | 'undo-failed'
  /** Any other file-system failure. */
  | 'io';

export interface RollbackConflict {
  readonly path: string;
  /** sha256 the file had right after the snapshot's operation, or null when the operation deleted it. */
  readonly expected: string | null;
  /** sha256 the file has now, or null when it is missing (or a folder stands there). */
  readonly actual: string | null;
  /** A folder stands where the file was: even `force` cannot roll this file back. */
  readonly folder?: boolean;
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';

  constructor(
    readonly reason: SnapshotErrorReason,
    message: string,
    readonly details: { readonly paths?: readonly string[]; readonly conflicts?: readonly RollbackConflict[]; readonly snapshotId?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get paths(): readonly string[] {
    return this.details.paths ?? this.details.conflicts?.map((c) => c.path) ?? [];
  }

  get conflicts(): readonly RollbackConflict[] {
    return this.details.conflicts ?? [];
  }

  static is(err: unknown, reason?: SnapshotErrorReason): err is SnapshotError {
    return err instanceof SnapshotError && (reason === undefined || err.reason === reason);
  }
}

/** Turns a Node file-system error into a SnapshotError naming the path and what the user can do. */
export function snapshotErrorFromFs(err: unknown, what: string, path: string): SnapshotError {
  if (SnapshotError.is(err)) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new SnapshotError('no-space', `${what} ${path}: the disk is full (${code}). Free some space and try again.`, { paths: [path] }, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new SnapshotError('read-only', `${what} ${path}: the file system refused the write (${code}); the file or its folder is read-only or immutable.`, { paths: [path] }, { cause: err });
    case 'ENOTDIR':
      return new SnapshotError('not-a-directory', `${what} ${path}: a parent of this path is a file, not a folder.`, { paths: [path] }, { cause: err });
    case 'EISDIR':
      return new SnapshotError('unsupported-file', `${what} ${path}: this path is a folder, not a file.`, { paths: [path] }, { cause: err });
    default:
      return new SnapshotError('io', `${what} ${path}: ${detail}`, { paths: [path] }, { cause: err });
  }
}
