// Writing the audit database out for a lazy writer (one that keeps no database in memory), from the database file
// and the journal segments: load, fold the segments in, export, write. At a million events that is seconds of
// work and hundreds of MB, so a lazy writer runs it on a worker thread (auditWriteOutWorker.ts) while its appends go
// on; the thread that appends only rotates the journal, under the lock, before handing over. The worker is kept
// between write-outs while events keep coming, and so is the database it wrote: the writer hands it each batch of
// events once durable, which the worker folds in meanwhile (on another core), so a write-out is left with little
// more than the export and the file write.
//
// Nothing here needs the writer lock: the events up to `upTo` are already in the database or in rotated
// segments, which are never rewritten (only compressed, which readSegment follows), and the database file is
// replaced by a rename. Two write-outs racing each write a database that is a whole prefix of the chain; open and
// the next write-out take the rest from the segments.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AuditDatabase, DATABASE_FILE, foldFacts, searchBits, type FoldFacts, type FoldRecord } from './auditDatabase';
import { AuditError, type AuditErrorReason } from './auditError';
import { collectAfter, readAll, splitRecordLines, writeFileAtomic, type StoredEvent } from './auditJournal';
import { addBits } from './textIndex';

export interface WriteOutJob {
  readonly stateDir: string;
  /** The last event the rotated segments hold: the database written covers at least this far. */
  readonly upTo: number;
}

/**
 * Events made durable by the writer, for the database the worker keeps (see feedDatabase): the journal lines they
 * were written as (UTF-8), and what the database takes from them worked out by the writer, which has them as objects
 * (the worker then never parses them).
 */
export interface WriteOutFeed {
  readonly stateDir: string;
  readonly lines: Uint8Array;
  /** The events' FoldFacts in order, as JSON. */
  readonly facts: string;
  /** Their text search bits, per block (searchBits). */
  readonly bits: ReadonlyArray<readonly [number, Uint8Array]>;
  /** How many events the lines hold (the worker acknowledges them by this count), and the first one's seq. */
  readonly events: number;
  readonly firstSeq: number;
}

export type WriteOutMessage = { readonly kind: 'job'; readonly job: WriteOutJob } | ({ readonly kind: 'feed' } & WriteOutFeed);

export interface WriteOutResult {
  /** The last event in the database now on disk (beyond `upTo` when another writer got there first). */
  readonly lastSeq: number;
}

export type WriteOutReply =
  | { readonly ok: true; readonly result: WriteOutResult }
  | { readonly ok: false; readonly message: string; readonly reason?: AuditErrorReason }
  /** A feed message handled (taken or not): its events no longer wait in the worker's queue. */
  | { readonly fed: number };

/** How many times the segments are listed again when a concurrent rotation or compression hid some events. */
const READ_ATTEMPTS = 3;

/** Fed events wait until this many have come, or FEED_DELAY_MS have passed, to go into the database together. */
const FEED_BATCH = 2_000;
const FEED_DELAY_MS = 250;

/**
 * The database a write-out left in this thread's memory, with the identity of the file it wrote and the events fed
 * to it since. The next write-out of the same folder starts from it instead of reading, loading and checking the
 * file again, as long as the file on disk is still that one (same inode, size and time: writers only ever replace
 * it by a rename, so anything else, another writer's write-out included, means reload). It costs about the size of
 * the database in memory, less than a write-out needs at its peak (the file and its export side by side).
 */
let kept: Kept | undefined;

interface Kept {
  readonly dbPath: string;
  readonly db: AuditDatabase;
  readonly file: FileIdentity;
  /** The last event in the file on disk (the database may hold more: events fed since). */
  readonly fileSeq: number;
  /** Fed events not yet in the database, contiguous after its last one, and their search bits. */
  fed: FoldRecord[];
  fedBits: Map<number, Uint8Array>;
  timer?: NodeJS.Timeout;
}

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

// Whole milliseconds, rounded as Node's `Stats.mtime` rounds them: a time set back from that date compares equal.
const identity = (st: fs.Stats): FileIdentity => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeMs: Math.round(st.mtimeMs) });

