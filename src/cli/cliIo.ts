// What a CLI command writes to. Commands take it as a parameter so tests can capture output without a process.
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

export const processIo: CliIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};

/** Exit codes of the `airlock` command (DESIGN §4.3). */
export const ExitCode = {
  ok: 0,
  agentFailed: 1,
  usage: 2,
  halted: 3,
  /** rollback refused because files were edited since the apply */
  conflict: 4,
} as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly reason = 'usage';
  static is(e: unknown): e is UsageError {
    return e instanceof UsageError;
  }
}
