// The one error the guard primitives throw: a policy value they cannot work with (the policy schema should have
// caught most of these first). Agent input never throws; it gets a denial result instead.

export type GuardConfigReason =
  | 'workspace-unavailable'
  | 'invalid-glob'
  | 'invalid-rate'
  | 'invalid-host-pattern'
  | 'invalid-breaker';

export class GuardConfigError extends Error {
  override readonly name = 'GuardConfigError';

  constructor(
    readonly reason: GuardConfigReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static is(err: unknown, reason?: GuardConfigReason): err is GuardConfigError {
    return err instanceof GuardConfigError && (reason === undefined || err.reason === reason);
  }
}
