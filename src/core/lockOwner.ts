// Who holds a lock file, for the audit writer lock and the snapshot store lock alike: pid, host and boot id, so a
// lock whose owner died is recognised at once (a crash never blocks the recovery that has to clean up after it);
// and the file operations both locks share. File-system errors are thrown as they come: each lock names them in
// its own error type.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly boot: string;
  readonly token: string;
}

let bootId: string | undefined;
function currentBoot(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = '';
    }
  }
  return bootId;
}

/** This process as a lock owner, with a fresh token. */
export function newLockOwner(): LockOwner {
  return { pid: process.pid, host: hostname(), boot: currentBoot(), token: randomBytes(8).toString('hex') };
}

/** The owner a lock file names, or 'unreadable' when it was created but not yet written, or is damaged. */
export function parseLockOwner(text: string): LockOwner | 'unreadable' {
  try {
    const o = JSON.parse(text) as LockOwner;
    return typeof o.pid === 'number' && typeof o.token === 'string' ? o : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** False only when the owner is certainly gone; a lock from another machine (a shared folder) counts as alive. */
export function lockOwnerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.boot !== currentBoot()) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner the lock file at `path` names; 'gone' when there is no file. */
export function readLockOwner(path: string): LockOwner | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  return parseLockOwner(text);
}

/** Whether the file at `path` was last modified more than `ms` ago (false when it cannot be read). */
export function lockFileOlderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

/** Deletes the lock file at `path` if it still names `token` (a missing file is fine). */
export function removeOwnLockFile(path: string, token: string): void {
  const owner = readLockOwner(path);
  if (typeof owner !== 'object' || owner.token !== token) return;
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
