// The worker thread behind WriteOutThread (auditWriteOut.ts): write-outs of the audit database, one per message.
// A small database stays loaded between them (writeOutDatabase's `keep`) for as long as the worker is kept.
import { parentPort } from 'node:worker_threads';
import { AuditError } from './auditError';
import { writeOutDatabase, type WriteOutJob, type WriteOutReply } from './auditWriteOut';

if (!parentPort) throw new Error('auditWriteOutWorker runs as a worker thread (started by WriteOutThread)');
const port = parentPort;
const post = (m: WriteOutReply) => port.postMessage(m);

port.on('message', (job: WriteOutJob) => {
  writeOutDatabase(job, { keep: true }).then(
    (result) => post({ ok: true, result }),
    (e: unknown) => post(AuditError.is(e) ? { ok: false, message: e.message, reason: e.reason } : { ok: false, message: e instanceof Error ? e.message : String(e) }),
  );
});
