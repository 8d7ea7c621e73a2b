// Where the runtime writes audit events. `append` resolves only once the event is durable, so the caller can
// make the effect visible afterwards (DESIGN §3 step 8). AuditLog implements it.
import type { AuditEvent, AuditEventInput } from '../../protocol/auditEvent';

export interface AuditSink {
  append(event: AuditEventInput): Promise<AuditEvent>;
}
