// Reads the `events` table of an audit database straight from the SQLite file, following SQLite's documented
// file format (https://www.sqlite.org/fileformat2.html: b-tree pages, cells, records, overflow pages), so that
// `verify` can hash a million events on worker threads without loading the file into sql.js and decoding every
// row (most of its time before). It is strict: anything it does not expect — a page of the wrong kind, a pointer
// out of range, rows out of order, a record it cannot read — makes it give up (`EventFileUnreadable`), and verify
// falls back to reading the file through SQLite itself, which then decides what is damaged. It only ever reads.
//
// scanEventLeaves is self-contained (it uses nothing from outside its own body), because the worker threads
// run it from its source text.
import * as crypto from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';

/** The file is not laid out as this reader expects (damaged, or written differently): read it through SQLite. */
export class EventFileUnreadable extends Error {
  override readonly name = 'EventFileUnreadable';
}

export interface DatabaseLayout {
  readonly pageSize: number;
  /** Bytes of each page that b-tree content may use (page size less the reserved bytes at its end). */
  readonly usable: number;
  readonly pageCount: number;
}

/** One leaf page's worth of the scan: where the rows live, in order. */
export interface EventLeaves {
  readonly layout: DatabaseLayout;
  /** Leaf pages of the events table, in rowid (seq) order. */
  readonly leaves: Uint32Array;
  /** The `head_seq` recorded in `meta` when the file was written, if any. */
  readonly headSeq: number | undefined;
}

/** The outcome of checking a run of leaf pages against the chain. */
export interface LeafScanResult {
  /** Rows checked and found intact. */
  count: number;
  lastSeq: number;
  lastHash: string;
  /** The first problem: a row whose hash does not match, a seq out of place, or a row that cannot be read. */
  bad?: { kind: 'hash' | 'gap' | 'format'; found: number; detail?: string };
}

/** One row of sqlite_schema without its root page: type, name, tbl_name, sql. */
export type SchemaEntry = readonly [string, string, string, string | null];

/**
 * Reads the header and finds the events table's leaf pages and the recorded head. The schema must be exactly one
 * of `schemas` (what this version of Airlock creates, or what an earlier one did): SQLite reads columns by the
 * names the schema gives them, and refuses a schema it cannot parse, so a file whose schema differs is left to
 * SQLite. Throws EventFileUnreadable.
 */
export function locateEvents(file: Uint8Array, schemas: ReadonlyArray<readonly SchemaEntry[]>): EventLeaves {
  const layout = readLayout(file);
  const schema = scanTable(file, layout, 1);
  const key = (e: readonly unknown[]) => JSON.stringify(e);
  const found = schema.map((r) => key([r[0], r[1], r[2], r[4] ?? null])).sort();
  const known = schemas.some((entries) => {
    const expected = entries.map(key).sort();
    return found.length === expected.length && found.every((f, i) => f === expected[i]);
  });
  if (!known) throw new EventFileUnreadable('the schema is not one this version knows');
  let eventsRoot = 0;
  let metaRoot = 0;
  for (const row of schema) {
    const [type, name, , rootpage] = row;
    if (type === 'table' && name === 'events' && typeof rootpage === 'number') eventsRoot = rootpage;
    if (type === 'table' && name === 'meta' && typeof rootpage === 'number') metaRoot = rootpage;
  }
  if (eventsRoot < 2 || eventsRoot > layout.pageCount) throw new EventFileUnreadable('no events table');
  const leaves = tableLeaves(file, layout, eventsRoot);
  let headSeq: number | undefined;
  if (metaRoot >= 2 && metaRoot <= layout.pageCount) {
    for (const row of indexEntries(file, layout, metaRoot)) {
      if (row[0] === 'head_seq' && typeof row[1] === 'string') headSeq = Number(row[1]);
    }
  } else {
    throw new EventFileUnreadable('no meta table');
  }
  return { layout, leaves: Uint32Array.from(leaves), headSeq };
}

