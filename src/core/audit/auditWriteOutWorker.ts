// The worker thread behind writeOutInWorker (auditWriteOut.ts): one write-out of the audit database, then it ends.
import { parentPort, workerData } from 'node:worker_threads';
import { AuditError } from './auditError';
import { writeOutDatabase, type WriteOutJob, type WriteOutReply } from './auditWriteOut';

if (!parentPort) throw new Error('auditWriteOutWorker runs as a worker thread (started by writeOutInWorker)');
const port = parentPort;
const post = (m: WriteOutReply) => port.postMessage(m);

writeOutDatabase(workerData as WriteOutJob).then(
  (result) => post({ ok: true, result }),
  (e: unknown) => post(AuditError.is(e) ? { ok: false, message: e.message, reason: e.reason } : { ok: false, message: e instanceof Error ? e.message : String(e) }),
);