const sameIdentity = (a: FileIdentity, b: FileIdentity) => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

function sameFile(a: FileIdentity, path: string): boolean {
  try {
    return sameIdentity(a, identity(fs.statSync(path)));
  } catch {
    return false;
  }
}

/**
 * The database to fold into, with the identity of the file it is (the file's when read, through the same open file):
 * the one kept from the last write-out when the file is still that one, else the file.
 */
async function databaseFor(dbPath: string): Promise<{ db: AuditDatabase; file: FileIdentity | undefined; fileSeq: number }> {
  const k = kept;
  kept = undefined;
  if (k?.timer) clearTimeout(k.timer);
  if (k && k.dbPath === dbPath && sameFile(k.file, dbPath)) {
    // Fed events that fail to go in (the database is then closed) are read from the segments like the rest.
    if (insertFed(k)) return k;
  } else k?.db.close();
  const loaded = await loadFile(dbPath);
  // A damaged database is not repaired here: the caller falls back to the writer's own path, which rebuilds it.
  const db = loaded?.db ?? (await AuditDatabase.create());
  return { db, file: loaded?.file, fileSeq: db.maxSeq };
}

const MB = 1024 * 1024;
const ROOM_MIN = 16 * MB;
/**
 * Up to this size, a kept database is loaded again with new room when little is left (makeRoom); a larger one is
 * loaded with room only when first read, then grows as sql.js grows it. Loading costs the file and sql.js's copy
 * of it side by side: for a large database, more memory at once than growing does.
 */
const RELOAD_MAX = 256 * MB;
/**
 * Room to grow into after a database loaded here (see AuditDatabase.fromBytes): half its size (within bounds), a
 * third for a large one — what the events up to the next write-out take (a write-out every quarter of the log, and
 * the events that came before it started), so that sql.js does not copy the whole file to grow it once more (at a
 * million events that copy alone held ~400 MB more at its peak than the larger room does).
 */
const roomFor = (size: number) => Math.min(256 * MB, Math.max(ROOM_MIN, Math.ceil(size / (size > RELOAD_MAX ? 3 : 2))));