function readLayout(file: Uint8Array): DatabaseLayout {
  if (file.length < 512) throw new EventFileUnreadable('too short');
  const magic = 'SQLite format 3\u0000';
  for (let i = 0; i < 16; i++) if (file[i] !== magic.charCodeAt(i)) throw new EventFileUnreadable('not an SQLite file');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const raw = view.getUint16(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw new EventFileUnreadable('bad page size');
  const reserved = file[20]!;
  const usable = pageSize - reserved;
  if (usable < 480) throw new EventFileUnreadable('bad reserved space');
  // Only what sql.js writes is read here; any other header value is SQLite's to judge (some make it refuse the
  // file): rollback-journal file format versions, the fixed payload fractions, schema format 1–4, UTF-8 text.
  if (file[18] !== 1 || file[19] !== 1) throw new EventFileUnreadable('file format version');
  if (file[21] !== 64 || file[22] !== 32 || file[23] !== 32) throw new EventFileUnreadable('payload fractions');
  const schemaFormat = view.getUint32(44);
  if (schemaFormat < 1 || schemaFormat > 4) throw new EventFileUnreadable('schema format');
  if (view.getUint32(56) !== 1) throw new EventFileUnreadable('not UTF-8');
  const pageCount = Math.floor(file.length / pageSize);
  if (pageCount * pageSize !== file.length) throw new EventFileUnreadable('not a whole number of pages');
  const inHeader = view.getUint32(28);
  if (view.getUint32(92) === view.getUint32(24) && inHeader !== pageCount) throw new EventFileUnreadable('page count disagrees with the file size');
  return { pageSize, usable, pageCount };
}

type Value = null | number | string | Uint8Array;

/** Every row of a (small) table b-tree as decoded values, rowid first replaced by nothing: for sqlite_schema. */
function scanTable(file: Uint8Array, layout: DatabaseLayout, root: number): Value[][] {
  const rows: Value[][] = [];
  for (const leaf of tableLeaves(file, layout, root)) {
    const base = (leaf - 1) * layout.pageSize;
    const header = leaf === 1 ? 100 : 0;
    const cells = cellCount(file, base + header);
    for (let i = 0; i < cells; i++) {
      const at = cellPointer(file, layout, base, header, 8, i);
      const [size, n1] = varint(file, at);
      const [, n2] = varint(file, at + n1);
      const payload = payloadOf(file, layout, at + n1 + n2, size, tableLocal(layout.usable, size));
      rows.push(decodeRecord(payload));
    }
  }
  return rows;
}

/** The leaf pages of a table b-tree in key order, with every page checked for its kind and bounds. */
function tableLeaves(file: Uint8Array, layout: DatabaseLayout, root: number): number[] {
  const leaves: number[] = [];
  const seen = new Uint8Array(layout.pageCount + 1);
  const visit = (page: number, depth: number): void => {
    if (page < 1 || page > layout.pageCount || seen[page]) throw new EventFileUnreadable(`bad child page ${page}`);
    if (depth > 40) throw new EventFileUnreadable('b-tree too deep');
    seen[page] = 1;
    const base = (page - 1) * layout.pageSize;
    const header = page === 1 ? 100 : 0;
    const kind = file[base + header];
    if (kind === 0x0d) {
      leaves.push(page);
      return;
    }
    if (kind !== 0x05) throw new EventFileUnreadable(`page ${page} is not a table b-tree page`);
    const cells = cellCount(file, base + header);
    for (let i = 0; i < cells; i++) visit(readU32(file, cellPointer(file, layout, base, header, 12, i)), depth + 1);
    visit(readU32(file, base + header + 8), depth + 1);
  };
  visit(root, 0);
  return leaves;
}

/** Every entry of a (small) index b-tree, interior cells included: for the WITHOUT ROWID `meta` table. */
function indexEntries(file: Uint8Array, layout: DatabaseLayout, root: number): Value[][] {
  const out: Value[][] = [];
  const seen = new Uint8Array(layout.pageCount + 1);
  const x = Math.floor(((layout.usable - 12) * 64) / 255) - 23;
  const visit = (page: number, depth: number): void => {
    if (page < 2 || page > layout.pageCount || seen[page] || depth > 40) throw new EventFileUnreadable(`bad index page ${page}`);
    seen[page] = 1;
    const base = (page - 1) * layout.pageSize;
    const kind = file[base];
    if (kind !== 0x0a && kind !== 0x02) throw new EventFileUnreadable(`page ${page} is not an index b-tree page`);
    const interior = kind === 0x02;
    const cells = cellCount(file, base);
    for (let i = 0; i < cells; i++) {
      let at = cellPointer(file, layout, base, 0, interior ? 12 : 8, i);
      if (interior) {
        visit(readU32(file, at), depth + 1);
        at += 4;
      }
      const [size, n] = varint(file, at);
      const local = size <= x ? size : minLocal(layout.usable, size, x);
      out.push(decodeRecord(payloadOf(file, layout, at + n, size, local)));
    }
    if (interior) visit(readU32(file, base + 8), depth + 1);
  };
  visit(root, 0);
  return out;
}

function cellCount(file: Uint8Array, headerAt: number): number {
  return (file[headerAt + 3]! << 8) | file[headerAt + 4]!;
}

function cellPointer(file: Uint8Array, layout: DatabaseLayout, base: number, header: number, headerSize: number, i: number): number {
  const cells = cellCount(file, base + header);
  // Cells live between the end of the pointer array and the usable end, at or after the content area start.
  const contentStart = ((file[base + header + 5]! << 8) | file[base + header + 6]!) || 65536;
  const p = base + header + headerSize + 2 * i;
  const offset = (file[p]! << 8) | file[p + 1]!;
  if (offset < header + headerSize + 2 * cells || offset < contentStart || offset >= layout.usable) throw new EventFileUnreadable('cell pointer out of range');
  return base + offset;
}

function readU32(file: Uint8Array, at: number): number {
  return ((file[at]! << 24) >>> 0) + (file[at + 1]! << 16) + (file[at + 2]! << 8) + file[at + 3]!;
}

function varint(file: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const b = file[at + i];
    if (b === undefined) throw new EventFileUnreadable('varint past the end');
    v = v * 128 + (b & 0x7f);
    if (b < 0x80) return [v, i + 1];
  }
  const last = file[at + 8];
  if (last === undefined) throw new EventFileUnreadable('varint past the end');
  return [v * 256 + last, 9];
}

