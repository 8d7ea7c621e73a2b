// The audit log (DESIGN §4.4, §5): durable before `append` resolves, hash-chained, redacted before storage, and
// queryable at a million events. Appends go to a write-ahead journal (one write per batch, fdatasync'd in the
// background and group-committed: one sync covers everything written before it started) and are folded into a
// sql.js database, which is written out whole only now and then, so an append costs the same whatever the size
// of the log. See docs/audit.md for the layout, the durability levels and the why.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { AuditEventInput } from '../../protocol/auditEvent';
import type { AuditEvent } from '../../protocol/auditEvent';
import { AuditDatabase, DATABASE_FILE, knownSchemas, inspectDatabaseHeader, isCorruptionError, SCHEMA_VERSION, APPLICATION_ID } from './auditDatabase';
import { AuditError, auditIoError } from './auditError';
import {
  encodeRecordLine,
  JOURNAL_FILE,
  JOURNAL_VERSION,
  JournalFile,
  listSegments,
  nodeJournalIo,
  parseJournalBytes,
  peekJournalHeader,
  readJournalFile,
  readSegment,
  SEGMENTS_DIR,
  segmentName,
  syncDir,
  collectAfter,
  writeFileAtomic,
} from './auditJournal';
import type { ChainHead, JournalContents, JournalIo, StoredEvent } from './auditJournal';
import { AuditWriterLock, LOCK_REFRESH_MS } from './auditLock';
import type { AuditPage, AuditQuery, RunDetail, RunSummary, RunsQuery } from './auditQuery';
import type { AppendOptions, AuditSink } from './auditSink';
import { WriteOutThread } from './auditWriteOut';
import { checkEventFile } from './eventFileScan';
import { canonicalJson, chainHash, ChainVerifier, GENESIS_HASH } from './hashChain';
import type { VerifyResult } from './hashChain';
import { Redactor, wellFormed } from './redaction';

const gzipAsync = promisify(gzip);

export const LOCK_FILE = 'audit.lock';

/** Events per journal write at most; more in flight are taken by the next batch. */
const MAX_BATCH = 2048;
/** A writer keeps the lock between batches; it lets go after this long without appending. */
const IDLE_RELEASE_MS = 100;
/** While holding the lock: how often to look for a waiting writer, for idleness, and whether to refresh. */
const LOCK_TICK_MS = 20;
/** A batch written this long after the lock was last checked checks it first (this process may have stalled). */
const LOCK_RECHECK_MS = 5_000;
/** After handing the lock to a waiting writer, wait this long before taking it back. */
const YIELD_MS = 8;
/**
 * When nobody waits for the next fdatasync (only early appends were written since the last one), it starts this
 * much later, so a busy stream of reads shares one sync instead of paying one each. A durable append starts it
 * at once. At 2 ms a stream of reads made ~270 fdatasyncs a second here; at 20 ms ~45.
 */
const EARLY_SYNC_DELAY_MS = 20;
/** Committed events wait in memory at most this long (or this many) before they are inserted into the database. */
const DB_INSERT_DELAY_MS = 50;
const DB_INSERT_BATCH = 5000;
/** At close, a lazy writer writes a database smaller than this out in its own thread (no worker to start). */
const IN_THREAD_WRITE_OUT_BYTES = 16 * 1024 * 1024;

export interface AuditLogOptions {
  /** Extra redaction patterns (the policy's `redact.patterns`); ignored when `redactor` is given. */
  readonly redactPatterns?: readonly string[];
  readonly redactor?: Redactor;
  /** Open without the writer lock and without writing anything: for verify, query and export beside a writer. */
  readonly readOnly?: boolean;
  /** Load the database only when a query needs it (a writer that only appends never pays for it). */
  readonly lazy?: boolean;
  /**
   * When the database is written out (and the journal rotated): once the journal holds at least
   * max(minEvents, ratio × events already in the database). Geometric, so the cost per event stays constant.
   */
  readonly persist?: { readonly minEvents?: number; readonly ratio?: number; readonly onClose?: boolean };
  /** How long an append may wait for another process's writer lock. */
  readonly lockTimeoutMs?: number;
  /**
   * How long a writer keeps the lock while it appends nothing (100 ms), and how long it trusts that it still
   * holds it before checking the lock file again (5 s). For tests.
   */
  readonly lockHold?: { readonly idleMs?: number; readonly recheckMs?: number };
  /** The clock for event timestamps (tests). */
  readonly clock?: () => number;
  /** File operations (tests hold back or fail fdatasync with it). */
  readonly journalIo?: JournalIo;
  /** The write-out worker's script; by default `auditWriteOutWorker.js` beside this file (in the bundle: dist/). */
  readonly writeOutWorker?: string;
  /** Told about anything the user should know that is not an error (recovery, foreign writes that do not chain). */
  readonly onWarning?: (message: string) => void;
}

/** What opening the log found and repaired; `messages` are ready to show to a person. */
export interface RecoveryReport {
  /** Bytes of an unfinished last journal line dropped (a write cut short by a crash; never acknowledged). */
  readonly tornBytesDropped: number;
  /** Events read from the journal (and segments) into the database when it was loaded. */
  readonly replayed: number;
  /** Set when the database was damaged and rebuilt from what remained. */
  readonly rebuilt?: {
    readonly quarantinedAs?: string;
    readonly recovered: number;
    readonly fromDatabase: number;
    readonly fromJournal: number;
    readonly missing: ReadonlyArray<readonly [number, number]>;
  };
  readonly messages: readonly string[];
}

interface Pending {
  readonly input: Record<string, unknown>;
  /** Whether `input` is plain data in RFC 8785 member order (see prepare): JSON.stringify then writes it canonically. */
  readonly ordered: boolean;
  readonly resolve: (e: AuditEvent) => void;
  readonly reject: (e: unknown) => void;
  /** Resolve once written to the journal (ack 'written') rather than once durable. */
  readonly early: boolean;
}

/** An event written to the journal and not yet known to be durable. */
interface Unsynced {
  readonly stored: StoredEvent;
  readonly event: AuditEvent;
  readonly pending: Pending;
  /** On the last event of a batch: the journal lines the batch wrote (handed on to the write-out worker). */
  batchLines?: Buffer;
}

/**
 * Serialises what, within this process, needs the journal to stand still: writing a batch, loading or
 * rebuilding the database, writing it out and rotating the journal. (The file lock does the same between
 * processes.) Entering is synchronous when it is free, so a batch costs no extra turn of the event loop.
 */
class Section {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  get busy(): boolean {
    return this.held;
  }

  tryEnter(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }

