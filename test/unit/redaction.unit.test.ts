// Redaction before storage: a corpus of secrets and personal data that must be masked (keeping some shape), and
// near-misses that must survive untouched, plus structured values, policy patterns and the hot-path cost.
import * as assert from 'node:assert/strict';
import { AuditError } from '../../src/core/audit/auditError';
import { keyHint, Redactor } from '../../src/core/audit/redaction';

// Built from parts so that no scanner mistakes this file for a leak; none of these is a live credential.
const j = (...parts: string[]) => parts.join('');

/** [label, text containing the secret, the secret itself (must be gone), what the masked text must contain]. */
const SECRETS: ReadonlyArray<readonly [string, string, string, string]> = [
  ['OpenAI project key', j('key: sk-proj-', '4fG7hJ2kL9mN3pQ8rS6tU1vW5xY0zA2bC4dE9f2c'), j('4fG7hJ2kL9mN3pQ8rS6tU1vW5xY0zA2bC4dE'), 'sk-proj-…9f2c'],
  ['OpenAI legacy key', j('sk-', 'T3BlbkFJabcdefghij0123456789klmnopqrstuvWXYZ'), j('T3BlbkFJabcdefghij0123456789klmnop'), 'sk-…WXYZ'],
  ['Anthropic key', j('ANTHROPIC=sk-ant-', 'api03-', 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AbCd'), 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe', 'sk-ant-…AbCd'],
  ['AWS access key id', j('AKIA', 'Z7QXWB4N2MPL5KTR'), 'Z7QXWB4N2MPL5K', 'AKIA…5KTR'],
  ['AWS secret access key', j('aws_secret_access_key = ', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Rk3vT1a'), 'wJalrXUtnFEMI/K7MDENG', 'aws_secret_access_key = ***'],
  ['GitHub classic token', j('ghp_', '1234567890abcdefghijABCDEFGHIJ123456'), '1234567890abcdefghijABCDEFGHIJ12', 'ghp_…3456'],
  ['GitHub fine-grained token', j('github_pat_', '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'), 'abcdefghijklmnopqrstuvwxyzABCDEFG', 'github_pat_…KLMN'],
  ['GitLab token', j('glpat-', 'xYz12AbC34dEf56GhI78'), 'xYz12AbC34dEf56GhI', 'glpat-…'],
  ['Slack bot token', j('xoxb-', '123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'), '1234567890123-AbCdEfGhIjKlMnOp', 'xoxb-…UvWx'],
  ['Slack webhook', j('https://hooks.slack.com/services/', 'T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'), 'B00000000/XXXXXXXX', 'https://hooks.slack.com/…'],
  ['Stripe secret key', j('sk_live_', '51H8abcdefGHIJKLmnopQRST'), '51H8abcdefGHIJKLmnop', 'sk_live_…'],
  ['Stripe restricted key', j('rk_test_', '4eC39HqLyjWDarjtT1zdp7dc'), '4eC39HqLyjWDarjtT1zd', 'rk_test_…'],
  ['Google API key', j('AIza', 'SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY'), 'SyD-9tSrke72PouQMnMX', 'AIza…'],
  ['Google OAuth token', j('ya29.', 'a0AfH6SMBx7QnT2kLp9Vr3Wd8Zy1Xc5Ub'), 'a0AfH6SMBx7QnT2kLp9Vr', 'ya29.…'],
  ['npm token', j('npm_', 'abcdefghijklmnopqrstuvwxyz0123456789'), 'abcdefghijklmnopqrstuvwxyz01', 'npm_…6789'],
  ['Hugging Face token', j('hf_', 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'), 'AbCdEfGhIjKlMnOpQrStUvWx', 'hf_…2345'],
  ['SendGrid key', j('SG.', 'ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr'), 'TwL2iGABf9DHoTf-09kqeF8', 'SG.…'],
  ['JWT', j('eyJhbGciOiJIUzI1NiJ9', '.', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', '.', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'), 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', 'eyJ…sR8U'],
  ['Bearer header', j('Authorization: Bearer ', 'abc123def456ghi789jkl012mno345'), 'abc123def456ghi789jkl0', 'Bearer …o345'],
  ['Basic auth header', j('Authorization: Basic ', 'dXNlcjpodW50ZXIyLXNlY3JldA=='), 'dXNlcjpodW50ZXIyLXNlY3Jl', 'Basic …'],
  ['RSA private key block', j('-----BEGIN RSA PRIVATE KEY-----\n', 'MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2MYlW\nq0abcdef==\n', '-----END RSA PRIVATE KEY-----'), 'MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2MYlW', '-----BEGIN RSA PRIVATE KEY-----…-----END RSA PRIVATE KEY-----'],
  ['OpenSSH private key, cut short', j('-----BEGIN OPENSSH PRIVATE KEY-----\n', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'), 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU', '-----BEGIN OPENSSH PRIVATE KEY-----…'],
  ['password in a database URL', j('postgres://admin:', 'S3cr3t%40Pass', '@db.example.com:5432/app'), 'S3cr3t%40Pass', 'postgres://admin:***@db.example.com'],
  ['password in an https URL', j('https://deploy:', 'tok3n-xyz-987', '@git.example.org/repo.git'), 'tok3n-xyz-987', 'https://deploy:***@git.example.org'],
  ['password assignment', j('DB_PASSWORD=', 'hunter2!'), 'hunter2!', 'DB_PASSWORD=***'],
  ['password in YAML', j('password: ', 'correct-horse-battery'), 'correct-horse-battery', 'password: ***'],
  ['client secret in JSON text', j('{"client_secret": "', 'q8Zr2Lm5Wn7Xb1Vc', '"}'), 'q8Zr2Lm5Wn7Xb1Vc', '"client_secret": "***"'],
  ['high-entropy *_KEY', j('SERVICE_API_KEY="', 'f3b1c9e87a2d4f60b5c7e9a1d3f5b7c9', '"'), 'f3b1c9e87a2d4f60b5c7e9a1d3f5b7', 'SERVICE_API_KEY="…b7c9"'],
  ['high-entropy *_TOKEN in a query string', j('https://api.example.com/v1?access_token=', 'Zk29dXw81PqLm47RtYv0', '&page=2'), 'Zk29dXw81PqLm47RtYv0', 'access_token=…'],
  ['e-mail address', 'contact jane.doe+billing@example.com today', 'jane.doe+billing', 'j…@example.com'],
  ['phone, international', 'call +44 20 7946 0958 now', '7946 0958', '+…58'],
  ['phone, US', 'phone (415) 555-0132', '555-0132', '…32'],
  ['Visa card', 'card 4111 1111 1111 1111 exp 12/29', '4111 1111 1111', '…1111'],
  ['Mastercard with dashes', '5555-5555-5555-4444', '5555-5555-5555', '…4444'],
  ['Amex', 'amex 378282246310005', '37828224631', '…0005'],
  ['US SSN', 'ssn 219-09-9999', '219-09', '***-**-9999'],
  ['IBAN', 'iban DE89 3704 0044 0532 0130 00', '3704 0044 0532', 'DE89…3000'],
];

/** Must survive exactly: they look a little like secrets but are not. */
const NEAR_MISSES: readonly string[] = [
  'snapshot 20261121-105450-c1ad (a timestamp id whose digits pass the Luhn check)',
  'git commit 9fceb02d0ae598e95dc970b74767f19372d61af8',
  'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  'request id 123e4567-e89b-12d3-a456-426614174000',
  'pip install scikit-learn; task-1234567890abcdefghijk',
  'the bearer of this letter is welcome',
  'please reset your password tomorrow',
  'PRIMARY_KEY=id',
  'MONKEY=banana',
  'token_count=1234 and max_tokens: 4096',
  'sort_key: created_at',
  'export GITHUB_TOKEN=${GITHUB_TOKEN}',
  'apiKey: process.env.OPENAI_API_KEY',
  'secrets: { "Authorization": "env:API_TOKEN" }',
  'PWD=/home/dev/project',
  'version 1.2.3.4 on 192.168.10.20:8080',
  'at 2026-11-21T10:00:00.000Z (epoch 1732182400000)',
  'order 1234567812345678',
  '4111 1111 1111 1112',
  'import "@types/node"; lodash@4.17.21; icon@2x.png',
  'https://example.com/path?page=2&sort=asc',
  'ssh://git@ (no host) and user@localhost',
  'src/keys/api_key.ts and src/auth/tokenStore.ts',
  'AKIA is the prefix of AWS access keys',
  'call 555-0100 for help',
  'pk_live_51H8abcdefGHIJKLmnopQRST is a publishable key',
];

describe('Redactor: secrets and personal data', () => {
  const r = new Redactor();

  it(`has a corpus of at least 30 secrets and PII samples (${SECRETS.length}) and ${NEAR_MISSES.length} near-misses`, () => {
    assert.ok(SECRETS.length >= 30);
    assert.ok(NEAR_MISSES.length >= 20);
  });

  for (const [label, text, secret, shape] of SECRETS) {
    it(`masks ${label}`, () => {
      const out = r.redactText(text);
      assert.ok(!out.includes(secret), `secret still visible in ${JSON.stringify(out)}`);
      assert.ok(out.includes(shape), `expected ${JSON.stringify(shape)} in ${JSON.stringify(out)}`);
      assert.ok(r.scan(text).length > 0, 'scan finds it too');
    });
  }

  for (const text of NEAR_MISSES) {
    it(`leaves alone: ${text}`, () => {
      assert.equal(r.redactText(text), text);
    });
  }

  it('keeps the text around a secret, and masks several in one string', () => {
    const text = j('a jane@example.com b ', 'ghp_', '1234567890abcdefghijABCDEFGHIJ123456', ' c');
    assert.equal(r.redactText(text), 'a j…@example.com b ghp_…3456 c');
  });

  it('redacts structured values by key name, and makes them JSON-safe', () => {
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    const out = r.redact({
      password: 'x',
      apiKey: 'abcdefgh12345678ijkl',
      sort_key: 'name',
      headers: { Authorization: 'Basic dXNlcjpwYXNzd29yZDEyMw==', 'X-Api-Key': 'Q2x9Lm7Wn3Rb5Vc8Zd1F' },
      nested: { pwd: 42, auth: { user: 'bob', pass: 'pw' } },
      list: ['jane@example.com', undefined, () => 1],
      n: Number.NaN,
      big: 10n,
      when: new Date(0),
      bytes: Buffer.from('hello'),
      cyclic,
      lone: 'a\ud800b',
      env: 'env:OPENAI_KEY',
    });
    assert.deepEqual(out, {
      password: '***',
      apiKey: '…ijkl',
      sort_key: 'name',
      headers: { Authorization: 'Basic …', 'X-Api-Key': '…Zd1F' },
      nested: { pwd: '***', auth: { user: 'bob', pass: '***' } },
      list: ['j…@example.com', null, null],
      n: null,
      big: '10',
      when: '1970-01-01T00:00:00.000Z',
      bytes: '[binary, 5 bytes]',
      cyclic: { name: 'x', self: '[circular]' },
      lone: 'a\ufffdb',
      env: 'env:OPENAI_KEY',
    });
  });

  it('keeps a "__proto__" key as data, and turns -0 into 0 (what JSON would store)', () => {
    const out = r.redact(JSON.parse('{"__proto__": {"polluted": true}, "n": -0}')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ['__proto__', 'n']);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.ok(Object.is(out.n, 0));
    assert.equal(JSON.stringify(out), '{"__proto__":{"polluted":true},"n":0}');
  });

  it('cuts very long strings after redacting them, and says how much was dropped', () => {
    const small = new Redactor([], { maxStringLength: 20 });
    const out = small.redact(`${'x'.repeat(30)} jane@example.com`) as string;
    assert.equal(out, `${'x'.repeat(20)}…[+27 chars]`);
  });

  it('applies the policy patterns, and rejects a broken one with a typed error', () => {
    const p = new Redactor(['ACME-[0-9]{6}', 'internal-[a-z]+']);
    assert.equal(p.redactText('ticket ACME-123456 on internal-wiki'), 'ticket … on …ki');
    assert.deepEqual(
      p.scan('ACME-123456').map((f) => f.rule),
      ['policy[0]'],
    );
    assert.throws(
      () => new Redactor(['(unclosed']),
      (e: unknown) => AuditError.is(e, 'invalid-pattern') && /redact\.patterns\[0\]/.test(e.message),
    );
  });

  it('classifies key names', () => {
    assert.equal(keyHint('client_secret'), 'password');
    assert.equal(keyHint('accessToken'), 'token');
    assert.equal(keyHint('X-Api-Key'), 'token');
    assert.equal(keyHint('max_tokens'), 'none');
    assert.equal(keyHint('tokenCount'), 'none');
    assert.equal(keyHint('PWD'), 'none');
  });

  it('costs little for an ordinary event (prose skips the full scan)', () => {
    const ev = { path: 'src/module17/file3.ts', reason: 'read the helper to rename it everywhere' };
    for (let i = 0; i < 2000; i++) r.redact(ev);
    const t0 = performance.now();
    for (let i = 0; i < 20000; i++) r.redact(ev);
    const us = ((performance.now() - t0) / 20000) * 1000;
    // Generous bound for shared machines; typical is 2–4 µs.
    assert.ok(us < 60, `redact took ${us.toFixed(1)} µs per event`);
  });
});
