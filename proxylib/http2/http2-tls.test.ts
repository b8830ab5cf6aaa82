import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki } from '../../test/proxy/pki.js';
import type { TestPki } from '../../test/proxy/pki.js';
import type { UpstreamTlsConfig } from '../config/types.js';
import { createHttp2ConnectionHandler } from './http2-connection.js';
import type { Http2ConnectionHandler } from './http2-connection.js';
import { prefixRouteTable, startFront, staticCluster, testHcm, testView } from '../../test/proxy/http2-harness.js';
import type { Front } from '../../test/proxy/http2-harness.js';

function get(client: ClientHttp2Session, path: string): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const s = client.request({ ':path': path }, { endStream: true });
    let headers: IncomingHttpHeaders = {};
    let body = '';
    s.setEncoding('utf8');
    s.on('response', (h) => (headers = h));
    s.on('data', (c: string) => (body += c));
    s.on('end', () => resolve({ status: Number(headers[':status']), body, headers }));
    s.on('error', reject);
  });
}

describe('HTTP/2 with TLS: termination with ALPN h2 and origination to an h2 upstream', () => {
  let dir: string;
  let pki: TestPki;
  let secureUpstream: http2.Http2SecureServer;
  let h1OnlyUpstream: https.Server;
  let handler: Http2ConnectionHandler;
  let front: Front;
  const clients: ClientHttp2Session[] = [];
  let upstreamSawScheme: string | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshd-h2-tls-'));
    pki = await makeTestPki(dir);
    secureUpstream = http2.createSecureServer({ key: pki.server.key, cert: pki.server.cert, ALPNProtocols: ['h2'] });
    secureUpstream.on('stream', (stream, headers) => {
      upstreamSawScheme = headers[':scheme'] as string;
      stream.respond({ ':status': 200 });
      stream.end(`tls upstream ${String(headers[':path'])} alpn=${(stream.session?.socket as { alpnProtocol?: string } | undefined)?.alpnProtocol ?? '?'}`);
    });
    await new Promise<void>((resolve) => secureUpstream.listen(0, '127.0.0.1', resolve));
    // A TLS upstream that speaks only HTTP/1.1: an HTTP/2 cluster must not send h2 frames to it.
    h1OnlyUpstream = https.createServer({ key: pki.server.key, cert: pki.server.cert, ALPNProtocols: ['http/1.1'] }, (_req, res) => res.end('h1'));
    await new Promise<void>((resolve) => h1OnlyUpstream.listen(0, '127.0.0.1', resolve));

    const upstreamTls = (sni: string): UpstreamTlsConfig => ({
      sni,
      autoSni: false,
      autoSanValidation: true,
      validation: { kind: 'inline', material: { trustedCa: pki.ca.cert, matchSubjectAltName: undefined } },
      certificate: undefined,
      alpnProtocols: [],
    });
    const view = testView([
      staticCluster('tls-h2', [{ address: '127.0.0.1', port: (secureUpstream.address() as AddressInfo).port, weight: 1 }], { upstreamTls: upstreamTls('localhost') }),
      staticCluster('tls-h1-only', [{ address: '127.0.0.1', port: (h1OnlyUpstream.address() as AddressInfo).port, weight: 1 }], { upstreamTls: upstreamTls('localhost') }),
    ]);
    const hcm = testHcm(
      prefixRouteTable([
        { prefix: '/h1only', cluster: 'tls-h1-only' },
        { prefix: '/', cluster: 'tls-h2' },
      ]),
    );
    handler = createHttp2ConnectionHandler();
    front = await startFront({ handler, view, hcm: () => hcm, tls: { key: pki.server.key, cert: pki.server.cert } });
  });

  after(async () => {
    for (const c of clients) c.destroy();
    handler.pool.destroy();
    await front.close();
    await new Promise<void>((resolve) => secureUpstream.close(() => resolve()));
    await new Promise<void>((resolve) => h1OnlyUpstream.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a client negotiating h2 over TLS is proxied to a TLS upstream that negotiated h2, with :scheme https upstream', async () => {
    const client = http2.connect(front.url, { ca: pki.ca.cert, servername: 'localhost' });
    client.on('error', () => {});
    clients.push(client);
    const reply = await get(client, '/secure');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'tls upstream /secure alpn=h2');
    assert.equal(upstreamSawScheme, 'https');
  });

  test('an upstream that does not offer ALPN h2 gets no HTTP/2 frames: the request fails with 503', async () => {
    const client = http2.connect(front.url, { ca: pki.ca.cert, servername: 'localhost' });
    client.on('error', () => {});
    clients.push(client);
    const reply = await get(client, '/h1only');
    assert.equal(reply.status, 503);
  });
});
