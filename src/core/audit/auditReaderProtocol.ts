// Messages between AuditReader (the thread that asks) and its worker thread (auditReaderWorker.ts).
import type { AuditPage, AuditQuery, RunsQuery, RunSummary } from './auditQuery';
import type { AuditEvent } from '../../protocol/auditEvent';
import type { RecoveryReport } from './auditLog';

export interface ReaderStart {
  readonly stateDir: string;
}

export interface ChainPosition {
  readonly seq: number;
  readonly hash: string;
  readonly ts: string;
}

export type ReaderRequest =
  | { readonly id: number; readonly method: 'query'; readonly query: AuditQuery }
  | { readonly id: number; readonly method: 'get'; readonly seq: number }
  | { readonly id: number; readonly method: 'runs'; readonly query: RunsQuery }
  | { readonly id: number; readonly method: 'sync' }
  | { readonly id: number; readonly method: 'close' };

export interface ReaderResults {
  query: AuditPage;
  get: AuditEvent | undefined;
  runs: RunSummary[];
  sync: { added: number; lastEvent: ChainPosition };
  close: undefined;
}

export interface ReaderError {
  readonly message: string;
  readonly reason?: string;
}

export type ReaderReply =
  | { readonly type: 'opened'; readonly lastEvent: ChainPosition; readonly recovery: RecoveryReport }
  | { readonly type: 'open-failed'; readonly error: ReaderError }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly value: unknown }
  | { readonly type: 'error'; readonly id: number; readonly error: ReaderError };
