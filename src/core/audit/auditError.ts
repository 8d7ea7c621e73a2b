// Why the audit log refused to work. The runtime halts a run on any of these: an agent never acts unaudited.
export type AuditErrorReason =
  /** The disk (or quota) is full: nothing more can be made durable. */
  | 'disk-full'
  /** The state folder or a file in it cannot be written (or read) by this user. */
  | 'permission-denied'
  /** The file system is mounted read-only. */
  | 'read-only'
  /** Another I/O failure while writing or reading the log. */
  | 'io-error'
  /** The database or journal was written by a newer Airlock; it is left untouched. */
  | 'newer-schema'
  /** The database is damaged and could not be rebuilt. */
  | 'corrupt'
  /** Another process held the writer lock for longer than the timeout. */
  | 'locked'
  /** The event does not match the audit event schema. */
  | 'invalid-event'
  /** A redaction pattern from the policy is not a valid regular expression. */
  | 'invalid-pattern'
  /** The log was closed, or broken by an earlier write failure. */
  | 'closed';

export class AuditError extends Error {
  override readonly name = 'AuditError';

  constructor(
    readonly reason: AuditErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static is(e: unknown, reason?: AuditErrorReason): e is AuditError {
    return e instanceof AuditError && (reason === undefined || e.reason === reason);
  }
}

/** Maps a Node file-system error to an AuditError with a message that says what to do next. */
export function auditIoError(e: unknown, action: string, path: string): AuditError {
  if (AuditError.is(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return new AuditError('disk-full', `The audit log cannot be written: no space left while ${action} ${path} (${code}). Free some disk space, then run again.`, { cause: e });
    case 'EACCES':
    case 'EPERM':
      return new AuditError('permission-denied', `The audit log cannot be written: permission denied while ${action} ${path} (${code}). Make the state folder writable for this user, then run again.`, { cause: e });
    case 'EROFS':
      return new AuditError('read-only', `The audit log cannot be written: the file system is read-only (${action} ${path}). Point --state at a writable folder.`, { cause: e });
    default:
      return new AuditError('io-error', `The audit log failed while ${action} ${path}: ${(e as Error | undefined)?.message ?? String(e)}`, { cause: e });
  }
}
