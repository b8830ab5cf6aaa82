import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import http2 from 'node:http2';
import { ListenerManager, createCoarseClock, type DownstreamConnection, type ListenerManagerDeps } from './index.js';
import { ViewClusterManager } from '../upstream/index.js';
import type { TcpFlowRecord } from '../flow/index.js';
import { MemoryConfigView, buildListener, chainOf, hcmFilter, nextFlow, startTcpServer, staticCluster, tcpProxyFilter } from '../../test/proxy/listener-fixtures.js';

const clock = createCoarseClock(20);

/** Collects handed-over connections; each is answered by `respond` (default: echo the first chunk's length). */
function handlers(respond?: (conn: DownstreamConnection, protocol: 'http1' | 'http2') => void) {
  const seen: Array<{ protocol: 'http1' | 'http2'; conn: DownstreamConnection }> = [];
  const waiters: Array<() => void> = [];
  const take = (protocol: 'http1' | 'http2') => (conn: DownstreamConnection) => {
    seen.push({ protocol, conn });
    for (const w of waiters.splice(0)) w();
    if (respond) respond(conn, protocol);
    else {
      conn.socket.once('data', (chunk: Buffer) => conn.socket.write(`${protocol}:${chunk.toString('latin1')}`));
      conn.socket.on('end', () => conn.socket.end());
      conn.socket.resume();
    }
  };
  return {
    seen,
    http1: take('http1'),
    http2: take('http2'),
    /** Resolves once `n` connections were handed over. */
    async until(n: number): Promise<void> {
      while (seen.length < n) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

async function startManager(view: MemoryConfigView, deps: Partial<ListenerManagerDeps> & Pick<ListenerManagerDeps, 'http1' | 'http2'>) {
  const manager = new ListenerManager(view, { clusters: new ViewClusterManager(view, { clock }), clock, drainTimeoutMs: 300, ...deps });
  await manager.start();
  return manager;
}

/** Opens a connection, sends one HTTP/1.1 request head and waits for the first bytes back. */
async function requestHttp1(port: number, host = '127.0.0.1'): Promise<{ socket: Socket; reply: string }> {
  const socket = connect(port, host);
  socket.write('GET / HTTP/1.1\r\n\r\n');
  return { socket, reply: await firstReply(socket) };
}

function firstReply(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    socket.once('error', reject);
    socket.once('close', () => resolve(''));
  });
}

describe('ListenerManager', { timeout: 30_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  /** A started manager, closed after the suite. */
  async function managed(view: MemoryConfigView, deps: Parameters<typeof startManager>[1]) {
    const manager = await startManager(view, deps);
    cleanups.push(() => manager.close());
    return manager;
  }

  test('a listener on port 0 is bound on each of its addresses and bound() reports the real ports', async () => {
    const view = new MemoryConfigView();
    const listener = buildListener({ name: 'two-addresses', chains: [{ chain: chainOf('http', [hcmFilter()]) }] });
    listener.addresses.push({ address: '::1', port: 0, protocol: 'tcp' });
    view.setListener(listener);
    const h = handlers();
    const manager = await managed(view, h);
    const bound = manager.bound();
    assert.equal(bound.length, 2);
    for (const b of bound) {
      assert.equal(b.configured.port, 0);
      assert.ok(b.bound.port > 0);
    }
    const v6 = bound.find((b) => b.bound.address === '::1')!;
    const { socket, reply } = await requestHttp1(v6.bound.port, '::1');
    assert.equal(reply, 'http1:GET / HTTP/1.1\r\n\r\n');
    assert.equal(h.seen[0]?.conn.facts.sourceIp, '::1');
    socket.destroy();
  });

  test('plaintext HTTP/1.1 reaches the HTTP/1.1 handler with every byte, the sniffed ones included', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'h1', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    const h = handlers();
    const manager = await managed(view, h);
    const socket = connect(manager.addressOf('h1')!.port, '127.0.0.1');
    // One byte first: the codec sniff must decide from a prefix and give it back.
    socket.write('P');
    await new Promise((r) => setTimeout(r, 30));
    socket.write('OST / HTTP/1.1\r\nhost: x\r\n\r\n');
    // 'P' could start the HTTP/2 preface: the sniff waits for more, then hands over all of it.
    assert.equal(await firstReply(socket), 'http1:POST / HTTP/1.1\r\nhost: x\r\n\r\n');
    const conn = h.seen[0]!.conn;
    assert.equal(conn.scheme, 'http');
    assert.equal(conn.listenerName, 'h1');
    assert.equal(conn.filterChainName, 'http');
    assert.equal(conn.facts.destinationPort, manager.addressOf('h1')!.port);
    assert.equal(conn.hcm()?.serverName, 'meshd');
    socket.destroy();
  });

  test('the HTTP/2 prior-knowledge preface goes to the HTTP/2 handler, and nghttp2 reads it from the first byte', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'h2c', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    // The handler gives the socket to a node:http2 server, as E's handler does.
    const h2server = http2.createServer((req, res) => res.end(`h2 ok ${req.url}`));
    const h = handlers((conn) => {
      h2server.emit('connection', conn.socket);
      conn.socket.resume();
    });
    const manager = await managed(view, h);
    const client = http2.connect(`http://127.0.0.1:${manager.addressOf('h2c')!.port}`);
    cleanups.push(async () => void client.close());
    const req = client.request({ ':path': '/hello' });
    req.setEncoding('utf8');
    let body = '';
    req.on('data', (d: string) => (body += d));
    await once(req, 'end');
    assert.equal(body, 'h2 ok /hello');
    assert.equal(h.seen[0]?.protocol, 'http2');
    client.close();
  });

  test('original_dst: the datapath resolver gives the destination, identities come from the ipcache, and ORIGINAL_DST dials it', async () => {
    const upstream = await startTcpServer((s) => s.end('reached the original destination'), '127.0.0.2');
    cleanups.push(upstream.close);
    const view = new MemoryConfigView();
    view.setCluster({ ...staticCluster('passthrough', []), discovery: { kind: 'original_dst' } });
    view.setListener(buildListener({ name: 'transparent', useOriginalDst: true, chains: [{ chain: chainOf('tcp', [tcpProxyFilter('passthrough')]) }] }));
    const identities: Record<string, number> = { '127.0.0.1': 4242, '127.0.0.2': 777 };
    const manager = await managed(view, {
      http1: () => assert.fail('no HTTP'),
      http2: () => assert.fail('no HTTP'),
      // As the kernel datapath would answer: the client really dialled 127.0.0.2:<upstream port>.
      originalDestination: () => ({ address: '127.0.0.2', port: upstream.port }),
      identityOf: (ip) => identities[ip],
    });
    const flow = nextFlow((r) => r.listener === 'transparent');
    const socket = connect(manager.addressOf('transparent')!.port, '127.0.0.1');
    socket.end();
    assert.equal(await firstReply(socket), 'reached the original destination');
    const record = (await flow) as TcpFlowRecord;
    assert.deepEqual(record.destination, { ip: '127.0.0.2', port: upstream.port, identity: 777 });
    assert.equal(record.source.identity, 4242);
    assert.equal(record.upstream?.address, '127.0.0.2');
  });

  test('a connection that was not redirected is refused by ORIGINAL_DST instead of looping back into the proxy', async () => {
    const view = new MemoryConfigView();
    view.setCluster({ ...staticCluster('passthrough', []), discovery: { kind: 'original_dst' } });
    view.setListener(buildListener({ name: 'not-redirected', useOriginalDst: true, chains: [{ chain: chainOf('tcp', [tcpProxyFilter('passthrough')]) }] }));
    let manager: ListenerManager | undefined;
    const clusters = new ViewClusterManager(view, { clock, isOwnAddress: (a, p) => manager?.isOwnAddress(a, p) ?? false });
    manager = new ListenerManager(view, {
      clusters,
      clock,
      http1: () => assert.fail('no HTTP'),
      http2: () => assert.fail('no HTTP'),
      originalDestination: () => undefined, // the datapath knows nothing of this connection
    });
    await manager.start();
    cleanups.push(() => manager!.close());
    const flow = nextFlow((r) => r.listener === 'not-redirected');
    const socket = connect(manager.addressOf('not-redirected')!.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    await once(socket, 'close');
    const record = await flow;
    assert.equal(record.verdict, 'ERROR');
    assert.equal(record.reason, 'no_original_destination');
    for (let i = 0; i < 50 && manager.connectionCount('not-redirected') > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(manager.connectionCount('not-redirected'), 0, 'no connection looped back into the proxy');
  });

  test('tls_inspector: a plaintext client on a listener with a TLS chain and a plaintext chain gets the raw_buffer chain', async () => {
    const view = new MemoryConfigView();
    view.setListener(
      buildListener({
        name: 'mixed',
        tlsInspector: true,
        chains: [
          { chain: chainOf('tls-only', [hcmFilter()]), match: { transportProtocol: 'tls' } },
          { chain: chainOf('plain', [hcmFilter()]), match: { transportProtocol: 'raw_buffer' } },
        ],
      }),
    );
    const h = handlers();
    const manager = await managed(view, h);
    const { socket, reply } = await requestHttp1(manager.addressOf('mixed')!.port);
    assert.equal(reply, 'http1:GET / HTTP/1.1\r\n\r\n');
    assert.equal(h.seen[0]?.conn.filterChainName, 'plain');
    assert.equal(h.seen[0]?.conn.connectionFacts.transportProtocol, 'raw_buffer');
    socket.destroy();
  });

  test('tls_inspector closes a connection whose ClientHello is malformed, and one that stays silent past the listener filters timeout', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'inspect', tlsInspector: true, listenerFiltersTimeoutMs: 150, chains: [{ chain: chainOf('any', [hcmFilter()]) }] }));
    const h = handlers();
    const manager = await managed(view, h);
    const port = manager.addressOf('inspect')!.port;
    const malformedFlow = nextFlow((r) => r.listener === 'inspect' && r.reason === 'tls_inspector_malformed');
    const bad = connect(port, '127.0.0.1');
    // A handshake record that claims a ServerHello (type 2) instead of a ClientHello.
    bad.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]));
    bad.resume();
    await once(bad, 'close');
    await malformedFlow;
    const timeoutFlow = nextFlow((r) => r.listener === 'inspect' && r.reason === 'tls_inspector_timeout');
    const started = Date.now();
    const silent = connect(port, '127.0.0.1');
    silent.resume();
    await once(silent, 'close');
    await timeoutFlow;
    assert.ok(Date.now() - started >= 140, 'closed only after the timeout');
    assert.equal(h.seen.length, 0);
  });

  test('continue_on_listener_filters_timeout selects a chain after the timeout and hands over the bytes read so far', async () => {
    const view = new MemoryConfigView();
    view.setListener({
      ...buildListener({ name: 'continue', tlsInspector: true, listenerFiltersTimeoutMs: 100, chains: [{ chain: chainOf('plain', [hcmFilter()]), match: { transportProtocol: 'raw_buffer' } }] }),
      continueOnListenerFiltersTimeout: true,
    });
    const h = handlers();
    const manager = await managed(view, h);
    const socket = connect(manager.addressOf('continue')!.port, '127.0.0.1');
    // One byte that could start a TLS record: tls_inspector waits for more until its timeout.
    socket.write(Buffer.from([0x16]));
    assert.equal(await firstReply(socket), 'http1:\x16');
    assert.equal(h.seen[0]?.conn.connectionFacts.transportProtocol, 'raw_buffer');
    socket.destroy();
  });

  test('an update reaches existing connections at their next hcm() call, and new connections at once', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'updatable', chains: [{ chain: chainOf('http', [hcmFilter({ serverName: 'v1' })]) }] }));
    const h = handlers();
    const manager = await managed(view, h);
    const port = manager.addressOf('updatable')!.port;
    const { socket: first } = await requestHttp1(port);
    const conn = h.seen[0]!.conn;
    assert.equal(conn.hcm()?.serverName, 'v1');
    view.setListener(buildListener({ name: 'updatable', port, chains: [{ chain: chainOf('http', [hcmFilter({ serverName: 'v2' })]) }] }));
    await manager.settled();
    assert.equal(conn.hcm()?.serverName, 'v2', 'the existing connection sees the new HCM');
    assert.equal(conn.draining, false);
    const { socket: second } = await requestHttp1(port);
    assert.equal(h.seen[1]?.conn.hcm()?.serverName, 'v2');
    first.destroy();
    second.destroy();
  });

  test('an update that moves a listener to another address binds the new one, closes the old one and keeps open connections', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'moving', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    const h = handlers();
    const manager = await managed(view, h);
    const oldPort = manager.addressOf('moving')!.port;
    const { socket: open } = await requestHttp1(oldPort);
    view.setListener(buildListener({ name: 'moving', address: '::1', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    await manager.settled();
    const bound = manager.bound().filter((b) => b.name === 'moving');
    assert.equal(bound.length, 1);
    assert.equal(bound[0]?.bound.address, '::1');
    const refused = connect(oldPort, '127.0.0.1');
    assert.equal(((await once(refused, 'error')) as [NodeJS.ErrnoException])[0].code, 'ECONNREFUSED');
    const { socket: moved, reply: movedReply } = await requestHttp1(bound[0]!.bound.port, '::1');
    assert.match(movedReply, /^http1:/);
    // The connection accepted on the old address still works (same chain name in the new config).
    assert.equal(h.seen[0]?.conn.draining, false);
    assert.ok(h.seen[0]?.conn.hcm());
    open.destroy();
    moved.destroy();
  });

  test('a chain that disappears in an update drains its connections while the others stay', async () => {
    const view = new MemoryConfigView();
    const chains = (names: string[]) => names.map((n) => ({ chain: chainOf(n, [hcmFilter()]), match: { destinationPort: n === 'kept' ? 1 : undefined } }));
    view.setListener(buildListener({ name: 'shrinking', chains: chains(['going']) }));
    const h = handlers();
    const manager = await managed(view, h);
    const port = manager.addressOf('shrinking')!.port;
    const { socket } = await requestHttp1(port);
    const conn = h.seen[0]!.conn;
    const drained = new Promise<void>((resolve) => conn.onDrain(resolve));
    view.setListener(buildListener({ name: 'shrinking', port, chains: chains(['kept']) }));
    await drained;
    assert.equal(conn.draining, true);
    assert.equal(conn.hcm(), undefined, 'the chain is gone');
    // The handler did not close it: the listener destroys it after the drain timeout.
    await once(socket, 'close');
  });

  test('a removed listener stops accepting, drains its connections, and destroys the ones still open after the drain timeout', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'removed', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    const h = handlers();
    const manager = await managed(view, h);
    const port = manager.addressOf('removed')!.port;
    const { socket } = await requestHttp1(port);
    const conn = h.seen[0]!.conn;
    let drainCalled = false;
    conn.onDrain(() => (drainCalled = true));
    const started = Date.now();
    view.removeListener('removed');
    await manager.settled();
    assert.equal(manager.addressOf('removed'), undefined);
    const refused = connect(port, '127.0.0.1');
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(drainCalled, true);
    assert.equal(manager.connectionCount('removed'), 1, 'the draining connection is still counted');
    await once(socket, 'close');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 280, `destroyed after the drain timeout (${elapsed} ms)`);
    for (let i = 0; i < 50 && manager.connectionCount() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(manager.connectionCount(), 0);
  });

  test('a connection whose handler closes on drain ends before the timeout, and drain() resolves when the last one closed', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'graceful', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    const h = handlers((conn) => {
      // Like the HTTP/1.1 handler with no request in flight: close at once when asked to drain.
      conn.onDrain(() => conn.socket.end());
      conn.socket.on('end', () => conn.socket.end());
      conn.socket.resume();
    });
    const manager = new ListenerManager(view, { clusters: new ViewClusterManager(view, { clock }), clock, drainTimeoutMs: 10_000, ...h });
    await manager.start();
    const socket = connect(manager.addressOf('graceful')!.port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\n\r\n');
    socket.resume();
    await h.until(1);
    // A second connection that never sent a byte is still in the listener phase: drain closes it at once.
    const silent = connect(manager.addressOf('graceful')!.port, '127.0.0.1');
    silent.resume();
    await once(silent, 'connect');
    const started = Date.now();
    const closed = once(socket, 'end');
    await manager.drain();
    await closed;
    if (!silent.destroyed) await once(silent, 'close');
    assert.ok(Date.now() - started < 2_000, 'drained without waiting for the 10 s timeout');
    assert.equal(manager.connectionCount(), 0);
  });

  test('an address already in use is reported as a bind failure while the other listeners serve', async () => {
    const blocker = await startTcpServer(() => {});
    cleanups.push(blocker.close);
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'busy', port: blocker.port, chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    view.setListener(buildListener({ name: 'free', chains: [{ chain: chainOf('http', [hcmFilter()]) }] }));
    const manager = await managed(view, handlers());
    const failures = manager.bindFailures();
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.listener, 'busy');
    assert.equal(failures[0]?.error.code, 'MESHD_ERR_PROXY_BIND');
    assert.ok(manager.addressOf('free'));
  });

  test('hostile first bytes (random, truncated and mutated ClientHellos) never crash the listener phase', async () => {
    const view = new MemoryConfigView();
    view.setListener(
      buildListener({
        name: 'hostile',
        tlsInspector: true,
        listenerFiltersTimeoutMs: 200,
        chains: [
          { chain: chainOf('tls', [hcmFilter()]), match: { transportProtocol: 'tls' } },
          { chain: chainOf('plain', [hcmFilter()]), match: { transportProtocol: 'raw_buffer' } },
        ],
      }),
    );
    const h = handlers((conn) => conn.socket.destroy());
    const manager = await managed(view, h);
    const port = manager.addressOf('hostile')!.port;
    // A real ClientHello prefix to mutate: record header + handshake header + legacy version.
    const helloPrefix = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03]);
    let seed = 0x9e3779b9;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const cases: Buffer[] = [];
    for (let i = 0; i < 150; i++) {
      const length = 1 + Math.floor(random() * 300);
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      if (i % 3 === 0) helloPrefix.copy(bytes, 0, 0, Math.min(helloPrefix.length, length));
      cases.push(bytes);
    }
    const started = Date.now();
    // Bounded: 150 connections, 10 at a time, each closed by the proxy (handed over and destroyed,
    // refused, or timed out by the listener filters timeout) or by us after 2 s.
    for (let i = 0; i < cases.length; i += 10) {
      await Promise.all(
        cases.slice(i, i + 10).map(async (bytes) => {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => {});
          socket.resume();
          socket.end(bytes);
          const guard = setTimeout(() => socket.destroy(), 2_000);
          await once(socket, 'close');
          clearTimeout(guard);
        }),
      );
      assert.ok(Date.now() - started < 20_000, 'bounded in time');
    }
    // The listener still serves a well-formed client afterwards.
    const ok = connect(port, '127.0.0.1');
    ok.write('GET / HTTP/1.1\r\n\r\n');
    ok.resume();
    await once(ok, 'close');
    assert.equal(h.seen.at(-1)?.conn.filterChainName, 'plain');
  });

  test('a connection no filter chain matches is closed with a DENIED no_filter_chain record', async () => {
    const view = new MemoryConfigView();
    view.setListener(buildListener({ name: 'picky', chains: [{ chain: chainOf('port-1-only', [hcmFilter()]), match: { destinationPort: 1 } }] }));
    const h = handlers();
    const manager = await managed(view, h);
    const flow = nextFlow((r) => r.listener === 'picky');
    const socket = connect(manager.addressOf('picky')!.port, '127.0.0.1');
    socket.resume();
    await once(socket, 'close');
    const record = await flow;
    assert.equal(record.verdict, 'DENIED');
    assert.equal(record.reason, 'no_filter_chain');
    assert.equal(h.seen.length, 0);
  });
});
