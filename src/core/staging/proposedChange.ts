// A change a run proposes: what the staging overlay hands to review, apply and the report.
import type { ApprovalLevel } from '../../protocol/auditEvent';

export type ChangeKind = 'create' | 'modify' | 'delete';

export interface ProposedChange {
  /** Workspace-relative, forward slashes, normalised. */
  readonly path: string;
  readonly kind: ChangeKind;
  /** Content when the run first saw the file; null when it did not exist. */
  readonly before: Buffer | null;
  /** Proposed content; null for a delete. */
  readonly after: Buffer | null;
  /** The strictest approval level among the calls that produced this change (`auto` means it may be applied without a human). */
  readonly level: ApprovalLevel;
}
