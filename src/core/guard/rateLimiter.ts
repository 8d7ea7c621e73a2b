// Step 3 of the pipeline (rate part): token buckets per tool pattern, as `limits.rate` in the policy declares them.
//
//   parseRate(spec: string): Rate                     "N/sec|second|min|minute|hour|day"; throws GuardConfigError
//   new RateLimiter(rates: Record<string, string | Rate>, options?: { now?: () => number })
//   limiter.tryTake(tool): { ok: true } | { ok: false; pattern; retryAfterMs }
//   limiter.buckets(): BucketState[]                   current level of every bucket (status bar, tests)
//
// Every pattern that matches a tool applies (`fs.read`, `fs.*` and `*` all limit an `fs.read` call). A call needs
// a whole token in each of them and takes one from each, or takes none at all: a denied call never drains a bucket,
// so hammering a limited tool cannot starve the other tools that share `*`.
import { GuardConfigError } from './guardConfigError';
import { matchesTool } from './toolPattern';

export interface Rate {
  /** Burst size: the most tokens a bucket holds (and starts with). */
  readonly capacity: number;
  /** Tokens added per millisecond. */
  readonly refillPerMs: number;
}

export interface BucketState {
  readonly pattern: string;
  readonly tokens: number;
  readonly capacity: number;
}

export type RateDecision = { ok: true } | { ok: false; pattern: string; retryAfterMs: number };

const UNIT_MS: Record<string, number> = {
  sec: 1000,
  second: 1000,
  min: 60_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

// Refill is floating point (rates like 100/min are not exact in binary); without this slack a caller that waits
// exactly `retryAfterMs` could find 0.9999999999 tokens and be refused again.
const EPSILON = 1e-9;

const RATE = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(sec|second|min|minute|hour|day)\s*$/;

/**
 * "N/unit" → a bucket of N tokens refilled at N per unit. "0/min" is a valid way to say "never". A fractional rate
 * below one ("0.5/min") gets a burst of one token, else the first call could never happen.
 */
export function parseRate(spec: string): Rate {
  const m = typeof spec === 'string' ? RATE.exec(spec) : null;
  const count = m ? Number(m[1]) : NaN;
  if (!m || !Number.isFinite(count)) {
    throw new GuardConfigError('invalid-rate', `Invalid rate ${JSON.stringify(spec)}: expected "N/sec", "N/min", "N/hour" or "N/day".`);
  }
  const unitMs = UNIT_MS[m[2]!]!;
  if (count === 0) return { capacity: 0, refillPerMs: 0 };
  return { capacity: Math.max(1, count), refillPerMs: count / unitMs };
}

interface Bucket {
  readonly pattern: string;
  readonly rate: Rate;
  tokens: number;
  /** Clock reading up to which refill has been credited. */
  at: number;
}

export class RateLimiter {
  private readonly all: Bucket[];
  private readonly now: () => number;
  private readonly byTool = new Map<string, Bucket[]>();

  constructor(rates: Readonly<Record<string, string | Rate>>, options: { now?: () => number } = {}) {
    this.now = options.now ?? (() => performance.now());
    const start = this.now();
    this.all = Object.entries(rates).map(([pattern, spec]) => {
      const rate = typeof spec === 'string' ? parseRate(spec) : checkRate(pattern, spec);
      return { pattern, rate, tokens: rate.capacity, at: start };
    });
  }

  tryTake(tool: string): RateDecision {
    const buckets = this.bucketsFor(tool);
    if (buckets.length === 0) return { ok: true };
    const now = this.now();
    let worst: { pattern: string; retryAfterMs: number } | undefined;
    for (const b of buckets) {
      this.refill(b, now);
      if (b.tokens + EPSILON >= 1) continue;
      const retryAfterMs = b.rate.refillPerMs > 0 && b.rate.capacity >= 1 ? Math.ceil((1 - b.tokens) / b.rate.refillPerMs) : Infinity;
      // The call can only go through once every bucket has a token, so report the longest wait.
      if (!worst || retryAfterMs > worst.retryAfterMs) worst = { pattern: b.pattern, retryAfterMs };
    }
    if (worst) return { ok: false, ...worst };
    for (const b of buckets) b.tokens = Math.max(0, b.tokens - 1);
    return { ok: true };
  }

  buckets(): BucketState[] {
    const now = this.now();
    return this.all.map((b) => {
      this.refill(b, now);
      return { pattern: b.pattern, tokens: b.tokens, capacity: b.rate.capacity };
    });
  }

  private bucketsFor(tool: string): Bucket[] {
    let list = this.byTool.get(tool);
    if (!list) {
      list = this.all.filter((b) => matchesTool(b.pattern, tool));
      // Tool names come from agent code; keep the cache from growing without bound.
      if (this.byTool.size >= 1024) this.byTool.clear();
      this.byTool.set(tool, list);
    }
    return list;
  }

  private refill(b: Bucket, now: number): void {
    // A clock that steps backwards (an injected one, or a wall clock after an NTP fix) credits nothing.
    if (!(now > b.at)) return;
    b.tokens = Math.min(b.rate.capacity, b.tokens + (now - b.at) * b.rate.refillPerMs);
    b.at = now;
  }
}

function checkRate(pattern: string, rate: Rate): Rate {
  const { capacity, refillPerMs } = rate;
  if (!(Number.isFinite(capacity) && capacity >= 0 && Number.isFinite(refillPerMs) && refillPerMs >= 0)) {
    throw new GuardConfigError('invalid-rate', `Invalid rate for ${JSON.stringify(pattern)}: capacity and refill must be finite and non-negative.`);
  }
  return rate;
}
