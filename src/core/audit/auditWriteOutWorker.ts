// The worker thread behind WriteOutThread (auditWriteOut.ts): write-outs of the audit database, and the events fed
// in between them, handled one message at a time in the order they came. The database stays loaded between
// write-outs (writeOutDatabase's `keep`) for as long as the worker is kept.
import { parentPort } from 'node:worker_threads';
import { AuditError } from './auditError';
import { feedDatabase, makeRoom, writeOutDatabase, type WriteOutFeed, type WriteOutMessage, type WriteOutReply } from './auditWriteOut';

if (!parentPort) throw new Error('auditWriteOutWorker runs as a worker thread (started by WriteOutThread)');
const port = parentPort;
const post = (m: WriteOutReply) => port.postMessage(m);

/** Takes fed events in, and acknowledges them whatever happened: the writer counts what waits here. */
function fed(m: WriteOutFeed): void {
  try {
    feedDatabase(m);
  } finally {
    post({ fed: m.events });
  }
}

// A write-out awaits (loading sql.js, writing the file): events fed meanwhile wait for it, in order.
let queue: Promise<void> = Promise.resolve();

port.on('message', (m: WriteOutMessage) => {
  queue = queue.then(() =>
    m.kind === 'feed'
      ? fed(m)
      : writeOutDatabase(m.job, { keep: true }).then(
          (result) => {
            post({ ok: true, result });
            // Before anything fed next, while the database still equals its file.
            return makeRoom();
          },
          (e: unknown) => post(AuditError.is(e) ? { ok: false, message: e.message, reason: e.reason } : { ok: false, message: e instanceof Error ? e.message : String(e) }),
        ),
  ).catch(() => undefined); // (feedDatabase does not throw; a surprise must not stop the queue)
});
