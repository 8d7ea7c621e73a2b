// Where a workspace-relative path may lead. The guard pipeline already confines agents; this is the store's own
// check (defence in depth), done again at apply time because the disk may have changed since the run.
import * as fsSync from 'node:fs';
import type { Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { hashFile } from './atomicWrite';
import { SnapshotError } from './snapshotError';
import type { FileState } from './snapshotManifest';

/** Checks the shape of a workspace-relative path: forward slashes, no `.`/`..`/empty segments, not absolute, not in `.git/`. */
export function checkRelativePath(p: string): void {
  if (typeof p !== 'string' || p.length === 0) throw new SnapshotError('invalid-change', 'A change has an empty path.');
  if (p.includes('\0')) throw new SnapshotError('invalid-change', `The path ${JSON.stringify(p)} contains a NUL byte.`, { paths: [p] });
  if (p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p) || isAbsolute(p)) {
    throw new SnapshotError('unsafe-path', `The path ${p} is absolute; changes must be relative to the workspace.`, { paths: [p] });
  }
  // A backslash is a separator on Windows, so a name containing one would mean different files on different machines.
  if (p.includes('\\')) throw new SnapshotError('unsafe-path', `The path ${p} contains a backslash; use forward slashes.`, { paths: [p] });
  const segs = p.split('/');
  if (segs.some((s) => s === '..')) throw new SnapshotError('unsafe-path', `The path ${p} leaves the workspace (..).`, { paths: [p] });
  if (segs.some((s) => s === '' || s === '.')) throw new SnapshotError('invalid-change', `The path ${p} is not normalised (empty or "." segment).`, { paths: [p] });
  if (segs.some((s) => s.toLowerCase() === '.git')) throw new SnapshotError('unsafe-path', `The path ${p} is inside a .git folder, which is never written.`, { paths: [p] });
}

export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

export interface ResolvedPath {
  readonly rel: string;
  readonly abs: string;
  /**
   * Folders that must be created before the path can be written, shallowest first: the parents that do not exist,
   * or, when a parent is a file, that parent and everything below it.
   */
  readonly missingDirs: readonly string[];
  /** The relative path of a parent that exists as a file, if any (the path cannot be written unless it goes). */
  readonly fileParent?: string;
}

/**
 * Resolves `rel` under the real workspace path, refusing a symlinked parent that leads outside the workspace
 * or into the store's state folder, and a target that is a folder or a symlink.
 */
export async function resolveInWorkspace(wsReal: string, rel: string, forbidden: readonly string[]): Promise<ResolvedPath> {
  checkRelativePath(rel);
  const segs = rel.split('/');
  const missingDirs: string[] = [];
  let fileParent: string | undefined;
  // Whether a parent below the workspace root is a symlink; when none is, the parent's real path is known.
  let viaSymlink = false;
  for (let i = 1; i < segs.length; i++) {
    const relDir = segs.slice(0, i).join('/');
    const absDir = join(wsReal, ...segs.slice(0, i));
    if (missingDirs.length > 0) {
      missingDirs.push(relDir);
      continue;
    }
    const st = lstatOrNullSync(absDir);
    if (!st) {
      missingDirs.push(relDir);
      continue;
    }
    if (st.isSymbolicLink()) {
      viaSymlink = true;
      let real: string | null;
      try {
        real = fsSync.realpathSync.native(absDir);
      } catch {
        real = null;
      }
      if (real === null || !isInside(wsReal, real)) {
        throw new SnapshotError('unsafe-path', `The folder ${relDir} is a symlink that leads outside the workspace; ${rel} is not written.`, { paths: [rel] });
      }
      const target = fsSync.statSync(real);
      if (!target.isDirectory()) {
        fileParent = relDir;
        missingDirs.push(relDir);
      } else {
        checkNotForbidden(real, rel, forbidden);
      }
      continue;
    }
    if (!st.isDirectory()) {
      fileParent = relDir;
      missingDirs.push(relDir);
    }
  }
  const abs = join(wsReal, ...segs);
  if (missingDirs.length === 0) {
    // The deepest existing parent, resolved, must not be (inside) the state folder. Every parent was just seen to
    // be a real folder unless one was a symlink: only then does resolving it take the file system's realpath.
    const parentReal = viaSymlink ? fsSync.realpathSync.native(join(abs, '..')) : join(abs, '..');
    if (!isInside(wsReal, parentReal)) throw new SnapshotError('unsafe-path', `${rel} resolves outside the workspace.`, { paths: [rel] });
    checkNotForbidden(join(parentReal, segs[segs.length - 1]!), rel, forbidden);
  } else {
    checkNotForbidden(abs, rel, forbidden);
  }
  return fileParent === undefined ? { rel, abs, missingDirs } : { rel, abs, missingDirs, fileParent };
}

function checkNotForbidden(absReal: string, rel: string, forbidden: readonly string[]): void {
  for (const f of forbidden) {
    if (isInside(f, absReal)) throw new SnapshotError('unsafe-path', `${rel} is inside Airlock's own state folder, which is never written by an apply.`, { paths: [rel] });
  }
}

/** lstat, or null when nothing is there. Done directly (a metadata call costs microseconds; the thread pool more). */
export async function lstatOrNull(p: string): Promise<Stats | null> {
  return lstatOrNullSync(p);
}

export function lstatOrNullSync(p: string): Stats | null {
  try {
    return fsSync.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** The current state of a workspace file (hash streamed, never a large file in memory), or null when absent. */
export async function readFileState(abs: string, rel: string): Promise<FileState | null> {
  const st = lstatOrNullSync(abs);
  if (!st) return null;
  if (!st.isFile()) {
    throw new SnapshotError('unsupported-file', `${rel} is ${st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}; only regular files are snapshotted.`, { paths: [rel] });
  }
  const { hash, size } = await hashFile(abs, st.size);
  return { hash, size, mode: st.mode & 0o7777 };
}
