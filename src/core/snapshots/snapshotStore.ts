// The snapshot store: applies approved changes after snapshotting exactly the paths they touch, and rolls any
// snapshot back byte-exactly. On-disk layout, crash safety and retention are described in docs/snapshots.md.
import { randomBytes } from 'node:crypto';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuditSink } from '../audit/auditSink';
import type { AuditEventInput } from '../../protocol/auditEvent';
import type { ProposedChange } from '../staging/proposedChange';
import { fsyncDir, jsonBytes, placeWholeThenSync, unlinkDurable, unlinkFile, writeFileAtomic, writeJsonAtomic, type WriteSource } from './atomicWrite';
import { BlobBatch, BlobStore, sha256 } from './blobStore';
import { mapBounded } from './boundedParallel';
import { SnapshotError, snapshotErrorFromFs, type RollbackConflict } from './snapshotError';
import { fileChange, SnapshotJournal, SnapshotManifest, type FileChange, type FileState, type Snapshot, type SnapshotFile } from './snapshotManifest';
import { withStoreLock } from './storeLock';
import { lstatOrNull, readFileState, resolveInWorkspace, type ResolvedPath } from './workspacePaths';

export interface SnapshotStoreOptions {
  /** Keep at least the newest N snapshots (default 100, minimum 1). */
  readonly keepLast?: number;
  /** Keep every snapshot younger than D days (default 30). A snapshot is kept when either rule keeps it. */
  readonly keepDays?: number;
  /** Where apply and rollback events go. Each is durable before the workspace changes. */
  readonly audit?: AuditSink;
  /** How long to wait for another process that holds the store (default 15 s). */
  readonly lockTimeoutMs?: number;
  /** The clock retention uses; tests pass their own. */
  readonly now?: () => Date;
}

export interface ApplyMeta {
  readonly runId: string;
  readonly agent: string;
  /** Who approved the apply: `policy`, `system` or `human:<name>`. */
  readonly actor: string;
}

export interface ApplyOptions {
  /**
   * Apply even where the workspace no longer holds a change's `before` content (someone edited the file since
   * the run read it). The overwritten bytes are still snapshotted, so a rollback brings them back.
   */
  readonly force?: boolean;
}

export interface RollbackOptions {
  /** Roll back even files changed since the snapshot's operation wrote them. Their current bytes are snapshotted (redo brings them back). */
  readonly force?: boolean;
  /** The workspace to restore into, when it moved since the snapshot was taken. */
  readonly workspace?: string;
  /** Who asked: `human:<name>` in the editor and the CLI. Default `system`. */
  readonly actor?: string;
}

export interface RollbackFilePlan {
  readonly path: string;
  /** What the rollback does to the file. */
  readonly change: FileChange;
  readonly current: FileState | null;
  readonly target: FileState | null;
  /** The file changed since the snapshot's operation wrote it. */
  readonly conflict: boolean;
}

export interface RollbackPlan {
  readonly snapshot: Snapshot;
  readonly workspace: string;
  readonly files: readonly RollbackFilePlan[];
  readonly conflicts: readonly RollbackConflict[];
}

export interface RollbackResult {
  /** The snapshot taken of the rollback itself: roll it back to redo. */
  readonly snapshot: Snapshot;
  /** The snapshot that was undone. */
  readonly target: string;
  /** Conflicts that `force` overrode (their bytes are in `snapshot`). */
  readonly overridden: readonly RollbackConflict[];
  /** Folders the undone operation had created that were kept because something else is in them now. */
  readonly keptDirs: readonly string[];
}

export interface RecoveryReport {
  /** Interrupted applies (and failed rollbacks) returned to their before state. */
  readonly undone: readonly string[];
  /** Interrupted rollbacks carried through to the end. */
  readonly completed: readonly string[];
  /** Files that matched neither side of an interrupted operation (edited meanwhile): left as they are. */
  readonly leftAlone: readonly { readonly snapshot: string; readonly path: string }[];
  /** Journals that could not be recovered now (they are kept and retried on the next open). */
  readonly failed: readonly { readonly snapshot: string; readonly error: string }[];
}

export interface PruneResult {
  readonly removedSnapshots: readonly string[];
  readonly removedBlobs: number;
}

const DEFAULT_KEEP_LAST = 100;
const DEFAULT_KEEP_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Files captured or written at once: enough for their fsyncs to overlap, few enough to bound memory. */
const PARALLEL = 8;

export class SnapshotStore {
  private readonly blobs: BlobStore;
  private readonly manifestsDir: string;
  private readonly journalDir: string;
  private readonly lockPath: string;
  private readonly cache = new Map<string, SnapshotManifest>();
  private readonly damaged = new Set<string>();
  private forbidden: string[] = [];
  private recoveredOnOpen: RecoveryReport = { undone: [], completed: [], leftAlone: [], failed: [] };

  private constructor(
    /** `<stateDir>/snapshots`: everything this store owns. */
    readonly dir: string,
    private readonly options: SnapshotStoreOptions,
  ) {
    this.blobs = new BlobStore(join(dir, 'blobs'));
    this.manifestsDir = join(dir, 'manifests');
    this.journalDir = join(dir, 'journal');
    this.lockPath = join(dir, 'lock');
  }

