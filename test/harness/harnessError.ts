// The one error type of the test harness: `reason` says which step failed, the message says what to do next.
export type HarnessFailure =
  | 'missing-system-packages'
  | 'install-failed'
  | 'unsupported-node'
  | 'server-did-not-start'
  | 'timeout'
  | 'packaging-failed'
  | 'not-compiled'
  | 'not-provisioned';

export class HarnessError extends Error {
  constructor(
    readonly reason: HarnessFailure,
    message: string,
  ) {
    super(message);
    this.name = 'HarnessError';
  }

  static is(value: unknown, reason?: HarnessFailure): value is HarnessError {
    return value instanceof HarnessError && (reason === undefined || value.reason === reason);
  }
}
