// The audit log's hash chain: each event's hash is sha256(prevHash + canonical JSON of the event without hash),
// canonical JSON being RFC 8785 (JCS) from the `canonicalize` package. The first event chains to GENESIS_HASH.
import * as crypto from 'node:crypto';

/** The prevHash of event #1. */
export const GENESIS_HASH = '0'.repeat(64);

type Canonicalize = (value: unknown) => string | undefined;
let canonicalizeFn: Canonicalize | undefined;

/** Loads the RFC 8785 implementation (an ES module, hence asynchronous). Call once before canonicalJson. */
export async function loadCanonicalJson(): Promise<void> {
  if (canonicalizeFn) return;
  const mod = (await import('canonicalize')) as unknown as { default: Canonicalize | { default: Canonicalize } };
  const fn = typeof mod.default === 'function' ? mod.default : mod.default.default;
  canonicalizeFn = fn;
}

/** RFC 8785 canonical JSON. Throws for values JSON cannot carry (lone surrogates, NaN, cycles). */
export function canonicalJson(value: unknown): string {
  if (!canonicalizeFn) throw new Error('canonicalJson used before loadCanonicalJson()');
  const text = canonicalizeFn(value);
  if (text === undefined) throw new Error('canonicalJson: the value has no JSON form');
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
   * Feeds many stored records, in order, in chunks (a database scan). An error thrown while reading the chunks
   * becomes an `unreadable` failure after the last good record.
   */
  async pushChunks(chunks: Iterable<readonly ChainRecord[]>, where: ChainLocation, describeReadError: (e: unknown) => string): Promise<void> {
    if (this.failure) return;
    let expected = this.seq + 1;
    try {
      for (const chunk of chunks) {
        let cut = chunk.length;
        for (let i = 0; i < chunk.length; i++) {
          if (chunk[i]!.seq !== expected + i) {
            cut = i;
            break;
          }
        }
        const bad = firstMismatch(this.hash, cut < chunk.length ? chunk.slice(0, cut) : chunk);
        if (bad >= 0) cut = bad;
        if (cut > 0) {
          this.seq = chunk[cut - 1]!.seq;
          this.hash = chunk[cut - 1]!.hash;
          this.count += cut;
        }
        if (bad >= 0) {
          this.fail(this.seq + 1, 'hash-mismatch', where, `event #${this.seq + 1} does not match its hash (changed after it was written)`);
          return;
        }
        if (cut < chunk.length) {
          const found = chunk[cut]!.seq;
          const seq = this.seq + 1;
          this.fail(seq, 'out-of-order', where, found > seq ? `event #${seq} is missing (found #${found} where it belongs)` : `event #${found} appears again where #${seq} belongs`);
          return;
        }
        expected = this.seq + 1;
      }
    } catch (e) {
      this.fail(this.seq + 1, 'unreadable', where, describeReadError(e));
    }
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

export interface ChainRecord {
  readonly seq: number;
  readonly body: string;
  readonly hash: string;
}

/** Index of the first record whose hash is not sha256(previous stored hash + body), or -1. */
function firstMismatch(prev: string, records: readonly ChainRecord[]): number {
  let p = prev;
  for (let i = 0; i < records.length; i++) {
    if (chainHash(p, records[i]!.body) !== records[i]!.hash) return i;
    p = records[i]!.hash;
  }
  return -1;
}