  /** Opens (creating when needed) the store under `stateDir`, finishes or undoes any interrupted operation, and applies retention. */
  static async open(stateDir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    if (options.keepLast !== undefined && !(Number.isInteger(options.keepLast) && options.keepLast >= 1)) {
      throw new RangeError(`keepLast must be a whole number of at least 1 (got ${options.keepLast}).`);
    }
    if (options.keepDays !== undefined && !(options.keepDays >= 0)) throw new RangeError(`keepDays must be 0 or more (got ${options.keepDays}).`);
    const dir = join(stateDir, 'snapshots');
    const store = new SnapshotStore(dir, options);
    await fs.mkdir(store.manifestsDir, { recursive: true });
    await fs.mkdir(store.journalDir, { recursive: true });
    await store.blobs.init();
    store.forbidden = [await fs.realpath(stateDir)];
    await store.exclusive(async () => {
      store.recoveredOnOpen = await store.recoverLocked();
      await store.pruneLocked(true);
    });
    return store;
  }

  /** What `open` found and did about interrupted operations (worth telling the user when not empty). */
  get recovered(): RecoveryReport {
    return this.recoveredOnOpen;
  }

  // ---------------------------------------------------------------------------------------------- apply

  /**
   * Applies `changes` to `workspace`: snapshots exactly the touched paths, then writes each file atomically.
   * All or nothing: if any write fails, what was written is restored and the error is thrown.
   * Refuses (`stale`) when a file no longer holds the change's `before` content, unless `force`.
   */
  async apply(workspace: string, changes: readonly ProposedChange[], meta: ApplyMeta, options: ApplyOptions = {}): Promise<Snapshot> {
    return this.exclusive(() => this.withBatch((batch) => this.applyLocked(batch, workspace, changes, meta, options)));
  }

