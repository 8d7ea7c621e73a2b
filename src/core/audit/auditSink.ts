// Where the runtime writes audit events. `append` resolves only once the event is durable, so the caller can
// make the effect visible afterwards (DESIGN §3 step 8). AuditLog implements it.
import type { AuditEvent, AuditEventInput } from '../../protocol/auditEvent';

/**
 * When an append resolves.
 * - `durable` (the default): the event is in the journal and the journal is fdatasync'd.
 * - `written`: the event is in the journal file, so killing the process can no longer lose it; the fdatasync
 *   that makes it durable is already under way, and every `durable` append made after it resolves only once it
 *   is durable too (one journal, synced in order). For events whose effect only the agent sees (a read's
 *   content, a refusal): the agent can pass that on only through a later call or log line, whose own event is
 *   made durable first. docs/audit.md, "Durability", has the whole argument.
 */
export type AppendAck = 'durable' | 'written';

export interface AppendOptions {
  readonly ack?: AppendAck;
}

export interface AuditSink {
  /** A sink that ignores `options` is simply durable every time, which is never wrong. */
  append(event: AuditEventInput, options?: AppendOptions): Promise<AuditEvent>;
}
