import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { request, Agent } from 'undici';
import { makeTestPki, type TestPki } from './pki.js';
import { downstreamTlsJson, hcmJson, startProxy, staticClusterJson, upstreamTlsJson } from './http1-harness.js';

describe('HTTP/1.1 proxy over TLS', () => {
  let dir: string;
  let pki: TestPki;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshd-http1-tls-'));
    pki = await makeTestPki(dir, { serverNames: ['localhost', 'backend.test'] });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('TLS terminated downstream and originated upstream: x-forwarded-proto https, SNI sent, keep-alive both sides', async () => {
    const seen: Array<{ sni: string | false | null; proto: string | undefined }> = [];
    const upstream = https.createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
      seen.push({ sni: (req.socket as TLSSocket).servername, proto: req.headers['x-forwarded-proto'] as string | undefined });
      res.end('secure');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const proxy = await startProxy({
      hcm: hcmJson([]),
      transportSocket: downstreamTlsJson(pki.server.cert, pki.server.key),
      clusters: [staticClusterJson('backend', upstreamPort, { transport_socket: upstreamTlsJson(pki.ca.cert, 'backend.test') })],
    });
    const agent = new Agent({ connect: { ca: pki.ca.cert, servername: 'localhost' }, connections: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(`https://127.0.0.1:${proxy.port}/x`, { dispatcher: agent });
        assert.equal(res.statusCode, 200);
        assert.equal(await res.body.text(), 'secure');
      }
      assert.deepEqual(seen[0], { sni: 'backend.test', proto: 'https' });
      assert.equal(seen.length, 3);
      assert.equal(proxy.pool.stats().connectsStarted, 1, 'the TLS upstream connection is reused');
    } finally {
      await agent.close();
      await proxy.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });

  test('an upstream certificate the cluster does not trust answers 503', async () => {
    const other = await makeTestPki(join(dir, 'other'), { serverNames: ['backend.test'], caName: 'other CA' });
    const upstream = https.createServer({ cert: other.server.cert, key: other.server.key }, (_req, res) => res.end('nope'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const proxy = await startProxy({
      hcm: hcmJson([]),
      clusters: [staticClusterJson('backend', (upstream.address() as AddressInfo).port, { transport_socket: upstreamTlsJson(pki.ca.cert, 'backend.test') })],
    });
    try {
      const res = await request(`http://127.0.0.1:${proxy.port}/x`);
      assert.equal(res.statusCode, 503);
      await res.body.text();
    } finally {
      await proxy.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});
