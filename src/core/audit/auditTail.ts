// The newest events of an audit log, read straight from the journal and its newest segments without loading the
// database: what a viewer can show at once while the (possibly very large) database is still being read. Read-only
// and best effort: anything unexpected (a malformed line, a gap, a file rotated away while reading) answers
// `undefined`, and the caller waits for the database instead. Only the last lines are parsed.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AuditEvent } from '../../protocol/auditEvent';
import { JOURNAL_FILE, listSegments, parseJournalLine } from './auditJournal';
import type { StoredEvent } from './auditJournal';

/** Journal bytes read at most from its end (a journal is rotated long before it grows far beyond this). */
const journalTailBytes = 8 * 1024 * 1024;

export interface NewestEvents {
  /** Ascending seq order. */
  readonly events: AuditEvent[];
  /** Older events exist. */
  readonly hasBefore: boolean;
  /** The newest seq in the log (0 when empty). */
  readonly lastSeq: number;
}

export interface NewestOptions {
  /** Only events older than this seq (a page further back); `lastSeq` is then the newest of those. */
  readonly before?: number;
  /** Give up rather than read a segment file larger than this (one is gunzipped whole, on the caller's thread). */
  readonly segmentBytesLimit?: number;
}

/** Up to `limit` of the newest events, or undefined when they cannot be read cheaply and consistently. */
export function readNewestEvents(stateDir: string, limit: number, options: NewestOptions = {}): NewestEvents | undefined {
  const before = options.before ?? Infinity;
  try {
    const newest: StoredEvent[] = []; // newest first
    let floor: number | undefined; // the seq before the oldest event of the files read whole
    const journal = readTail(join(stateDir, JOURNAL_FILE));
    if (journal === 'damaged') return undefined;
    if (journal) {
      const t = lastRecords(journal.bytes, limit, journal.whole, before);
      if (!t) return undefined;
      newest.push(...t.records);
      if (journal.whole) floor = t.header;
      else if (newest.length < limit) return undefined; // a cut journal with fewer lines than asked: unusual, give up
    }
    const segments = listSegments(stateDir);
    for (let i = segments.length - 1; i >= 0 && newest.length < limit; i--) {
      const seg = segments[i]!;
      const expectLast = newest.length > 0 ? newest.at(-1)!.seq - 1 : (floor ?? seg.last);
      if (seg.last !== expectLast) return undefined;
      const raw = fs.readFileSync(seg.path);
      if (raw.length > (options.segmentBytesLimit ?? Infinity)) return undefined;
      const t = lastRecords(seg.compressed ? gunzipSync(raw) : raw, limit - newest.length, true, before);
      if (!t) return undefined;
      newest.push(...t.records);
      floor = t.header ?? seg.first - 1;
    }
    for (let i = 1; i < newest.length; i++) if (newest[i]!.seq !== newest[i - 1]!.seq - 1) return undefined;
    const oldest = newest.at(-1);
    if (oldest && floor !== undefined && newest.length < limit && oldest.seq - 1 !== floor) return undefined;
    const hasBefore = oldest ? oldest.seq > 1 : (floor ?? 0) > 0;
    if (newest.length < limit && hasBefore) return undefined; // older events exist that only the database holds
    if (newest.length === 0) return undefined; // nothing in the files beside the database: ask the database
    const events = newest.reverse().map((r) => Object.assign({}, r.event, { hash: r.hash }) as unknown as AuditEvent);
    return { events, hasBefore, lastSeq: events.at(-1)?.seq ?? floor ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * The last `limit` records older than `before` of journal-format bytes, newest first, parsing only those lines
 * (and the newer ones skipped). When fewer exist and `whole` (the bytes start at the file's start), `header` is
 * the seq the file continues from. Undefined on a malformed line. Bytes after the last newline are an unfinished
 * write and are ignored.
 */
function lastRecords(buf: Buffer, limit: number, whole: boolean, before: number): { records: StoredEvent[]; header?: number } | undefined {
  const records: StoredEvent[] = [];
  let end = buf.lastIndexOf(10);
  if (end < 0) return { records };
  while (records.length < limit && end > 0) {
    const nl = buf.lastIndexOf(10, end - 1);
    const start = nl + 1;
    const line = parseJournalLine(buf.toString('utf8', start, end));
    if (start === 0 && whole) return line.kind === 'header' ? { records, header: line.after.seq } : undefined;
    if (line.kind !== 'record') return undefined;
    if (line.record.seq < before) records.push(line.record);
    end = nl;
    if (nl < 0) break;
  }
  return { records };
}

/** The journal, or its last `journalTailBytes` from a line start; undefined when missing. */
function readTail(path: string): { bytes: Buffer; whole: boolean } | 'damaged' | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - journalTailBytes);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const bytes = buf.subarray(0, got);
    if (start === 0) return { bytes, whole: true };
    const nl = bytes.indexOf(10);
    return nl < 0 ? 'damaged' : { bytes: bytes.subarray(nl + 1), whole: false };
  } finally {
    fs.closeSync(fd);
  }
}
