// Crash-safe file writes: bytes go to a temp file in the target's own folder, are fsync'd, then renamed over the
// target (rename is atomic within a folder), and the folder is fsync'd so the rename itself survives power loss.
//
// Only the fsyncs (and the copies of large files) go to the thread pool: opening, writing a small file, renaming
// and closing take microseconds when done directly, where a round trip through the pool each would cost far more
// than the work on a busy machine. Independent fsyncs still run together.
import { createHash } from 'node:crypto';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { SnapshotError } from './snapshotError';

/** Chunk size for streamed copies: large files never sit in memory whole. */
export const COPY_CHUNK = 1024 * 1024;

/** Where the bytes of an atomic write come from: a buffer already in memory, or a blob streamed and verified on the way. */
export type WriteSource = { readonly kind: 'buffer'; readonly data: Buffer } | { readonly kind: 'blob'; readonly path: string; readonly hash: string };

/** Files up to this size are read, written and copied directly; larger ones are streamed, never whole in memory. */
export const DIRECT_LIMIT = 8 * 1024 * 1024;

/**
 * The sha256 and length of the file at `path`: one direct read when `expectedSize` is at most DIRECT_LIMIT (the
 * length read is returned, so a file that grew still shows it), streamed through the thread pool beyond.
 */
export async function hashFile(path: string, expectedSize: number): Promise<{ hash: string; size: number }> {
  const h = createHash('sha256');
  if (expectedSize <= DIRECT_LIMIT) {
    const data = fsSync.readFileSync(path);
    return { hash: h.update(data).digest('hex'), size: data.length };
  }
  const fh = await fs.open(path, 'r');
  let size = 0;
  try {
    const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(expectedSize, 1)));
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { hash: h.digest('hex'), size };
}

/** fsync of an open file on the thread pool: the one slow call of a small write. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsSync.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync; its renames are durable enough on NTFS for our purpose.
  if (process.platform === 'win32') return;
  let fd: number;
  try {
    fd = fsSync.openSync(dir, 'r');
  } catch (err) {
    // A folder removed later in the same operation (possibly replaced by a file) has nothing left to make durable.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw err;
  }
  try {
    await fsyncFd(fd);
  } finally {
    fsSync.closeSync(fd);
  }
}

/**
 * Writes `source` to `target` through `tmp` (which must be in the same folder). `mode` sets the exact permission
 * bits; without it a new file gets the process default (0o666 less the umask). Returns the mode the file has.
 * The folder is not fsync'd here: callers batch that per folder.
 */
export async function writeFileAtomic(target: string, tmp: string, source: WriteSource, mode?: number): Promise<number> {
  let fd: number | undefined;
  try {
    fd = fsSync.openSync(tmp, 'wx', 0o666);
    if (source.kind === 'buffer') {
      await writeAll(fd, source.data);
    } else {
      await copyVerified(source.path, source.hash, fd);
    }
    if (mode !== undefined) fsSync.fchmodSync(fd, mode);
    await fsyncFd(fd);
    const finalMode = fsSync.fstatSync(fd).mode & 0o7777;
    fsSync.closeSync(fd);
    fd = undefined;
    fsSync.renameSync(tmp, target);
    return finalMode;
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

function closeQuietly(fd: number): void {
  try {
    fsSync.closeSync(fd);
  } catch {
    // Already closed.
  }
}

/** Writes all of `data` at the file's position, in this thread. */
export function writeAllSync(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += fsSync.writeSync(fd, data, off, data.length - off);
}

/** Writes all of `data` at the file's position: directly when small, through the thread pool when large. */
async function writeAll(fd: number, data: Buffer): Promise<void> {
  if (data.length <= DIRECT_LIMIT) return writeAllSync(fd, data);
  let off = 0;
  while (off < data.length) {
    const at = off;
    off += await new Promise<number>((resolve, reject) =>
      fsSync.write(fd, data, at, Math.min(data.length - at, 64 * COPY_CHUNK), null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

/** Copies a blob into `out`, hashing on the way; a blob whose bytes no longer match its name is refused. */
async function copyVerified(blobPath: string, expected: string, out: number): Promise<void> {
  const hash = createHash('sha256');
  const src = fsSync.openSync(blobPath, 'r');
  try {
    const size = fsSync.fstatSync(src).size;
    const direct = size <= DIRECT_LIMIT;
    const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, size + 1));
    for (;;) {
      const bytesRead = direct
        ? fsSync.readSync(src, buf, 0, buf.length, null)
        : await new Promise<number>((resolve, reject) => fsSync.read(src, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))));
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      await writeAll(out, chunk);
    }
  } finally {
    fsSync.closeSync(src);
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    throw new SnapshotError('damaged-blob', `The stored copy ${expected.slice(0, 12)}… is damaged (its bytes hash to ${actual.slice(0, 12)}…); nothing was restored from it.`);
  }
}

/** A temp name beside `target` for writeJsonAtomic; recovery removes leftovers by the `.tmp` ending. */
function jsonTempPath(target: string): string {
  return `${target}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** Writes bytes to a new file and fsyncs it, without making it visible under another name yet. */
export async function writeDurable(path: string, data: Buffer): Promise<void> {
  const fd = fsSync.openSync(path, 'wx', 0o666);
  try {
    await writeAll(fd, data);
    await fsyncFd(fd);
  } catch (err) {
    closeQuietly(fd);
    await fs.rm(path, { force: true }).catch(() => undefined);
    throw err;
  }
  fsSync.closeSync(fd);
}

/**
 * Puts `data` under `target` whole (a temp file beside it, renamed over it, both before this returns: no process,
 * this one killed included, ever sees part of it), then fsyncs the file. The caller fsyncs the folder, and may
 * start that at once: the rename has happened.
 */
export function placeWholeThenSync(target: string, data: Buffer): Promise<void> {
  const tmp = jsonTempPath(target);
  let fd: number | undefined;
  try {
    fd = fsSync.openSync(tmp, 'wx', 0o666);
    writeAllSync(fd, data);
    fsSync.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    unlinkFile(tmp);
    return Promise.reject(err);
  }
  const open = fd;
  return fsyncFd(open).finally(() => fsSync.closeSync(open));
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 1) + '\n');
}

/** Writes JSON durably: temp file, fsync, rename, and (unless the caller batches it) fsync of the folder. */
export async function writeJsonAtomic(target: string, value: unknown, options: { syncDir?: boolean } = {}): Promise<void> {
  await writeFileAtomic(target, jsonTempPath(target), { kind: 'buffer', data: jsonBytes(value) });
  if (options.syncDir !== false) await fsyncDir(dirname(target));
}

/** Removes a file; a missing one is fine. (One unlink: rmSync walks its rimraf path even for a plain file.) */
export function unlinkFile(path: string): void {
  try {
    fsSync.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Removes a file and makes the removal durable. A missing file is fine. */
export async function unlinkDurable(target: string): Promise<void> {
  unlinkFile(target);
  await fsyncDir(dirname(target));
}
