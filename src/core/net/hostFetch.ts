// `net.fetch` executed by the host on the agent's behalf: method and size limits, a timeout, no automatic
// redirects (a redirect could leave the allowlist), a capped response body, and credentials injected by
// reference from the policy so the agent never sees them.
import { Agent, fetch as undiciFetch, type Response } from 'undici';
import type { ResolvedPolicy } from '../policy/policySchema';
import { guardedLookup, NonPublicAddressError, type Resolver } from './addressCheck';

export interface FetchRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  /** The host name was the agent's choice (a wildcard allowed it): connect only to public addresses. */
  readonly publicOnly?: boolean;
}

export interface FetchResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** True when the body was cut at the policy's maxResponseBytes. */
  readonly truncated: boolean;
}

export type FetchErrorReason = 'method' | 'request-too-large' | 'timeout' | 'network' | 'non-public-address';

export class FetchError extends Error {
  override readonly name = 'FetchError';
  constructor(
    readonly reason: FetchErrorReason,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is FetchError {
    return e instanceof FetchError;
  }
}

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'cookie', 'proxy-authorization']);

export class HostFetch {
  /** Connections for agent-chosen names: every resolved address is checked before connecting. */
  private readonly publicOnly: Agent;
  private readonly direct: Agent;

  /** `resolve` replaces the system resolver (tests point names at local servers with it). */
  constructor(
    private readonly net: ResolvedPolicy['net'],
    options: { resolve?: Resolver } = {},
  ) {
    this.publicOnly = new Agent({ connect: { lookup: guardedLookup(true, options.resolve) } });
    this.direct = options.resolve ? new Agent({ connect: { lookup: guardedLookup(false, options.resolve) } }) : new Agent();
  }

  /** The secret values this request will carry, so they can be scrubbed from anything shown to the agent. */
  secretValuesFor(url: URL): string[] {
    return Object.values(this.secretHeadersFor(url));
  }

  checkRequest(method: string, body: string | undefined): void {
    if (!this.net.methods.includes(method)) throw new FetchError('method', `method ${method} is not allowed (allowed: ${this.net.methods.join(', ')})`);
    const size = body === undefined ? 0 : Buffer.byteLength(body);
    if (size > this.net.maxRequestBytes) throw new FetchError('request-too-large', `request body is ${size} bytes, over the ${this.net.maxRequestBytes}-byte limit`);
  }

  async fetch(req: FetchRequest, signal?: AbortSignal): Promise<FetchResponse> {
    this.checkRequest(req.method, req.body);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k] = v;
    Object.assign(headers, this.secretHeadersFor(req.url));
    const timeout = AbortSignal.timeout(this.net.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      const dispatcher = req.publicOnly ? this.publicOnly : this.direct;
      res = await undiciFetch(req.url, { method: req.method, headers, body: req.body, redirect: 'manual', signal: combined, dispatcher });
    } catch (e) {
      if (timeout.aborted) throw new FetchError('timeout', `no response from ${req.url.host} within ${this.net.timeoutMs} ms`);
      const refused = causeOf(e, NonPublicAddressError);
      if (refused) {
        throw new FetchError('non-public-address', `refused to connect: ${refused.message}; a host allowed by a wildcard in scope.net must resolve to a public address (list the host exactly in scope.net to allow it)`);
      }
      throw new FetchError('network', `request to ${req.url.host} failed: ${(e as Error).message}`);
    }
    const { body, truncated } = await readCapped(res, this.net.maxResponseBytes);
    const outHeaders: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (k !== 'set-cookie') outHeaders[k] = v;
    });
    let text = body;
    for (const secret of this.secretValuesFor(req.url)) if (secret) text = text.split(secret).join('[secret]');
    return { status: res.status, headers: outHeaders, body: text, truncated };
  }

  private secretHeadersFor(url: URL): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [host, headers] of Object.entries(this.net.secrets)) {
      if (host.toLowerCase() !== url.hostname.toLowerCase()) continue;
      for (const [name, ref] of Object.entries(headers)) {
        const value = process.env[ref.slice('env:'.length)];
        if (value !== undefined) out[name] = value;
      }
    }
    return out;
  }
}

/** The first error of class `type` in an error's cause chain. */
function causeOf<T extends Error>(e: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if (cur instanceof type) return cur;
  }
  return undefined;
}

async function readCapped(res: Response, max: number): Promise<{ body: string; truncated: boolean }> {
  if (!res.body) return { body: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > max) {
      chunks.push(value.subarray(0, max - size));
      size = max;
      truncated = true;
      await reader.cancel();
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  return { body: Buffer.concat(chunks).toString('utf8'), truncated };
}