  enter(): Promise<void> {
    if (this.tryEnter()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  leave(): void {
    const next = this.waiting.shift();
    // Handed straight to the next in line: `held` stays true.
    if (next) next();
    else this.held = false;
  }
}

export class AuditLog implements AuditSink {
  private readonly dbPath: string;
  private readonly journalPath: string;
  private readonly segmentsDir: string;
  private readonly redactor: Redactor;
  private readonly lock: AuditWriterLock;
  private readonly io: JournalIo;
  private readonly clock: () => number;
  private readonly persistMin: number;
  private readonly persistRatio: number;

  private head: ChainHead = { seq: 0, hash: GENESIS_HASH, ts: '' };
  private journal: JournalFile | undefined;
  /** Reader only: how far the journal has been read. */
  private readerJournal: { ino: number; offset: number; after: number } | undefined;
  private db: AuditDatabase | undefined;
  private pendingDb: StoredEvent[] = [];
  private dbTimer: NodeJS.Timeout | undefined;
  private queue: Pending[] = [];
  private pumping = false;
  /** Written to the journal, in journal order, waiting for an fdatasync to cover them. */
  private unsynced: Unsynced[] = [];
  /** How many of `unsynced` wait for durability (not early). */
  private unsyncedWaiting = 0;
  private syncing: Promise<void> | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly section = new Section();
  private readonly idleWaiters: Array<() => void> = [];
  /** When the lock was last acquired or checked (Date.now()). */
  private lockCheckedAt = 0;
  private lastBatchAt = 0;
  private lockTimer: NodeJS.Timeout | undefined;
  /** After yielding the lock to another writer: not before this time (Date.now()). */
  private resumeAt = 0;
  private background: Promise<unknown>[] = [];
  private broken: AuditError | undefined;
  private closed = false;
  private readonly listeners = new Set<(events: readonly AuditEvent[]) => void>();
  private report: { tornBytesDropped: number; replayed: number; rebuilt?: RecoveryReport['rebuilt']; messages: string[] } = { tornBytesDropped: 0, replayed: 0, messages: [] };

  private constructor(
    readonly stateDir: string,
    private readonly options: AuditLogOptions,
  ) {
    this.dbPath = join(stateDir, DATABASE_FILE);
    this.journalPath = join(stateDir, JOURNAL_FILE);
    this.segmentsDir = join(stateDir, SEGMENTS_DIR);
    this.redactor = options.redactor ?? new Redactor(options.redactPatterns ?? []);
    this.lock = new AuditWriterLock(join(stateDir, LOCK_FILE), options.lockTimeoutMs ?? 30_000);
    this.io = options.journalIo ?? nodeJournalIo;
    this.clock = options.clock ?? Date.now;
    this.persistMin = options.persist?.minEvents ?? 10_000;
    this.persistRatio = options.persist?.ratio ?? 0.25;
  }

  /**
   * Opens (creating if needed) the audit log in `stateDir`, recovering from a crash: an unfinished journal line
   * is dropped, journal entries beyond the database are replayed, a damaged database is rebuilt from the journal
   * segments. Throws AuditError `newer-schema` (nothing touched), `permission-denied`, `disk-full`, …
   */
  static async open(stateDir: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    const log = new AuditLog(stateDir, options);
    if (options.readOnly) await log.openReader();
    else await log.openWriter();
    return log;
  }

  /** What opening found and did (for the user: recovery is worth a line in the output). */
  get recovery(): RecoveryReport {
    return { ...this.report, messages: [...this.report.messages] };
  }

  /** The last event made durable (seq 0 for an empty log). */
  get lastEvent(): { readonly seq: number; readonly hash: string; readonly ts: string } {
    return this.head;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Redacts, chains and appends an event; resolves once it is on disk (fdatasync'd), so the caller may then
   * make the effect visible. With `{ ack: 'written' }` it resolves as soon as the event is in the journal file
   * (a kill of this process cannot lose it any more); its fdatasync is already under way, and completes before
   * any later durable append resolves (see AppendOptions). Rejects with AuditError (`disk-full`,
   * `permission-denied`, …): the run must halt.
   */
  append(input: AuditEventInput, options: AppendOptions = {}): Promise<AuditEvent> {
    if (this.options.readOnly) return Promise.reject(new AuditError('closed', 'This audit log was opened read-only.'));
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new AuditError('closed', 'The audit log is closed.'));
    let clean: { event: Record<string, unknown>; ordered: boolean };
    try {
      clean = this.prepare(input);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<AuditEvent>((resolve, reject) => {
      this.queue.push({ input: clean.event, ordered: clean.ordered, resolve, reject, early: options.ack === 'written' });
      if (!this.pumping) {
        // Set synchronously, and cleared synchronously when the pump finds the queue empty, so an append made
        // while it is winding down is never left behind. The pump starts after the current task, so appends
        // made together (Promise.all) go into one write.
        this.pumping = true;
        queueMicrotask(() => void this.pump());
      }
    });
  }

  /** Resolves when everything appended so far is durable (or has failed). */
  async flush(): Promise<void> {
    while (!this.idle()) {
      // Whoever flushes waits for durability: an fdatasync held back for early appends starts now.
      this.startSync(true);
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private idle(): boolean {
    return !this.pumping && this.queue.length === 0 && this.unsynced.length === 0 && this.syncing === undefined;
  }

  private settle(): void {
    if (!this.idle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Validates and redacts an input event into the fields that will be hashed, in RFC 8785's member order (UTF-16
   * code units), with places held for what writeBatch fills in (seq, ts, prevHash). `ordered` unless the redacted
   * args or result hold members JavaScript enumerates out of that order (integer-like keys).
   */
  private prepare(input: AuditEventInput): { event: Record<string, unknown>; ordered: boolean } {
    const parsed = AuditEventInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AuditError('invalid-event', `Not a valid audit event: ${issue ? `${issue.path.join('.') || 'event'}: ${issue.message}` : parsed.error.message}`);
    }
    const e = parsed.data;
    const args = e.args !== undefined ? this.redactor.redactOrdered(e.args) : undefined;
    const result = e.result !== undefined ? this.redactor.redactOrdered(e.result) : undefined;
    const out: Record<string, unknown> = {};
    if (e.actor !== undefined) out.actor = wellFormed(e.actor);
    out.agent = wellFormed(e.agent);
    if (args?.value !== undefined) out.args = args.value;
    if (e.costUsd !== undefined) out.costUsd = e.costUsd === 0 ? 0 : e.costUsd;
    if (e.decision !== undefined) out.decision = e.decision;
    if (e.durationMs !== undefined) out.durationMs = e.durationMs === 0 ? 0 : e.durationMs;
    if (e.level !== undefined) out.level = e.level;
    out.prevHash = '';
    if (e.reason !== undefined) out.reason = this.redactor.redact(e.reason);
    if (result?.value !== undefined) out.result = result.value;
    if (e.rule !== undefined) out.rule = this.redactor.redact(e.rule);
    out.runId = wellFormed(e.runId);
    out.seq = 0;
    if (e.tool !== undefined) out.tool = wellFormed(e.tool);
    out.ts = '';
    out.type = e.type;
    return { event: out, ordered: args?.canonical !== false && result?.canonical !== false };
  }

  /**
   * Writes what is queued, a batch at a time, under the lock, and hands each batch to the syncer. Early (ack
   * 'written') appends resolve here; the others when an fdatasync that started after their write completes.
   */
  private async pump(): Promise<void> {
    for (;;) {
      // Checked and cleared in the same synchronous step: an append arriving after this starts a new pump.
      if (this.queue.length === 0) {
        this.pumping = false;
        this.settle();
        return;
      }
      if (this.broken) {
        for (const p of this.queue.splice(0)) p.reject(this.broken);
        continue;
      }
      if (!this.section.tryEnter()) await this.section.enter();
      const batch = this.queue.splice(0, MAX_BATCH);
      let written: Unsynced[];
      try {
        if (this.broken) throw this.broken;
        if (!this.lockIsFresh()) await this.takeLock();
        written = this.writeBatch(batch);
      } catch (e) {
        const err = AuditError.is(e) ? e : auditIoError(e, 'writing', this.journalPath);
        // After a failed write nothing about the journal's tail can be trusted: stop appending.
        if (err.reason !== 'locked') this.broken = err;
        for (const p of batch) p.reject(err);
        continue;
      } finally {
        this.section.leave();
      }
      this.lastBatchAt = Date.now();
      for (const w of written) {
        if (w.pending.early) w.pending.resolve(w.event);
        else this.unsyncedWaiting++;
        this.unsynced.push(w);
      }
      this.startSync();
    }
  }

  /**
   * Starts an fdatasync of the journal unless one is running; when it completes, everything written before it
   * started is durable: those appends resolve, the events go to listeners and into the database.
   */
  private startSync(now = false): void {
    if (this.syncing || this.unsynced.length === 0) return;
    if (!now && this.unsyncedWaiting === 0) {
      this.syncTimer ??= setTimeout(() => {
        this.syncTimer = undefined;
        this.startSync(true);
      }, EARLY_SYNC_DELAY_MS);
      return;
    }
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    const covered = this.unsynced.length;
    this.syncing = this.journal!.sync().then(
      () => {
        this.syncing = undefined;
        const done = this.unsynced.splice(0, covered);
        for (const d of done) {
          if (!d.pending.early) {
            this.unsyncedWaiting--;
            d.pending.resolve(d.event);
          }
        }
        if (this.db) this.queueForDatabase(done.map((d) => d.stored));
        else if (done.length > 0) this.writeOutThread?.feed(this.stateDir, done.flatMap((d) => d.batchLines ?? []), done.map((d) => d.stored));
        this.emit(done.map((d) => d.event));
        this.startSync();
        if (!this.syncing && this.shouldPersist()) {
          this.track(this.persistNow().catch((e) => this.warn(`The audit database could not be written out (${(e as Error).message}); the journal still holds every event.`)));
        }
        this.settle();
      },
      (e: unknown) => {
        this.syncing = undefined;
        // After a failed fdatasync nothing about the journal's tail can be trusted: stop appending. An event whose
        // fdatasync failed may still be found in the journal later: a rejection means "not known to be durable".
        const err = AuditError.is(e) ? e : auditIoError(e, 'syncing', this.journalPath);
        this.broken = err;
        for (const d of this.unsynced.splice(0)) if (!d.pending.early) d.pending.reject(err);
        this.unsyncedWaiting = 0;
        this.settle();
      },
    );
  }

  /** Waits until everything written is durable. Call inside the section, so nothing new is written meanwhile. */
  private async drainSync(): Promise<void> {
    while (this.syncing || this.unsynced.length > 0) {
      if (!this.syncing) this.startSync(true);
      await this.syncing;
    }
  }

  // ---------------------------------------------------------------- the writer lock, kept between batches

  /** Held, and known to be ours recently enough that nobody else can have written since. */
  private lockIsFresh(): boolean {
    return this.lock.held && Date.now() - this.lockCheckedAt < (this.options.lockHold?.recheckMs ?? LOCK_RECHECK_MS);
  }

  /**
   * Makes sure this process holds the writer lock and has caught up with the journal. A lock still held is only
   * checked (and refreshed); a lock taken anew is followed by reading what other writers appended meanwhile.
   */
  private async takeLock(): Promise<void> {
    if (this.lock.held && this.lock.refresh()) {
      this.lockCheckedAt = Date.now();
      return;
    }
    // Not held, or lost while this process stalled (another writer took it over): take it and catch up.
    this.stopLockTimer();
    const wait = this.resumeAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await this.lock.acquire();
    this.lockCheckedAt = Date.now();
    try {
      this.catchUp();
    } catch (e) {
      this.releaseLock();
      throw e;
    }
    this.lockTimer = setInterval(() => this.lockTick(), LOCK_TICK_MS);
    this.lockTimer.unref();
  }

  /** Lets go of the lock when idle or when another writer waits for it; keeps a long hold refreshed. */
  private lockTick(): void {
    if (!this.lock.held) return this.stopLockTimer();
    if (this.section.busy) return;
    const now = Date.now();
    if (this.closed || now - this.lastBatchAt >= (this.options.lockHold?.idleMs ?? IDLE_RELEASE_MS)) return this.releaseLock();
    if (this.lock.othersWaiting()) {
      this.releaseLock();
      this.resumeAt = now + YIELD_MS;
      return;
    }
    if (now - this.lockCheckedAt >= LOCK_REFRESH_MS) {
      if (this.lock.refresh()) this.lockCheckedAt = now;
      else this.stopLockTimer();
    }
  }

  private releaseLock(): void {
    this.stopLockTimer();
    this.lock.release();
  }

  private stopLockTimer(): void {
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.lockTimer = undefined;
  }

  /**
   * Runs `fn` with the journal standing still and durable (nothing written and unsynced), under the writer lock,
   * caught up with other writers. For loading the database, writing it out, following other writers.
   */
  private async exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.section.enter();
    const wasHeld = this.lock.held;
    try {
      await this.drainSync();
      if (this.broken) throw this.broken;
      if (!this.lockIsFresh()) await this.takeLock();
      return await fn();
    } finally {
      // A lock taken just for this is given back at once; one kept for appending stays (lockTick lets it go).
      if (!wasHeld && this.lock.held) this.releaseLock();
      this.section.leave();
    }
  }

  /** Assigns seq, ts and the chain to each event and writes them in one go. Runs under the lock. */
  private writeBatch(batch: readonly Pending[]): Unsynced[] {
    let { seq, hash, ts } = this.head;
    const nowIso = new Date(this.clock()).toISOString();
    // ts never goes backwards along the chain (a clock step back is clamped), so a time range is a seq range.
    const eventTs = nowIso < ts ? ts : nowIso;
    const lines: string[] = [];
    const out: Unsynced[] = [];
    for (const p of batch) {
      // The prepared object is ours: completing it in place avoids copying every event once more.
      const event = p.input;
      event.seq = seq + 1;
      event.ts = eventTs;
      event.prevHash = hash;
      let body: string;
      try {
        // The same text either way (the audit tests hold both to RFC 8785's reference implementation); the first
        // in about half the time.
        body = p.ordered ? JSON.stringify(event) : canonicalJson(event);
      } catch (e) {
        p.reject(new AuditError('invalid-event', `The audit event cannot be written as canonical JSON: ${(e as Error).message}`));
        continue;
      }
      seq += 1;
      const h = chainHash(hash, body);
      lines.push(encodeRecordLine(h, body));
      out.push({ stored: { seq, hash: h, body, event, exact: p.ordered }, event: Object.assign({}, event, { hash: h }) as AuditEvent, pending: p });
      hash = h;
      ts = eventTs;
    }
    if (out.length === 0) return out;
    const batchLines = Buffer.from(lines.join(''), 'utf8');
    this.journal!.write(batchLines);
    out[out.length - 1]!.batchLines = batchLines;
    this.head = { seq, hash, ts };
    return out;
  }

  /**
   * Brings this process up to date with what other writers appended (or rotated) since its last batch, and
   * drops an unfinished line left by a writer that died mid-write. Runs under the lock.
   */
  private catchUp(): void {
    const j = this.journal!;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.journalPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw auditIoError(e, 'reading', this.journalPath);
    }
    if (st && st.ino === j.ino) {
      if (st.size === j.size) return;
      if (st.size < j.size) {
        this.warn(`The audit journal ${this.journalPath} was shortened by something other than Airlock; \`airlock audit verify\` will show what is missing.`);
        j.size = st.size;
        return;
      }
      const contents = parseJournalBytes(j.readFrom(j.size), j.size, false);
      if (contents.tornBytes > 0) {
        j.truncateTo(contents.endOffset);
        this.report.tornBytesDropped += contents.tornBytes;
      }
      j.size = contents.endOffset;
      this.adopt(contents);
      return;
    }
    // Rotated by another writer (or removed): finish the old file through our fd, then follow the new one.
    const rest = parseJournalBytes(j.readFrom(j.size), j.size, false);
    this.adopt(rest);
    j.close();
    const opened = this.openJournal();
    const after = opened.contents.header!.after;
    if (after.seq > this.head.seq) {
      // Rotated more than once since we last looked: the events in between are in segments.
      const fromSegments = collectAfter(this.stateDir, this.head.seq, undefined, after.seq);
      this.adoptRecords(fromSegments.records);
    }
    this.adopt(opened.contents);
  }

  private adopt(contents: JournalContents): void {
    const records: StoredEvent[] = [];
    for (const { line } of contents.lines) if (line.kind === 'record') records.push(line.record);
    this.adoptRecords(records);
  }

  /** Takes events written by another process as ours: they move the head and go into the database. */
  private adoptRecords(records: readonly StoredEvent[]): void {
    const fresh: StoredEvent[] = [];
    let warned = false;
    for (const r of records) {
      if (r.seq <= this.head.seq) continue;
      if (!warned && (r.seq !== this.head.seq + 1 || chainHash(this.head.hash, r.body) !== r.hash)) {
        warned = true;
        this.warn(`Event #${r.seq} in the audit journal does not continue the chain from #${this.head.seq}; new events chain on from what is stored. Run \`airlock audit verify\`.`);
      }
      this.head = { seq: r.seq, hash: r.hash, ts: typeof r.event.ts === 'string' && r.event.ts > this.head.ts ? r.event.ts : this.head.ts };
      fresh.push(r);
    }
    if (this.db && fresh.length > 0) this.queueForDatabase(fresh);
    else if (fresh.length > 0) this.writeOutThread?.feed(this.stateDir, [Buffer.from(fresh.map((r) => encodeRecordLine(r.hash, r.body)).join(''))], fresh);
  }

  private openJournal(): { contents: JournalContents; created: boolean } {
    const { file, contents, created } = JournalFile.open(this.journalPath, () => this.head, this.io);
    this.journal = file;
    if (contents.tornBytes > 0) {
      file.truncateTo(contents.endOffset);
      this.report.tornBytesDropped += contents.tornBytes;
    }
    if (created) syncDir(this.stateDir);
    return { contents, created };
  }

  private shouldPersist(): boolean {
    const j = this.journal;
    if (!j || this.persisting) return false;
    const inJournal = this.head.seq - j.after.seq;
    return inJournal > 0 && inJournal >= Math.max(this.persistMin, this.persistRatio * j.after.seq);
  }

  private persisting = false;
  /** A lazy writer's write-outs run here (started at the first one). */
  private writeOutThread: WriteOutThread | undefined;

  /**
   * Writes the database out (temp file, fsync, rename) and rotates the journal into a segment. The export and
   * the rotation happen under the lock; the file write does not, so appends continue meanwhile.
   */
  async persist(): Promise<void> {
    if (this.options.readOnly || this.closed) return;
    await this.flush();
    // A write-out still in flight covers less than everything: let it finish, then write out again.
    await this.settleBackground();
    await this.persistNow();
    await this.settleBackground();
  }

  /**
   * Starts a write-out. A lazy writer with no database in memory hands it to a worker thread (after rotating the
   * journal under the lock), so its appends go on meanwhile; at close, a small database is written out here.
   */
  private async persistNow(closing = false): Promise<void> {
    if (this.persisting) return;
    this.persisting = true;
    const offThread = this.options.lazy && !this.db && !(closing && (statOrUndefined(this.dbPath)?.size ?? 0) < IN_THREAD_WRITE_OUT_BYTES);
    if (offThread) return this.persistOffThread();
    return this.persistHere();
  }

  /**
   * Exports the database and rotates the journal under the lock, then writes the file in the background (appends
   * go on meanwhile; a crash before the rename leaves the events in the rotated segment, replayed at open).
   */
  private async persistHere(): Promise<void> {
    let bytes!: Uint8Array;
    let rotated: string | undefined;
    try {
      // Everything written is durable before the journal is rotated (and no fdatasync is left on its old fd).
      await this.exclusive(async () => {
        await this.ensureDatabaseLocked();
        this.insertPending();
        bytes = this.db!.export(this.head);
        rotated = this.rotateLocked();
      });
    } catch (e) {
      this.persisting = false;
      throw auditIoError(e, 'writing out', this.dbPath);
    }
    // A lazy writer does not keep the database in memory between write-outs (it may be hundreds of MB).
    if (this.options.lazy && this.db) {
      this.insertPending();
      this.db.close();
      this.db = undefined;
      this.pendingDb = [];
    }
    this.track(this.compressRotated(rotated));
    this.track(
      writeFileAtomic(this.dbPath, bytes)
        .catch((e) => this.warn(`The audit database could not be written out (${(e as Error).message}); the journal segments still hold every event.`))
        .finally(() => {
          this.persisting = false;
        }),
    );
  }

  /**
   * Rotates the journal under the lock, then folds the segments into the database file on a worker thread. If the
   * worker cannot do it (it did not start, or the database needs rebuilding), it is done here as before.
   */
  private async persistOffThread(): Promise<void> {
    let rotated: string | undefined;
    let upTo = 0;
    try {
      await this.exclusive(() => {
        rotated = this.rotateLocked();
        upTo = this.head.seq;
      });
    } catch (e) {
      this.persisting = false;
      throw auditIoError(e, 'writing out', this.dbPath);
    }
    this.track(this.compressRotated(rotated));
    this.track(
      (this.writeOutThread ??= new WriteOutThread(this.options.writeOutWorker)).run({ stateDir: this.stateDir, upTo }).then(
        () => {
          this.persisting = false;
        },
        () => this.persistHere().catch((e) => {
          this.warn(`The audit database could not be written out (${(e as Error).message}); the journal segments still hold every event.`);
        }),
      ),
    );
  }

  /** Moves the journal into a segment and starts a new one, when it holds anything. Runs under the lock. */
  private rotateLocked(): string | undefined {
    const j = this.journal!;
    if (this.head.seq <= j.after.seq) return undefined;
    fs.mkdirSync(this.segmentsDir, { recursive: true });
    const rotated = join(this.segmentsDir, segmentName(j.after.seq + 1, this.head.seq));
    j.close();
    fs.renameSync(this.journalPath, rotated);
    syncDir(this.segmentsDir);
    this.openJournal();
    return rotated;
  }

  /**
   * Compresses a segment just rotated, beside the write-out rather than after it: a segment is never rewritten,
   * and whoever reads one (a write-out, a rebuild, verify) follows it to its compressed file.
   */
  private async compressRotated(segment: string | undefined): Promise<void> {
    if (segment) await compressSegment(segment).catch((e) => this.warn(`A journal segment could not be compressed (${(e as Error).message}); it stays uncompressed.`));
  }

  // ---------------------------------------------------------------- opening

  private async openWriter(): Promise<void> {
    try {
      fs.mkdirSync(this.stateDir, { recursive: true });
    } catch (e) {
      throw auditIoError(e, 'creating', this.stateDir);
    }
    // Refuse files from a newer version before taking the lock or writing anything.
    this.checkNotNewer();
    await this.lock.acquire();
    try {
      removeDeadTemps(this.stateDir);
      removeDeadTemps(this.segmentsDir);
      // A missing journal (first open, or deleted) continues from whatever the database and segments hold.
      if (peekJournalHeader(this.journalPath) === 'missing') this.head = await this.initialHead();
      const { contents, created } = this.openJournal();
      if (created && (fs.existsSync(this.dbPath) || listSegments(this.stateDir).length > 0)) {
        this.report.messages.push(`The audit journal was missing; a new one continues the chain from event #${this.head.seq}.`);
      }
      this.head = contents.header!.after;
      this.adopt(contents);
      if (this.report.tornBytesDropped > 0) {
        this.report.messages.push(`Recovered the audit log after a crash: dropped ${this.report.tornBytesDropped} bytes of an unfinished journal write (never acknowledged).`);
      }
      // A lazy writer still looks at the database's header: a file cut short or overwritten is rebuilt now, so
      // the user hears about it when the log opens, not at the first write-out.
      const header = readHead(this.dbPath);
      const damaged = header !== undefined && inspectDatabaseHeader(header.bytes, header.size).problem !== undefined;
      if (!this.options.lazy || damaged) await this.ensureDatabaseLocked(contents);
    } finally {
      this.lock.release();
    }
    for (const seg of listSegments(this.stateDir)) if (!seg.compressed) this.track(compressSegment(seg.path).catch(() => undefined));
  }

  /** The head to continue from when the journal has to be created: the newest of database and segments. */
  private async initialHead(): Promise<ChainHead> {
    let best: ChainHead = { seq: 0, hash: GENESIS_HASH, ts: '' };
    const segs = listSegments(this.stateDir);
    const last = segs[segs.length - 1];
    if (last) {
      const records = readSegment(last).lines.flatMap(({ line }) => (line.kind === 'record' ? [line.record] : []));
      const r = records[records.length - 1];
      if (r) best = { seq: r.seq, hash: r.hash, ts: String(r.event.ts ?? '') };
    }
    if (fs.existsSync(this.dbPath)) {
      const loaded = await this.loadDatabase(undefined, true);
      if (loaded.head.seq > best.seq) best = loaded.head;
      loaded.db.close();
    }
    return best;
  }

  private checkNotNewer(): void {
    const header = readHead(this.dbPath);
    if (header) {
      const h = inspectDatabaseHeader(header.bytes, header.size);
      if (!h.problem && h.applicationId === APPLICATION_ID && h.userVersion > SCHEMA_VERSION) {
        throw new AuditError('newer-schema', `The audit database ${this.dbPath} was written by a newer version of Airlock (schema ${h.userVersion}; this one reads up to ${SCHEMA_VERSION}). Update Airlock; the file was left untouched.`);
      }
    }
    const j = peekJournalHeader(this.journalPath);
    if (typeof j === 'object' && j.version > JOURNAL_VERSION) {
      throw new AuditError('newer-schema', `The audit journal ${this.journalPath} was written by a newer version of Airlock (journal format ${j.version}). Update Airlock; the file was left untouched.`);
    }
  }

  private async openReader(): Promise<void> {
    if (!fs.existsSync(this.stateDir)) throw new AuditError('io-error', `There is no audit log in ${this.stateDir} (the folder does not exist). Check --workspace or --state.`);
    this.checkNotNewer();
    // A writer may rotate the journal while we read: read again until database, segments and journal agree.
    for (let attempt = 0; ; attempt++) {
      const before = fingerprint(this.stateDir);
      this.report = { tornBytesDropped: 0, replayed: 0, messages: [] };
      const db = await this.loadDatabase(readJournalFile(this.journalPath), false);
      if (fingerprint(this.stateDir) === before || attempt >= 4) {
        this.db?.close();
        this.db = db.db;
        this.head = db.head;
        this.readerJournal = db.journal;
        return;
      }
      db.db.close();
    }
  }

  /** Picks up events other processes appended since the log was opened (or last synced). */
  async sync(): Promise<number> {
    const before = this.head.seq;
    if (this.options.readOnly) {
      const st = statOrUndefined(this.journalPath);
      const rj = this.readerJournal;
      // The same journal only if its header still names the same starting point: inode numbers are reused once a
      // rotated segment has been compressed and removed, and a reader holds no file open to prevent that.
      const header = peekJournalHeader(this.journalPath);
      if (st && rj && st.ino === rj.ino && typeof header === 'object' && header.after.seq === rj.after && st.size >= rj.offset) {
        if (st.size > rj.offset) {
          const fd = fs.openSync(this.journalPath, 'r');
          try {
            const buf = Buffer.allocUnsafe(st.size - rj.offset);
            const n = fs.readSync(fd, buf, 0, buf.length, rj.offset);
            const contents = parseJournalBytes(buf.subarray(0, n), rj.offset, false);
            rj.offset = contents.endOffset;
            this.adopt(contents);
          } finally {
            fs.closeSync(fd);
          }
        }
      } else {
        await this.openReader();
      }
    } else {
      await this.flush();
      // Taking the lock catches up with the other writers; a lock this process holds means there is nothing to
      // catch up with.
      await this.exclusive(() => undefined);
    }
    return this.head.seq - before;
  }

  /** Loads the database (once) for a writer; runs under the lock so the files do not move meanwhile. */
  private async ensureDatabaseLocked(contents?: JournalContents): Promise<void> {
    if (this.db) return;
    const loaded = await this.loadDatabase(contents ?? readJournalFile(this.journalPath), true);
    this.db = loaded.db;
    if (loaded.head.seq > this.head.seq) this.head = loaded.head;
    this.pendingDb = this.pendingDb.filter((r) => r.seq > loaded.db.maxSeq);
  }

  /**
   * The database file, plus every segment and journal entry beyond it. A damaged database is rebuilt from what
   * can still be read of it and from the segments and journal; a writer also writes the rebuilt one out.
   */
  private async loadDatabase(journal: JournalContents | undefined, writer: boolean): Promise<{ db: AuditDatabase; head: ChainHead; journal?: { ino: number; offset: number; after: number } }> {
    let db: AuditDatabase;
    let bytes: Buffer | undefined;
    try {
      bytes = fs.readFileSync(this.dbPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw auditIoError(e, 'reading', this.dbPath);
    }
    if (bytes) {
      try {
        db = await AuditDatabase.fromBytes(bytes, this.dbPath);
      } catch (e) {
        if (!AuditError.is(e, 'corrupt')) throw e;
        db = await this.rebuild(bytes, journal, e.message, writer);
      }
    } else {
      db = await AuditDatabase.create();
    }
    const { records, malformed } = collectAfter(this.stateDir, db.maxSeq, journal);
    for (let i = 0; i < records.length; i += 10_000) db.insert(records.slice(i, i + 10_000));
    this.report.replayed += records.length;
    if (malformed > 0) this.report.messages.push(`${malformed} audit journal line(s) could not be read and were left out; \`airlock audit verify\` names the first.`);
    const last = records[records.length - 1];
    const head: ChainHead = last ? { seq: last.seq, hash: last.hash, ts: String(last.event.ts ?? '') } : (journal?.header?.after ?? this.dbHead(db));
    const st = statOrUndefined(this.journalPath);
    return { db, head, journal: st && journal?.header ? { ino: st.ino, offset: journal.endOffset, after: journal.header.after.seq } : undefined };
  }

  private dbHead(db: AuditDatabase): ChainHead {
    if (db.maxSeq === 0) return { seq: 0, hash: GENESIS_HASH, ts: '' };
    const e = db.get(db.maxSeq)!;
    return { seq: e.seq, hash: e.hash, ts: e.ts };
  }

  private async rebuild(bytes: Buffer, journal: JournalContents | undefined, why: string, writer: boolean): Promise<AuditDatabase> {
    const salvaged = await AuditDatabase.salvageBytes(bytes);
    const rest = collectAfter(this.stateDir, 0, journal);
    const bySeq = new Map<number, StoredEvent>();
    for (const r of salvaged) bySeq.set(r.seq, r);
    let fromJournal = 0;
    for (const r of rest.records) {
      if (!bySeq.has(r.seq)) {
        bySeq.set(r.seq, r);
        fromJournal++;
      }
    }
    const all = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    const db = await AuditDatabase.create();
    for (let i = 0; i < all.length; i += 10_000) db.insert(all.slice(i, i + 10_000));
    const missing: Array<[number, number]> = [];
    let expect = 1;
    for (const r of all) {
      if (r.seq > expect) missing.push([expect, r.seq - 1]);
      expect = r.seq + 1;
    }
    let quarantinedAs: string | undefined;
    if (writer) {
      quarantinedAs = `${this.dbPath}.corrupt-${new Date(this.clock()).toISOString().replace(/[:.]/g, '-')}`;
      try {
        if (fs.existsSync(this.dbPath)) fs.renameSync(this.dbPath, quarantinedAs);
        else quarantinedAs = undefined;
        const last = all[all.length - 1];
        await writeFileAtomic(this.dbPath, db.export(last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS_HASH }));
      } catch (e) {
        throw auditIoError(e, 'rebuilding', this.dbPath);
      }
    }
    const gaps = missing.map(([a, b]) => (a === b ? `#${a}` : `#${a}–#${b}`)).join(', ');
    this.report.rebuilt = { quarantinedAs, recovered: all.length, fromDatabase: salvaged.length, fromJournal, missing };
    this.report.messages.push(
      `The audit database was damaged (${why.replace(/\.$/, '')}). ${quarantinedAs ? `It was moved to ${quarantinedAs} and rebuilt` : 'It was rebuilt in memory'}: ` +
        `${all.length.toLocaleString('en-US')} events recovered (${salvaged.length.toLocaleString('en-US')} still readable in it, ${fromJournal.toLocaleString('en-US')} from the journal and its segments)` +
        `${missing.length > 0 ? `; missing: ${gaps}.` : '; nothing is missing.'}`,
    );
    return db;
  }

  // ---------------------------------------------------------------- reading

  /** A page of events, newest first (or oldest first after a cursor); see AuditQuery. */
  async query(q: AuditQuery = {}): Promise<AuditPage> {
    return this.withDatabase((db) => db.page(q));
  }

  /** How many events match the filters (paging ignored). Costs a scan of the matches. */
  async count(q: AuditQuery = {}): Promise<number> {
    return this.withDatabase((db) => db.count(q));
  }

  async get(seq: number): Promise<AuditEvent | undefined> {
    return this.withDatabase((db) => db.get(seq));
  }

  /** Runs, most recently active first, with their status and counts. */
  async runs(q: RunsQuery = {}): Promise<RunSummary[]> {
    return this.withDatabase((db) => db.runs(q));
  }

  /** One run with its counts by type and decision. */
  async run(runId: string): Promise<RunDetail | undefined> {
    return this.withDatabase((db) => db.run(runId));
  }

  /** Runs a read; when SQLite finds the loaded database damaged, rebuilds it once and tries again. */
  private async withDatabase<T>(read: (db: AuditDatabase) => T): Promise<T> {
    const db = await this.database();
    try {
      return read(db);
    } catch (e) {
      if (!isCorruptionError(e) || this.report.rebuilt) throw e;
      await this.rebuildLoaded((e as Error).message);
      return read(await this.database());
    }
  }

  private async rebuildLoaded(why: string): Promise<void> {
    const writer = !this.options.readOnly;
    const rebuildNow = async () => {
      const bytes = fs.existsSync(this.dbPath) ? fs.readFileSync(this.dbPath) : Buffer.alloc(0);
      const journal = readJournalFile(this.journalPath);
      const rebuilt = await this.rebuild(bytes, journal, `SQLite: ${why}`, writer);
      const { records } = collectAfter(this.stateDir, rebuilt.maxSeq, journal);
      rebuilt.insert(records);
      this.db?.close();
      this.db = rebuilt;
      this.pendingDb = this.pendingDb.filter((r) => r.seq > rebuilt.maxSeq);
      this.warn(this.report.messages[this.report.messages.length - 1] ?? 'The audit database was rebuilt.');
    };
    if (writer) await this.exclusive(rebuildNow);
    else await rebuildNow();
  }

  /** Every event matching `q` (paging fields ignored), oldest first, read a page at a time (for export). */
  async *iterate(q: AuditQuery = {}): AsyncGenerator<AuditEvent> {
    const filtered = Object.entries(q).some(([k, v]) => v !== undefined && k !== 'limit' && k !== 'before' && k !== 'after');
    const db = await this.database();
    if (!filtered) {
      yield* db.events();
      return;
    }
    let after = 0;
    for (;;) {
      const page = db.page({ ...q, before: undefined, after, limit: 1000 });
      yield* page.events;
      if (!page.hasMore) return;
      after = page.events[page.events.length - 1]!.seq;
    }
  }

  /** Checks the chain of what is stored on disk (database, segments, journal); see verifyAuditLog. */
  async verify(options: { deep?: boolean } = {}): Promise<VerifyResult> {
    await this.flush();
    return verifyAuditLog(this.stateDir, options);
  }

  /** Called with each batch of events made durable by this process. */
  onDidAppend(listener: (events: readonly AuditEvent[]) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  private emit(events: readonly AuditEvent[]): void {
    for (const l of this.listeners) {
      try {
        l(events);
      } catch {
        // A listener's failure is not the log's.
      }
    }
  }

  private async database(): Promise<AuditDatabase> {
    if (!this.db) {
      if (this.closed) throw new AuditError('closed', 'The audit log is closed.');
      // The database holds durable events only: loading waits for what is written to be synced.
      await this.exclusive(() => this.ensureDatabaseLocked());
    }
    this.insertPending();
    return this.db!;
  }

  private queueForDatabase(records: readonly StoredEvent[]): void {
    this.pendingDb.push(...records);
    if (this.pendingDb.length >= DB_INSERT_BATCH) this.insertPending();
    else if (!this.dbTimer) {
      this.dbTimer = setTimeout(() => {
        this.dbTimer = undefined;
        this.insertPending();
      }, DB_INSERT_DELAY_MS);
      this.dbTimer.unref();
    }
  }

  private insertPending(): void {
    if (!this.db || this.pendingDb.length === 0) return;
    const records = this.pendingDb.filter((r) => r.seq > this.db!.maxSeq);
    this.pendingDb = [];
    this.db.insert(records);
  }

  // ---------------------------------------------------------------- closing

  /** Makes everything durable, writes the database out when that is cheap or due, and releases the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.dbTimer) clearTimeout(this.dbTimer);
    this.dbTimer = undefined;
    const j = this.journal;
    if (j && !this.options.readOnly && !this.broken && this.options.persist?.onClose !== false) {
      const inJournal = this.head.seq - j.after.seq;
      // Writing out costs about a second per 500 MB: do it when the database is small, or the journal large enough
      // that the next open (which replays it) would be slow.
      if (inJournal > 0 && (j.after.seq < 50_000 || inJournal >= Math.max(this.persistMin / 10, 0.05 * j.after.seq) || this.shouldPersist())) {
        await this.settleBackground();
        await this.persistNow(true).catch((e) => this.warn(`The audit database could not be written out (${(e as Error).message}); the journal still holds every event.`));
      }
    }
    await this.settleBackground();
    this.writeOutThread?.stop();
    this.releaseLock();
    this.db?.close();
    this.db = undefined;
    this.journal?.close();
    this.journal = undefined;
  }

  private track(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.background.push(settled);
    void settled.then(() => {
      this.background = this.background.filter((x) => x !== settled);
    });
  }

  private async settleBackground(): Promise<void> {
    while (this.background.length > 0) await Promise.allSettled([...this.background]);
  }

  private warn(message: string): void {
    this.report.messages.push(message);
    this.options.onWarning?.(message);
  }
}

/**
 * Verifies the hash chain of the audit log stored in `stateDir`, reading the files directly: the database rows
 * in seq order, then the journal segments and the journal beyond them. Reports the first event that was
 * changed, deleted or reordered, and where. Never writes anything.
 */
export async function verifyAuditLog(stateDir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  for (let attempt = 0; ; attempt++) {
    const before = fingerprint(stateDir);
    const result = await verifyOnce(stateDir, options);
    if (fingerprint(stateDir) === before || attempt >= 4) return result;
  }
}

export interface VerifyOptions {
  /** Also check the derived columns and SQLite's integrity (reads the database through SQLite). */
  readonly deep?: boolean;
  /** Worker threads for hashing (default: one per core, at most 4; 0 = none). */
  readonly threads?: number;
  /** Read the database file directly when it is laid out as expected (default true); false always goes through SQLite. */
  readonly direct?: boolean;
}

async function verifyOnce(stateDir: string, options: VerifyOptions): Promise<VerifyResult> {
  const verifier = new ChainVerifier();
  const dbPath = join(stateDir, DATABASE_FILE);
  let bytes: Buffer | undefined;
  try {
    bytes = readShared(dbPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw auditIoError(e, 'reading', dbPath);
  }
  // The file read directly (fast, on worker threads); SQLite reads it when that is not possible, or for --deep.
  if (bytes && !options.deep && options.direct !== false && (await verifyDatabaseFile(bytes, verifier, options.threads))) {
    bytes = undefined;
  }
  if (bytes) {
    let db: AuditDatabase | undefined;
    try {
      db = await AuditDatabase.fromBytes(bytes, dbPath, { check: false });
    } catch (e) {
      if (!AuditError.is(e, 'corrupt')) throw e;
      for (const r of await AuditDatabase.salvageBytes(bytes)) if (!verifier.push(r.seq, r.body, r.hash, 'database')) break;
      verifier.fail(verifier.head.seq + 1, 'unreadable', 'database', `${e.message.replace(/\.$/, '')}; events after #${verifier.head.seq} cannot be read from it (opening the log for writing rebuilds it from the journal segments)`);
    }
    if (db) {
      try {
        await db.verifyInto(verifier, 'database', options.threads);
        const recorded = Number(db.meta('head_seq') ?? 0);
        if (!verifier.failed && recorded > verifier.head.seq) {
          verifier.fail(verifier.head.seq + 1, 'truncated', 'database', `the database was written with events up to #${recorded} but ends at #${verifier.head.seq}: the last events were deleted`);
        }
        if (options.deep && !verifier.failed) {
          const bad = db.checkDerived();
          if (bad) verifier.fail(bad.seq, 'index-mismatch', 'database', bad.seq > 0 ? `event #${bad.seq}: ${bad.detail}` : bad.detail);
        }
      } finally {
        db.close();
      }
    }
  }
  const feed = (contents: JournalContents, where: 'segment' | 'journal') => {
    let lastSeen = contents.header?.after.seq ?? 0;
    for (const { line } of contents.lines) {
      if (verifier.failed) return;
      if (line.kind === 'record') {
        lastSeen = line.record.seq;
        if (line.record.seq > verifier.head.seq || lastSeen >= verifier.head.seq) verifier.push(line.record.seq, line.record.body, line.record.hash, where);
      } else if (lastSeen >= verifier.head.seq) {
        verifier.fail(verifier.head.seq + 1, 'malformed', where, `the stored line where event #${verifier.head.seq + 1} belongs cannot be read (${line.kind === 'malformed' ? line.reason : 'unexpected header'})`);
      }
    }
  };
  for (const seg of listSegments(stateDir)) {
    if (verifier.failed) break;
    if (seg.last <= verifier.head.seq) continue;
    feed(readSegment(seg), 'segment');
  }
  const journalPath = join(stateDir, JOURNAL_FILE);
  let journal = readJournalFile(journalPath);
  if (journal && journal.endOffset === 0 && journal.tornBytes === 0) {
    // An empty file holds no event: what a writer that died between creating the journal and writing its header
    // left (Airlock now creates it whole), like a missing journal.
    verifier.notes.push('The audit journal is an empty file (holding no events); the next writer starts it again.');
    journal = undefined;
  }
  if (journal && !verifier.failed) {
    const after = journal.header?.after;
    const head = verifier.head;
    if (!after) verifier.fail(head.seq + 1, 'malformed', 'journal', 'the journal header cannot be read');
    else if (after.seq > head.seq) verifier.fail(head.seq + 1, 'out-of-order', 'journal', `events #${head.seq + 1}–#${after.seq} are missing (the journal continues from #${after.seq})`);
    else if (after.seq === head.seq && after.hash !== head.hash) verifier.fail(head.seq + 1, 'hash-mismatch', 'journal', `the journal does not continue the chain from event #${head.seq}`);
    feed(journal, 'journal');
    if (journal.tornBytes > 0) verifier.notes.push(`The journal ends with ${journal.tornBytes} bytes of an unfinished write (a writer is busy, or crashed before acknowledging it); not part of the log.`);
  } else if (!journal && !bytes && listSegments(stateDir).length === 0 && !fs.existsSync(stateDir)) {
    throw new AuditError('io-error', `There is no audit log in ${stateDir} (the folder does not exist). Check --workspace or --state.`);
  }
  return verifier.result();
}

/** A file's bytes in a SharedArrayBuffer, so worker threads can read them without a copy. */
function readShared(path: string): Buffer {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.from(new SharedArrayBuffer(size));
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Verifies the database's events by reading its file directly (see eventFileScan.ts). False when the file is not
 * laid out as expected (damaged, or a newer schema): the caller then reads it through SQLite, which decides.
 */
async function verifyDatabaseFile(bytes: Buffer, verifier: ChainVerifier, threads?: number): Promise<boolean> {
  const header = inspectDatabaseHeader(bytes.subarray(0, 100), bytes.length);
  if (header.problem || header.applicationId !== APPLICATION_ID || header.userVersion > SCHEMA_VERSION) return false;
  const checked = await checkEventFile(bytes, await knownSchemas(), verifier.head, threads);
  if (!checked) return false;
  verifier.absorb(checked.results, 'database');
  if (!verifier.failed && checked.headSeq !== undefined && checked.headSeq > verifier.head.seq) {
    verifier.fail(verifier.head.seq + 1, 'truncated', 'database', `the database was written with events up to #${checked.headSeq} but ends at #${verifier.head.seq}: the last events were deleted`);
  }
  return true;
}

/** Changes when a writer rotates the journal or replaces the database (readers read again then). */
function fingerprint(stateDir: string): string {
  const d = statOrUndefined(join(stateDir, DATABASE_FILE));
  const j = statOrUndefined(join(stateDir, JOURNAL_FILE));
  // The journal's header too: a rotated journal may get the inode number of an earlier, deleted one.
  const h = peekJournalHeader(join(stateDir, JOURNAL_FILE));
  return `${d?.ino}:${d?.mtimeMs}:${d?.size}:${j?.ino}:${typeof h === 'object' ? h.after.seq : h}`;
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

function readHead(p: string): { bytes: Uint8Array; size: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(100);
    const n = fs.readSync(fd, buf, 0, 100, 0);
    return { bytes: buf.subarray(0, n), size: fs.fstatSync(fd).size };
  } finally {
    fs.closeSync(fd);
  }
}

function removeDeadTemps(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) fs.rmSync(join(dir, name), { force: true });
  }
}

/** Replaces a rotated journal by its gzip (the archive a damaged database is rebuilt from). */
async function compressSegment(path: string): Promise<void> {
  const gz = `${path}.gz`;
  let raw: Buffer;
  try {
    raw = await fs.promises.readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  // Level 1: a segment is mostly hashes, which no level compresses; level 6 took nearly twice the CPU for 3% less size.
  if (!fs.existsSync(gz)) await writeFileAtomic(gz, await gzipAsync(raw, { level: 1 }));
  await fs.promises.rm(path, { force: true });
}
