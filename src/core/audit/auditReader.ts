// A read-only audit log served from a worker thread, for readers that must not stall: the editor's timeline.
// Opening a log reads the whole database into sql.js (seconds at a million events) and every query runs in it;
// done on the extension host's thread, that would freeze every extension for that long. AuditReader has the
// reading surface of AuditLog (query, get, runs, iterate, sync, verify) and forwards each call to a worker
// (auditReaderWorker.ts) that holds the log; answers come back as plain data, errors as AuditErrors.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AuditEvent } from '../../protocol/auditEvent';
import { AuditError, type AuditErrorReason } from './auditError';
import { verifyAuditLog, type RecoveryReport } from './auditLog';
import type { VerifyResult } from './hashChain';
import type { AuditPage, AuditQuery, RunsQuery, RunSummary } from './auditQuery';
import type { ChainPosition, ReaderError, ReaderReply, ReaderRequest, ReaderResults, ReaderStart } from './auditReaderProtocol';

export interface AuditReaderOptions {
  /** The worker's script; by default `auditReaderWorker.js` beside this file (in the bundle: dist/). */
  readonly workerFile?: string;
  readonly onWarning?: (message: string) => void;
}

type Waiting = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Request = ReaderRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class AuditReader {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private head: ChainPosition;
  private stopped: Error | undefined;

  private constructor(
    readonly stateDir: string,
    private readonly worker: Worker,
    opened: { lastEvent: ChainPosition; recovery: RecoveryReport },
  ) {
    this.head = opened.lastEvent;
    this.recovery = opened.recovery;
    worker.on('message', (m: ReaderReply) => this.receive(m));
    worker.on('error', (e) => this.stop(new Error(`The audit reader failed (${e.message}). Close and reopen the Audit Timeline.`)));
    worker.on('exit', (code) => this.stop(new Error(`The audit reader stopped (exit code ${code}). Close and reopen the Audit Timeline.`)));
  }

  readonly recovery: RecoveryReport;

  /** Starts the worker and opens the log there; rejects as AuditLog.open would (no log, newer schema, …). */
  static open(stateDir: string, options: AuditReaderOptions = {}): Promise<AuditReader> {
    const workerFile = options.workerFile ?? join(__dirname, 'auditReaderWorker.js');
    const worker = new Worker(workerFile, { workerData: { stateDir } satisfies ReaderStart });
    return new Promise<AuditReader>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`The audit reader stopped while opening the log (exit code ${code}).`));
      const onError = (e: Error) => reject(new Error(`The audit reader could not start (${e.message}).`));
      worker.once('exit', onExit);
      worker.once('error', onError);
      const first = (m: ReaderReply) => {
        if (m.type === 'warning') return options.onWarning?.(m.message);
        worker.off('message', first);
        worker.off('exit', onExit);
        worker.off('error', onError);
        if (m.type === 'opened') {
          const reader = new AuditReader(stateDir, worker, m);
          worker.on('message', (w: ReaderReply) => w.type === 'warning' && options.onWarning?.(w.message));
          resolve(reader);
        } else {
          void worker.terminate();
          reject(m.type === 'open-failed' ? toError(m.error) : new Error(`The audit reader answered ${m.type} before opening the log.`));
        }
      };
      worker.on('message', first);
    });
  }

  get lastEvent(): ChainPosition {
    return this.head;
  }

  query(q: AuditQuery = {}): Promise<AuditPage> {
    return this.call('query', { method: 'query', query: q });
  }

  get(seq: number): Promise<AuditEvent | undefined> {
    return this.call('get', { method: 'get', seq });
  }

  runs(q: RunsQuery = {}): Promise<RunSummary[]> {
    return this.call('runs', { method: 'runs', query: q });
  }

  /** Picks up what other processes appended; resolves with how many events are new. */
  async sync(): Promise<number> {
    const r = await this.call('sync', { method: 'sync' });
    this.head = r.lastEvent;
    return r.added;
  }

  /** Every event matching `q` (paging fields ignored), oldest first, a thousand per round trip. */
  async *iterate(q: AuditQuery = {}): AsyncGenerator<AuditEvent> {
    let after = 0;
    for (;;) {
      const page = await this.query({ ...q, before: undefined, after, limit: 1000 });
      yield* page.events;
      if (!page.hasMore || page.events.length === 0) return;
      after = page.events[page.events.length - 1]!.seq;
    }
  }

  /** The chain of what is on disk; verify reads the files itself (on its own worker threads). */
  verify(options: { deep?: boolean } = {}): Promise<VerifyResult> {
    return verifyAuditLog(this.stateDir, options);
  }

  /** A reader appends nothing: new events arrive through sync(). */
  onDidAppend(_listener: (events: readonly AuditEvent[]) => void): { dispose(): void } {
    return { dispose: () => undefined };
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.call('close', { method: 'close' });
    } catch {
      // Stopping anyway.
    }
    this.stop(new AuditError('closed', 'The audit log is closed.'));
    await this.worker.terminate();
  }

  private call<M extends keyof ReaderResults>(_method: M, request: Request & { method: M }): Promise<ReaderResults[M]> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<ReaderResults[M]>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...request, id } as ReaderRequest);
    });
  }

  private receive(m: ReaderReply): void {
    if (m.type !== 'result' && m.type !== 'error') return;
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.type === 'result') w.resolve(m.value);
    else w.reject(toError(m.error));
  }

  private stop(why: Error): void {
    this.stopped ??= why;
    for (const w of this.waiting.values()) w.reject(this.stopped);
    this.waiting.clear();
  }
}

function toError(e: ReaderError): Error {
  return e.reason ? new AuditError(e.reason as AuditErrorReason, e.message) : new Error(e.message);
}
