// A wall-clock budget that stops counting while the run waits for a human, so a slow approval is not a timeout.
export class PausableTimer {
  private remaining: number;
  private since: number | undefined;
  private handle: NodeJS.Timeout | undefined;
  private pauses = 0;
  private fired = false;

  constructor(
    budgetMs: number,
    private readonly onExpire: () => void,
  ) {
    this.remaining = budgetMs;
  }

  start(): void {
    this.arm();
  }

  /** Nested pauses are counted: concurrent gates keep the clock stopped until the last one is answered. */
  pause(): void {
    if (this.pauses++ > 0 || this.fired || this.since === undefined) return;
    this.remaining -= performance.now() - this.since;
    this.since = undefined;
    clearTimeout(this.handle);
  }

  resume(): void {
    if (this.pauses === 0 || --this.pauses > 0 || this.fired) return;
    this.arm();
  }

  stop(): void {
    clearTimeout(this.handle);
    this.fired = true;
  }

  private arm(): void {
    if (this.fired) return;
    this.since = performance.now();
    this.handle = setTimeout(() => {
      this.fired = true;
      this.onExpire();
    }, Math.max(0, this.remaining));
  }
}
