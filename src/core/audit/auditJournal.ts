// The write-ahead journal: every event is appended here, as one line, and fdatasync'd before `append` resolves.
// The database is folded from it in batches. A journal file starts with a header naming the event it continues
// from; when the database is written out, the journal is rotated into `audit-segments/` (compressed later) and
// kept, so a damaged database can be rebuilt from the segments.
//
//   {"airlockJournal":1,"after":{"hash":"<64 hex>","seq":41,"ts":"…"}}
//   {"hash":"<64 hex>","event":<canonical JSON of event #42 without hash>}
//   …
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AuditError, auditIoError } from './auditError';

export const JOURNAL_VERSION = 1;
export const JOURNAL_FILE = 'audit.journal';
export const SEGMENTS_DIR = 'audit-segments';

/** The last event of a chain: what the next event's prevHash and ts follow. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  readonly ts: string;
}

/** The canonical text of one event as stored (what was hashed), its hash, and the parsed event. */
export interface StoredEvent {
  readonly seq: number;
  readonly hash: string;
  readonly body: string;
  readonly event: Readonly<Record<string, unknown>>;
  /**
   * True when `event` is exactly what parsing `body` gives, so it is what a search sees: it was parsed from `body`
   * (read back from a file), or `body` is JSON.stringify of it (plain data, written in canonical order).
   */
  readonly exact?: boolean;
}

export type JournalLine =
  | { readonly kind: 'header'; readonly version: number; readonly after: ChainHead }
  | { readonly kind: 'record'; readonly record: StoredEvent }
  | { readonly kind: 'malformed'; readonly reason: string };

const RECORD_HEAD = '{"hash":"';
const RECORD_MID = '","event":';
const BODY_START = RECORD_HEAD.length + 64 + RECORD_MID.length;
const HEX64 = /^[0-9a-f]{64}$/;

export function encodeRecordLine(hash: string, body: string): string {
  return `${RECORD_HEAD}${hash}${RECORD_MID}${body}}\n`;
}

export function encodeHeaderLine(after: ChainHead): string {
  return `${JSON.stringify({ airlockJournal: JOURNAL_VERSION, after: { hash: after.hash, seq: after.seq, ts: after.ts } })}\n`;
}

/** Parses one line (without its newline). Record lines are read by position, so the body is exactly what was hashed. */
export function parseJournalLine(line: string): JournalLine {
  if (line.startsWith(RECORD_HEAD)) {
    const hash = line.slice(RECORD_HEAD.length, RECORD_HEAD.length + 64);
    if (!HEX64.test(hash) || line.slice(RECORD_HEAD.length + 64, BODY_START) !== RECORD_MID || !line.endsWith('}')) {
      return { kind: 'malformed', reason: 'not a journal record' };
    }
    const body = line.slice(BODY_START, -1);
    let event: unknown;
    try {
      event = JSON.parse(body);
    } catch {
      return { kind: 'malformed', reason: 'the event is not valid JSON' };
    }
    const seq = (event as { seq?: unknown } | null)?.seq;
    if (typeof event !== 'object' || event === null || Array.isArray(event) || !Number.isSafeInteger(seq) || (seq as number) < 1) {
      return { kind: 'malformed', reason: 'the event has no valid seq' };
    }
    return { kind: 'record', record: { seq: seq as number, hash, body, event: event as Record<string, unknown>, exact: true } };
  }
  if (line.startsWith('{"airlockJournal":')) {
    try {
      const h = JSON.parse(line) as { airlockJournal: unknown; after?: { hash?: unknown; seq?: unknown; ts?: unknown } };
      const a = h.after;
      if (typeof h.airlockJournal === 'number' && a && typeof a.hash === 'string' && HEX64.test(a.hash) && Number.isSafeInteger(a.seq) && (a.seq as number) >= 0 && typeof a.ts === 'string') {
        return { kind: 'header', version: h.airlockJournal, after: { hash: a.hash, seq: a.seq as number, ts: a.ts } };
      }
    } catch {
      // falls through to malformed
    }
    return { kind: 'malformed', reason: 'damaged journal header' };
  }
  return { kind: 'malformed', reason: 'not a journal record' };
}

/**
 * Journal lines this process wrote itself, split into each record's hash and the UTF-8 bytes of its body without
 * decoding or parsing them; undefined unless `buf` is exactly `count` record lines.
 */
export function splitRecordLines(buf: Buffer, count: number): Array<{ hash: string; body: Buffer }> | undefined {
  const out: Array<{ hash: string; body: Buffer }> = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0 || nl - pos < BODY_START + 3 || buf.toString('latin1', pos, pos + RECORD_HEAD.length) !== RECORD_HEAD || buf[nl - 1] !== 0x7d) return undefined;
    out.push({ hash: buf.toString('latin1', pos + RECORD_HEAD.length, pos + RECORD_HEAD.length + 64), body: buf.subarray(pos + BODY_START, nl - 1) });
    pos = nl + 1;
  }
  return pos === buf.length ? out : undefined;
}

