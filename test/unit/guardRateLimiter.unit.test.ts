// Rate limits: parsing "N/unit", token-bucket behaviour over time, and properties over arbitrary call sequences.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuardConfigError } from '../../src/core/guard/guardConfigError';
import { parseRate, RateLimiter } from '../../src/core/guard/rateLimiter';

/** A clock the test moves by hand. */
function manualClock(start = 0): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v), advance: (ms) => (t += ms) };
}

describe('parseRate', () => {
  const good: Array<[string, number, number]> = [
    ['10/sec', 10, 10 / 1000],
    ['10/second', 10, 10 / 1000],
    ['100/min', 100, 100 / 60_000],
    ['100/minute', 100, 100 / 60_000],
    ['1000/hour', 1000, 1000 / 3_600_000],
    ['5/day', 5, 5 / 86_400_000],
    [' 3 / min ', 3, 3 / 60_000],
    ['2.5/sec', 2.5, 2.5 / 1000],
    ['0.5/min', 1, 0.5 / 60_000], // burst of one, else the first call could never happen
    ['0/min', 0, 0], // "never"
  ];
  for (const [spec, capacity, refillPerMs] of good) {
    it(`parses ${JSON.stringify(spec)}`, () => {
      const r = parseRate(spec);
      assert.equal(r.capacity, capacity);
      assert.ok(Math.abs(r.refillPerMs - refillPerMs) < 1e-15);
    });
  }

  const bad = ['', '10', '/min', '10/', '10/week', '10/MIN', '-1/min', '1e3/min', '10/min/x', 'ten/min', '10 per min', '10/mins', '.5/min', 'Infinity/sec', '10/sec extra'];
  for (const spec of bad) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      assert.throws(() => parseRate(spec), (e: unknown) => GuardConfigError.is(e, 'invalid-rate') && (e as Error).message.includes('N/min'));
    });
  }

  it('rejects a non-string', () => {
    assert.throws(() => parseRate(42 as unknown as string), (e: unknown) => GuardConfigError.is(e, 'invalid-rate'));
  });
});