/** The database file with the identity it had when read (through the same open file); undefined when there is none. */
async function loadFile(dbPath: string): Promise<{ db: AuditDatabase; file: FileIdentity } | undefined> {
  let bytes: Uint8Array;
  let file: FileIdentity;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dbPath, 'r');
    file = identity(fs.fstatSync(fd));
    // Zeros after the file (a new array is zeroed): the room.
    bytes = new Uint8Array(file.size + roomFor(file.size));
    if (readAll(fd, Buffer.from(bytes.buffer, 0, file.size), 0, dbPath).length < file.size) {
      throw new AuditError('io-error', `${dbPath} got shorter while it was read.`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return { db: await AuditDatabase.fromBytes(bytes, dbPath, { fileSize: file.size }), file };
}

/**
 * Loads the kept database again from its file (which it equals, having just been written out), with new room, when
 * less is left than the events up to the next write-out will take (a quarter of the log): cheaper than letting sql.js
 * grow its copy 12.5% at a time. If that fails, nothing is kept: the next write-out loads the file.
 */
export async function makeRoom(): Promise<void> {
  const k = kept;
  if (!k || k.fed.length > 0 || k.db.maxSeq !== k.fileSeq) return;
  const size = k.db.sizeBytes();
  if (size > RELOAD_MAX || k.db.spareBytes() >= Math.max(ROOM_MIN / 2, size / 4)) return;
  kept = undefined;
  k.db.close();
  try {
    const loaded = await loadFile(k.dbPath);
    if (!loaded) return;
    if (sameIdentity(loaded.file, k.file) && loaded.db.maxSeq === k.fileSeq) kept = { ...k, db: loaded.db, fed: [], fedBits: new Map() };
    else loaded.db.close();
  } catch {
    // left to the next write-out
  }
}

/** Puts the kept database's fed events in; false (the database closed, and no longer kept) if that failed. */
function insertFed(k: Kept): boolean {
  if (k.timer) clearTimeout(k.timer);
  k.timer = undefined;
  const fed = k.fed;
  const bits = k.fedBits;
  k.fed = [];
  k.fedBits = new Map();
  if (fed.length === 0) return true;
  try {
    k.db.insertFolded(fed, bits);
    return true;
  } catch {
    if (kept === k) kept = undefined;
    k.db.close();
    return false;
  }
}

/**
 * Takes events the writer made durable into the database kept from its last write-out (the next write-out then
 * has them already). Only events that continue the database exactly are taken; anything else (events another
 * writer appended in between, a database no longer kept) is left to the write-out, which reads the segments.
 */
export function feedDatabase(feed: WriteOutFeed): void {
  const k = kept;
  if (!k || k.dbPath !== join(feed.stateDir, DATABASE_FILE)) return;
  const next = k.db.maxSeq + k.fed.length + 1;
  // After a gap (events not handed over) nothing more can be taken.
  if (feed.firstSeq > next || feed.firstSeq + feed.events <= next) return;
  const lines = splitRecordLines(Buffer.from(feed.lines.buffer, feed.lines.byteOffset, feed.lines.byteLength), feed.events);
  const facts = JSON.parse(feed.facts) as FoldFacts[];
  if (!lines || facts.length !== feed.events) return;
  for (let i = next - feed.firstSeq; i < lines.length; i++) k.fed.push({ seq: feed.firstSeq + i, hash: lines[i]!.hash, body: lines[i]!.body, facts: facts[i]! });
  for (const [block, b] of feed.bits) {
    const into = k.fedBits.get(block);
    if (!into) k.fedBits.set(block, b);
    else addBits(into, b);
  }
  if (k.fed.length >= FEED_BATCH) insertFed(k);
  else if (k.fed.length > 0 && !k.timer) {
    k.timer = setTimeout(() => insertFed(k), FEED_DELAY_MS);
    k.timer.unref();
  }
}

/**
 * Folds the rotated segments up to `job.upTo` into the database file. With `keep`, the database stays in memory for
 * the next write-out of the same folder, and takes the events fed to it meanwhile (feedDatabase).
 */
export async function writeOutDatabase(job: WriteOutJob, options: { keep?: boolean } = {}): Promise<WriteOutResult> {
  const dbPath = join(job.stateDir, DATABASE_FILE);
  const loaded = await databaseFor(dbPath);
  const db = loaded.db;
  let file = loaded.file;
  let fileSeq = loaded.fileSeq;
  let ok = false;
  try {
    const from = db.maxSeq;
    for (let attempt = 1; from < job.upTo; attempt++) {
      const { records } = collectAfter(job.stateDir, from, undefined, job.upTo);
      if (records.length === job.upTo - from && records.every((r, i) => r.seq === from + 1 + i)) {
        for (let i = 0; i < records.length; i += 10_000) db.insert(records.slice(i, i + 10_000));
        break;
      }
      if (attempt >= READ_ATTEMPTS) {
        throw new AuditError('io-error', `Events #${from + 1}–#${job.upTo} could not all be read from the journal segments (${records.length} of ${job.upTo - from} found).`);
      }
    }
    // Nothing to write when the file already holds everything (another writer wrote it out first).
    if (db.maxSeq > fileSeq) {
      file = identity(await writeFileAtomic(dbPath, db.export({ seq: db.maxSeq, hash: db.get(db.maxSeq)!.hash })));
      fileSeq = db.maxSeq;
    }
    ok = true;
    return { lastSeq: db.maxSeq };
  } finally {
    // Kept only when it is known to equal the file on disk; after a failure nothing is trusted.
    if (options.keep && ok && file) kept = { dbPath, db, file, fileSeq, fed: [], fedBits: new Map() };
    else db.close();
  }
}

/**
 * Above this many events, a kept database (hundreds of MB) is let go after LARGE_IDLE_MS without events rather than
 * the usual idle time: it pays only while events come fast, its next write-out being a quarter of the log away.
 */
const LARGE_LOG_EVENTS = 100_000;
const LARGE_IDLE_MS = 2_000;

/**
 * Events handed to the worker and not yet handled, beyond which the writer stops handing it more (they are read
 * from the segments at the next write-out instead): a worker slower than the appends must not pile up memory.
 */
export const FEED_BACKLOG_MAX = 50_000;

/**
 * Runs writeOutDatabase on a worker thread, one job at a time. The worker (and the database it keeps) stays until
 * no job and no events have come for `idleMs` (LARGE_IDLE_MS for a large log): starting a thread and loading the
 * database cost 0.1 s to seconds each time, and events fed to it meanwhile are folded in before the next write-out
 * asks. Rejects with an AuditError (its reason kept) when the write-out failed, and with a plain Error when the
 * worker itself could not run; either way nothing on disk was replaced.
 */
export class WriteOutThread {
  private worker: Worker | undefined;
  private waiting: { resolve: (r: WriteOutResult) => void; reject: (e: Error) => void } | undefined;
  private idle: NodeJS.Timeout | undefined;
  /** Events fed to the worker that it has not acknowledged yet. */
  private backlog = 0;

  constructor(
    private readonly workerFile = join(__dirname, 'auditWriteOutWorker.js'),
    private readonly idleMs = 15_000,
    private readonly backlogMax = FEED_BACKLOG_MAX,
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
    worker.postMessage({ kind: 'job', job } satisfies WriteOutMessage);
    return done.then(
      (r) => {
        this.rest(r.lastSeq > LARGE_LOG_EVENTS ? Math.min(this.idleMs, LARGE_IDLE_MS) : this.idleMs);
        return r;
      },
      (e: unknown) => {
        this.stop();
        throw e;
      },
    );
  }

  /**
   * Hands events just made durable (`records`, as the journal lines `chunks` they were written as) to the worker, for
   * the database it keeps, with what the database takes from them (nothing when no worker runs, or while it is
   * FEED_BACKLOG_MAX events behind: the next write-out reads them from the segments). Events keep a worker from being
   * stopped as idle. Returns whether they were handed over.
   */
  feed(stateDir: string, chunks: readonly Uint8Array[], records: readonly StoredEvent[]): boolean {
    const worker = this.worker;
    const events = records.length;
    if (!worker || events === 0 || this.backlog + events > this.backlogMax) return false;
    this.backlog += events;
    // One buffer of its own, moved to the worker rather than copied again.
    const lines = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      lines.set(c, at);
      at += c.length;
    }
    const facts = JSON.stringify(records.map((r) => foldFacts(r.event)));
    const bits = [...searchBits(records)];
    worker.postMessage({ kind: 'feed', stateDir, lines, facts, bits, events, firstSeq: records[0]!.seq } satisfies WriteOutMessage, [lines.buffer, ...bits.map(([, b]) => b.buffer as ArrayBuffer)]);
    this.idle?.refresh();
    return true;
  }

  /** Ends the worker (a job under way is rejected). */
  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const w = this.worker;
    this.worker = undefined;
    this.backlog = 0;
    if (w) void w.terminate();
  }

  private start(): Worker {
    const worker = new Worker(this.workerFile);
    worker.on('message', (m: WriteOutReply) => {
      if ('fed' in m) {
        if (this.worker === worker) this.backlog = Math.max(0, this.backlog - m.fed);
        return;
      }
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) return;
      if (m.ok) w.resolve(m.result);
      else w.reject(m.reason ? new AuditError(m.reason, m.message) : new Error(m.message));
    });
    const gone = (why: string) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.backlog = 0;
      }
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error(why));
    };
    worker.on('error', (e) => gone(`The audit write-out worker failed (${e.message}).`));
    worker.on('exit', (code) => gone(`The audit write-out worker stopped before answering (exit code ${code}).`));
    this.worker = worker;
    return worker;
  }

  /** After a job: an idle worker must not keep the process alive; it ends after `ms` without work. */
  private rest(ms: number): void {
    if (!this.worker) return;
    this.worker.unref();
    this.idle = setTimeout(() => this.stop(), ms);
    this.idle.unref();
  }
}
