// One writer at a time per snapshot store, across processes (the editor and the CLI may share a state folder).
// A lock file names its owner's pid and boot; a lock whose owner is gone is taken over at once, so a crashed
// process never blocks the recovery that has to clean up after it. The file operations are done directly: each
// takes microseconds, less than a trip through the thread pool.
import * as fs from 'node:fs';
import { unlinkFile } from './atomicWrite';
import { SnapshotError, snapshotErrorFromFs } from './snapshotError';
import { lockFileOlderThan as olderThan, lockOwnerAlive, newLockOwner, readLockOwner as readOwner, removeOwnLockFile } from '../lockOwner';


const STEAL_GUARD_STALE_MS = 10_000;
/** In-process queue per lock file: two stores in one process wait for each other here, not on the pid check. */
const inProcess = new Map<string, Promise<unknown>>();
/**
 * Lock files this process could not remove when it let go (the state folder stopped being writable meanwhile),
 * by path, with the token they hold. Such a file names this live process: waiting for it would wait for ourselves.
 */
const leftovers = new Map<string, string>();


/** Runs `fn` holding the lock at `lockPath`. */
export async function withStoreLock<T>(lockPath: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const prev = inProcess.get(lockPath) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const token = await acquire(lockPath, timeoutMs);
    try {
      return await fn();
    } finally {
      await release(lockPath, token);
    }
  });
  const tail = run.catch(() => undefined);
  inProcess.set(lockPath, tail);
  void tail.then(() => {
    if (inProcess.get(lockPath) === tail) inProcess.delete(lockPath);
  });
  return run;
}

async function acquire(lockPath: string, timeoutMs: number): Promise<string> {
  removeLeftover(lockPath);
  const me = newLockOwner();
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      fs.writeFileSync(lockPath, JSON.stringify(me), { flag: 'wx' });
      return me.token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(lockPath);
    if (owner === 'gone') continue;
    if (owner === 'unreadable' ? olderThan(lockPath, 5_000) : !lockOwnerAlive(owner)) {
      await steal(lockPath, owner === 'unreadable' ? undefined : owner.token);
      continue;
    }
    if (Date.now() > deadline) {
      const who = owner === 'unreadable' ? 'another process' : `process ${owner.pid}`;
      throw new SnapshotError('locked', `The snapshot store is busy (${who} holds ${lockPath}). Try again when it has finished.`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** Never throws: the operation it ends has succeeded or failed on its own; a lock it cannot remove is kept in mind. */
async function release(lockPath: string, token: string): Promise<void> {
  try {
    removeOwnLockFile(lockPath, token);
  } catch {
    leftovers.set(lockPath, token);
  }
}

/** Removes our own lock file an earlier release could not, or says why it still cannot. */
function removeLeftover(lockPath: string): void {
  const token = leftovers.get(lockPath);
  if (token === undefined) return;
  try {
    removeOwnLockFile(lockPath, token);
  } catch (err) {
    throw snapshotErrorFromFs(err, 'Could not remove the snapshot store\'s lock', lockPath);
  }
  leftovers.delete(lockPath);
}

/** Removes a dead owner's lock. A guard folder makes sure two stealers cannot remove each other's fresh lock. */
async function steal(lockPath: string, staleToken: string | undefined): Promise<void> {
  const guard = `${lockPath}.steal`;
  try {
    fs.mkdirSync(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (olderThan(guard, STEAL_GUARD_STALE_MS)) fs.rmSync(guard, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, 10));
    return;
  }
  try {
    const owner = readOwner(lockPath);
    const same = staleToken === undefined ? owner === 'unreadable' : typeof owner === 'object' && owner.token === staleToken;
    if (same) unlinkFile(lockPath);
  } finally {
    fs.rmSync(guard, { recursive: true, force: true });
  }
}
