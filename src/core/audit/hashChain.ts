// The audit log's hash chain: each event's hash is sha256(prevHash + canonical JSON of the event without hash),
// canonical JSON being RFC 8785 (JCS). The first event chains to GENESIS_HASH.
import * as crypto from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { configure } from 'safe-stable-stringify';

/** The prevHash of event #1. */
export const GENESIS_HASH = '0'.repeat(64);

// safe-stable-stringify with sorted keys writes JSON values exactly as RFC 8785 does: members in UTF-16 code unit
// order, numbers and strings as ECMAScript's JSON.stringify writes them (the unit tests hold it to the RFC's examples
// and to the RFC's reference implementation on random values), in about half the time. Strict: a value JSON cannot
// carry (NaN, Infinity, a function, a BigInt, a cycle) throws instead of being written some other way.
const stringify = configure({ deterministic: true, strict: true, bigint: false, circularValue: Error });

/**
 * A `\uXXXX` escape of a lone surrogate in JSON text: JSON.stringify writes one only for a surrogate without its
 * pair (a pair is written as is), and a backslash of the text itself is always doubled.
 */
const LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f]/;

/** RFC 8785 canonical JSON. Throws for values JSON cannot carry (lone surrogates, NaN, cycles). */
export function canonicalJson(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new Error('canonicalJson: the value has no JSON form');
  // RFC 8785 §3.2.2.2: a lone surrogate cannot be represented.
  if (text.includes('\\ud') && LONE_SURROGATE_ESCAPE.test(text)) throw new Error('Lone surrogate is not allowed in RFC 8785 JSON');
  return text;
}

// One-shot hashing (Node ≥ 20.12) is about twice as fast as createHash for small inputs; verify hashes every event.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/** The chain hash of an event whose canonical text (without `hash`, with `prevHash`) is `body`. */
export function chainHash(prevHash: string, body: string): string {
  if (oneShot) return oneShot('sha256', prevHash + body, 'hex');
  return crypto.createHash('sha256').update(prevHash).update(body).digest('hex');
}

export type ChainProblem =
  /** The stored hash is not sha256(prevHash + body): the event (or its hash) was changed. */
  | 'hash-mismatch'
  /** The expected seq is absent, or events are not in seq order: deleted or reordered. */
  | 'out-of-order'
  /** A stored record cannot be parsed at all. */
  | 'malformed'
  /** The database file cannot be read (damaged). */
  | 'unreadable'
  /** The database's recorded head is beyond its last event: events at the end were deleted. */
  | 'truncated'
  /** (deep check) An index column or the SQLite structure disagrees with the hashed events. */
  | 'index-mismatch';

export type ChainLocation = 'database' | 'segment' | 'journal';

export interface VerifyResult {
  readonly ok: boolean;
  /** Events checked and found intact (all of them when ok). */
  readonly events: number;
  /** The last intact event. */
  readonly head: { readonly seq: number; readonly hash: string };
  readonly firstBadSeq?: number;
  readonly problem?: ChainProblem;
  readonly where?: ChainLocation;
  /** One sentence for a person: what is wrong and where, or that the chain is intact. */
  readonly message: string;
  /** Things worth knowing that are not tampering (an unfinished last journal line, say). */
  readonly notes: readonly string[];
}

/** Checks stored records one by one, in the order they are stored, and remembers the first that breaks the chain. */
export class ChainVerifier {
  private seq: number;
  private hash: string;
  private count = 0;
  private failure: { seq: number; problem: ChainProblem; where: ChainLocation; detail: string } | undefined;
  readonly notes: string[] = [];

