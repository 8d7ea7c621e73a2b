// Step 2 of the pipeline (network part): may this URL be fetched, given the agent's `scope.net` host allowlist?
//
//   new HostScope(patterns: readonly string[])    throws GuardConfigError('invalid-host-pattern')
//   scope.check(url: unknown): HostCheck          never throws; fetch `result.url`, not the agent's string
//   canonicalHostName(host: string): string | undefined   the form results use (for keying `net.secrets`)
//
// Everything is decided on the WHATWG-parsed URL, the same parser fetch uses, so what we check is where the
// request goes: `http://2130706433/` is 127.0.0.1, `Bücher.de` is `xn--bcher-kva.de`, `evil.com\@good.com` is
// evil.com. Host names compare lower-case, in ASCII (punycode) form, without a trailing dot.
//
// Patterns:  `api.example.com`     that host only, on the scheme's default port (80 for http, 443 for https)
//            `*.example.com`       any subdomain (not `example.com` itself, not `evilexample.com`)
//            `host:8443`           that port only (a pattern with a port allows no other port)
//            `https://host`        that scheme only (otherwise http and https are both allowed)
//            `127.0.0.1`, `[::1]`  IP literals: only ever allowed when listed exactly like this
//            `*`                   any host name, but never an IP literal nor `localhost`/`*.localhost`
// This checks names, not addresses. `wildcard` in the result says the host was allowed by `*` or `*.domain`, i.e.
// the agent chose the name: then HostFetch refuses to connect to a loopback, private or link-local address it
// resolves to (DNS rebinding, cloud metadata). A name listed exactly is trusted to resolve where its owner says.
import { GuardConfigError } from './guardConfigError';

export type HostDenialReason =
  | 'not-a-string'
  | 'too-long'
  | 'invalid-url'
  | 'scheme'
  | 'userinfo'
  | 'invalid-host'
  | 'ip-literal'
  | 'port'
  | 'not-allowed';

export type HostCheck =
  | {
      ok: true;
      /** The parsed URL to fetch (trailing dot of the host removed). */
      url: URL;
      /** Canonical host name or IP literal (`[…]` for IPv6). */
      host: string;
      /** Effective port (the default one when the URL names none). */
      port: number;
      /** The allowlist entry that matched. */
      pattern: string;
      /** The entry was `*` or `*.domain`: the agent picked the name, so its addresses must be public ones. */
      wildcard: boolean;
    }
  | { ok: false; reason: HostDenialReason; message: string };

const MAX_URL_LENGTH = 8192;
const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };
const DNS_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

interface HostPattern {
  readonly source: string;
  readonly kind: 'exact' | 'subdomains' | 'any';
  /** Canonical host (exact) or the suffix after `*.` (subdomains). */
  readonly host: string;
  readonly port?: number;
  readonly scheme?: 'http:' | 'https:';
}

