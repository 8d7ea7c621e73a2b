// Who holds a lock file, for the audit writer lock and the snapshot store lock alike: pid, host and boot id, so a
// lock whose owner died is recognised at once (a crash never blocks the recovery that has to clean up after it).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