function tableLocal(usable: number, size: number): number {
  const x = usable - 35;
  return size <= x ? size : minLocal(usable, size, x);
}

function minLocal(usable: number, size: number, x: number): number {
  const m = Math.floor(((usable - 12) * 32) / 255) - 23;
  const k = m + ((size - m) % (usable - 4));
  return k <= x ? k : m;
}

/** The whole payload of a cell: its local part, then its overflow pages. */
function payloadOf(file: Uint8Array, layout: DatabaseLayout, at: number, size: number, local: number): Uint8Array {
  if (local === size) {
    if (at + size > file.length) throw new EventFileUnreadable('payload past the end');
    return file.subarray(at, at + size);
  }
  const out = new Uint8Array(size);
  out.set(file.subarray(at, at + local));
  let have = local;
  let next = readU32(file, at + local);
  let hops = 0;
  while (have < size) {
    if (next < 2 || next > layout.pageCount || ++hops > layout.pageCount) throw new EventFileUnreadable('bad overflow page');
    const base = (next - 1) * layout.pageSize;
    const n = Math.min(size - have, layout.usable - 4);
    out.set(file.subarray(base + 4, base + 4 + n), have);
    have += n;
    next = readU32(file, base);
  }
  return out;
}

function decodeRecord(payload: Uint8Array): Value[] {
  const [headerSize, n0] = varint(payload, 0);
  if (headerSize > payload.length) throw new EventFileUnreadable('record header too long');
  const types: number[] = [];
  let h = n0;
  while (h < headerSize) {
    const [t, n] = varint(payload, h);
    types.push(t);
    h += n;
  }
  if (h !== headerSize) throw new EventFileUnreadable('record header overrun');
  const values: Value[] = [];
  let at = headerSize;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const t of types) {
    if (t === 0) values.push(null);
    else if (t >= 1 && t <= 6) {
      // Big-endian two's complement: built from unsigned bytes, then sign-corrected.
      const len = [0, 1, 2, 3, 4, 6, 8][t]!;
      if (at + len > payload.length) throw new EventFileUnreadable('value past the end of its record');
      let u = 0;
      for (let i = 0; i < len; i++) u = u * 256 + payload[at + i]!;
      values.push(payload[at]! & 0x80 ? u - 2 ** (8 * len) : u);
      at += len;
    } else if (t === 7) {
      values.push(new DataView(payload.buffer, payload.byteOffset + at, 8).getFloat64(0));
      at += 8;
    } else if (t === 8 || t === 9) values.push(t - 8);
    else if (t >= 12) {
      const len = (t - (t % 2 === 0 ? 12 : 13)) / 2;
      if (at + len > payload.length) throw new EventFileUnreadable('value past the end of its record');
      const bytes = payload.subarray(at, at + len);
      let text: string | undefined;
      if (t % 2 === 1) {
        try {
          text = utf8.decode(bytes);
        } catch {
          throw new EventFileUnreadable('text that is not UTF-8');
        }
      }
      values.push(text ?? bytes);
      at += len;
    } else throw new EventFileUnreadable(`unknown serial type ${t}`);
  }
  if (at !== payload.length) throw new EventFileUnreadable('record size mismatch');
  return values;
}