export interface JournalContents {
  readonly header?: { readonly version: number; readonly after: ChainHead };
  /** Complete lines after the header, in file order. */
  readonly lines: ReadonlyArray<{ readonly line: JournalLine; readonly offset: number }>;
  /** Where the last complete line ends: bytes after it are an unfinished (never acknowledged) write. */
  readonly endOffset: number;
  readonly tornBytes: number;
}

/** Splits journal bytes into lines. `startOffset` is where `buf` begins in the file (for reading a tail). */
export function parseJournalBytes(buf: Buffer, startOffset = 0, expectHeader = startOffset === 0): JournalContents {
  const lines: Array<{ line: JournalLine; offset: number }> = [];
  let header: JournalContents['header'];
  let pos = 0;
  let first = expectHeader;
  for (;;) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) break;
    const text = buf.toString('utf8', pos, nl);
    const line = parseJournalLine(text);
    if (first && line.kind === 'header') header = { version: line.version, after: line.after };
    else lines.push({ line, offset: startOffset + pos });
    first = false;
    pos = nl + 1;
  }
  return { header, lines, endOffset: startOffset + pos, tornBytes: buf.length - pos };
}

export function readJournalFile(path: string): JournalContents | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw auditIoError(e, 'reading', path);
  }
  return parseJournalBytes(buf);
}

/** The journal's header, read without opening it for writing (to refuse a newer format before touching anything). */
export function peekJournalHeader(path: string): { version: number; after: ChainHead } | 'missing' | 'damaged' {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw auditIoError(e, 'opening', path);
  }
  try {
    const buf = readAll(fd, Buffer.alloc(512), 0, path);
    const nl = buf.indexOf(10);
    if (buf.length === 0) return 'missing';
    const line = parseJournalLine(buf.toString('utf8', 0, nl < 0 ? buf.length : nl));
    return line.kind === 'header' ? { version: line.version, after: line.after } : 'damaged';
  } finally {
    fs.closeSync(fd);
  }
}

export interface SegmentFile {
  readonly first: number;
  readonly last: number;
  readonly path: string;
  readonly compressed: boolean;
}

const SEGMENT_NAME = /^(\d{12})-(\d{12})\.jsonl(\.gz)?$/;

export function segmentName(first: number, last: number): string {
  return `${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}.jsonl`;
}

/** The rotated journals, oldest first; when a segment exists both raw and compressed, the raw one is listed. */
export function listSegments(stateDir: string): SegmentFile[] {
  const dir = join(stateDir, SEGMENTS_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw auditIoError(e, 'listing', dir);
  }
  const byRange = new Map<string, SegmentFile>();
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    const seg = { first: Number(m[1]), last: Number(m[2]), path: join(dir, name), compressed: m[3] !== undefined };
    const key = `${m[1]}-${m[2]}`;
    const had = byRange.get(key);
    if (!had || (had.compressed && !seg.compressed)) byRange.set(key, seg);
  }
  return [...byRange.values()].sort((a, b) => a.first - b.first || a.last - b.last);
}

/** Reads a segment; a raw one that was compressed and removed meanwhile is read from its .gz. */
export function readSegment(seg: SegmentFile): JournalContents {
  try {
    const raw = fs.readFileSync(seg.path);
    return parseJournalBytes(seg.compressed ? gunzipSync(raw) : raw);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !seg.compressed) return readSegment({ ...seg, path: `${seg.path}.gz`, compressed: true });
    throw auditIoError(e, 'reading', seg.path);
  }
}

/** The file operations the writer needs, replaceable in tests (to hold back fdatasync, or fail it). */
export interface JournalIo {
  fdatasync(fd: number): Promise<void>;
}

export const nodeJournalIo: JournalIo = {
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve()))),
};

/**
 * Creates a missing journal with its header already in it: written to `<path>.new`, fsync'd, then linked into
 * place, which fails if a journal appeared meanwhile (then that one is used). So a crash never leaves a journal
 * without a header. Callers hold the writer lock, so `.new` is never written by two at once.
 */
