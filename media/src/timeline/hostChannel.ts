// The webview's end of the timeline protocol: requests with ids and typed results, notifications from the host,
// and the saved view state. Every message from the host is safeParsed; anything else is dropped and reported.
import { HostMessage } from '../../../src/protocol/timelineProtocol';
import type { HostNotification, TimelineMethod, TimelineParams, TimelineResult, TimelineViewState, WebviewCommand } from '../../../src/protocol/timelineProtocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** A request failed on the host; `message` is for the user. */
export class HostRequestError extends Error {
  override readonly name = 'HostRequestError';
  constructor(
    readonly reason: 'host-error' | 'disposed',
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is HostRequestError {
    return e instanceof HostRequestError;
  }
}

interface Pending {
  readonly method: TimelineMethod;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

export class HostChannel {
  private readonly api = acquireVsCodeApi();
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private listener: ((n: HostNotification) => void) | undefined;

  constructor() {
    window.addEventListener('message', (e: MessageEvent<unknown>) => this.onMessage(e.data));
  }

  onNotification(listener: (n: HostNotification) => void): void {
    this.listener = listener;
  }

  request<M extends TimelineMethod>(method: M, params: TimelineParams<M>): Promise<TimelineResult<M>> {
    const id = this.nextId++;
    return new Promise<TimelineResult<M>>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject });
      this.api.postMessage({ kind: 'request', id, method, params });
    });
  }

  send(command: WebviewCommand): void {
    this.api.postMessage(command);
  }

  savedState(): unknown {
    return this.api.getState();
  }

  saveState(state: TimelineViewState): void {
    this.api.setState(state);
  }

  private onMessage(data: unknown): void {
    const parsed = HostMessage.safeParse(data);
    if (!parsed.success) {
      const what = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');
      console.warn('Audit Timeline: rejected a message from the host:', what);
      this.send({ command: 'reportError', message: `rejected a message from the host: ${what}`.slice(0, 2000) });
      return;
    }
    const msg = parsed.data;
    if (msg.kind === 'notification') {
      this.listener?.(msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p || p.method !== msg.method) {
      this.send({ command: 'reportError', message: `a ${msg.method} response for request ${msg.id}, which is not waiting` });
      return;
    }
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new HostRequestError('host-error', msg.error));
  }
}
