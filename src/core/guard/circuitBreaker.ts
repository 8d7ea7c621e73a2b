// Step 4 of the pipeline: N failures or denials inside a sliding window open the breaker, and the run halts.
//
//   new CircuitBreaker({ failures, windowMs, now? })   throws GuardConfigError('invalid-breaker') on bad numbers
//   breaker.record('failure' | 'denial' | 'success'): BreakerState   justOpened is true exactly once per opening
//   breaker.isOpen, breaker.recentFailures, breaker.reset()
//
// A success does not reset the count: an agent that alternates a probe that fails with a harmless call that
// succeeds must still trip the breaker. Once open the breaker stays open (the run is over) until reset().
import { GuardConfigError } from './guardConfigError';

export type BreakerEvent = 'failure' | 'denial' | 'success';

export interface BreakerState {
  readonly open: boolean;
  /** True only on the record() call that opened the breaker: raise the alert and halt the run then. */
  readonly justOpened: boolean;
  /** Failures and denials inside the window, counting this one. */
  readonly recentFailures: number;
}

export interface CircuitBreakerOptions {
  readonly failures: number;
  readonly windowMs: number;
  readonly now?: () => number;
}

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  /** Times of recent failures/denials, oldest first; never longer than the threshold. */
  private times: number[] = [];
  private opened = false;

  constructor(options: CircuitBreakerOptions) {
    const { failures, windowMs } = options;
    if (!(Number.isInteger(failures) && failures > 0) || !(Number.isFinite(windowMs) && windowMs > 0)) {
      throw new GuardConfigError('invalid-breaker', `Invalid breaker { failures: ${failures}, windowMs: ${windowMs} }: both must be positive (failures a whole number).`);
    }
    this.threshold = failures;
    this.windowMs = windowMs;
    this.now = options.now ?? (() => performance.now());
  }

  get isOpen(): boolean {
    return this.opened;
  }

  get recentFailures(): number {
    this.prune(this.now());
    return this.times.length;
  }

  record(kind: BreakerEvent): BreakerState {
    const now = this.now();
    this.prune(now);
    if (this.opened || kind === 'success') return this.state(false);
    this.times.push(now);
    if (this.times.length > this.threshold) this.times.shift();
    if (this.times.length >= this.threshold) {
      this.opened = true;
      return this.state(true);
    }
    return this.state(false);
  }

  /** Close the breaker and forget past failures (a human decided to go on). */
  reset(): void {
    this.opened = false;
    this.times = [];
  }

  private state(justOpened: boolean): BreakerState {
    return { open: this.opened, justOpened, recentFailures: this.times.length };
  }

  /** An event counts while less than windowMs has passed since it happened. */
  private prune(now: number): void {
    let drop = 0;
    while (drop < this.times.length && now - this.times[drop]! >= this.windowMs) drop++;
    if (drop > 0) this.times.splice(0, drop);
  }
}
