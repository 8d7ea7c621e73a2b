// Content-addressed storage for the bytes a snapshot needs: one file per distinct content, named by its sha256.
// Identical content across snapshots is stored once; retention deletes a blob only when no kept manifest names it.
import { createHash, randomBytes } from 'node:crypto';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { COPY_CHUNK, DIRECT_LIMIT, fsyncFd, hashFile } from './atomicWrite';
import { mapBounded } from './boundedParallel';
import { SnapshotError } from './snapshotError';
import { SHA256_HEX, type FileState } from './snapshotManifest';

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
   * Reads the regular file at `abs`, hashes it, and writes its bytes to a temp blob (not yet fsync'd, not yet
   * under its name) recorded in `batch`, unless the blob exists already. `commit(batch)` makes them durable;
   * nothing may rely on a blob before that.
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
        const final = this.pathOf(hash);
        if (!sizeIs(final, data.length)) {
          const tmp = this.tmpPath();
          batch.pending.push({ tmp, final });
          writeNew(tmp, data);
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
    const final = this.pathOf(hash);
    if (sizeIs(final, size)) await fs.rm(tmp, { force: true });
    else batch.pending.push({ tmp, final });
    return { hash, size };
  }

  /**
   * Makes a batch durable: every temp blob fsync'd and renamed into place, all at once. Returns the shard
   * folders whose new entries still need a folder fsync (the caller issues those with its own).
   */
  async commit(batch: BlobBatch): Promise<Set<string>> {
    const dirty = new Set<string>();
    await mapBounded(batch.pending, 8, async ({ tmp, final }) => {
      const fd = fsSync.openSync(tmp, 'r+');
      try {
        await fsyncFd(fd);
      } finally {
        fsSync.closeSync(fd);
      }
      this.publish(tmp, final);
      dirty.add(dirname(final));
    });
    batch.pending.length = 0;
    return dirty;
  }

  /** Drops the temp blobs of a batch that will not be committed. */
  async discard(batch: BlobBatch): Promise<void> {
    for (const { tmp } of batch.pending.splice(0)) fsSync.rmSync(tmp, { force: true });
  }

  private publish(tmp: string, final: string): void {
    const shard = dirname(final);
    if (!this.shards.has(shard)) {
      fsSync.mkdirSync(shard, { recursive: true });
      this.shards.add(shard);
    }
    try {
      fsSync.renameSync(tmp, final);
    } catch (err) {
      // The shard folder went away behind our back (someone cleaned the state folder): make it again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fsSync.mkdirSync(shard, { recursive: true });
      fsSync.renameSync(tmp, final);
    }
  }

  private tmpPath(): string {
    return join(this.tmpDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /** Re-hashes a blob; a missing or damaged blob is refused before anything is restored from it. */
  async verify(hash: string, size: number): Promise<void> {
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

/** Temp blobs written during one operation, waiting for `BlobStore.commit`. */
export class BlobBatch {
  readonly pending: { tmp: string; final: string }[] = [];
}

function writeNew(path: string, data: Buffer): void {
  const fd = fsSync.openSync(path, 'wx', 0o444);
  try {
    let off = 0;
    while (off < data.length) off += fsSync.writeSync(fd, data, off, data.length - off);
  } catch (err) {
    fsSync.closeSync(fd);
    fsSync.rmSync(path, { force: true });
    throw err;
  }
  fsSync.closeSync(fd);
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