  constructor(start: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH }) {
    this.seq = start.seq;
    this.hash = start.hash;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.hash };
  }

  /** Feeds the next stored record; false once the chain is broken (later records are then ignored). */
  push(seq: number, body: string, hash: string, where: ChainLocation): boolean {
    if (this.failure) return false;
    const expected = this.seq + 1;
    if (seq !== expected) {
      const detail = seq > expected ? `event #${expected} is missing (found #${seq} where it belongs)` : `event #${seq} appears again where #${expected} belongs`;
      return this.fail(expected, 'out-of-order', where, detail);
    }
    if (chainHash(this.hash, body) !== hash) {
      return this.fail(seq, 'hash-mismatch', where, `event #${seq} does not match its hash (changed after it was written)`);
    }
    this.seq = seq;
    this.hash = hash;
    this.count++;
    return true;
  }

  /**
   * Feeds a database scan, in order, in chunks of a few thousand rows held in typed arrays (cheap to hand to a
   * worker thread: the buffers are moved, not copied). Large scans are checked on worker threads, a chunk each,
   * since SHA-256 of a million events takes seconds on one core. An error thrown while reading the chunks becomes
   * an `unreadable` failure after the last good event.
   */
  async pushChunks(chunks: Iterable<ChainChunk>, where: ChainLocation, describeReadError: (e: unknown) => string, threads?: number): Promise<void> {
    if (this.failure) return;
    let pool: ChunkPool | undefined;
    let poolTried = false;
    const pending: Array<Promise<ChunkResult>> = [];
    let settled = 0;
    let prev = this.hash;
    let expected = this.seq + 1;
    let readError: unknown;
    try {
      for (const chunk of chunks) {
        if (chunk.seqs.length === 0) continue;
        if (!poolTried && pending.length > 0) {
          // Only a scan of more than one chunk is worth starting threads for.
          poolTried = true;
          pool = threads === 0 ? undefined : ChunkPool.create(threads);
        }
        const n = chunk.seqs.length;
        const lastSeq = chunk.seqs[n - 1]!;
        const lastHash = Buffer.from(chunk.hashes.buffer, chunk.hashes.byteOffset + 32 * (n - 1), 32).toString('hex');
        pending.push(pool ? pool.check(prev, expected, chunk) : Promise.resolve(checkChunk(prev, expected, chunk, hashBytes)));
        prev = lastHash;
        expected = lastSeq + 1;
        while (pool && pending.length - settled > pool.size * 2) await pending[settled++];
      }
    } catch (e) {
      readError = e;
    }
    try {
      for (const p of pending) {
        if (!this.take(await p, where)) return;
      }
    } finally {
      pool?.close();
    }
    if (readError !== undefined) this.fail(this.seq + 1, 'unreadable', where, describeReadError(readError));
  }

  /**
   * Takes the results of checking consecutive runs of stored events elsewhere (eventFileScan), in order: each
   * run continued the chain from where the one before it ended.
   */
  absorb(results: ReadonlyArray<{ count: number; lastSeq: number; lastHash: string; bad?: { kind: string; found: number } }>, where: ChainLocation): void {
    for (const r of results) {
      if (this.failure || !this.take(r, where)) return;
    }
  }
  /** Continues the chain with one checked run of events; false when the run ended at a bad event (now the failure). */
  private take(r: { count: number; lastSeq: number; lastHash: string; bad?: { kind: string; found: number } }, where: ChainLocation): boolean {
    if (r.count > 0) {
      this.seq = r.lastSeq;
      this.hash = r.lastHash;
      this.count += r.count;
    }
    if (!r.bad) return true;
    const seq = this.seq + 1;
    if (r.bad.kind === 'gap') {
      const found = r.bad.found;
      this.fail(seq, 'out-of-order', where, found > seq ? `event #${seq} is missing (found #${found} where it belongs)` : `event #${found} appears again where #${seq} belongs`);
    } else this.fail(seq, 'hash-mismatch', where, `event #${seq} does not match its hash (changed after it was written)`);
    return false;
  }


  /** Records a problem found outside push (an unparsable line, an unreadable database page). */
  fail(seq: number, problem: ChainProblem, where: ChainLocation, detail: string): false {
    this.failure ??= { seq, problem, where, detail };
    return false;
  }

  result(): VerifyResult {
    const head = this.head;
    if (!this.failure) {
      const message = head.seq === 0 ? 'The audit log is empty.' : `The hash chain is intact: ${this.count.toLocaleString('en-US')} events, head #${head.seq} sha256:${head.hash.slice(0, 16)}…`;
      return { ok: true, events: this.count, head, message, notes: this.notes };
    }
    const f = this.failure;
    return {
      ok: false,
      events: this.count,
      head,
      firstBadSeq: f.seq,
      problem: f.problem,
      where: f.where,
      message: `The hash chain is broken at event #${f.seq} (${f.where}): ${f.detail}.`,
      notes: this.notes,
    };
  }
}

