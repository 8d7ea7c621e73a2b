// Writing the audit database out for a lazy writer (one that keeps no database in memory), from the database file
// and the journal segments: load, fold the segments in, export, write. At a million events that is seconds of
// work and hundreds of MB, so a lazy writer runs it on a worker thread (auditWriteOutWorker.ts) while its appends go
// on; the thread that appends only rotates the journal, under the lock, before handing over.
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
  /** False when the database on disk already covered `upTo` (another writer got there first). */
  readonly written: boolean;
  /** The last event in the database now on disk. */
  readonly lastSeq: number;
}

export type WriteOutReply = { readonly ok: true; readonly result: WriteOutResult } | { readonly ok: false; readonly message: string; readonly reason?: AuditErrorReason };

/** How many times the segments are listed again when a concurrent rotation or compression hid some events. */
const READ_ATTEMPTS = 3;

export async function writeOutDatabase(job: WriteOutJob): Promise<WriteOutResult> {
  const dbPath = join(job.stateDir, DATABASE_FILE);
  let bytes: Buffer | undefined;
  try {
    bytes = fs.readFileSync(dbPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // A damaged database is not repaired here: the caller falls back to the writer's own path, which rebuilds it.
  const db = bytes ? await AuditDatabase.fromBytes(bytes, dbPath) : await AuditDatabase.create();
  try {
    const from = db.maxSeq;
    if (from >= job.upTo) return { written: false, lastSeq: from };
    for (let attempt = 1; ; attempt++) {
      const { records } = collectAfter(job.stateDir, from, undefined, job.upTo);
      const whole = records.length === job.upTo - from && records.every((r, i) => r.seq === from + 1 + i);
      if (whole) {
        for (let i = 0; i < records.length; i += 10_000) db.insert(records.slice(i, i + 10_000));
        const last = records[records.length - 1]!;
        await writeFileAtomic(dbPath, db.export({ seq: last.seq, hash: last.hash }));
        return { written: true, lastSeq: last.seq };
      }
      if (attempt >= READ_ATTEMPTS) {
        throw new AuditError('io-error', `Events #${from + 1}–#${job.upTo} could not all be read from the journal segments (${records.length} of ${job.upTo - from} found).`);
      }
    }
  } finally {
    db.close();
  }
}

/**
 * Runs writeOutDatabase on a worker thread. Rejects with an AuditError (its reason kept) when the write-out
 * failed, and with a plain Error when the worker itself could not run; either way nothing on disk was replaced.
 */
export function writeOutInWorker(job: WriteOutJob, workerFile = join(__dirname, 'auditWriteOutWorker.js')): Promise<WriteOutResult> {
  return new Promise<WriteOutResult>((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(workerFile, { workerData: job });
    } catch (e) {
      reject(new Error(`The audit write-out worker could not start (${(e as Error).message}).`));
      return;
    }
    let answered = false;
    worker.once('message', (m: WriteOutReply) => {
      answered = true;
      if (m.ok) resolve(m.result);
      else reject(m.reason ? new AuditError(m.reason, m.message) : new Error(m.message));
    });
    worker.once('error', (e) => {
      if (!answered) reject(new Error(`The audit write-out worker failed (${e.message}).`));
      answered = true;
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`The audit write-out worker stopped before answering (exit code ${code}).`));
    });
  });
}
