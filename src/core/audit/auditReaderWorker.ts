// The worker thread behind AuditReader (auditReader.ts): it opens the audit log read-only and answers queries,
// so that loading a large database into sql.js (hundreds of MB at a million events) and querying it never holds
// the thread that asked — the editor's extension host. Requests and answers are plain data.
import { parentPort, workerData } from 'node:worker_threads';
import { AuditError } from './auditError';
import { AuditLog } from './auditLog';
import type { ReaderReply, ReaderRequest, ReaderStart } from './auditReaderProtocol';

if (!parentPort) throw new Error('auditReaderWorker runs as a worker thread (started by AuditReader)');
const port = parentPort;

const { stateDir } = workerData as ReaderStart;
const post = (m: ReaderReply) => port.postMessage(m);

function errorOf(e: unknown): { message: string; reason?: string } {
  return AuditError.is(e) ? { message: e.message, reason: e.reason } : { message: e instanceof Error ? e.message : String(e) };
}

async function main(): Promise<void> {
  let log: AuditLog;
  try {
    log = await AuditLog.open(stateDir, { readOnly: true, onWarning: (message) => post({ type: 'warning', message }) });
  } catch (e) {
    post({ type: 'open-failed', error: errorOf(e) });
    return;
  }
  post({ type: 'opened', lastEvent: log.lastEvent, recovery: log.recovery });
  port.on('message', (r: ReaderRequest) => {
    void (async () => {
      try {
        switch (r.method) {
          case 'query':
            return post({ type: 'result', id: r.id, value: await log.query(r.query) });
          case 'get':
            return post({ type: 'result', id: r.id, value: await log.get(r.seq) });
          case 'runs':
            return post({ type: 'result', id: r.id, value: await log.runs(r.query) });
          case 'sync': {
            const added = await log.sync();
            return post({ type: 'result', id: r.id, value: { added, lastEvent: log.lastEvent } });
          }
          case 'close':
            await log.close();
            post({ type: 'result', id: r.id, value: undefined });
            return port.close();
        }
      } catch (e) {
        post({ type: 'error', id: r.id, error: errorOf(e) });
      }
    })();
  });
}

void main();