describe('RateLimiter', () => {
  it('allows a burst of capacity, then refuses with the time until the next token', () => {
    const clock = manualClock();
    const rl = new RateLimiter({ 'fs.read': '3/sec' }, { now: clock.now });
    for (let i = 0; i < 3; i++) assert.deepEqual(rl.tryTake('fs.read'), { ok: true });
    const denied = rl.tryTake('fs.read');
    assert.deepEqual(denied, { ok: false, pattern: 'fs.read', retryAfterMs: 334 });
    clock.advance(333);
    assert.equal(rl.tryTake('fs.read').ok, false);
    clock.advance(1);
    assert.equal(rl.tryTake('fs.read').ok, true);
  });

  it('waiting exactly retryAfterMs is enough, even for rates that are inexact in binary', () => {
    const clock = manualClock();
    const rl = new RateLimiter({ '*': '7/min' }, { now: clock.now });
    for (let i = 0; i < 7; i++) rl.tryTake('x');
    for (let round = 0; round < 50; round++) {
      const d = rl.tryTake('x');
      assert.equal(d.ok, false);
      if (d.ok) return;
      clock.advance(d.retryAfterMs);
      assert.equal(rl.tryTake('x').ok, true, `round ${round}`);
    }
  });

  it('applies every matching pattern, and a denied call takes no token from any bucket', () => {
    const clock = manualClock();
    const rl = new RateLimiter({ 'fs.read': '2/sec', 'fs.*': '10/sec', '*': '100/sec', 'net.fetch': '1/sec' }, { now: clock.now });
    assert.equal(rl.tryTake('fs.read').ok, true);
    assert.equal(rl.tryTake('fs.read').ok, true);
    for (let i = 0; i < 20; i++) assert.equal(rl.tryTake('fs.read').ok, false);
    const level = Object.fromEntries(rl.buckets().map((b) => [b.pattern, b.tokens]));
    assert.deepEqual(level, { 'fs.read': 0, 'fs.*': 8, '*': 98, 'net.fetch': 1 });
    assert.equal(rl.tryTake('fs.write').ok, true); // only fs.* and * apply
    assert.equal(rl.tryTake('net.fetch').ok, true);
    assert.deepEqual(rl.tryTake('net.fetch'), { ok: false, pattern: 'net.fetch', retryAfterMs: 1000 });
  });

  it('reports the bucket with the longest wait when several are empty', () => {
    const clock = manualClock();
    const rl = new RateLimiter({ 'fs.read': '1/sec', '*': '1/min' }, { now: clock.now });
    assert.equal(rl.tryTake('fs.read').ok, true);
    assert.deepEqual(rl.tryTake('fs.read'), { ok: false, pattern: '*', retryAfterMs: 60_000 });
  });

  it('tools without a matching pattern are unlimited', () => {
    const rl = new RateLimiter({ 'fs.read': '1/day' }, { now: () => 0 });
    for (let i = 0; i < 1000; i++) assert.equal(rl.tryTake('net.fetch').ok, true);
  });

  it('"0/min" refuses every call, with no finite retry', () => {
    const rl = new RateLimiter({ 'fs.delete': '0/min' }, { now: () => 0 });
    assert.deepEqual(rl.tryTake('fs.delete'), { ok: false, pattern: 'fs.delete', retryAfterMs: Infinity });
  });

  it('a clock stepping backwards credits nothing and does not break refill afterwards', () => {
    const clock = manualClock(10_000);
    const rl = new RateLimiter({ '*': '1/sec' }, { now: clock.now });
    assert.equal(rl.tryTake('x').ok, true);
    clock.set(0);
    assert.equal(rl.tryTake('x').ok, false);
    clock.set(10_999);
    assert.equal(rl.tryTake('x').ok, false);
    clock.set(11_000);
    assert.equal(rl.tryTake('x').ok, true);
  });

  it('rejects a bad rate in the table at construction', () => {
    assert.throws(() => new RateLimiter({ 'fs.read': '10/fortnight' }), (e: unknown) => GuardConfigError.is(e, 'invalid-rate'));
    assert.throws(() => new RateLimiter({ 'fs.read': { capacity: -1, refillPerMs: 1 } }), (e: unknown) => GuardConfigError.is(e, 'invalid-rate'));
  });

  it('uses a monotonic default clock', () => {
    const rl = new RateLimiter({ '*': '2/sec' });
    assert.equal(rl.tryTake('a').ok, true);
    assert.equal(rl.tryTake('a').ok, true);
    assert.equal(rl.tryTake('a').ok, false);
  });

  describe('properties', () => {
    const spec = fc.record({
      count: fc.integer({ min: 1, max: 50 }),
      unit: fc.constantFrom('sec', 'min', 'hour'),
    });
    /** Non-decreasing call times built from random gaps (many zero gaps, so bursts happen). */
    const callTimes = fc
      .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 100_000 })), { minLength: 1, maxLength: 300 })
      .map((gaps) => {
        let t = 0;
        return gaps.map((g) => (t += g));
      });

    it('allowed calls in any window never exceed capacity + rate × window; buckets stay within [0, capacity]', () => {
      fc.assert(
        fc.property(spec, callTimes, ({ count, unit }, times) => {
          const rate = parseRate(`${count}/${unit}`);
          const clock = manualClock();
          const rl = new RateLimiter({ 'fs.*': `${count}/${unit}` }, { now: clock.now });
          const allowed: number[] = [];
          for (const t of times) {
            clock.set(t);
            if (rl.tryTake('fs.read').ok) allowed.push(t);
            const [b] = rl.buckets();
            if (!(b!.tokens >= 0 && b!.tokens <= b!.capacity)) return false;
          }
          for (let i = 0; i < allowed.length; i++) {
            for (let j = i; j < allowed.length; j++) {
              const window = allowed[j]! - allowed[i]!;
              if (j - i + 1 > rate.capacity + rate.refillPerMs * window + 1e-6) return false;
            }
          }
          return true;
        }),
        { numRuns: 300 },
      );
    });

    it('every pattern bucket bounds its own tools, and a refused call changes no bucket', () => {
      const tools = fc.array(fc.tuple(fc.constantFrom('fs.read', 'fs.write', 'net.fetch', 'x'), fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 }))), { minLength: 1, maxLength: 200 });
      fc.assert(
        fc.property(tools, (calls) => {
          const rates = { 'fs.read': '3/sec', 'fs.*': '5/sec', '*': '8/sec' };
          const clock = manualClock();
          const rl = new RateLimiter(rates, { now: clock.now });
          const allowed: Record<string, number[]> = { 'fs.read': [], 'fs.*': [], '*': [] };
          let t = 0;
          for (const [tool, gap] of calls) {
            clock.set((t += gap));
            const before = rl.buckets();
            const d = rl.tryTake(tool);
            const after = rl.buckets();
            if (!d.ok) {
              if (JSON.stringify(before) !== JSON.stringify(after)) return false;
              continue;
            }
            allowed['*']!.push(t);
            if (tool.startsWith('fs.')) allowed['fs.*']!.push(t);
            if (tool === 'fs.read') allowed['fs.read']!.push(t);
          }
          for (const [pattern, list] of Object.entries(allowed)) {
            const rate = parseRate(rates[pattern as keyof typeof rates]);
            for (let i = 0; i < list.length; i++) {
              for (let j = i; j < list.length; j++) {
                if (j - i + 1 > rate.capacity + rate.refillPerMs * (list[j]! - list[i]!) + 1e-6) return false;
              }
            }
          }
          return true;
        }),
        { numRuns: 300 },
      );
    });

    it('idle time refills: after capacity / rate of silence, a full burst goes through', () => {
      fc.assert(
        fc.property(spec, callTimes, fc.integer({ min: 0, max: 10_000 }), ({ count, unit }, times, extra) => {
          const rate = parseRate(`${count}/${unit}`);
          const clock = manualClock();
          const rl = new RateLimiter({ '*': `${count}/${unit}` }, { now: clock.now });
          for (const t of times) {
            clock.set(t);
            rl.tryTake('a');
          }
          clock.advance(Math.ceil(rate.capacity / rate.refillPerMs) + extra);
          for (let i = 0; i < rate.capacity; i++) if (!rl.tryTake('a').ok) return false;
          return rl.tryTake('a').ok === false;
        }),
        { numRuns: 200 },
      );
    });

    it('a refused call succeeds once retryAfterMs has passed', () => {
      fc.assert(
        fc.property(spec, callTimes, ({ count, unit }, times) => {
          const clock = manualClock();
          const rl = new RateLimiter({ '*': `${count}/${unit}` }, { now: clock.now });
          let offset = 0; // time spent waiting shifts the rest of the sequence, so the clock never steps back
          for (const t of times) {
            clock.set(t + offset);
            const d = rl.tryTake('a');
            if (!d.ok) {
              if (!(d.retryAfterMs > 0 && Number.isFinite(d.retryAfterMs))) return false;
              clock.advance(d.retryAfterMs);
              offset += d.retryAfterMs;
              if (!rl.tryTake('a').ok) return false;
            }
          }
          return true;
        }),
        { numRuns: 200 },
      );
    });
  });
});
