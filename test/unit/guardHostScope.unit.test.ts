// Network host allowlist: a corpus of URLs, friendly and hostile, against one scope.net list.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuardConfigError } from '../../src/core/guard/guardConfigError';
import type { HostDenialReason } from '../../src/core/guard/hostScope';
import { canonicalHostName, HostScope } from '../../src/core/guard/hostScope';

describe('HostScope', () => {
  const scope = new HostScope([
    'api.example.com',
    '*.cdn.example.com',
    'internal.example.com:8443',
    'https://secure.example.com',
    'bücher.de',
    '10.0.0.5',
    '[::1]:9000',
    'localhost:3000',
  ]);

  const allowed: Array<[url: string, host: string, port: number, pattern: string]> = [
    ['https://api.example.com/v1/x', 'api.example.com', 443, 'api.example.com'],
    ['http://api.example.com/', 'api.example.com', 80, 'api.example.com'],
    ['https://API.Example.COM/v1', 'api.example.com', 443, 'api.example.com'],
    ['https://api.example.com./v1', 'api.example.com', 443, 'api.example.com'], // trailing dot normalised
    ['https://api.example.com:443/', 'api.example.com', 443, 'api.example.com'], // explicit default port
    ['https://a.cdn.example.com/x.js', 'a.cdn.example.com', 443, '*.cdn.example.com'],
    ['https://a.b.cdn.example.com/x.js', 'a.b.cdn.example.com', 443, '*.cdn.example.com'],
    ['https://internal.example.com:8443/health', 'internal.example.com', 8443, 'internal.example.com:8443'],
    ['http://internal.example.com:8443/health', 'internal.example.com', 8443, 'internal.example.com:8443'],
    ['https://secure.example.com/', 'secure.example.com', 443, 'https://secure.example.com'],
    ['https://Bücher.de/', 'xn--bcher-kva.de', 443, 'bücher.de'], // IDN compared in punycode
    ['https://xn--bcher-kva.de/', 'xn--bcher-kva.de', 443, 'bücher.de'],
    ['http://10.0.0.5/', '10.0.0.5', 80, '10.0.0.5'], // an IP literal listed exactly
    ['http://[::1]:9000/', '[::1]', 9000, '[::1]:9000'],
    ['http://localhost:3000/', 'localhost', 3000, 'localhost:3000'],
    ['https://api.example.com/path?q=a@b#frag', 'api.example.com', 443, 'api.example.com'], // @ outside the authority
  ];
  for (const [url, host, port, pattern] of allowed) {
    it(`allows ${url}`, () => {
      const r = scope.check(url);
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.equal(r.host, host);
      assert.equal(r.port, port);
      assert.equal(r.pattern, pattern);
      assert.equal(r.url.hostname, host);
    });
  }

  const refused: Array<[url: unknown, reason: HostDenialReason]> = [
    [42, 'not-a-string'],
    [null, 'not-a-string'],
    [{ href: 'https://api.example.com/' }, 'not-a-string'],
    [`https://api.example.com/${'a'.repeat(9000)}`, 'too-long'],
    ['', 'invalid-url'],
    ['api.example.com/v1', 'invalid-url'], // not absolute
    ['https://api.example.com\t/', 'invalid-url'],
    ['https://api.exa\nmple.com/', 'invalid-url'], // the parser would silently drop the newline
    [' https://api.example.com/', 'invalid-url'],
    ['https://evil.com\\@api.example.com/', 'invalid-url'], // backslash: really evil.com
    ['ftp://api.example.com/', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['javascript:alert(1)', 'scheme'],
    ['data:text/plain,hi', 'scheme'],
    ['ws://api.example.com/', 'scheme'],
    ['https://user:pass@api.example.com/', 'userinfo'],
    ['https://user@api.example.com/', 'userinfo'],
    ['https://@api.example.com/', 'userinfo'],
    ['https://api.example.com@evil.com/', 'userinfo'],
    ['http://2130706433/', 'ip-literal'], // decimal 127.0.0.1
    ['http://0x7f.1/', 'ip-literal'], // hex/short 127.0.0.1
    ['http://0177.0.0.1/', 'ip-literal'], // octal
    ['http://127.1/', 'ip-literal'],
    ['http://0/', 'ip-literal'], // 0.0.0.0
    ['http://169.254.169.254/latest/meta-data/', 'ip-literal'], // cloud metadata
    ['http://[::1]/', 'port'], // [::1] is listed, but only on port 9000
    ['http://[::ffff:127.0.0.1]/', 'ip-literal'],
    ['http://[::ffff:a00:5]/', 'ip-literal'], // 10.0.0.5 mapped into IPv6 is not the listed literal
    ['http://0x0a.0.0.5:8080/', 'port'], // is 10.0.0.5, listed, but not on 8080
    ['https://example.com/', 'not-allowed'],
    ['https://cdn.example.com/', 'not-allowed'], // *.cdn.example.com does not cover cdn.example.com itself
    ['https://evilcdn.example.com/', 'not-allowed'],
    ['https://api.example.com.evil.com/', 'not-allowed'],
    ['https://evilapi.example.com/', 'not-allowed'],
    ['https://a.cdn.example.com.evil.com/', 'not-allowed'],
    ['https://api.example.com:8080/', 'port'], // no port in the pattern: default port only
    ['http://api.example.com:443/', 'port'], // 443 is not http's default port
    ['https://internal.example.com/', 'port'],
    ['http://secure.example.com/', 'scheme'], // pattern pins https
    ['http://localhost/', 'port'],
    ['http://api.example.com../', 'invalid-host'],
    ['http://*.cdn.example.com/', 'invalid-host'],
    ['http://a..example.com/', 'invalid-host'],
  ];
  for (const [url, reason] of refused) {
    it(`refuses ${JSON.stringify(url).slice(0, 80)} (${reason})`, () => {
      const r = scope.check(url);
      assert.equal(r.ok, false, `expected a denial`);
      if (r.ok) return;
      assert.equal(r.reason, reason, r.message);
      assert.ok(r.message.length > 0 && r.message.length < 600);
    });
  }

  it('an empty allowlist refuses everything and says that no network access is allowed', () => {
    const r = new HostScope([]).check('https://example.com/');
    assert.ok(!r.ok && r.reason === 'not-allowed' && r.message.includes('no network access'));
  });

  it('"*" allows any host name but not IP literals or localhost', () => {
    const any = new HostScope(['*']);
    assert.equal(any.check('https://anything.example.org/').ok, true);
    assert.equal(any.check('https://127.0.0.1/').ok, false);
    assert.equal(any.check('https://[::1]/').ok, false);
    assert.equal(any.check('http://localhost/').ok, false);
    assert.equal(any.check('http://api.localhost/').ok, false);
    assert.equal(any.check('http://anything.example.org:8080/').ok, false);
  });

  it('rejects malformed patterns at construction', () => {
    for (const bad of ['', 'a*.example.com', '*example.com', 'example.*', 'user@example.com', 'example.com/path', 'host:0', 'host:70000', '*.10.0.0.1', 'ftp://example.com', 'exa mple.com']) {
      assert.throws(() => new HostScope([bad]), (e: unknown) => GuardConfigError.is(e, 'invalid-host-pattern'), bad);
    }
  });

  it('canonicalHostName gives the form results use', () => {
    assert.equal(canonicalHostName('API.Example.com.'), 'api.example.com');
    assert.equal(canonicalHostName('bücher.de'), 'xn--bcher-kva.de');
    assert.equal(canonicalHostName('2130706433'), '127.0.0.1');
    assert.equal(canonicalHostName('[0:0::1]'), '[::1]');
    assert.equal(canonicalHostName('example.com:80'), undefined);
    assert.equal(canonicalHostName('a/b'), undefined);
  });

  it('property: check never throws, and an allowed URL is http(s), without credentials, on an allowed host', () => {
    const hostish = fc.constantFrom('api.example.com', 'API.EXAMPLE.COM.', 'x.cdn.example.com', 'cdn.example.com', 'evil.com', '127.0.0.1', '[::1]', '2130706433', 'bücher.de', 'a@b', 'user:pw@api.example.com', '');
    const url = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.tuple(fc.constantFrom('http://', 'https://', 'ftp://', 'HTTPS://', '//', 'http:\\\\'), hostish, fc.constantFrom('', ':80', ':443', ':8443', ':9000'), fc.string({ maxLength: 20 })).map(
        ([s, h, p, rest]) => `${s}${h}${p}/${rest}`,
      ),
    );
    fc.assert(
      fc.property(url, (u) => {
        const r = scope.check(u);
        if (!r.ok) return typeof r.message === 'string';
        const allowedHosts = new Set(allowed.map(([, h]) => h));
        return (r.url.protocol === 'http:' || r.url.protocol === 'https:') && r.url.username === '' && r.url.password === '' && (allowedHosts.has(r.host) || r.host.endsWith('.cdn.example.com'));
      }),
      { numRuns: 1000 },
    );
  });
});
