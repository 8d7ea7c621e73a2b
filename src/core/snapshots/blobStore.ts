// Content-addressed storage for the bytes a snapshot needs: one file per distinct content, named by its sha256.
// Identical content across snapshots is stored once; retention deletes a blob only when no kept manifest names it.
// Small files (up to INLINE_MAX_BYTES, INLINE_BUDGET_BYTES per operation) are kept in the manifest instead
// (`FileState.data`): the journal and manifest are made durable anyway, so they need no file and no fsync of their own.
import { createHash, randomBytes } from 'node:crypto';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { COPY_CHUNK, DIRECT_LIMIT, fsyncDir, fsyncFd, hashFile, unlinkFile, writeAllSync, type WriteSource } from './atomicWrite';
import { mapBounded } from './boundedParallel';
import { SnapshotError } from './snapshotError';
import { INLINE_BUDGET_BYTES, INLINE_MAX_BYTES, SHA256_HEX, type FileState } from './snapshotManifest';

export class BlobStore {
  private readonly tmpDir: string;
  /** Shard folders known to exist, so a blob write does not mkdir each time. */
  private readonly shards = new Set<string>();

  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
  }

  pathOf(hash: string): string {
    return join(this.root, hash.slice(0, 2), hash);
  }

  /**
   * Reads the regular file at `abs`, hashes it, and writes its bytes under the blob's name (not yet fsync'd),
   * recorded in `batch`, unless a blob the batch may rely on holds them already. `commit(batch)` makes them
   * durable; nothing may rely on a blob before that. A small file's bytes are returned inline instead (`data`),
   * while the batch's inline budget lasts.
   *
   * A blob file is relied on only when a committed manifest stored it (`batch.trusts`): one written by an operation
   * that never committed (a crash, in this process or another) may be cut short, so it is written again.
   */
  async putFile(abs: string, batch: BlobBatch): Promise<FileState> {
    // Small files (nearly all) are read, hashed and written directly: no thread-pool round trip per call.
    const fd = fsSync.openSync(abs, 'r');
    let st: fsSync.Stats;
    try {
      st = fsSync.fstatSync(fd);
      if (!st.isFile()) throw new SnapshotError('unsupported-file', `${abs} is not a regular file.`);
      if (st.size <= DIRECT_LIMIT) {
        const mode = st.mode & 0o7777;
        const data = fsSync.readFileSync(fd);
        const hash = sha256(data);
        if (data.length <= INLINE_MAX_BYTES && data.length <= batch.inlineLeft) {
          batch.inlineLeft -= data.length;
          return { hash, size: data.length, mode, data: data.toString('base64') };
        }
        if (this.needsWrite(hash, data.length, batch)) {
          const final = this.placeFor(hash);
          const created = inShard(final, () => writeBlob(final, data));
          batch.written.set(hash, final);
          if (created) batch.created.add(final);
        }
        return { hash, size: data.length, mode };
      }
    } finally {
      fsSync.closeSync(fd);
    }
    const src = await fs.open(abs, 'r');
    try {
      const now = await src.stat();
      if (!now.isFile()) throw new SnapshotError('unsupported-file', `${abs} is not a regular file.`);
      return { ...(await this.putStream(src, batch)), mode: now.mode & 0o7777 };
    } finally {
      await src.close();
    }
  }

  private async putStream(src: fs.FileHandle, batch: BlobBatch): Promise<{ hash: string; size: number }> {
    // The hash is known only at the end: stream into a temp file, then move it under its name.
    const tmp = this.tmpPath();
    const out = await fs.open(tmp, 'wx', 0o444);
    const h = createHash('sha256');
    let size = 0;
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        h.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
        size += bytesRead;
      }
    } catch (err) {
      await out.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await out.close();
    const hash = h.digest('hex');
    if (this.needsWrite(hash, size, batch)) {
      const final = this.placeFor(hash);
      const existed = fsSync.existsSync(final);
      inShard(final, () => fsSync.renameSync(tmp, final));
      batch.written.set(hash, final);
      if (!existed) batch.created.add(final);
    } else {
      await fs.rm(tmp, { force: true });
    }
    return { hash, size };
  }

  private needsWrite(hash: string, size: number, batch: BlobBatch): boolean {
    if (batch.written.has(hash)) return false;
    return !(batch.trusts(hash) && sizeIs(this.pathOf(hash), size));
  }

  /** The blob's path, its shard folder made (once per process; `inShard` makes it again if it went away). */
  private placeFor(hash: string): string {
    const final = this.pathOf(hash);
    const shard = dirname(final);
    if (!this.shards.has(shard)) {
      fsSync.mkdirSync(shard, { recursive: true });
      this.shards.add(shard);
    }
    return final;
  }

  /**
   * Makes a batch durable in one round: every blob it wrote fsync'd (through a read-only descriptor: blobs are
   * read-only files), together with the shard folders that gained them.
   */
  async commit(batch: BlobBatch): Promise<void> {
    const files = [...batch.written.values()];
    const shards = [...new Set(files.map((f) => dirname(f)))];
    await mapBounded([...files.map((f) => ({ f, dir: false })), ...shards.map((f) => ({ f, dir: true }))], 8, async ({ f, dir }) => {
      if (dir) return fsyncDir(f);
      const fd = fsSync.openSync(f, 'r');
      try {
        await fsyncFd(fd);
      } finally {
        fsSync.closeSync(fd);
      }
    });
    batch.written.clear();
    batch.created.clear();
  }

  /**
   * Removes the blob files a batch created when it will not be committed (no manifest can name them). One it
   * rewrote in place of an untrusted file is left: a journal of an operation that died may still need those bytes.
   */
  async discard(batch: BlobBatch): Promise<void> {
    for (const final of batch.created) unlinkFile(final);
    batch.written.clear();
    batch.created.clear();
  }

  private tmpPath(): string {
    return join(this.tmpDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /** Where a restore takes a state's bytes from: its inline copy (checked here) or its blob (checked while copied). */
  source(state: FileState): WriteSource {
    if (state.data !== undefined) return { kind: 'buffer', data: inlineBytes(state) };
    return { kind: 'blob', path: this.pathOf(state.hash), hash: state.hash };
  }

  /** The stored bytes of a state, checked against its hash. */
  async read(state: FileState): Promise<Buffer> {
    if (state.data !== undefined) return inlineBytes(state);
    const data = await fs.readFile(this.pathOf(state.hash)).catch((err: unknown) => {
      throw new SnapshotError('damaged-blob', `The stored copy ${state.hash.slice(0, 12)}… is missing or unreadable.`, {}, { cause: err });
    });
    if (sha256(data) !== state.hash) throw new SnapshotError('damaged-blob', `The stored copy ${state.hash.slice(0, 12)}… is damaged.`);
    return data;
  }

  /** Re-hashes a state's stored bytes; missing or damaged ones are refused before anything is restored from them. */
  async verify(state: FileState): Promise<void> {
    if (state.data !== undefined) {
      inlineBytes(state);
      return;
    }
    const { hash, size } = state;
    const p = this.pathOf(hash);
    let actual: string;
    let actualSize: number;
    try {
      ({ hash: actual, size: actualSize } = await hashFile(p, size));
    } catch (err) {
      throw new SnapshotError('damaged-blob', `The stored copy ${hash.slice(0, 12)}… is missing or unreadable (${(err as Error).message}); nothing was restored.`, {}, { cause: err });
    }
    if (actual !== hash || actualSize !== size) {
      throw new SnapshotError('damaged-blob', `The stored copy ${hash.slice(0, 12)}… is damaged (its bytes hash to ${actual.slice(0, 12)}…, ${actualSize} bytes); nothing was restored.`);
    }
  }

  /**
   * Deletes those of `candidates` that are not in `keep`: after pruning, the blobs only the pruned snapshots named,
   * without listing the whole store (the full `sweep` runs when the store opens). Call only under the store lock.
   */
  async sweepCandidates(candidates: Iterable<string>, keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const hash of new Set(candidates)) {
      if (keep.has(hash) || !SHA256_HEX.test(hash)) continue;
      try {
        await fs.unlink(this.pathOf(hash));
        removed++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return removed;
  }

  /** Deletes every blob not in `keep`, and leftover temp files. Call only while holding the store lock. */
  async sweep(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const tmp of await readdirOrEmpty(this.tmpDir)) {
      await fs.rm(join(this.tmpDir, tmp), { force: true });
    }
    for (const shard of await readdirOrEmpty(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const dir = join(this.root, shard);
      for (const name of await readdirOrEmpty(dir)) {
        if (SHA256_HEX.test(name) && keep.has(name)) continue;
        await fs.rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }
}

/** The blobs one operation wrote, waiting for `BlobStore.commit`, and the blobs it may rely on as they are. */
export class BlobBatch {
  /** hash → path of each blob written by this batch and not yet committed. */
  readonly written = new Map<string, string>();
  /** Those of `written` whose files this batch created (rather than rewrote). */
  readonly created = new Set<string>();
  private trusted: ReadonlySet<string> | undefined;
  /** Bytes this operation may still keep inline in its manifest. */
  inlineLeft = INLINE_BUDGET_BYTES;

  /** `committed`: the hashes of the blobs committed manifests stored, asked for once, when the first blob is stored. */
  constructor(private readonly committed: () => ReadonlySet<string> = () => new Set()) {}

  trusts(hash: string): boolean {
    this.trusted ??= this.committed();
    return this.trusted.has(hash);
  }
}

/**
 * Runs `op` on a path in a shard folder; if the folder went away behind our back (someone cleaned the state
 * folder), makes it again and retries once.
 */
function inShard<T>(path: string, op: () => T): T {
  try {
    return op();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fsSync.mkdirSync(dirname(path), { recursive: true });
    return op();
  }
}

/**
 * Writes a blob under its name: a new file, or, when an untrusted file has the name, a temp file renamed over it
 * (so its bytes never go missing in between). Returns whether the file was created.
 */
function writeBlob(final: string, data: Buffer): boolean {
  try {
    writeNew(final, data);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const tmp = `${final}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeNew(tmp, data);
  try {
    fsSync.renameSync(tmp, final);
  } catch (err) {
    unlinkFile(tmp);
    throw err;
  }
  return false;
}

function writeNew(path: string, data: Buffer): void {
  const fd = fsSync.openSync(path, 'wx', 0o444);
  try {
    writeAllSync(fd, data);
  } catch (err) {
    fsSync.closeSync(fd);
    unlinkFile(path);
    throw err;
  }
  fsSync.closeSync(fd);
}

/** The bytes a manifest keeps inline, refused (like a damaged blob) unless they hash to the state's hash. */
function inlineBytes(state: FileState): Buffer {
  const data = Buffer.from(state.data ?? '', 'base64');
  const actual = sha256(data);
  if (actual !== state.hash || data.length !== state.size) {
    throw new SnapshotError('damaged-blob', `The copy of ${state.hash.slice(0, 12)}… kept in the snapshot's manifest is damaged (its bytes hash to ${actual.slice(0, 12)}…, ${data.length} bytes); nothing was restored.`);
  }
  return data;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function sizeIs(p: string, size: number): boolean {
  try {
    return fsSync.statSync(p, { throwIfNoEntry: false })?.size === size;
  } catch {
    return false;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