/** The canonical form of a host name or IP literal, or undefined when it is not one. */
export function canonicalHostName(host: string): string | undefined {
  if (typeof host !== 'string' || host === '' || /[\s/\\?#@*]/.test(host)) return undefined;
  // A colon is a port separator outside brackets; the URL parser would drop the port without a word.
  if (host.startsWith('[') ? !host.endsWith(']') : host.includes(':')) return undefined;
  let parsed: string;
  try {
    parsed = new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
  if (parsed.endsWith('.')) parsed = parsed.slice(0, -1);
  return isIpLiteral(parsed) || DNS_NAME.test(parsed) ? parsed : undefined;
}

export class HostScope {
  private readonly patterns: HostPattern[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map(parsePattern);
  }

  check(raw: unknown): HostCheck {
    if (typeof raw !== 'string') return deny('not-a-string', `A URL must be a string, not ${raw === null ? 'null' : typeof raw}.`);
    if (raw.length > MAX_URL_LENGTH) return deny('too-long', `The URL is longer than ${MAX_URL_LENGTH} characters.`);
    const shown = show(raw);
    // The URL parser silently drops tabs and newlines and trims control characters, so the text a human reads in
    // the log would differ from where the request goes; and `\` is read as `/`, which hides a host (evil\@good).
    if (/[\u0000-\u001f\u007f-\u009f\\]/.test(raw) || raw !== raw.trim()) {
      return deny('invalid-url', `Refused ${shown}: control characters, surrounding spaces and backslashes are not allowed in URLs.`);
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return deny('invalid-url', `Refused ${shown}: not a valid absolute URL.`);
    }
    const defaultPort = DEFAULT_PORT[url.protocol];
    if (defaultPort === undefined) return deny('scheme', `Refused ${shown}: only http and https URLs can be fetched, not ${url.protocol.slice(0, 20)}.`);
    if (url.username !== '' || url.password !== '' || hasAt(raw)) {
      return deny('userinfo', `Refused ${shown}: credentials in the URL (user@host) are not allowed; configure them as secrets in the policy.`);
    }
    let host = url.hostname;
    if (host.endsWith('.')) host = host.slice(0, -1);
    const ip = isIpLiteral(host);
    if (!ip && !DNS_NAME.test(host)) return deny('invalid-host', `Refused ${shown}: ${JSON.stringify(host.slice(0, 100))} is not a valid host name.`);
    if (host !== url.hostname) url.hostname = host;
    const port = url.port === '' ? defaultPort : Number(url.port);

    let hostMatched: HostPattern | undefined;
    let portMatched: HostPattern | undefined;
    for (const p of this.patterns) {
      if (!hostMatches(p, host, ip)) continue;
      hostMatched ??= p;
      if (!(p.port === undefined ? url.port === '' : p.port === port)) continue;
      portMatched ??= p;
      if (p.scheme === undefined || p.scheme === url.protocol) return { ok: true, url, host, port, pattern: p.source, wildcard: p.kind !== 'exact' };
    }
    if (portMatched) {
      return deny('scheme', `Refused ${shown}: scope.net "${portMatched.source}" allows ${host} only over ${portMatched.scheme?.slice(0, -1)}.`);
    }
    if (hostMatched) {
      return deny('port', `Refused ${shown}: scope.net "${hostMatched.source}" allows ${host}, but not on port ${port}. Add "${host}:${port}" to scope.net to allow it.`);
    }
    if (ip) {
      return deny('ip-literal', `Refused ${shown}: the host is the IP address ${host}; IP addresses are only reachable when listed exactly in scope.net.`);
    }
    return deny('not-allowed', `Refused ${shown}: ${host} is not in scope.net${this.patterns.length ? '' : ' (the policy allows no network access)'}.`);
  }
}

function hostMatches(p: HostPattern, host: string, ip: boolean): boolean {
  switch (p.kind) {
    case 'exact':
      return p.host === host;
    case 'subdomains':
      return !ip && host.length > p.host.length + 1 && host.endsWith(`.${p.host}`);
    case 'any':
      return !ip && host !== 'localhost' && !host.endsWith('.localhost');
  }
}

function parsePattern(source: string): HostPattern {
  const fail = (why: string): never => {
    throw new GuardConfigError('invalid-host-pattern', `Invalid scope.net entry ${JSON.stringify(source)}: ${why}`);
  };
  if (typeof source !== 'string') return fail('expected a string.');
  let rest = source.trim().toLowerCase();
  let scheme: HostPattern['scheme'];
  const schemeMatch = /^(https?):\/\//.exec(rest);
  if (schemeMatch) {
    scheme = `${schemeMatch[1]}:` as HostPattern['scheme'];
    rest = rest.slice(schemeMatch[0].length).replace(/\/$/, '');
  }
  if (rest === '*') return { source, kind: 'any', host: '*', scheme };
  if (rest === '' || /[/\\?#@\s]/.test(rest)) return fail('expected a host name, optionally with *. in front and :port after.');

  let port: number | undefined;
  const portMatch = /:(\d{1,5})$/.exec(rest);
  if (portMatch && (rest.startsWith('[') ? rest.slice(0, portMatch.index).endsWith(']') : true)) {
    port = Number(portMatch[1]);
    if (port < 1 || port > 65535) fail('the port must be between 1 and 65535.');
    rest = rest.slice(0, portMatch.index);
  }
  const wildcard = rest.startsWith('*.');
  const name = wildcard ? rest.slice(2) : rest;
  if (name.includes('*')) fail('a wildcard is only allowed as a whole first label ("*.example.com").');
  const host = canonicalHostName(name);
  if (host === undefined) return fail('not a valid host name or IP address.');
  if (wildcard && isIpLiteral(host)) fail('a wildcard cannot be combined with an IP address.');
  return { source, kind: wildcard ? 'subdomains' : 'exact', host, port, scheme };
}

function isIpLiteral(host: string): boolean {
  return IPV6.test(host) || IPV4.test(host);
}

/** An `@` in the authority, even with nothing before it (`https://@host`), is a userinfo trick. */
function hasAt(raw: string): boolean {
  const afterScheme = raw.replace(/^[a-z][a-z0-9+.-]*:\/*/i, '');
  const end = afterScheme.search(/[/?#]/);
  return (end === -1 ? afterScheme : afterScheme.slice(0, end)).includes('@');
}

/** Agent text in a message: quoted, escaped and cut short, so it cannot forge log lines. */
function show(raw: string): string {
  const cut = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
  return JSON.stringify(cut).replace(/[\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

function deny(reason: HostDenialReason, message: string): HostCheck {
  return { ok: false, reason, message };
}
