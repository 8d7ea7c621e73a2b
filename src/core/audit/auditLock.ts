// The writer lock of one audit log, shared by every process that appends to it (two editor windows, the CLI
// beside the extension). A writer keeps it while it is busy appending and hands it over as soon as another
// process says it is waiting (AuditLog decides when), so writers take turns rather than shut each other out.
// The lock file names its owner (pid, host, boot); a lock whose owner has died is taken over at once, so a
// crash never blocks the next writer. A holder refreshes the file's time while it holds it (`refresh`), so a
// long hold is not mistaken for a lock left behind by a reused pid.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AuditError, auditIoError } from './auditError';
import { lockFileOlderThan as olderThan, lockOwnerAlive, newLockOwner, readLockOwner, removeOwnLockFile, type LockOwner } from '../lockOwner';

/** A lock unrefreshed for this long is taken over even if its pid looks alive (the pid was reused after a crash). */
const HELD_TOO_LONG_MS = 60_000;
/** How often a holder must `refresh` the lock to stay well clear of HELD_TOO_LONG_MS. */
export const LOCK_REFRESH_MS = 10_000;
/** An empty lock file (created, not yet written) older than this was left by a process that died in between. */
const UNWRITTEN_STALE_MS = 5_000;
const STEAL_GUARD_STALE_MS = 10_000;
const WAIT_MARK = '.wait-';

export class AuditWriterLock {
  private token: string | undefined;
  /** The token of our own lock file that `release` could not remove (the folder stopped being writable). */
  private leftover: string | undefined;

  constructor(
    readonly path: string,
    private readonly timeoutMs = 30_000,
  ) {}

  get held(): boolean {
    return this.token !== undefined;
  }

  async acquire(): Promise<void> {
    if (this.token) throw new Error('AuditWriterLock.acquire while already held');
    this.removeLeftover();
    const deadline = Date.now() + this.timeoutMs;
    let delay = 1;
    let waitFile: string | undefined;
    try {
      for (;;) {
        const got = this.tryAcquire();
        if (got === true) return;
        if (got === 'retry') continue;
        if (Date.now() > deadline) {
          const who = typeof got === 'object' ? `process ${got.pid} on ${got.host}` : 'another process';
          throw new AuditError('locked', `The audit log is busy: ${who} has held ${this.path} for more than ${Math.round(this.timeoutMs / 1000)} s. If no Airlock is running, delete that file and try again.`);
        }
        // Say that we are waiting, so a busy holder leaves a gap between its batches (see othersWaiting).
        waitFile ??= this.announceWaiting();
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 4);
      }
    } finally {
      if (waitFile) fs.rmSync(waitFile, { force: true });
    }
  }

  private announceWaiting(): string {
    const file = `${this.path}${WAIT_MARK}${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      fs.writeFileSync(file, '');
    } catch {
      // Best effort: without it we still get the lock, only later.
    }
    return file;
  }

  /**
   * Whether another writer (another process, or another log opened on the same folder in this one) is waiting
   * for the lock: a holder should hand it over.
   */
  othersWaiting(): boolean {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}${WAIT_MARK}`;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return false;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number(name.slice(prefix.length).split('-')[0]);
      // A live waiter of this very process is another log on the same folder: it waits for us all the same.
      if (pid === process.pid) return true;
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPERM') return true;
        fs.rmSync(join(dir, name), { force: true });
      }
    }
    return false;
  }

  /** true when taken; 'retry' when a stale lock was removed; otherwise who holds it. */
  private tryAcquire(): true | 'retry' | LockOwner | 'unknown' {
    const me = newLockOwner();
    try {
      fs.writeFileSync(this.path, JSON.stringify(me), { flag: 'wx' });
      this.token = me.token;
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw auditIoError(e, 'locking', this.path);
    }
    const owner = readOwner(this.path);
    if (owner === 'gone') return 'retry';
    const stale = owner === 'unreadable' ? olderThan(this.path, UNWRITTEN_STALE_MS) : !lockOwnerAlive(owner) || olderThan(this.path, HELD_TOO_LONG_MS);
    if (stale && steal(this.path, owner === 'unreadable' ? undefined : owner.token)) return 'retry';
    return owner === 'unreadable' ? 'unknown' : owner;
  }

  /**
   * Checks that the lock file still names this holder and renews its time (a lock unrefreshed for a minute may
   * be taken over). False when the lock was lost (taken over after this process stalled, or deleted by hand):
   * it is then no longer held, and the caller must acquire it again and catch up before writing.
   */
  refresh(): boolean {
    const token = this.token;
    if (!token) return false;
    let owner: LockOwner | 'gone' | 'unreadable';
    try {
      owner = readOwner(this.path);
    } catch {
      owner = 'unreadable';
    }
    if (typeof owner !== 'object' || owner.token !== token) {
      this.token = undefined;
      return false;
    }
    try {
      const now = new Date();
      fs.utimesSync(this.path, now, now);
    } catch {
      // The check above is what matters; a failed touch only shortens how long the hold looks fresh.
    }
    return true;
  }

  /** Lets go of the lock; when not held, removes a lock file an earlier release could not, if it can now. */
  release(): void {
    const token = this.token ?? this.leftover;
    if (!token) return;
    this.token = undefined;
    try {
      removeOwnLockFile(this.path, token);
      this.leftover = undefined;
    } catch {
      // The folder was made read-only while we held the lock: the file names this live process, which every
      // writer, this one included, would wait out. The next take retries and says why it cannot.
      this.leftover = token;
    }
  }

  /**
   * Removes the lock file an earlier `release` could not, or says why it still cannot: waiting for a lock that
   * names ourselves would only end in a misleading "busy" after the timeout.
   */
  private removeLeftover(): void {
    if (!this.leftover) return;
    try {
      removeOwnLockFile(this.path, this.leftover);
    } catch (e) {
      throw auditIoError(e, 'unlocking', this.path);
    }
    this.leftover = undefined;
  }
}

function readOwner(path: string): LockOwner | 'gone' | 'unreadable' {
  try {
    return readLockOwner(path);
  } catch (e) {
    throw auditIoError(e, 'reading', path);
  }
}

/** Removes a dead owner's lock. The guard folder keeps two stealers from removing each other's fresh lock. */
function steal(path: string, staleToken: string | undefined): boolean {
  const guard = `${path}.steal`;
  try {
    fs.mkdirSync(guard);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw auditIoError(e, 'locking', guard);
    // Another process is stealing right now (or died doing so, long ago): wait for it, or clear its guard.
    if (!olderThan(guard, STEAL_GUARD_STALE_MS)) return false;
    fs.rmSync(guard, { recursive: true, force: true });
    return true;
  }
  try {
    const owner = readOwner(path);
    const same = staleToken === undefined ? owner === 'unreadable' : typeof owner === 'object' && owner.token === staleToken;
    if (same) fs.rmSync(path, { force: true });
    return true;
  } finally {
    fs.rmSync(guard, { recursive: true, force: true });
  }
}