/**
 * Checks the rows of the given leaf pages of the events table against the chain: each row's seq (its rowid) must
 * be the next one from `start`, and its stored hash sha256(previous stored hash in hex + body bytes). With
 * `lastOnly`, reads just the last row of the last page and reports it (no hashing). Self-contained: the worker
 * threads run it from its source text; `hash` is sha256 of its argument. Written for speed (a million rows):
 * no allocation per row beyond the hash itself.
 */
export function scanEventLeaves(
  file: Uint8Array,
  pageSize: number,
  usable: number,
  leaves: ArrayLike<number>,
  prev: string,
  start: number,
  hash: (data: Uint8Array) => Uint8Array,
  lastOnly: boolean,
): LeafScanResult {
  const pageCount = Math.floor(file.length / pageSize);
  const maxLocal = usable - 35;
  const minLocalSize = Math.floor(((usable - 12) * 32) / 255) - 23;
  // scratch: the previous hash as 64 hex digits, then the body being hashed (or a payload being assembled).
  let scratch = new Uint8Array(16384);
  const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
  for (let k = 0; k < 64; k++) scratch[k] = prev.charCodeAt(k) & 0xff;
  let expect = start;
  let count = 0;
  const hexOf = (): string => {
    let out = '';
    for (let k = 0; k < 64; k++) out += String.fromCharCode(scratch[k]!);
    return out;
  };
  const fail = (kind: 'hash' | 'gap' | 'format', found: number, detail?: string): LeafScanResult => ({ count, lastSeq: expect - 1, lastHash: count > 0 ? hexOf() : prev, bad: { kind, found, detail } });
  const u32 = (at: number): number => ((file[at]! << 24) >>> 0) + (file[at + 1]! << 16) + (file[at + 2]! << 8) + file[at + 3]!;
  // A SQLite varint at `pos` (the ninth byte counts all 8 bits); where it ends is left in varintEnd.
  let varintEnd = 0;
  const varintAt = (buf: Uint8Array, pos: number): number => {
    let v = 0;
    for (let i = 0; ; i++) {
      const b = buf[pos++]!;
      if (i === 8) {
        v = v * 256 + b;
        break;
      }
      v = v * 128 + (b & 0x7f);
      if (b < 0x80) break;
    }
    varintEnd = pos;
    return v;
  };
  for (let li = lastOnly ? leaves.length - 1 : 0; li < leaves.length; li++) {
    const page = leaves[li]!;
    if (page < 2 || page > pageCount) return fail('format', expect, `leaf page ${page} out of range`);
    const base = (page - 1) * pageSize;
    if (file[base] !== 0x0d) return fail('format', expect, `page ${page} is not a table leaf`);
    const cells = (file[base + 3]! << 8) | file[base + 4]!;
    const contentStart = ((file[base + 5]! << 8) | file[base + 6]!) || 65536;
    // Only the root of an empty table is an empty leaf; anywhere else one is not what SQLite writes.
    if (cells === 0 && leaves.length > 1) return fail('format', expect, `leaf page ${page} is empty`);
    for (let ci = lastOnly ? cells - 1 : 0; ci < cells; ci++) {
      const ptr = base + 8 + 2 * ci;
      const off = (file[ptr]! << 8) | file[ptr + 1]!;
      if (off < 8 + 2 * cells || off < contentStart || off >= usable) return fail('format', expect, 'cell pointer out of range');
      let at = base + off;
      // Payload size, then rowid.
      const size = varintAt(file, at);
      at = varintEnd;
      const rowid = varintAt(file, at);
      at = varintEnd;
      // The payload: in place when it fits on the page, else assembled (after the 64 hex digits) from its overflow
      // pages.
      let src = file;
      let p0 = at;
      if (size > maxLocal) {
        const k = minLocalSize + ((size - minLocalSize) % (usable - 4));
        const local = k <= maxLocal ? k : minLocalSize;
        if (scratch.length < size + 64) {
          const bigger = new Uint8Array(size * 2 + 64);
          bigger.set(scratch.subarray(0, 64));
          scratch = bigger;
        }
        scratch.set(file.subarray(at, at + local), 64);
        let have = local;
        let next = u32(at + local);
        let hops = 0;
        while (have < size) {
          if (next < 2 || next > pageCount || ++hops > pageCount) return fail('format', expect, 'bad overflow page');
          const ob = (next - 1) * pageSize;
          const n = Math.min(size - have, usable - 4);
          scratch.set(file.subarray(ob + 4, ob + 4 + n), 64 + have);
          have += n;
          next = u32(ob);
        }
        src = scratch;
        p0 = 64;
      } else if (at + size > base + usable) {
        return fail('format', expect, 'payload past its page');
      }
      // The record: header size, nine serial types (seq is the rowid, stored as NULL), then the values; the body
      // is column 7 and the hash column 8.
      const hsz = src[p0]!;
      if (hsz >= 0x80 || hsz < 10 || hsz > size) return fail('format', expect, 'unexpected record header');
      let q = p0 + 1;
      let valueAt = p0 + hsz;
      let bodyAt = 0;
      let bodyLen = 0;
      let hashAt = 0;
      let hashLen = 0;
      for (let col = 0; col < 9; col++) {
        const t = varintAt(src, q);
        q = varintEnd;
        let len: number;
        if (t >= 12) len = (t - 12) >> 1;
        else if (t <= 4) len = t;
        else if (t === 5) len = 6;
        else if (t === 6 || t === 7) len = 8;
        else if (t === 8 || t === 9) len = 0;
        else return fail('format', expect, `unknown serial type ${t}`);
        if (col === 7) {
          bodyAt = valueAt;
          bodyLen = len;
        } else if (col === 8) {
          hashAt = valueAt;
          hashLen = len;
        }
        valueAt += len;
      }
      if (q !== p0 + hsz || valueAt !== p0 + size) return fail('format', expect, 'record size mismatch');
      if (lastOnly) {
        for (let k = 0; k < 32 && hashLen === 32; k++) {
          scratch[2 * k] = HEX[src[hashAt + k]! >> 4]!;
          scratch[2 * k + 1] = HEX[src[hashAt + k]! & 15]!;
        }
        return { count: 0, lastSeq: rowid, lastHash: hashLen === 32 ? hexOf() : '' };
      }
      if (rowid !== expect) return fail('gap', rowid);
      // A hash of the wrong length (edited) can only fail to match, as it should.
      if (hashLen !== 32) return fail('hash', rowid);
      // sha256(previous hash in hex + body), hashed from scratch: an in-page body is copied after the 64 digits;
      // an assembled one is moved down over its record header (the hash after it stays where it is).
      if (src === file) {
        if (scratch.length < bodyLen + 64) {
          const bigger = new Uint8Array(bodyLen * 2 + 64);
          bigger.set(scratch.subarray(0, 64));
          scratch = bigger;
        }
        scratch.set(file.subarray(bodyAt, bodyAt + bodyLen), 64);
      } else if (bodyAt !== 64) {
        scratch.copyWithin(64, bodyAt, bodyAt + bodyLen);
      }
      const digest = hash(scratch.subarray(0, 64 + bodyLen));
      for (let k = 0; k < 32; k++) if (digest[k] !== src[hashAt + k]) return fail('hash', rowid);
      // This row's hash, in hex, is the next row's prefix.
      for (let k = 0; k < 32; k++) {
        const b = digest[k]!;
        scratch[2 * k] = HEX[b >> 4]!;
        scratch[2 * k + 1] = HEX[b & 15]!;
      }
      expect = rowid + 1;
      count++;
    }
  }
  return { count, lastSeq: expect - 1, lastHash: count > 0 ? hexOf() : prev };
}

