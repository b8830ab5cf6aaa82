import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import http2 from 'node:http2';
import { ListenerManager, createCoarseClock, type DownstreamConnection } from './index.js';
import { ViewClusterManager } from '../upstream/index.js';
import type { ClusterConfig } from '../config/types.js';
import { makeTestPki, type TestPki } from '../../test/proxy/pki.js';
import {
  MemoryConfigView,
  buildListener,
  certificateSecret,
  chainOf,
  downstreamTls,
  hcmFilter,
  nextFlow,
  staticCluster,
  tcpProxyFilter,
  upstreamTls,
  validationSecret,
} from '../../test/proxy/listener-fixtures.js';

const clock = createCoarseClock(20);

interface Seen {
  protocol: 'http1' | 'http2';
  conn: DownstreamConnection;
}

/** A stand-in protocol handler: answers each line with the facts the listener gave it, as JSON. */
function recordingHandler(protocol: 'http1' | 'http2', seen: Seen[]) {
  return (conn: DownstreamConnection): void => {
    seen.push({ protocol, conn });
    conn.socket.on('data', () => {
      conn.socket.write(
        JSON.stringify({
          protocol,
          chain: conn.filterChainName,
          scheme: conn.scheme,
          serverName: conn.facts.serverName,
          alpn: conn.negotiatedAlpn ?? null,
          peer: conn.facts.peerCertificate ?? null,
        }) + '\n',
      );
    });
    conn.socket.on('end', () => conn.socket.end());
    conn.socket.resume();
  };
}

interface Handshake {
  socket: TLSSocket;
  subject: string;
  serial: string;
  reply: Record<string, unknown>;
}

async function handshake(port: number, options: { servername: string; ca: string; alpn?: string[]; cert?: string; key?: string }): Promise<Handshake> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    servername: options.servername,
    ca: options.ca,
    ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
    ...(options.cert ? { cert: options.cert, key: options.key } : {}),
  });
  await once(socket, 'secureConnect');
  const cert = socket.getPeerCertificate();
  socket.write('facts?\n');
  // With TLS 1.3 a client finishes its handshake before the server checks the client certificate:
  // a refusal shows up as a close (or an alert error) instead of a reply.
  const line = await new Promise<Buffer>((resolve, reject) => {
    socket.once('data', resolve);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before a reply')));
  });
  return { socket, subject: cert.subject.CN as string, serial: cert.serialNumber, reply: JSON.parse(line.toString()) as Record<string, unknown> };
}

/** Resolves with how a handshake attempt ended: 'ok', or the error code / message. */
async function handshakeOutcome(port: number, options: { servername: string; ca: string; cert?: string; key?: string }): Promise<string> {
  try {
    const h = await handshake(port, options);
    h.socket.destroy();
    return 'ok';
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code ?? e.message;
  }
}