/** Rows of a database scan: seqs, 32-byte hashes back to back, and UTF-8 bodies back to back with their offsets. */
export interface ChainChunk {
  readonly seqs: Float64Array;
  readonly hashes: Uint8Array;
  readonly offsets: Uint32Array;
  readonly bodies: Uint8Array;
}

interface ChunkResult {
  count: number;
  lastSeq: number;
  lastHash: string;
  bad?: { kind: 'hash' | 'gap'; found: number };
}

function hashBytes(data: Uint8Array): Uint8Array {
  const h = (crypto as unknown as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;
  return h ? h('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/**
 * Checks one chunk: seq from `start` on, each stored hash = sha256(previous hash in hex + body bytes). It is
 * self-contained (the worker runs it from its source text), so it gets the hash function as a parameter.
 */
function checkChunk(prev: string, start: number, c: ChainChunk, hash: (data: Uint8Array) => Uint8Array): ChunkResult {
  let longest = 0;
  for (let i = 0; i + 1 < c.offsets.length; i++) longest = Math.max(longest, c.offsets[i + 1]! - c.offsets[i]!);
  const scratch = Buffer.allocUnsafe(64 + longest);
  scratch.write(prev, 0, 'latin1');
  let lastHash = prev;
  for (let i = 0; i < c.seqs.length; i++) {
    if (c.seqs[i] !== start + i) return { count: i, lastSeq: start + i - 1, lastHash, bad: { kind: 'gap', found: c.seqs[i]! } };
    const body = c.bodies.subarray(c.offsets[i], c.offsets[i + 1]);
    scratch.set(body, 64);
    const digest = hash(scratch.subarray(0, 64 + body.length));
    const stored = c.hashes.subarray(32 * i, 32 * i + 32);
    for (let k = 0; k < 32; k++) if (digest[k] !== stored[k]) return { count: i, lastSeq: start + i - 1, lastHash, bad: { kind: 'hash', found: start + i } };
    lastHash = Buffer.from(stored.buffer, stored.byteOffset, 32).toString('hex');
    scratch.write(lastHash, 0, 'latin1');
  }
  return { count: c.seqs.length, lastSeq: start + c.seqs.length - 1, lastHash };
}

// The worker needs only node:crypto and the function above (by its source text), so it needs no file of its own:
// it runs the same from the tests, the CLI bundle and the extension host.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const hash = crypto.hash ? (d) => crypto.hash('sha256', d, 'buffer') : (d) => crypto.createHash('sha256').update(d).digest();
const checkChunk = ${checkChunk.toString()};
parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, result: checkChunk(m.prev, m.start, m.chunk, hash) }));
`;

/** Worker threads that check chunks; a chunk whose worker fails is checked on this thread instead. */
class ChunkPool {
  private next = 0;
  private id = 0;
  private readonly waiting = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: unknown) => void }>();

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: { id: number; result: ChunkResult }) => {
        this.waiting.get(m.id)?.resolve(m.result);
        this.waiting.delete(m.id);
      });
      w.on('error', (e) => {
        for (const p of this.waiting.values()) p.reject(e);
        this.waiting.clear();
      });
    }
  }

  static create(threads?: number): ChunkPool | undefined {
    const n = Math.max(1, Math.min(4, threads ?? (typeof availableParallelism === 'function' ? availableParallelism() : cpus().length)));
    try {
      return new ChunkPool(Array.from({ length: n }, () => new Worker(WORKER_SOURCE, { eval: true })));
    } catch {
      return undefined;
    }
  }

  get size(): number {
    return this.workers.length;
  }

  check(prev: string, start: number, chunk: ChainChunk): Promise<ChunkResult> {
    const id = this.id++;
    const worker = this.workers[this.next++ % this.workers.length]!;
    // A copy stays here in case the worker fails; the buffers themselves are moved to it.
    const keep = { seqs: chunk.seqs.slice(), hashes: chunk.hashes.slice(), offsets: chunk.offsets.slice(), bodies: chunk.bodies.slice() };
    return new Promise<ChunkResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, prev, start, chunk }, [chunk.seqs.buffer, chunk.hashes.buffer, chunk.offsets.buffer, chunk.bodies.buffer] as ArrayBuffer[]);
    }).catch(() => checkChunk(prev, start, keep, hashBytes));
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
  }
}