function createWithHeader(path: string, createAfter: () => ChainHead): boolean {
  if (fs.existsSync(path)) return false;
  // A temporary name of this writer's own, created new: a writer killed between linking its temporary file and
  // removing that name leaves the journal with a second name, and that journal is later rotated into a segment.
  // Opening the leftover for writing would truncate the segment. Leftovers are only ever unlinked (which leaves the
  // file behind any other name alone): the name earlier versions used here, and dead writers' names (removeDeadTemps).
  fs.rmSync(`${path}.new`, { force: true });
  const tmp = tempName(path);
  const fd = fs.openSync(tmp, 'wx');
  try {
    writeAll(fd, Buffer.from(encodeHeaderLine(createAfter())), tmp);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    // A file system without hard links (FAT, some network shares): a rename, which the lock keeps from racing.
    if (fs.existsSync(path)) return false;
    fs.renameSync(tmp, path);
    return true;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The journal file open for appending. Writes go through one fd in append mode; the caller holds the lock. */
export class JournalFile {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly ino: number,
    /** Bytes known to be complete lines (the next write starts here). */
    public size: number,
    readonly after: ChainHead,
    private readonly io: JournalIo,
  ) {}

  /** Opens the journal, creating it with a header continuing from `after` when it does not exist. */
  static open(path: string, createAfter: () => ChainHead, io: JournalIo): { file: JournalFile; contents: JournalContents; created: boolean } {
    let fd: number;
    let created = false;
    try {
      created = createWithHeader(path, createAfter);
      fd = fs.openSync(path, 'a+');
    } catch (e) {
      throw auditIoError(e, 'opening', path);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new AuditError('io-error', `The audit journal ${path} is not a regular file. Move it away, then run again.`);
      let contents: JournalContents;
      if (st.size === 0) {
        // An empty journal: left by an older version that died between creating the file and writing its header.
        const after = createAfter();
        const line = encodeHeaderLine(after);
        writeAll(fd, Buffer.from(line), path);
        fs.fsyncSync(fd);
        created = true;
        contents = { header: { version: JOURNAL_VERSION, after }, lines: [], endOffset: Buffer.byteLength(line), tornBytes: 0 };
      } else {
        contents = parseJournalBytes(readAll(fd, Buffer.allocUnsafe(st.size), 0, path));
      }
      if (!contents.header) {
        throw new AuditError('corrupt', `The audit journal ${path} has no valid header. Move it away (it is kept as evidence), then run again.`);
      }
      if (contents.header.version > JOURNAL_VERSION) {
        throw new AuditError('newer-schema', `The audit journal ${path} was written by a newer version of Airlock (journal format ${contents.header.version}). Update Airlock; the file was left untouched.`);
      }
      return { file: new JournalFile(path, fd, st.ino, contents.endOffset, contents.header.after, io), contents, created };
    } catch (e) {
      fs.closeSync(fd);
      throw auditIoError(e, 'reading', path);
    }
  }

  /** Cuts the file at `offset`: drops an unfinished last line left by a writer that died mid-write (never acknowledged). */
  truncateTo(offset: number): void {
    try {
      fs.ftruncateSync(this.fd, offset);
      fs.fsyncSync(this.fd);
      this.size = offset;
    } catch (e) {
      throw auditIoError(e, 'repairing', this.path);
    }
  }

  /** The size of the file as it is now (other writers may have appended). */
  currentSize(): number {
    try {
      return fs.fstatSync(this.fd).size;
    } catch (e) {
      throw auditIoError(e, 'reading', this.path);
    }
  }

  /** Bytes other writers appended since `from` (this process's view of the file may be behind). */
  readFrom(from: number): Buffer {
    return readAll(this.fd, Buffer.allocUnsafe(Math.max(0, this.currentSize() - from)), from, this.path);
  }

  /** Appends whole lines. On failure the file is cut back so no partial line stays behind. */
  write(data: Buffer): void {
    try {
      writeAll(this.fd, data, this.path);
      this.size += data.length;
    } catch (e) {
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        // The write error below is what the caller needs to know.
      }
      throw auditIoError(e, 'writing', this.path);
    }
  }

  async sync(): Promise<void> {
    try {
      await this.io.fdatasync(this.fd);
    } catch (e) {
      throw auditIoError(e, 'syncing', this.path);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already gone
      }
      this.fd = -1;
    }
  }
}

function writeAll(fd: number, data: Buffer, _path: string): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/** Reads until `buf` is full or the file ends; returns the part that was read. */
export function readAll(fd: number, buf: Buffer, position: number, _path: string): Buffer {
  let off = 0;
  while (off < buf.length) {
    const n = fs.readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/** fsync of a directory, so a rename or a new file in it survives a power cut. Not possible on Windows. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open directories; there a rename is durable once it returns.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Every journal record after `afterSeq` (up to `uptoSeq`), from the segments and then the journal, in seq order. */
export function collectAfter(stateDir: string, afterSeq: number, journal: JournalContents | undefined, uptoSeq = Infinity): { records: StoredEvent[]; malformed: number } {
  const records: StoredEvent[] = [];
  let last = afterSeq;
  let malformed = 0;
  const take = (contents: JournalContents) => {
    for (const { line } of contents.lines) {
      if (line.kind === 'record') {
        if (line.record.seq > last && line.record.seq <= uptoSeq) {
          records.push(line.record);
          last = line.record.seq;
        }
      } else if (line.kind === 'malformed') malformed++;
    }
  };
  for (const seg of listSegments(stateDir)) if (seg.last > last && seg.first <= uptoSeq) take(readSegment(seg));
  if (journal) take(journal);
  return { records, malformed };
}

/** Temp files are named `<name>.tmp-<pid>-<random>`; those of dead processes are debris of a crash. */
function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes a whole file durably: temp file, fsync, rename, fsync of the folder. Returns the file's stat as written. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<fs.Stats> {
  const tmp = tempName(path);
  try {
    const fh = await fs.promises.open(tmp, 'w');
    let written: fs.Stats;
    try {
      await fh.writeFile(data);
      await fh.sync();
      written = await fh.stat();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, path);
    syncDir(join(path, '..'));
    return written;
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw auditIoError(e, 'writing', path);
  }
}
