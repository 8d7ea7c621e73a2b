// What the store keeps on disk for each snapshot (the manifest) and for an operation in flight (the journal).
// Both are validated when read, so a damaged file is reported instead of half-trusted.
import { z } from 'zod';

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A file this small is kept in the manifest itself (`FileState.data`) rather than as a blob file of its own. */
export const INLINE_MAX_BYTES = 16 * 1024;
/**
 * What one operation keeps inline at most, over all its files; the rest go to blob files. Manifests are held in
 * memory once read, so this also bounds what a store of 100 snapshots holds (about 8.5 MB of base64 at most).
 */
export const INLINE_BUDGET_BYTES = 64 * 1024;

export const FileState = z.object({
  /** sha256 of the bytes, lower-case hex; also the blob's name. */
  hash: z.string().regex(SHA256_HEX),
  size: z.number().int().nonnegative(),
  /** Permission bits (`mode & 0o7777`). */
  mode: z.number().int().nonnegative(),
  /**
   * The bytes themselves, base64, for a small file captured before an operation: kept in the journal and the
   * manifest, which are made durable anyway, so the snapshot needs no blob file (and no fsync of one and its
   * folder). Checked against `hash` before anything is restored from it, like a blob.
   */
  data: z.string().max(Math.ceil(INLINE_MAX_BYTES / 3) * 4).optional(),
});
export type FileState = z.infer<typeof FileState>;

export const SnapshotFile = z.object({
  /** Workspace-relative, forward slashes. */
  path: z.string().min(1),
  /** The file before the operation (its bytes are a blob), or null when it did not exist. */
  before: FileState.nullable(),
  /** What the operation left there (hash only: used to detect later edits), or null when it deleted the file. */
  after: FileState.nullable(),
});
export type SnapshotFile = z.infer<typeof SnapshotFile>;

export const snapshotKinds = ['apply', 'rollback'] as const;
export type SnapshotKind = (typeof snapshotKinds)[number];

export const SnapshotManifest = z.object({
  version: z.literal(1),
  id: z.string().min(1),
  /** Monotonic within a store; orders snapshots taken in the same millisecond. */
  seq: z.number().int().positive(),
  kind: z.enum(snapshotKinds),
  createdAt: z.string(),
  runId: z.string(),
  agent: z.string(),
  actor: z.string(),
  /** Absolute path of the workspace the operation changed. */
  workspace: z.string(),
  files: z.array(SnapshotFile),
  /** Folders the operation created (shallowest first); a rollback removes them again when they are empty. */
  createdDirs: z.array(z.string()),
  /** Folders the operation removed (only a rollback removes folders: the ones its target had created). */
  removedDirs: z.array(z.string()),
  /** For a rollback: the snapshot it undid. */
  rollsBack: z.string().optional(),
  /** True when the operation overrode a stale-file or conflict check. */
  forced: z.boolean(),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifest>;

/**
 * Written and fsync'd before the first workspace write of an operation, removed after its manifest is written.
 * Finding one on open means the operation was interrupted: `undo` returns every file to `before` (an apply:
 * its new bytes exist only in the dead process), `complete` takes every file to `after` (a rollback: all the
 * bytes it restores are blobs already).
 */
export const SnapshotJournal = z.object({
  version: z.literal(1),
  recovery: z.enum(['undo', 'complete']),
  pid: z.number().int(),
  manifest: SnapshotManifest,
});
export type SnapshotJournal = z.infer<typeof SnapshotJournal>;

export type SnapshotState = 'applied' | 'rolled-back';

/** A snapshot as the store reports it: the manifest plus its state, derived from the rollbacks that exist. */
export interface Snapshot extends SnapshotManifest {
  /** `rolled-back` when a rollback that is itself still in effect undid this snapshot. */
  readonly state: SnapshotState;
  /** The rollback that undid it, when `state` is `rolled-back`. */
  readonly rolledBackBy?: string;
}

export type FileChange = 'create' | 'modify' | 'delete';

/** What happened to one file, from the user's side. */
export function fileChange(f: Pick<SnapshotFile, 'before' | 'after'>): FileChange {
  if (f.before === null) return 'create';
  if (f.after === null) return 'delete';
  return 'modify';
}
