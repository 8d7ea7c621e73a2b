// Writing the audit database out for a lazy writer (one that keeps no database in memory), from the database file
// and the journal segments: load, fold the segments in, export, write. At a million events that is seconds of
// work and hundreds of MB, so a lazy writer runs it on a worker thread (auditWriteOutWorker.ts) while its appends go
// on; the thread that appends only rotates the journal, under the lock, before handing over. The worker of a small
// log is kept between write-outs, and so is the database it wrote: the next write-out folds into it directly.
//
// Nothing here needs the writer lock: the events up to `upTo` are already in the database or in rotated
// segments, which are never rewritten (only compressed, which readSegment follows), and the database file is
// replaced by a rename. Two write-outs racing each write a database that is a whole prefix of the chain; open and
// the next write-out take the rest from the segments.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AuditDatabase, DATABASE_FILE } from './auditDatabase';
import { AuditError, type AuditErrorReason } from './auditError';
import { collectAfter, writeFileAtomic } from './auditJournal';

export interface WriteOutJob {
  readonly stateDir: string;
  /** The last event the rotated segments hold: the database written covers at least this far. */
  readonly upTo: number;
}

export interface WriteOutResult {
  /** The last event in the database now on disk (beyond `upTo` when another writer got there first). */
  readonly lastSeq: number;
}

export type WriteOutReply = { readonly ok: true; readonly result: WriteOutResult } | { readonly ok: false; readonly message: string; readonly reason?: AuditErrorReason };

/** How many times the segments are listed again when a concurrent rotation or compression hid some events. */
const READ_ATTEMPTS = 3;

/**
 * A worker (and the database it wrote) kept after a write-out of a database up to this size (sql.js's heap never
 * shrinks: it holds the largest).
 */
const KEEP_WORKER_MAX_EVENTS = 100_000;

/**
 * The database a write-out left in this thread's memory (small logs only, see KEEP_WORKER_MAX_EVENTS), with the
 * identity of the file it wrote. The next write-out of the same folder starts from it instead of reading, loading
 * and checking the file again, as long as the file on disk is still that one (same inode, size and time: writers
 * only ever replace it by a rename, so anything else, another writer's write-out included, means reload).
 */
let kept: { readonly dbPath: string; readonly db: AuditDatabase; readonly file: FileIdentity } | undefined;

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

// Whole milliseconds, rounded as Node's `Stats.mtime` rounds them: a time set back from that date compares equal.
const identity = (st: fs.Stats): FileIdentity => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeMs: Math.round(st.mtimeMs) });

function sameFile(a: FileIdentity, path: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return false;
  }
  const b = identity(st);
  return b.dev === a.dev && b.ino === a.ino && b.size === a.size && b.mtimeMs === a.mtimeMs;
}

/**
 * The database to fold into, with the identity of the file it is (the file's when read, through the same open file):
 * the one kept from the last write-out when the file is still that one, else the file.
 */
async function databaseFor(dbPath: string): Promise<{ db: AuditDatabase; file: FileIdentity | undefined }> {
  const k = kept;
  kept = undefined;
  if (k && k.dbPath === dbPath && sameFile(k.file, dbPath)) return k;
  k?.db.close();
  let bytes: Buffer | undefined;
  let file: FileIdentity | undefined;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dbPath, 'r');
    file = identity(fs.fstatSync(fd));
    bytes = fs.readFileSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  // A damaged database is not repaired here: the caller falls back to the writer's own path, which rebuilds it.
  return { db: bytes ? await AuditDatabase.fromBytes(bytes, dbPath) : await AuditDatabase.create(), file };
}

/**
 * Folds the rotated segments up to `job.upTo` into the database file. With `keep`, a database of up to
 * KEEP_WORKER_MAX_EVENTS events stays in memory for the next write-out of the same folder.
 */
export async function writeOutDatabase(job: WriteOutJob, options: { keep?: boolean } = {}): Promise<WriteOutResult> {
  const dbPath = join(job.stateDir, DATABASE_FILE);
  const loaded = await databaseFor(dbPath);
  const db = loaded.db;
  let file = loaded.file;
  let ok = false;
  try {
    const from = db.maxSeq;
    if (from >= job.upTo) {
      ok = true;
      return { lastSeq: from };
    }
    for (let attempt = 1; ; attempt++) {
      const { records } = collectAfter(job.stateDir, from, undefined, job.upTo);
      const whole = records.length === job.upTo - from && records.every((r, i) => r.seq === from + 1 + i);
      if (whole) {
        for (let i = 0; i < records.length; i += 10_000) db.insert(records.slice(i, i + 10_000));
        const last = records[records.length - 1]!;
        file = identity(await writeFileAtomic(dbPath, db.export({ seq: last.seq, hash: last.hash })));
        ok = true;
        return { lastSeq: last.seq };
      }
      if (attempt >= READ_ATTEMPTS) {
        throw new AuditError('io-error', `Events #${from + 1}–#${job.upTo} could not all be read from the journal segments (${records.length} of ${job.upTo - from} found).`);
      }
    }
  } finally {
    // Kept only when it is known to equal the file on disk; after a failure nothing is trusted.
    if (options.keep && ok && file && db.maxSeq <= KEEP_WORKER_MAX_EVENTS) kept = { dbPath, db, file };
    else db.close();
  }
}

/**
 * Runs writeOutDatabase on a worker thread, one job at a time. The worker is kept for `idleMs` after a job on a
 * small log, whose write-outs come often (starting a thread and sql.js costs 0.1–0.2 s each time), and stopped at
 * once after a large one. Rejects with an AuditError (its reason kept) when the write-out failed, and with a plain
 * Error when the worker itself could not run; either way nothing on disk was replaced.
 */
export class WriteOutThread {
  private worker: Worker | undefined;
  private waiting: { resolve: (r: WriteOutResult) => void; reject: (e: Error) => void } | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly workerFile = join(__dirname, 'auditWriteOutWorker.js'),
    private readonly idleMs = 15_000,
  ) {}

  run(job: WriteOutJob): Promise<WriteOutResult> {
    if (this.waiting) return Promise.reject(new Error('a write-out is already under way'));
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (e) {
      return Promise.reject(new Error(`The audit write-out worker could not start (${(e as Error).message}).`));
    }
    worker.ref();
    const done = new Promise<WriteOutResult>((resolve, reject) => (this.waiting = { resolve, reject }));
    worker.postMessage(job);
    return done.then(
      (r) => {
        this.rest(r.lastSeq <= KEEP_WORKER_MAX_EVENTS);
        return r;
      },
      (e: unknown) => {
        this.rest(false);
        throw e;
      },
    );
  }

  /** Ends the worker (a job under way is rejected). */
  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const w = this.worker;
    this.worker = undefined;
    if (w) void w.terminate();
  }

  private start(): Worker {
    const worker = new Worker(this.workerFile);
    worker.on('message', (m: WriteOutReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) return;
      if (m.ok) w.resolve(m.result);
      else w.reject(m.reason ? new AuditError(m.reason, m.message) : new Error(m.message));
    });
    const gone = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error(why));
    };
    worker.on('error', (e) => gone(`The audit write-out worker failed (${e.message}).`));
    worker.on('exit', (code) => gone(`The audit write-out worker stopped before answering (exit code ${code}).`));
    this.worker = worker;
    return worker;
  }

  /** After a job: an idle worker must not keep the process alive; a kept one ends after `idleMs`. */
  private rest(keep: boolean): void {
    if (!keep || !this.worker) return this.stop();
    this.worker.unref();
    this.idle = setTimeout(() => this.stop(), this.idleMs);
    this.idle.unref();
  }
}