  private async applyLocked(batch: BlobBatch, workspace: string, changes: readonly ProposedChange[], meta: ApplyMeta, options: ApplyOptions): Promise<Snapshot> {
    const ws = await realWorkspace(workspace);
    const { resolved, removedDirs } = await this.planApplyPaths(ws, changes);
    const id = await this.newId();
    const files: SnapshotFile[] = [];
    const stale: string[] = [];
    const contents = new Map<string, Buffer>();
    const befores = await mapBounded(changes, PARALLEL, (c, i) => (removedDirs.includes(c.path) ? Promise.resolve(null) : this.capture(resolved[i]!, batch)));
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      const before = befores[i]!;
      const expected = c.before === null ? null : sha256(c.before);
      if ((before?.hash ?? null) !== expected) stale.push(c.path);
      const after = c.after === null ? null : { hash: sha256(c.after), size: c.after.length, mode: before?.mode ?? 0o644 };
      if (c.after !== null) contents.set(c.path, c.after);
      files.push({ path: c.path, before, after });
    }
    if (stale.length > 0 && !options.force) {
      throw new SnapshotError('stale', `Not applied: ${stale.length === 1 ? `${stale[0]} has` : `${stale.length} files have`} changed since the run read ${stale.length === 1 ? 'it' : 'them'} (${stale.join(', ')}). Review the change again, or apply with force to overwrite (the current bytes are snapshotted).`, { paths: stale });
    }
    const createdDirs = plannedDirs(resolved.filter((_, i) => changes[i]!.after !== null));
    const manifest: SnapshotManifest = {
      version: 1,
      id,
      seq: this.nextSeq(),
      kind: 'apply',
      createdAt: this.now().toISOString(),
      runId: meta.runId,
      agent: meta.agent,
      actor: meta.actor,
      workspace: ws,
      files,
      createdDirs,
      removedDirs,
      forced: options.force === true && stale.length > 0,
    };
    const source = (f: SnapshotFile): WriteSource => ({ kind: 'buffer', data: contents.get(f.path)! });
    const done = await this.runJournaled(manifest, 'undo', source, batch, {
      type: 'apply',
      runId: meta.runId,
      agent: meta.agent,
      actor: meta.actor,
      args: { snapshot: id, files: files.map((f) => ({ path: f.path, kind: fileChange(f) })), ...(manifest.forced ? { forced: true, stale } : {}) },
    });
    await this.pruneLocked(false);
    return this.withState(done.manifest);
  }

  /** Runs an operation with a blob batch whose uncommitted temp blobs are removed however it ends. */
  private async withBatch<T>(fn: (batch: BlobBatch) => Promise<T>): Promise<T> {
    const batch = new BlobBatch(() => this.committedBlobs());
    try {
      return await fn(batch);
    } finally {
      await this.blobs.discard(batch);
    }
  }

  /**
   * Validates and resolves every path of an apply before anything is read or written. Also finds the folders
   * the apply must remove: a file written where a folder stands, when the same apply deletes everything in it.
   */
  private async planApplyPaths(ws: string, changes: readonly ProposedChange[]): Promise<{ resolved: ResolvedPath[]; removedDirs: string[] }> {
    if (changes.length === 0) throw new SnapshotError('invalid-change', 'Nothing to apply: the change list is empty.');
    const seen = new Set<string>();
    const written = new Set<string>();
    const deleted = new Set<string>();
    for (const c of changes) {
      const badContent =
        (c.kind === 'delete' && c.after !== null) || (c.kind !== 'delete' && !Buffer.isBuffer(c.after)) || (c.before !== null && !Buffer.isBuffer(c.before));
      if (badContent) throw new SnapshotError('invalid-change', `The ${c.kind} of ${c.path} has content that does not match its kind.`, { paths: [c.path] });
      if (seen.has(c.path)) throw new SnapshotError('invalid-change', `${c.path} appears twice in one apply.`, { paths: [c.path] });
      seen.add(c.path);
      (c.after === null ? deleted : written).add(c.path);
    }
    const resolved = await mapBounded(changes, PARALLEL, (c) => resolveInWorkspace(ws, c.path, this.forbidden));
    const isDir = await mapBounded(changes, PARALLEL, async (c, i) => c.after !== null && resolved[i]!.missingDirs.length === 0 && (await lstatOrNull(resolved[i]!.abs))?.isDirectory() === true);
    const removed = new Set<string>();
    for (let ci = 0; ci < changes.length; ci++) {
      const c = changes[ci]!;
      const r = resolved[ci]!;
      const segs = c.path.split('/');
      for (let i = 1; i < segs.length && c.after !== null; i++) {
        const parent = segs.slice(0, i).join('/');
        if (written.has(parent)) throw new SnapshotError('invalid-change', `${c.path} is inside ${parent}, which the same apply writes as a file.`, { paths: [c.path, parent] });
      }
      // A file in the way may go if the same apply deletes it; its folder is then created in its place.
      if (r.fileParent !== undefined && c.after !== null && !deleted.has(r.fileParent)) {
        throw new SnapshotError('not-a-directory', `${c.path} cannot be written: ${r.fileParent} is a file, not a folder.`, { paths: [c.path] });
      }
      if (isDir[ci]) {
        for (const d of await this.foldersEmptiedBy(ws, c.path, deleted)) removed.add(d);
      }
    }
    const removedDirs = [...removed].sort(byDepth);
    return { resolved, removedDirs };
  }

  /** The folder `rel` and its subfolders, when every file below it is deleted by the same apply; otherwise refused. */
  private async foldersEmptiedBy(ws: string, rel: string, deleted: ReadonlySet<string>): Promise<string[]> {
    const dirs: string[] = [];
    const walk = async (dirRel: string): Promise<void> => {
      dirs.push(dirRel);
      for (const entry of fsSync.readdirSync(join(ws, ...dirRel.split('/')), { withFileTypes: true })) {
        const childRel = `${dirRel}/${entry.name}`;
        if (entry.isDirectory()) await walk(childRel);
        else if (!(entry.isFile() && deleted.has(childRel))) {
          throw new SnapshotError('unsupported-file', `${rel} is a folder, and ${childRel} in it is not deleted by this apply, so no file can replace it.`, { paths: [rel] });
        }
      }
    };
    await walk(rel);
    return dirs;
  }

  /** The current state of a file a rollback restores; a folder the target created where its file was counts as absent. */
  private async captureForRollback(target: Snapshot, f: SnapshotFile, r: ResolvedPath, batch: BlobBatch): Promise<FileState | null | 'folder'> {
    if (r.missingDirs.length === 0 && (await lstatOrNull(r.abs))?.isDirectory()) {
      return target.createdDirs.includes(f.path) ? null : 'folder';
    }
    return this.capture(r, batch);
  }

  /** Stores the current bytes of a path as a blob (null when the path does not exist). */
  private async capture(r: ResolvedPath, batch: BlobBatch): Promise<FileState | null> {
    if (r.missingDirs.length > 0) return null;
    try {
      const st = await lstatOrNull(r.abs);
      if (!st) return null;
      if (!st.isFile()) throw new SnapshotError('unsupported-file', `${r.rel} is ${st.isDirectory() ? 'a folder' : 'a symlink or special file'}; only regular files can be changed and snapshotted.`, { paths: [r.rel] });
      return await this.blobs.putFile(r.abs, batch);
    } catch (err) {
      throw snapshotErrorFromFs(err, 'Could not snapshot', r.rel);
    }
  }

  // ------------------------------------------------------------------------------------------- rollback

  /** What a rollback would do, without doing it: for previews and for asking about conflicts. */
  async planRollback(ref: string, options: Pick<RollbackOptions, 'workspace'> = {}): Promise<RollbackPlan> {
    const snapshot = await this.resolve(ref);
    const ws = await realWorkspace(options.workspace ?? snapshot.workspace);
    const files: RollbackFilePlan[] = [];
    const conflicts: RollbackConflict[] = [];
    for (const f of snapshot.files) {
      const r = await resolveInWorkspace(ws, f.path, this.forbidden);
      const isDir = r.missingDirs.length === 0 && (await lstatOrNull(r.abs))?.isDirectory() === true;
      const folder = isDir && !snapshot.createdDirs.includes(f.path);
      const current = r.missingDirs.length > 0 || isDir ? null : await readFileState(r.abs, f.path);
      const conflict = folder || (current?.hash ?? null) !== (f.after?.hash ?? null);
      if (conflict) conflicts.push({ path: f.path, expected: f.after?.hash ?? null, actual: current?.hash ?? null, ...(folder ? { folder: true } : {}) });
      files.push({ path: f.path, change: fileChange({ before: current, after: f.before }), current, target: f.before, conflict });
    }
    return { snapshot, workspace: ws, files, conflicts };
  }

  /**
   * Restores every file of snapshot `ref` to its state before the snapshot's operation, byte-exact, and removes
   * the folders that operation created. Refuses (`conflicts`) when any file changed since, unless `force`.
   * The rollback is itself a snapshot: rolling that one back is a redo.
   */
  async rollback(ref: string, options: RollbackOptions = {}): Promise<RollbackResult> {
    return this.exclusive(() => this.withBatch((batch) => this.rollbackLocked(batch, ref, options)));
  }

  private async rollbackLocked(batch: BlobBatch, ref: string, options: RollbackOptions): Promise<RollbackResult> {
    const target = await this.resolve(ref);
    if (target.state === 'rolled-back') {
      throw new SnapshotError('already-rolled-back', `Snapshot ${target.id} was already rolled back by ${target.rolledBackBy}. To redo it, roll back ${target.rolledBackBy}.`, { snapshotId: target.id });
    }
    const ws = await realWorkspace(options.workspace ?? target.workspace);
    // Every byte to restore is checked first, so a damaged store never leaves a half-restored workspace.
    await mapBounded(target.files, PARALLEL, async (f) => {
      if (f.before) await this.blobs.verify(f.before).catch((err: unknown) => {
        throw SnapshotError.is(err) ? new SnapshotError(err.reason, `Cannot roll back ${target.id}: ${f.path}: ${err.message}`, { paths: [f.path], snapshotId: target.id }, { cause: err }) : err;
      });
    });
    const resolved = await mapBounded(target.files, PARALLEL, (f) => resolveInWorkspace(ws, f.path, this.forbidden));
    const files: SnapshotFile[] = [];
    const conflicts: RollbackConflict[] = [];
    const currents = await mapBounded(target.files, PARALLEL, (f, i) => this.captureForRollback(target, f, resolved[i]!, batch));
    for (let i = 0; i < target.files.length; i++) {
      const f = target.files[i]!;
      const current = currents[i]!;
      if (current === 'folder') {
        conflicts.push({ path: f.path, expected: f.after?.hash ?? null, actual: null, folder: true });
        continue;
      }
      if ((current?.hash ?? null) !== (f.after?.hash ?? null)) conflicts.push({ path: f.path, expected: f.after?.hash ?? null, actual: current?.hash ?? null });
      files.push({ path: f.path, before: current, after: f.before });
    }
    const folderInTheWay = conflicts.find((c) => c.folder);
    if (folderInTheWay && options.force) {
      throw new SnapshotError('unsupported-file', `Cannot roll back ${target.id}: ${folderInTheWay.path} is a folder now, and a rollback never removes a folder it did not create. Move it away and try again.`, { paths: [folderInTheWay.path], snapshotId: target.id });
    }
    if (conflicts.length > 0 && !options.force) {
      throw new SnapshotError(
        'conflicts',
        `Not rolled back: ${conflicts.length === 1 ? '1 file was' : `${conflicts.length} files were`} changed after snapshot ${target.id} wrote ${conflicts.length === 1 ? 'it' : 'them'}: ${conflicts.map((c) => c.path).join(', ')}. Roll back with force to overwrite (the current bytes are snapshotted, so it can be redone).`,
        { conflicts, snapshotId: target.id },
      );
    }
    const restoring = new Set(files.filter((f) => f.after !== null).map((f) => f.path));
    for (let i = 0; i < files.length; i++) {
      const r = resolved[i]!;
      if (files[i]!.after !== null && r.fileParent !== undefined && !files.some((g) => g.path === r.fileParent && g.after === null)) {
        throw new SnapshotError('not-a-directory', `Cannot restore ${r.rel}: ${r.fileParent} is a file now. Move it away and try again.`, { paths: [r.rel] });
      }
    }
    // Folders the target removed to put a file in their place come back, even when empty.
    const missingRemoved: string[] = [];
    for (const d of target.removedDirs) if (!(await lstatOrNull(join(ws, ...d.split('/'))))?.isDirectory()) missingRemoved.push(d);
    const createdDirs = plannedDirs(resolved.filter((r) => restoring.has(r.rel)), missingRemoved);
    const removedDirs: string[] = [];
    for (const d of target.createdDirs) if ((await lstatOrNull(join(ws, ...d.split('/'))))?.isDirectory()) removedDirs.push(d);
    const id = await this.newId();
    const manifest: SnapshotManifest = {
      version: 1,
      id,
      seq: this.nextSeq(),
      kind: 'rollback',
      createdAt: this.now().toISOString(),
      runId: target.runId,
      agent: target.agent,
      actor: options.actor ?? 'system',
      workspace: ws,
      files,
      createdDirs,
      removedDirs,
      rollsBack: target.id,
      forced: conflicts.length > 0,
    };
    const source = (f: SnapshotFile): WriteSource => this.blobs.source(f.after!);
    const done = await this.runJournaled(manifest, 'complete', source, batch, {
      type: 'rollback',
      runId: target.runId,
      agent: target.agent,
      actor: manifest.actor,
      args: {
        snapshot: id,
        target: target.id,
        files: files.map((f) => ({ path: f.path, kind: fileChange(f) })),
        ...(conflicts.length > 0 ? { forced: true, overridden: conflicts.map((c) => c.path) } : {}),
      },
    });
    await this.pruneLocked(false);
    const kept = removedDirs.filter((d) => !done.manifest.removedDirs.includes(d));
    return { snapshot: this.withState(done.manifest), target: target.id, overridden: conflicts, keptDirs: kept };
  }

  // ------------------------------------------------------------------------------ journaled execution

  /**
   * The one path every workspace change takes, in three rounds of fsyncs whatever the number of files: blobs,
   * journal and audit event durable → workspace files durable → their folders and the manifest (the commit point)
   * durable → journal removed. A failure before the commit undoes the writes and throws.
   */
  private async runJournaled(
    planned: SnapshotManifest,
    recovery: 'undo' | 'complete',
    source: (f: SnapshotFile) => WriteSource,
    batch: BlobBatch,
    event: AuditEventInput,
  ): Promise<{ manifest: SnapshotManifest }> {
    const journalPath = join(this.journalDir, `${planned.id}.json`);
    const journal: SnapshotJournal = { version: 1, recovery, pid: process.pid, manifest: planned };
    // One round: the blobs with their folders, the journal (placed whole, then fsync'd) with its folder, and the
    // audit event. All are durable before the first workspace write; until then recovery needs no blob, and the
    // event records an operation that began.
    const [blobs, written, folder, audited] = await Promise.allSettled([
      this.blobs.commit(batch),
      placeWholeThenSync(journalPath, jsonBytes(journal)),
      fsyncDir(this.journalDir),
      this.options.audit?.append(event),
    ]);
    const snapshotFailure = [blobs, written, folder].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (snapshotFailure || audited.status === 'rejected') {
      await unlinkDurable(journalPath).catch(() => undefined);
      if (snapshotFailure) {
        const failure = snapshotErrorFromFs(snapshotFailure.reason, 'Could not snapshot', planned.id);
        if (audited.status === 'fulfilled') await this.auditNote(planned, `${planned.kind} ${planned.id} stopped before anything was written; the workspace is as it was: ${failure.message}`);
        throw failure;
      }
      const err = (audited as PromiseRejectedResult).reason as Error;
      throw new SnapshotError('audit-failed', `Not ${planned.kind === 'apply' ? 'applied' : 'rolled back'}: the audit log did not record the ${planned.kind} (${err.message}).`, { snapshotId: planned.id }, { cause: err });
    }
    const manifestPath = join(this.manifestsDir, `${planned.id}.json`);
    let manifest: SnapshotManifest;
    try {
      const done = await this.forward(planned, source);
      manifest = done.manifest;
      // The commit point: the manifest, placed whole and made durable in the same round as the workspace folders
      // (and its own folder). Recovery trusts a manifest beside a journal only when it parses and the workspace
      // shows the operation done (a power cut may keep the manifest and lose a rename made durable beside it).
      await Promise.all([placeWholeThenSync(manifestPath, jsonBytes(manifest)), mapBounded([...done.touched, this.manifestsDir], PARALLEL, fsyncDir)]);
    } catch (err) {
      const failure = snapshotErrorFromFs(err, planned.kind === 'apply' ? 'Could not apply' : 'Could not roll back', errPath(err) ?? planned.id);
      try {
        await unlinkDurable(manifestPath);
        await this.reconcile(planned, 'before');
        await unlinkDurable(journalPath);
      } catch (undoErr) {
        throw new SnapshotError('undo-failed', `${failure.message} Undoing the partial ${planned.kind} failed too (${(undoErr as Error).message}); it will be retried the next time the store is opened.`, { snapshotId: planned.id }, { cause: err });
      }
      await this.auditNote(planned, `${planned.kind} ${planned.id} failed and was undone; the workspace is as it was: ${failure.message}`);
      throw failure;
    }
    this.cache.set(manifest.id, manifest);
    // Not fsync'd: a journal that comes back after a power loss sits beside its manifest and is recognised as committed.
    unlinkFile(journalPath);
    return { manifest };
  }

  /** Carries out a planned operation: deletions, folder removals, folder creations, then atomic writes. */
  private async forward(m: SnapshotManifest, source: (f: SnapshotFile) => WriteSource): Promise<{ manifest: SnapshotManifest; touched: Set<string> }> {
    const ws = m.workspace;
    const abs = (rel: string) => join(ws, ...rel.split('/'));
    const touched = new Set<string>();
    await mapBounded(
      m.files.filter((f) => f.after === null && f.before !== null),
      PARALLEL,
      async (f) => {
        try {
          unlinkFile(abs(f.path));
        } catch (err) {
          throw snapshotErrorFromFs(err, 'Could not delete', f.path);
        }
        touched.add(dirname(abs(f.path)));
      },
    );
    const removed: string[] = [];
    for (const d of [...m.removedDirs].reverse()) {
      if (await rmdirIfEmpty(abs(d))) {
        removed.push(d);
        touched.add(dirname(abs(d)));
      }
    }
    const created: string[] = [];
    for (const d of m.createdDirs) {
      try {
        fsSync.mkdirSync(abs(d));
        created.push(d);
        touched.add(dirname(abs(d)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && fsSync.statSync(abs(d)).isDirectory()) continue;
        throw snapshotErrorFromFs(err, 'Could not create the folder', d);
      }
    }
    const files = await mapBounded(m.files, PARALLEL, async (f, i): Promise<SnapshotFile> => {
      if (f.after === null) return f;
      // A rollback restores the recorded mode; an apply keeps the mode of the file it replaces.
      const mode = m.kind === 'rollback' ? f.after.mode : f.before?.mode;
      const target = abs(f.path);
      try {
        const finalMode = await writeFileAtomic(target, tmpPathFor(target, m.id, i), source(f), mode);
        touched.add(dirname(target));
        return { ...f, after: { ...f.after, mode: finalMode } };
      } catch (err) {
        throw snapshotErrorFromFs(err, 'Could not write', f.path);
      }
    });
    return { manifest: { ...m, files, createdDirs: created, removedDirs: [...removed].reverse() }, touched };
  }

  /**
   * Takes every file of `m` to one side (`before`: undo; `after`: complete), judging by what is on disk, so it
   * can run any number of times. A file that matches neither side was edited meanwhile and is left alone.
   */
  private async reconcile(m: SnapshotManifest, side: 'before' | 'after'): Promise<{ leftAlone: string[]; createdDirs: string[]; removedDirs: string[] }> {
    const ws = m.workspace;
    const abs = (rel: string) => join(ws, ...rel.split('/'));
    const other = side === 'before' ? 'after' : 'before';
    const dirsToRemove = side === 'before' ? m.createdDirs : m.removedDirs;
    const dirsToCreate = side === 'before' ? m.removedDirs : m.createdDirs;
    const leftAlone: string[] = [];
    const pending: { f: SnapshotFile; index: number }[] = [];
    const touched = new Set<string>();
    for (let i = 0; i < m.files.length; i++) {
      const f = m.files[i]!;
      const target = abs(f.path);
      try {
        unlinkFile(tmpPathFor(target, m.id, i));
      } catch {
        // Left for the next recovery.
      }
      let current: FileState | null;
      try {
        // A folder this side removes, standing where a file goes, counts as absent (it is removed below).
        const dirInTheWay = dirsToRemove.includes(f.path) && (await lstatOrNull(target))?.isDirectory() === true;
        current = dirInTheWay ? null : await readFileState(target, f.path);
      } catch {
        leftAlone.push(f.path);
        continue;
      }
      const want = f[side];
      if ((current?.hash ?? null) === (want?.hash ?? null)) {
        if (want && current && current.mode !== want.mode && side === 'before') fsSync.chmodSync(target, want.mode);
        continue;
      }
      if ((current?.hash ?? null) !== (f[other]?.hash ?? null)) {
        leftAlone.push(f.path);
        continue;
      }
      if (want === null) {
        unlinkFile(target);
        touched.add(dirname(target));
      } else {
        pending.push({ f, index: i });
      }
    }
    const removedDirs: string[] = [];
    for (const d of [...dirsToRemove].reverse()) {
      if (await rmdirIfEmpty(abs(d))) {
        removedDirs.push(d);
        touched.add(dirname(abs(d)));
      }
    }
    const createdDirs: string[] = [];
    const ensureDir = async (rel: string) => {
      if ((await lstatOrNull(abs(rel)))?.isDirectory()) return;
      fsSync.mkdirSync(abs(rel));
      createdDirs.push(rel);
      touched.add(dirname(abs(rel)));
    };
    for (const d of dirsToCreate) await ensureDir(d);
    for (const { f, index } of pending) {
      const want = f[side]!;
      const segs = f.path.split('/');
      for (let i = 1; i < segs.length; i++) await ensureDir(segs.slice(0, i).join('/'));
      const target = abs(f.path);
      await writeFileAtomic(target, tmpPathFor(target, m.id, index), this.blobs.source(want), want.mode);
      touched.add(dirname(target));
    }
    for (const d of touched) await fsyncDir(d).catch(() => undefined);
    return { leftAlone, createdDirs, removedDirs };
  }

  // ------------------------------------------------------------------------------------------ recovery

  /** Finishes or undoes every interrupted operation. `open` calls it; call it again only after a failed recovery. */
  async recover(): Promise<RecoveryReport> {
    return this.exclusive(() => this.recoverLocked());
  }

  private async recoverLocked(): Promise<RecoveryReport> {
    const undone: string[] = [];
    const completed: string[] = [];
    const leftAlone: { snapshot: string; path: string }[] = [];
    const failed: { snapshot: string; error: string }[] = [];
    // Temp files of a journal or manifest write that was cut off: the rename never happened, so nothing relied on them.
    for (const dir of [this.journalDir, this.manifestsDir]) {
      for (const n of await fs.readdir(dir)) if (n.endsWith('.tmp')) await fs.rm(join(dir, n), { force: true });
    }
    const names = (await fs.readdir(this.journalDir)).filter((n) => n.endsWith('.json')).sort();
    for (const name of names) {
      const journalPath = join(this.journalDir, name);
      const id = name.slice(0, -'.json'.length);
      let journal: SnapshotJournal;
      try {
        const text = await fs.readFile(journalPath, 'utf8');
        if (text === '') {
          // Created but never written (the process died between the two): nothing was done after it.
          await unlinkDurable(journalPath);
          continue;
        }
        journal = SnapshotJournal.parse(JSON.parse(text));
      } catch (err) {
        // A journal is fsync'd before the first workspace write, so one that does not parse was cut off before
        // anything in the workspace changed: it is safe to set aside.
        await fs.rename(journalPath, `${journalPath}.damaged`).catch(() => undefined);
        failed.push({ snapshot: id, error: `unreadable journal set aside (${(err as Error).message})` });
        continue;
      }
      const m = journal.manifest;
      if (await this.committedBeside(m)) {
        // Died after the commit point: the operation is complete.
        await unlinkDurable(journalPath);
        completed.push(m.id);
        continue;
      }
      try {
        if (journal.recovery === 'complete') {
          try {
            const r = await this.reconcile(m, 'after');
            leftAlone.push(...r.leftAlone.map((path) => ({ snapshot: m.id, path })));
            const done: SnapshotManifest = {
              ...m,
              createdDirs: [...m.createdDirs.filter((d) => !r.createdDirs.includes(d)), ...r.createdDirs],
              removedDirs: m.removedDirs.filter((d) => r.removedDirs.includes(d)),
            };
            await writeJsonAtomic(join(this.manifestsDir, `${m.id}.json`), done);
            this.cache.set(m.id, done);
            await unlinkDurable(journalPath);
            completed.push(m.id);
            await this.auditNote(m, `The interrupted rollback ${m.id} of ${m.rollsBack} was completed on recovery.`);
            continue;
          } catch {
            // The bytes to restore are unusable (a damaged blob): fall back to putting back what was there.
          }
        }
        const r = await this.reconcile(m, 'before');
        leftAlone.push(...r.leftAlone.map((path) => ({ snapshot: m.id, path })));
        await unlinkDurable(journalPath);
        undone.push(m.id);
        await this.auditNote(m, `The interrupted ${m.kind} ${m.id} was undone on recovery; the workspace is as it was before it.`);
      } catch (err) {
        failed.push({ snapshot: m.id, error: (err as Error).message });
      }
    }
    return { undone, completed, leftAlone, failed };
  }

  /**
   * Whether the manifest beside a journal commits it: it must parse, and no file may still be in its state from
   * before the operation (a power cut can keep a manifest and lose a workspace rename fsync'd in the same round).
   * A manifest that fails either test is removed, and the operation is undone or completed from its journal.
   */
  private async committedBeside(m: SnapshotManifest): Promise<boolean> {
    const path = join(this.manifestsDir, `${m.id}.json`);
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    let whole = false;
    try {
      whole = SnapshotManifest.parse(JSON.parse(text)).id === m.id;
    } catch {
      whole = false;
    }
    if (whole) {
      const stillBefore = await mapBounded(m.files, PARALLEL, async (f) => {
        const current = await readFileState(join(m.workspace, ...f.path.split('/')), f.path).catch(() => undefined);
        if (current === undefined) return false;
        const is = (state: FileState | null) => (current?.hash ?? null) === (state?.hash ?? null);
        return is(f.before) && !is(f.after);
      });
      if (!stillBefore.includes(true)) return true;
    }
    await unlinkDurable(path);
    this.cache.delete(m.id);
    this.damaged.delete(m.id);
    return false;
  }

  // ----------------------------------------------------------------------------------- listing, lookup

  /** Every snapshot, newest first, with its state. */
  async list(): Promise<Snapshot[]> {
    const manifests = await this.loadManifests();
    return this.withStates(manifests).sort((a, b) => b.seq - a.seq);
  }

  async get(id: string): Promise<Snapshot> {
    const all = await this.list();
    const s = all.find((x) => x.id === id);
    if (s) return s;
    if (this.damaged.has(id)) throw new SnapshotError('damaged-manifest', `The manifest of snapshot ${id} is damaged and cannot be used.`, { snapshotId: id });
    throw new SnapshotError('unknown-snapshot', `There is no snapshot ${id}. \`airlock snapshots\` lists the ones there are.`, { snapshotId: id });
  }

  /** A snapshot by exact id or by a unique prefix of at least 4 characters. */
  async resolve(ref: string): Promise<Snapshot> {
    const all = await this.list();
    const exact = all.find((s) => s.id === ref);
    if (exact) return exact;
    if (this.damaged.has(ref)) return this.get(ref);
    const matches = ref.length >= 4 ? all.filter((s) => s.id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new SnapshotError('ambiguous-snapshot', `${ref} matches ${matches.length} snapshots (${matches.map((s) => s.id).join(', ')}); give more of the id.`, { snapshotId: ref });
    }
    return this.get(ref);
  }

  /**
   * The stored bytes of a file state (for a rollback preview diff), verified against their hash. A state that
   * names only its hash (a document URI) is found among the manifests when they keep its bytes inline.
   */
  async readBlob(state: FileState): Promise<Buffer> {
    if (state.data !== undefined) return this.blobs.read(state);
    const inline = () => {
      for (const m of this.cache.values()) {
        for (const f of m.files) {
          for (const s of [f.before, f.after]) if (s?.data !== undefined && s.hash === state.hash) return s;
        }
      }
      return undefined;
    };
    // Another process (the CLI beside the editor) may have added the manifest that holds it since this store last looked.
    let found = inline();
    if (!found && !fsSync.existsSync(this.blobs.pathOf(state.hash))) {
      await this.loadManifests();
      found = inline();
    }
    return this.blobs.read(found ?? state);
  }

  /** The newest apply that is still in effect: what `airlock rollback --last` undoes. */
  async last(): Promise<Snapshot | undefined> {
    return (await this.list()).find((s) => s.kind === 'apply' && s.state === 'applied');
  }

  private async loadManifests(): Promise<SnapshotManifest[]> {
    const names = new Set(fsSync.readdirSync(this.manifestsDir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    for (const id of [...this.cache.keys()]) if (!names.has(id)) this.cache.delete(id);
    for (const id of this.damaged) if (!names.has(id)) this.damaged.delete(id);
    for (const id of names) {
      // A damaged one is read again each time: it may have been caught while another process was writing it.
      if (this.cache.has(id)) continue;
      try {
        const m = SnapshotManifest.parse(JSON.parse(fsSync.readFileSync(join(this.manifestsDir, `${id}.json`), 'utf8')));
        if (m.id !== id) throw new Error(`names ${m.id}`);
        this.cache.set(id, m);
        this.damaged.delete(id);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        this.damaged.add(id);
      }
    }
    return [...this.cache.values()];
  }

  /** A snapshot is in effect unless a rollback that is itself in effect undid it (rollbacks are always newer). */
  private withStates(manifests: readonly SnapshotManifest[]): Snapshot[] {
    const byNewest = [...manifests].sort((a, b) => b.seq - a.seq);
    const undoneBy = new Map<string, string>();
    const inEffect = new Set<string>();
    for (const m of byNewest) {
      if (!undoneBy.has(m.id)) {
        inEffect.add(m.id);
        if (m.rollsBack !== undefined && !undoneBy.has(m.rollsBack)) undoneBy.set(m.rollsBack, m.id);
      }
    }
    return byNewest.map((m) => {
      const by = undoneBy.get(m.id);
      return by === undefined ? { ...m, state: 'applied' as const } : { ...m, state: 'rolled-back' as const, rolledBackBy: by };
    });
  }

  private withState(m: SnapshotManifest): Snapshot {
    // The rollback in effect that undid m, if any: the same walk as withStates, without copying every manifest.
    const byNewest = [...this.cache.values()].sort((a, b) => b.seq - a.seq);
    const undoneBy = new Map<string, string>();
    for (const x of byNewest) {
      if (x.id === m.id) break;
      if (!undoneBy.has(x.id) && x.rollsBack !== undefined && !undoneBy.has(x.rollsBack)) undoneBy.set(x.rollsBack, x.id);
    }
    const by = undoneBy.get(m.id);
    return by === undefined ? { ...m, state: 'applied' } : { ...m, state: 'rolled-back', rolledBackBy: by };
  }

  // ---------------------------------------------------------------------------------------- retention

  /** Applies retention now (it also runs after every apply and rollback, and on open). */
  async prune(): Promise<PruneResult> {
    return this.exclusive(() => this.pruneLocked(true));
  }

  /**
   * Deletes the manifests no rule keeps, then every blob no remaining manifest or journal names. Blob reference
   * counts are derived from the manifests each time rather than stored, so a crash can never leave them wrong.
   */
  private async pruneLocked(alwaysSweep: boolean): Promise<PruneResult> {
    const manifests = (await this.loadManifests()).sort((a, b) => b.seq - a.seq);
    const keepLast = this.options.keepLast ?? DEFAULT_KEEP_LAST;
    const keepDays = this.options.keepDays ?? DEFAULT_KEEP_DAYS;
    const cutoff = this.now().getTime() - keepDays * DAY_MS;
    const drop = manifests.filter((m, i) => i >= keepLast && Date.parse(m.createdAt) < cutoff);
    if (drop.length === 0 && !alwaysSweep) return { removedSnapshots: [], removedBlobs: 0 };
    for (const m of drop) {
      await fs.rm(join(this.manifestsDir, `${m.id}.json`), { force: true });
      this.cache.delete(m.id);
    }
    if (drop.length > 0) await fsyncDir(this.manifestsDir);
    // The blobs the kept manifests stored (the cache holds only those now), and any an unfinished operation names.
    const keep = this.committedBlobs();
    for (const name of await fs.readdir(this.journalDir)) {
      try {
        const j = SnapshotJournal.parse(JSON.parse(await fs.readFile(join(this.journalDir, name), 'utf8')));
        for (const f of j.manifest.files) {
          if (f.before) keep.add(f.before.hash);
          if (f.after) keep.add(f.after.hash);
        }
      } catch {
        // Not a journal we can read; it names no blob we could keep for it.
      }
    }
    // A damaged manifest may still name blobs someone will want to recover by hand: keep them while it exists.
    if (this.damaged.size > 0) return { removedSnapshots: drop.map((m) => m.id), removedBlobs: 0 };
    // After an apply or rollback only the pruned snapshots' blobs can have become unused; open sweeps everything.
    const removedBlobs = alwaysSweep ? await this.blobs.sweep(keep) : await this.blobs.sweepCandidates(drop.flatMap((m) => m.files.flatMap((f) => [f.before?.hash, f.after?.hash].filter((h): h is string => h !== undefined))), keep);
    return { removedSnapshots: drop.map((m) => m.id), removedBlobs };
  }

  // ------------------------------------------------------------------------------------------- helpers

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return withStoreLock(this.lockPath, this.options.lockTimeoutMs ?? 15_000, fn);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private nextSeq(): number {
    let max = 0;
    for (const m of this.cache.values()) max = Math.max(max, m.seq);
    return max + 1;
  }

  /** `YYYYMMDD-HHMMSS-xxxx` (UTC): sortable, readable, short enough to type. */
  private async newId(): Promise<string> {
    await this.loadManifests();
    for (;;) {
      const d = this.now().toISOString();
      const id = `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}-${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}-${randomBytes(2).toString('hex')}`;
      if (!this.cache.has(id) && !this.damaged.has(id) && !(await exists(join(this.journalDir, `${id}.json`)))) return id;
    }
  }

  /**
   * The blobs committed manifests stored: the only blob files an operation may rely on without writing them again.
   * Those are the `before` states not kept inline (the same set retention keeps); an `after` hash, or an inline
   * copy, says nothing about a blob file of that hash (one may be left by a crash).
   */
  private committedBlobs(): Set<string> {
    const out = new Set<string>();
    for (const m of this.cache.values()) {
      for (const f of m.files) if (f.before && f.before.data === undefined) out.add(f.before.hash);
    }
    return out;
  }

  /** A note in the audit log about something the store did on its own (a failed operation undone, a recovery). */
  private async auditNote(m: SnapshotManifest, reason: string): Promise<void> {
    if (!this.options.audit) return;
    try {
      await this.options.audit.append({ type: 'alert', runId: m.runId, agent: m.agent, actor: 'system', reason, args: { snapshot: m.id } });
    } catch {
      // The workspace is already consistent; a missing note must not turn a clean undo into a failure.
    }
  }
}

async function realWorkspace(workspace: string): Promise<string> {
  let real: string;
  try {
    real = fsSync.realpathSync.native(workspace);
  } catch (err) {
    throw new SnapshotError('invalid-change', `The workspace ${workspace} does not exist.`, {}, { cause: err });
  }
  if (!fsSync.statSync(real).isDirectory()) throw new SnapshotError('invalid-change', `The workspace ${workspace} is not a folder.`);
  return real;
}

/** The union of the folders that must be created, shallowest first. */
function plannedDirs(paths: readonly ResolvedPath[], extra: readonly string[] = []): string[] {
  const set = new Set<string>(extra);
  for (const p of paths) for (const d of p.missingDirs) set.add(d);
  return [...set].sort(byDepth);
}

function byDepth(a: string, b: string): number {
  return a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The temp file for entry `index` of operation `id`: short (long names stay under NAME_MAX) and predictable, so recovery can remove leftovers. */
function tmpPathFor(target: string, id: string, index: number): string {
  return join(dirname(target), `.airlock-${id}-${index}.tmp`);
}

async function rmdirIfEmpty(p: string): Promise<boolean> {
  try {
    fsSync.rmdirSync(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') return false;
    throw err;
  }
}

async function exists(p: string): Promise<boolean> {
  return (await lstatOrNull(p)) !== null;
}

function errPath(err: unknown): string | undefined {
  return SnapshotError.is(err) ? err.paths[0] : undefined;
}