// ---------------------------------------------------------------- checking a whole file, on worker threads

/** Leaf pages per unit of work (about 1,800 events with 4 KB pages). */
const LEAVES_PER_CHUNK = 256;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const hash = crypto.hash ? (d) => crypto.hash('sha256', d, 'buffer') : (d) => crypto.createHash('sha256').update(d).digest();
const scanEventLeaves = ${scanEventLeaves.toString()};
const file = new Uint8Array(workerData.file);
parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, result: scanEventLeaves(file, m.pageSize, m.usable, m.leaves, m.prev, m.start, hash, false) }));
`;

const oneShot = (crypto as unknown as { hash?: (alg: string, d: Uint8Array, enc: 'buffer') => Buffer }).hash;

function sha256(data: Uint8Array): Uint8Array {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/**
 * Checks every event stored in a database file (held in a SharedArrayBuffer, so worker threads read it without a
 * copy) against the chain from `start`. Returns the results per unit of work, in seq order, and the head the file
 * recorded; or undefined when the file cannot be read this way (then SQLite must read it).
 */
export async function checkEventFile(
  file: Uint8Array,
  schemas: ReadonlyArray<readonly SchemaEntry[]>,
  start: { seq: number; hash: string },
  threads?: number,
): Promise<{ results: LeafScanResult[]; headSeq: number | undefined } | undefined> {
  let located: EventLeaves;
  try {
    located = locateEvents(file, schemas);
  } catch (e) {
    if (e instanceof EventFileUnreadable) return undefined;
    throw e;
  }
  const { layout, leaves } = located;
  const units: Array<{ leaves: Uint32Array; prev: string; start: number }> = [];
  let prev = start.hash;
  let next = start.seq + 1;
  for (let i = 0; i < leaves.length; i += LEAVES_PER_CHUNK) {
    const part = leaves.slice(i, i + LEAVES_PER_CHUNK);
    units.push({ leaves: part, prev, start: next });
    // Where the next unit starts: the last row of this one, read without hashing.
    const last = scanEventLeaves(file, layout.pageSize, layout.usable, part, prev, next, sha256, true);
    if (last.bad) return undefined;
    prev = last.lastHash;
    next = last.lastSeq + 1;
  }
  const shared = file.buffer instanceof SharedArrayBuffer && file.byteOffset === 0 && file.byteLength === file.buffer.byteLength;
  const workers = shared && units.length > 1 && threads !== 0 ? startWorkers(file.buffer as SharedArrayBuffer, threads) : [];
  try {
    const run = (u: (typeof units)[number], k: number): Promise<LeafScanResult> => {
      const local = () => scanEventLeaves(file, layout.pageSize, layout.usable, u.leaves, u.prev, u.start, sha256, false);
      const w = workers[k % Math.max(1, workers.length)];
      if (!w) return Promise.resolve(local());
      return w.check({ pageSize: layout.pageSize, usable: layout.usable, leaves: u.leaves, prev: u.prev, start: u.start }).catch(local);
    };
    // A bounded number in flight per worker keeps memory flat.
    const results: LeafScanResult[] = new Array(units.length);
    const limit = Math.max(1, workers.length) * 4;
    let issued = 0;
    const inflight = new Set<Promise<void>>();
    while (issued < units.length) {
      while (inflight.size < limit && issued < units.length) {
        const k = issued++;
        const p: Promise<void> = run(units[k]!, k).then((r) => {
          results[k] = r;
          inflight.delete(p);
        });
        inflight.add(p);
      }
      await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (results.some((r) => r.bad?.kind === 'format')) {
      // Only a format problem before the first chain failure matters; after one, the rest is not reported anyway.
      for (const r of results) {
        if (r.bad?.kind === 'format') return undefined;
        if (r.bad) break;
      }
    }
    return { results, headSeq: located.headSeq };
  } finally {
    for (const w of workers) w.close();
  }
}

interface ScanWorker {
  check(m: { pageSize: number; usable: number; leaves: Uint32Array; prev: string; start: number }): Promise<LeafScanResult>;
  close(): void;
}

function startWorkers(file: SharedArrayBuffer, threads?: number): ScanWorker[] {
  const n = Math.max(1, Math.min(4, threads ?? (typeof availableParallelism === 'function' ? availableParallelism() : cpus().length)));
  const out: ScanWorker[] = [];
  for (let i = 0; i < n; i++) {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file } });
    } catch {
      break;
    }
    let id = 0;
    const waiting = new Map<number, { resolve: (r: LeafScanResult) => void; reject: (e: unknown) => void }>();
    worker.on('message', (m: { id: number; result: LeafScanResult }) => {
      waiting.get(m.id)?.resolve(m.result);
      waiting.delete(m.id);
    });
    worker.on('error', (e) => {
      for (const p of waiting.values()) p.reject(e);
      waiting.clear();
    });
    out.push({
      check: (m) =>
        new Promise<LeafScanResult>((resolve, reject) => {
          const k = id++;
          waiting.set(k, { resolve, reject });
          worker.postMessage({ id: k, ...m });
        }),
      close: () => void worker.terminate(),
    });
  }
  return out;
}
