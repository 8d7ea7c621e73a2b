// Crash-safe file writes: bytes go to a temp file in the target's own folder, are fsync'd, then renamed over the
// target (rename is atomic within a folder), and the folder is fsync'd so the rename itself survives power loss.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { SnapshotError } from './snapshotError';

/** Chunk size for streamed copies: large files never sit in memory whole. */
export const COPY_CHUNK = 1024 * 1024;

/** Where the bytes of an atomic write come from: a buffer already in memory, or a blob streamed and verified on the way. */
export type WriteSource = { readonly kind: 'buffer'; readonly data: Buffer } | { readonly kind: 'blob'; readonly path: string; readonly hash: string };

export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync; its renames are durable enough on NTFS for our purpose.
  if (process.platform === 'win32') return;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(dir, 'r');
  } catch (err) {
    // A folder removed later in the same operation (possibly replaced by a file) has nothing left to make durable.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw err;
  }
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `source` to `target` through `tmp` (which must be in the same folder). `mode` sets the exact permission
 * bits; without it a new file gets the process default (0o666 less the umask). Returns the mode the file has.
 * The folder is not fsync'd here: callers batch that per folder.
 */
export async function writeFileAtomic(target: string, tmp: string, source: WriteSource, mode?: number): Promise<number> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'wx', 0o666);
    if (source.kind === 'buffer') {
      await writeAll(fh, source.data);
    } else {
      await copyVerified(source.path, source.hash, fh);
    }
    if (mode !== undefined) await fh.chmod(mode);
    await fh.sync();
    const finalMode = (await fh.stat()).mode & 0o7777;
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, target);
    return finalMode;
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

async function writeAll(fh: fs.FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, Math.min(data.length - off, 64 * COPY_CHUNK));
    off += bytesWritten;
  }
}

/** Streams a blob into `out`, hashing on the way; a blob whose bytes no longer match its name is refused. */
async function copyVerified(blobPath: string, expected: string, out: fs.FileHandle): Promise<void> {
  const hash = createHash('sha256');
  const src = await fs.open(blobPath, 'r');
  try {
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (;;) {
      const { bytesRead } = await src.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await writeAll(out, chunk);
    }
  } finally {
    await src.close();
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    throw new SnapshotError('damaged-blob', `The stored copy ${expected.slice(0, 12)}… is damaged (its bytes hash to ${actual.slice(0, 12)}…); nothing was restored from it.`);
  }
}

/** A temp name beside `target` for writeJsonAtomic; recovery removes leftovers by the `.tmp` ending. */
export function jsonTempPath(target: string): string {
  return `${target}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** Writes bytes to a new file and fsyncs it, without making it visible under another name yet. */
export async function writeDurable(path: string, data: Buffer): Promise<void> {
  const fh = await fs.open(path, 'wx', 0o666);
  try {
    await writeAll(fh, data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.rm(path, { force: true }).catch(() => undefined);
    throw err;
  }
  await fh.close();
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 1) + '\n');
}

/** Writes JSON durably: temp file, fsync, rename, and (unless the caller batches it) fsync of the folder. */
export async function writeJsonAtomic(target: string, value: unknown, options: { syncDir?: boolean } = {}): Promise<void> {
  await writeFileAtomic(target, jsonTempPath(target), { kind: 'buffer', data: jsonBytes(value) });
  if (options.syncDir !== false) await fsyncDir(dirname(target));
}

/** Removes a file and makes the removal durable. A missing file is fine. */
export async function unlinkDurable(target: string): Promise<void> {
  await fs.rm(target, { force: true });
  await fsyncDir(dirname(target));
}