describe('TLS termination', { timeout: 30_000 }, () => {
  let dir: string;
  let pki: TestPki;
  let certA: Awaited<ReturnType<TestPki['issue']>>;
  let certB: Awaited<ReturnType<TestPki['issue']>>;
  let certMtls: Awaited<ReturnType<TestPki['issue']>>;
  let view: MemoryConfigView;
  let manager: ListenerManager;
  let port: number;
  const seen: Seen[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshd-tls-'));
    pki = await makeTestPki(dir);
    certA = await pki.issue('a.example.com', { dnsNames: ['a.example.com'] });
    certB = await pki.issue('b.example.com', { dnsNames: ['b.example.com', '*.b.example.com'] });
    view = new MemoryConfigView();
    view.setSecret(certificateSecret('cert-a', certA));
    view.setSecret(certificateSecret('cert-b', certB));
    certMtls = await pki.issue('mtls.example.com', { dnsNames: ['mtls.example.com'] });
    view.setSecret(certificateSecret('cert-mtls', certMtls));
    view.setSecret(validationSecret('client-ca', pki.ca.cert));
    view.setListener(
      buildListener({
        name: 'https',
        tlsInspector: true,
        chains: [
          { chain: chainOf('a', [hcmFilter()], downstreamTls(['cert-a'], { alpnProtocols: ['h2', 'http/1.1'] })), match: { serverNames: ['a.example.com'] } },
          { chain: chainOf('b', [hcmFilter()], downstreamTls(['cert-b'])), match: { serverNames: ['b.example.com', '*.b.example.com'] } },
          {
            chain: chainOf('mtls', [hcmFilter()], downstreamTls(['cert-mtls'], { validation: { kind: 'sds', name: 'client-ca' }, requireClientCertificate: true })),
            match: { serverNames: ['mtls.example.com'] },
          },
        ],
      }),
    );
    manager = new ListenerManager(view, {
      clusters: new ViewClusterManager(view, { clock }),
      http1: recordingHandler('http1', seen),
      http2: recordingHandler('http2', seen),
      clock,
      drainTimeoutMs: 500,
    });
    await manager.start();
    port = manager.addressOf('https')!.port;
  });

  after(async () => {
    await manager?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the chain is chosen by SNI and terminates TLS with its own certificate', async () => {
    const a = await handshake(port, { servername: 'a.example.com', ca: pki.ca.cert });
    assert.equal(a.subject, 'a.example.com');
    assert.equal(a.reply.chain, 'a');
    assert.equal(a.reply.scheme, 'https');
    assert.equal(a.reply.serverName, 'a.example.com');
    a.socket.destroy();
    const b = await handshake(port, { servername: 'x.b.example.com', ca: pki.ca.cert });
    assert.equal(b.subject, 'b.example.com');
    assert.equal(b.reply.chain, 'b');
    b.socket.destroy();
  });

  test('an SNI that no chain lists is refused before the handshake, with a DENIED no_filter_chain record', async () => {
    const flow = nextFlow((r) => r.listener === 'https' && r.reason === 'no_filter_chain');
    const outcome = await handshakeOutcome(port, { servername: 'evil.example.org', ca: pki.ca.cert });
    assert.notEqual(outcome, 'ok');
    const record = await flow;
    assert.equal(record.verdict, 'DENIED');
  });

  test('ALPN h2 hands the connection to the HTTP/2 handler and http/1.1 to the HTTP/1.1 handler', async () => {
    const h2 = await handshake(port, { servername: 'a.example.com', ca: pki.ca.cert, alpn: ['h2', 'http/1.1'] });
    assert.equal(h2.reply.protocol, 'http2');
    assert.equal(h2.reply.alpn, 'h2');
    h2.socket.destroy();
    const h1 = await handshake(port, { servername: 'a.example.com', ca: pki.ca.cert, alpn: ['http/1.1'] });
    assert.equal(h1.reply.protocol, 'http1');
    assert.equal(h1.reply.alpn, 'http/1.1');
    h1.socket.destroy();
  });

  test('node:http2 runs a session on the terminated socket (ALPN h2), as the HTTP/2 handler does', async () => {
    // A socket terminated outside tls.Server must look finished to node:http2, which otherwise waits
    // for a 'secureConnect' that server sockets never emit (regression: curl --http2 hung).
    const h2view = new MemoryConfigView();
    h2view.setSecret(certificateSecret('cert-a', certA));
    h2view.setListener(
      buildListener({ name: 'h2-over-tls', tlsInspector: true, chains: [{ chain: chainOf('a', [hcmFilter()], downstreamTls(['cert-a'], { alpnProtocols: ['h2'] })) }] }),
    );
    const h2server = http2.createServer((req, res) => res.end(`h2 over TLS ${req.url}`));
    const h2manager = new ListenerManager(h2view, {
      clusters: new ViewClusterManager(h2view, { clock }),
      http1: (conn) => conn.socket.destroy(),
      http2: (conn) => h2server.emit('connection', conn.socket),
      clock,
      drainTimeoutMs: 300,
    });
    try {
      await h2manager.start();
      const client = http2.connect(`https://127.0.0.1:${h2manager.addressOf('h2-over-tls')!.port}`, { ca: pki.ca.cert, servername: 'a.example.com' });
      try {
        const req = client.request({ ':path': '/over-tls' });
        req.setEncoding('utf8');
        let body = '';
        req.on('data', (d: string) => (body += d));
        await once(req, 'end');
        assert.equal(body, 'h2 over TLS /over-tls');
      } finally {
        client.close();
      }
    } finally {
      await h2manager.close();
    }
  });

  test('a rotated secret serves the next handshake without a restart while an open connection keeps its certificate', async () => {
    const before = await handshake(port, { servername: 'a.example.com', ca: pki.ca.cert });
    const rotated = await pki.issue('a.example.com-rotated', { dnsNames: ['a.example.com'] });
    view.setSecret(certificateSecret('cert-a', rotated));
    const afterRotation = await handshake(port, { servername: 'a.example.com', ca: pki.ca.cert });
    assert.notEqual(afterRotation.serial, before.serial, 'the new handshake presents the rotated certificate');
    assert.equal(afterRotation.subject, 'a.example.com-rotated');
    // The connection opened before the rotation still works.
    before.socket.write('still there?\n');
    const [line] = (await once(before.socket, 'data')) as [Buffer];
    assert.equal((JSON.parse(line.toString()) as { chain: string }).chain, 'a');
    before.socket.destroy();
    afterRotation.socket.destroy();
    view.setSecret(certificateSecret('cert-a', certA));
  });

  test('a chain that requires a client certificate refuses a client without one and reports the verified one', async () => {
    const without = await handshakeOutcome(port, { servername: 'mtls.example.com', ca: pki.ca.cert });
    assert.notEqual(without, 'ok');
    const withCert = await handshake(port, { servername: 'mtls.example.com', ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });
    assert.deepEqual(withCert.reply.peer, { subject: 'CN=client', uriSans: ['spiffe://meshd.test/client'], dnsSans: ['client.meshd.test'] });
    withCert.socket.destroy();
    // A certificate from another CA is refused too.
    const otherDir = await mkdtemp(join(tmpdir(), 'meshd-tls-other-'));
    try {
      const other = await makeTestPki(otherDir, { caName: 'another CA' });
      const wrong = await handshakeOutcome(port, { servername: 'mtls.example.com', ca: pki.ca.cert, cert: other.client.cert, key: other.client.key });
      assert.notEqual(wrong, 'ok');
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  test('a missing SDS secret refuses the handshake until the secret arrives', async () => {
    view.setListener(
      buildListener({
        name: 'https-late-secret',
        tlsInspector: true,
        chains: [{ chain: chainOf('late', [hcmFilter()], downstreamTls(['not-yet'])), match: { serverNames: ['a.example.com'] } }],
      }),
    );
    await manager.settled();
    const latePort = manager.addressOf('https-late-secret')!.port;
    const flow = nextFlow((r) => r.listener === 'https-late-secret');
    assert.notEqual(await handshakeOutcome(latePort, { servername: 'a.example.com', ca: pki.ca.cert }), 'ok');
    assert.equal((await flow).reason, 'tls_secret_missing');
    view.setSecret(certificateSecret('not-yet', certA));
    assert.equal(await handshakeOutcome(latePort, { servername: 'a.example.com', ca: pki.ca.cert }), 'ok');
    view.removeListener('https-late-secret');
  });
});

describe('TLS origination', { timeout: 30_000 }, () => {
  let dir: string;
  let pki: TestPki;
  let server: TlsServer;
  let upstreamPort: number;
  const sniSeen: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshd-tls-up-'));
    pki = await makeTestPki(dir, { serverNames: ['backend.internal'] });
    server = createTlsServer({ cert: pki.server.cert, key: pki.server.key, ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
      sniSeen.push((s as TLSSocket & { servername?: string }).servername ?? '');
      s.on('error', () => {});
      s.end(`hello over ${s.alpnProtocol || 'no-alpn'}\n`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    upstreamPort = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  function tlsCluster(name: string, tls: ReturnType<typeof upstreamTls>): ClusterConfig {
    return staticCluster(name, [{ address: '127.0.0.1', port: upstreamPort }], { upstreamTls: tls, connectTimeoutMs: 1_000 });
  }

  const pickContext = { originalDestination: { address: '127.0.0.1', port: 1 }, host: 'backend.internal:8443', downstreamProtocol: 'http1' as const };

  test('connect() verifies the upstream with the cluster CA and sends the configured SNI and ALPN', async () => {
    const view = new MemoryConfigView();
    view.setSecret(validationSecret('upstream-ca', pki.ca.cert));
    view.setCluster(tlsCluster('tls-backend', upstreamTls({ sni: 'backend.internal', validation: { kind: 'sds', name: 'upstream-ca' } })));
    const clusters = new ViewClusterManager(view, { clock });
    const picked = clusters.pick('tls-backend', pickContext);
    assert.ok(picked.ok);
    assert.equal(picked.target.serverName, 'backend.internal');
    const socket = (await clusters.connect(picked.target, { alpnProtocols: ['h2'] })) as TLSSocket;
    assert.equal(socket.authorized, true);
    assert.equal(socket.alpnProtocol, 'h2');
    const [line] = (await once(socket, 'data')) as [Buffer];
    assert.equal(line.toString(), 'hello over h2\n');
    assert.equal(sniSeen.at(-1), 'backend.internal');
    socket.resume();
    await once(socket, 'close'); // the server ends it; its session ticket has been read by then
    // The next connection to the same target resumes the TLS session instead of a full handshake.
    const again = (await clusters.connect(picked.target, { alpnProtocols: ['h2'] })) as TLSSocket;
    assert.equal(again.isSessionReused(), true, 'TLS session resumed');
    assert.equal(again.authorized, true);
    again.destroy();
  });

  test('an upstream certificate from another CA is refused with MESHD_ERR_PROXY_UPSTREAM_TLS', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'meshd-tls-wrong-'));
    try {
      const other = await makeTestPki(otherDir, { caName: 'not the upstream CA' });
      const view = new MemoryConfigView();
      view.setCluster(tlsCluster('wrong-ca', upstreamTls({ sni: 'backend.internal', validation: { kind: 'inline', material: { trustedCa: other.ca.cert, matchSubjectAltName: undefined } } })));
      const clusters = new ViewClusterManager(view, { clock });
      const picked = clusters.pick('wrong-ca', pickContext);
      assert.ok(picked.ok);
      await assert.rejects(clusters.connect(picked.target, { alpnProtocols: [] }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MESHD_ERR_PROXY_UPSTREAM_TLS');
        return true;
      });
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  test('auto_sni sends the request host, and auto_san_validation refuses a certificate that does not carry it', async () => {
    const view = new MemoryConfigView();
    view.setSecret(validationSecret('upstream-ca', pki.ca.cert));
    view.setCluster(tlsCluster('auto', upstreamTls({ autoSni: true, autoSanValidation: true, validation: { kind: 'sds', name: 'upstream-ca' } })));
    const clusters = new ViewClusterManager(view, { clock });
    const good = clusters.pick('auto', pickContext);
    assert.ok(good.ok);
    assert.equal(good.target.serverName, 'backend.internal');
    const socket = await clusters.connect(good.target, { alpnProtocols: [] });
    assert.equal(sniSeen.at(-1), 'backend.internal');
    socket.destroy();
    const bad = clusters.pick('auto', { ...pickContext, host: 'someone-else.internal' });
    assert.ok(bad.ok);
    assert.notEqual(bad.target.poolKey, good.target.poolKey, 'the SNI is part of the pool key');
    await assert.rejects(clusters.connect(bad.target, { alpnProtocols: [] }), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_PROXY_UPSTREAM_TLS');
  });

  test('a SAN matcher of the validation context refuses an upstream whose SANs do not match', async () => {
    const view = new MemoryConfigView();
    view.setSecret(validationSecret('strict-ca', pki.ca.cert, (san) => san.type === 'DNS' && san.value === 'payments.internal'));
    view.setCluster(tlsCluster('strict', upstreamTls({ sni: 'backend.internal', validation: { kind: 'sds', name: 'strict-ca' } })));
    const clusters = new ViewClusterManager(view, { clock });
    const picked = clusters.pick('strict', pickContext);
    assert.ok(picked.ok);
    await assert.rejects(clusters.connect(picked.target, { alpnProtocols: [] }), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_PROXY_UPSTREAM_TLS');
  });

  test('a cluster certificate is presented to an upstream that requires a client certificate (mTLS origination)', async () => {
    const mtlsServer = createTlsServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
      s.on('error', () => {});
      s.end(`client ${s.getPeerCertificate().subject.CN}`);
    });
    mtlsServer.listen(0, '127.0.0.1');
    await once(mtlsServer, 'listening');
    try {
      const view = new MemoryConfigView();
      view.setSecret(validationSecret('upstream-ca', pki.ca.cert));
      view.setSecret(certificateSecret('my-client-cert', pki.client));
      view.setCluster(
        staticCluster('mtls', [{ address: '127.0.0.1', port: (mtlsServer.address() as AddressInfo).port }], {
          upstreamTls: upstreamTls({ sni: 'backend.internal', validation: { kind: 'sds', name: 'upstream-ca' }, certificate: { kind: 'sds', name: 'my-client-cert' } }),
        }),
      );
      const clusters = new ViewClusterManager(view, { clock });
      const picked = clusters.pick('mtls', pickContext);
      assert.ok(picked.ok);
      const socket = await clusters.connect(picked.target, { alpnProtocols: [] });
      const [line] = (await once(socket, 'data')) as [Buffer];
      assert.equal(line.toString(), 'client client');
      socket.destroy();
    } finally {
      await new Promise<void>((resolve) => mtlsServer.close(() => resolve()));
    }
  });

  test('TLS passthrough: tcp_proxy on a server_names chain forwards the untouched ClientHello, and another SNI is refused', async () => {
    const view = new MemoryConfigView();
    view.setCluster(staticCluster('passthrough', [{ address: '127.0.0.1', port: upstreamPort }]));
    view.setListener(
      buildListener({
        name: 'sni-passthrough',
        tlsInspector: true,
        chains: [{ chain: chainOf('allowed', [tcpProxyFilter('passthrough')]), match: { serverNames: ['backend.internal'] } }],
      }),
    );
    const fail = (): void => assert.fail('no HTTP here');
    const manager = new ListenerManager(view, { clusters: new ViewClusterManager(view, { clock }), http1: fail, http2: fail, clock, drainTimeoutMs: 500 });
    try {
      await manager.start();
      const port = manager.addressOf('sni-passthrough')!.port;
      // The client verifies the upstream's own certificate: the proxy never terminated TLS.
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'backend.internal', ca: pki.ca.cert, ALPNProtocols: ['http/1.1'] });
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      const [line] = (await once(socket, 'data')) as [Buffer];
      assert.equal(line.toString(), 'hello over http/1.1\n');
      assert.equal(sniSeen.at(-1), 'backend.internal');
      socket.destroy();
      const other = tlsConnect({ host: '127.0.0.1', port, servername: 'elsewhere.internal', ca: pki.ca.cert });
      const outcome = await new Promise<string>((resolve) => {
        other.once('secureConnect', () => resolve('handshake completed'));
        other.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      });
      other.destroy();
      assert.notEqual(outcome, 'handshake completed');
    } finally {
      await manager.close();
    }
  });

  test('tcp_proxy terminates TLS downstream and originates TLS upstream on one connection', async () => {
    const view = new MemoryConfigView();
    view.setSecret(certificateSecret('front', pki.server));
    view.setSecret(validationSecret('upstream-ca', pki.ca.cert));
    view.setCluster(tlsCluster('tls-backend', upstreamTls({ sni: 'backend.internal', validation: { kind: 'sds', name: 'upstream-ca' } })));
    view.setListener(
      buildListener({ name: 'tls-tcp', tlsInspector: true, chains: [{ chain: chainOf('tls-tcp', [tcpProxyFilter('tls-backend')], downstreamTls(['front'])), match: { transportProtocol: 'tls' } }] }),
    );
    const fail = (): void => assert.fail('no HTTP here');
    const manager = new ListenerManager(view, { clusters: new ViewClusterManager(view, { clock }), http1: fail, http2: fail, clock, drainTimeoutMs: 500 });
    try {
      await manager.start();
      const socket = tlsConnect({ host: '127.0.0.1', port: manager.addressOf('tls-tcp')!.port, servername: 'backend.internal', ca: pki.ca.cert });
      await once(socket, 'secureConnect');
      const [line] = (await once(socket, 'data')) as [Buffer];
      assert.equal(line.toString(), 'hello over no-alpn\n');
      socket.destroy();
    } finally {
      await manager.close();
    }
  });
});
