// Circuit breaker: N failures/denials inside the sliding window open it, exactly once, and it stays open.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { BreakerEvent } from '../../src/core/guard/circuitBreaker';
import { CircuitBreaker } from '../../src/core/guard/circuitBreaker';
import { GuardConfigError } from '../../src/core/guard/guardConfigError';

describe('CircuitBreaker', () => {
  let t = 0;
  const now = (): number => t;
  beforeEach(() => (t = 0));

  it('opens on the Nth failure inside the window, and says so exactly once', () => {
    const b = new CircuitBreaker({ failures: 3, windowMs: 1000, now });
    assert.deepEqual(b.record('failure'), { open: false, justOpened: false, recentFailures: 1 });
    t = 100;
    assert.deepEqual(b.record('denial'), { open: false, justOpened: false, recentFailures: 2 });
    t = 999;
    assert.deepEqual(b.record('failure'), { open: true, justOpened: true, recentFailures: 3 });
    assert.equal(b.isOpen, true);
    assert.deepEqual(b.record('failure'), { open: true, justOpened: false, recentFailures: 3 });
    assert.equal(b.record('success').justOpened, false);
    t = 1_000_000;
    assert.equal(b.isOpen, true, 'an open breaker does not close by itself');
  });

  it('forgets failures older than the window', () => {
    const b = new CircuitBreaker({ failures: 3, windowMs: 1000, now });
    b.record('failure');
    t = 500;
    b.record('failure');
    t = 1000; // the first is exactly windowMs old: out
    assert.deepEqual(b.record('failure'), { open: false, justOpened: false, recentFailures: 2 });
    t = 1499;
    assert.equal(b.record('denial').justOpened, true);
  });

  it('successes in between do not reset the count', () => {
    const b = new CircuitBreaker({ failures: 2, windowMs: 60_000, now });
    b.record('failure');
    for (let i = 0; i < 100; i++) b.record('success');
    assert.equal(b.record('denial').justOpened, true);
  });

  it('a threshold of one opens on the first failure, never on successes', () => {
    const b = new CircuitBreaker({ failures: 1, windowMs: 10, now });
    for (let i = 0; i < 10; i++) assert.equal(b.record('success').open, false);
    assert.equal(b.record('failure').justOpened, true);
  });

  it('reset() closes it and clears the count', () => {
    const b = new CircuitBreaker({ failures: 2, windowMs: 1000, now });
    b.record('failure');
    b.record('failure');
    b.reset();
    assert.equal(b.isOpen, false);
    assert.equal(b.recentFailures, 0);
    assert.equal(b.record('failure').open, false);
    assert.equal(b.record('failure').justOpened, true);
  });

  it('rejects nonsense settings', () => {
    for (const bad of [{ failures: 0, windowMs: 1 }, { failures: 1.5, windowMs: 1 }, { failures: 3, windowMs: 0 }, { failures: 3, windowMs: NaN }, { failures: -1, windowMs: 5 }]) {
      assert.throws(() => new CircuitBreaker(bad), (e: unknown) => GuardConfigError.is(e, 'invalid-breaker'), JSON.stringify(bad));
    }
  });

  it('property: opens exactly when some N failures/denials fall within windowMs, and reports it once', () => {
    const events = fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.constantFrom<BreakerEvent>('failure', 'denial', 'success')), { maxLength: 120 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 1000 }), events, (failures, windowMs, seq) => {
        let clock = 0;
        const b = new CircuitBreaker({ failures, windowMs, now: () => clock });
        const bad: number[] = [];
        let expectedOpen = false;
        let opens = 0;
        for (const [gap, kind] of seq) {
          clock += gap;
          const s = b.record(kind);
          let shouldOpenNow = false;
          if (!expectedOpen && kind !== 'success') {
            bad.push(clock);
            shouldOpenNow = bad.filter((x) => clock - x < windowMs).length >= failures;
          }
          if (s.justOpened !== shouldOpenNow) return false;
          if (shouldOpenNow) expectedOpen = true;
          if (s.open !== expectedOpen || b.isOpen !== expectedOpen) return false;
          if (s.justOpened) opens++;
        }
        return opens <= 1;
      }),
      { numRuns: 500 },
    );
  });
});
