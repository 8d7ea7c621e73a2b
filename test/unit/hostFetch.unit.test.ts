// net.fetch on the host: an agent-chosen host name (allowed by a wildcard) must not lead to a loopback, private or
// link-local address — DNS rebinding and cloud metadata — while names the policy lists exactly still connect.
import * as assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isNonPublicAddress } from '../../src/core/net/addressCheck';
import { FetchError, HostFetch } from '../../src/core/net/hostFetch';
import { HostScope } from '../../src/core/guard/hostScope';
import { builtinDefaults } from '../../src/core/policy/policyLoader';

describe('net.fetch address checks', () => {
  describe('isNonPublicAddress', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'fc12::3', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::10.0.0.1', 'not-an-ip']) {
      it(`refuses ${a}`, () => assert.equal(isNonPublicAddress(a), true));
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8']) {
      it(`allows ${a}`, () => assert.equal(isNonPublicAddress(a), false));
    }
  });

  describe('HostScope marks wildcard matches', () => {
    const scope = new HostScope(['api.example.com', '*.example.org', '*']);
    it('an exact entry is not a wildcard', () => assert.equal((scope.check('https://api.example.com/x') as { wildcard: boolean }).wildcard, false));
    it('*.domain and * are', () => {
      assert.equal((scope.check('https://a.example.org/') as { wildcard: boolean }).wildcard, true);
      assert.equal((scope.check('https://anything.test/') as { wildcard: boolean }).wildcard, true);
    });
  });

  describe('HostFetch against a real local server', () => {
    let server: Server;
    let port = 0;
    let hits = 0;
    before(async () => {
      server = createServer((_req, res) => {
        hits++;
        res.end('secret metadata');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    // The name resolves to the loopback server, as a rebinding DNS server would make it.
    const fetcher = () => new HostFetch(builtinDefaults.net, { resolve: (_host, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]) });
    const req = (publicOnly: boolean) => ({ url: new URL(`http://rebind.example.org:${port}/latest/meta-data`), method: 'GET', headers: {}, body: undefined, publicOnly });

    it('refuses to connect when an agent-chosen name resolves to loopback, and nothing reaches the server', async () => {
      const before = hits;
      await assert.rejects(fetcher().fetch(req(true)), (e: unknown) => FetchError.is(e) && e.reason === 'non-public-address' && /127\.0\.0\.1/.test(e.message) && /list the host exactly/.test(e.message));
      assert.equal(hits, before, 'no request reached the server');
    });

    it('connects when the policy named the host exactly', async () => {
      const res = await fetcher().fetch(req(false));
      assert.equal(res.status, 200);
      assert.equal(res.body, 'secret metadata');
    });
  });
});
