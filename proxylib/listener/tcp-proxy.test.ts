import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileNetworkRbac } from '../rbac/index.js';
import { ListenerManager, createCoarseClock } from './index.js';
import { ViewClusterManager } from '../upstream/index.js';
import type { TcpFlowRecord } from '../flow/index.js';
import type { NetworkFilterConfig } from '../config/types.js';
import { MemoryConfigView, buildListener, chainOf, nextFlow, startTcpServer, staticCluster, tcpProxyFilter } from '../../test/proxy/listener-fixtures.js';

const clock = createCoarseClock(20);
const noHttp = (): void => {
  throw new Error('no HTTP chain in these tests');
};

function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

async function startProxy(filters: NetworkFilterConfig[], upstreamPort: number, listenerName: string, idleTimeoutMs = 0) {
  const view = new MemoryConfigView();
  view.setCluster(staticCluster('backend', [{ address: '127.0.0.1', port: upstreamPort }], { connectTimeoutMs: 1_000 }));
  view.setListener(buildListener({ name: listenerName, chains: [{ chain: chainOf('tcp', [...filters, tcpProxyFilter('backend', idleTimeoutMs)]) }] }));
  const manager = new ListenerManager(view, { clusters: new ViewClusterManager(view, { clock }), http1: noHttp, http2: noHttp, clock, drainTimeoutMs: 500 });
  await manager.start();
  const address = manager.addressOf(listenerName);
  assert.ok(address, 'listener bound');
  return { view, manager, port: address.port };
}

function networkRbac(json: unknown): NetworkFilterConfig {
  const config = messageFromJson(envoy.NetworkRbacSchema, json);
  const compiled = compileNetworkRbac(config, 'typed_config');
  assert.ok(compiled.ok, `network RBAC compiles: ${JSON.stringify(compiled.ok ? [] : compiled.problems)}`);
  return { kind: 'rbac', name: 'envoy.filters.network.rbac', rbac: compiled.value };
}

describe('tcp_proxy', { timeout: 30_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('bytes are copied both ways and a half-close reaches the upstream, which can still answer', async () => {
    // The upstream answers only after the client's FIN: it proves the FIN was forwarded as a half-close.
    const upstream = await startTcpServer((s) => {
      void readAll(s).then((body) => s.end(Buffer.from(body.toString('latin1').toUpperCase(), 'latin1')));
    });
    cleanups.push(upstream.close);
    const proxy = await startProxy([], upstream.port, 'tcp-half-close');
    cleanups.push(() => proxy.manager.close());
    const flow = nextFlow((r) => r.listener === 'tcp-half-close');
    const client = connect(proxy.port, '127.0.0.1');
    const reply = readAll(client);
    client.end('hello through the proxy');
    assert.equal((await reply).toString(), 'HELLO THROUGH THE PROXY');
    const record = (await flow) as TcpFlowRecord;
    assert.equal(record.type, 'tcp');
    assert.equal(record.verdict, 'FORWARDED');
    assert.equal(record.bytesSent, 'hello through the proxy'.length);
    assert.equal(record.bytesReceived, 'hello through the proxy'.length);
    assert.equal(record.upstream?.port, upstream.port);
    assert.equal(record.source.ip, '127.0.0.1');
    assert.equal(record.destination.port, proxy.port);
  });

  test('32 MiB each way arrive intact through a slow reader (backpressure, no loss)', async () => {
    const size = 32 * 1024 * 1024;
    const payload = randomBytes(size);
    const digest = createHash('sha256').update(payload).digest('hex');
    // The upstream echoes: every byte the client sends comes back, so both directions carry 32 MiB.
    const upstream = await startTcpServer((s) => s.pipe(s));
    cleanups.push(upstream.close);
    const proxy = await startProxy([], upstream.port, 'tcp-large');
    cleanups.push(() => proxy.manager.close());
    const client = connect(proxy.port, '127.0.0.1');
    const hash = createHash('sha256');
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      client.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        // A slow reader for the first megabytes: the proxy must pause the upstream, not buffer it all.
        if (received < 4 * 1024 * 1024) {
          client.pause();
          setTimeout(() => client.resume(), 1);
        }
      });
      client.once('end', resolve);
      client.once('error', reject);
    });
    client.end(payload);
    await done;
    assert.equal(received, size);
    assert.equal(hash.digest('hex'), digest);
  });

  test('a network RBAC filter lets the allowed destination port through and closes the others with a DENIED record', async () => {
    const upstream = await startTcpServer((s) => s.end('welcome'));
    cleanups.push(upstream.close);
    // First a policy that allows only a port the proxy does not listen on: every connection is denied.
    const denyAll = networkRbac({
      stat_prefix: 'rbac',
      rules: { action: 'ALLOW', policies: { 'only-port-1': { permissions: [{ destination_port: 1 }], principals: [{ any: true }] } } },
    });
    const proxy = await startProxy([denyAll], upstream.port, 'tcp-rbac');
    cleanups.push(() => proxy.manager.close());
    const denied = nextFlow((r) => r.listener === 'tcp-rbac');
    const client = connect(proxy.port, '127.0.0.1');
    const reply = readAll(client).catch((err: NodeJS.ErrnoException) => Buffer.from(`error:${err.code}`));
    const got = (await reply).toString();
    assert.ok(got === '' || got.startsWith('error:'), `denied connection gets no bytes, got ${JSON.stringify(got)}`);
    const record = await denied;
    assert.equal(record.verdict, 'DENIED');
    assert.equal(record.reason, 'rbac_denied');

    // Then the same listener with a policy for its own port (and a source CIDR): allowed.
    const allow = networkRbac({
      stat_prefix: 'rbac',
      rules: {
        action: 'ALLOW',
        policies: { 'loopback-to-proxy': { permissions: [{ destination_port: proxy.port }], principals: [{ direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: 8 } }] } },
      },
    });
    proxy.view.setListener(
      buildListener({ name: 'tcp-rbac', port: proxy.port, chains: [{ chain: chainOf('tcp', [allow, tcpProxyFilter('backend')]) }] }),
    );
    await proxy.manager.settled();
    const allowed = nextFlow((r) => r.listener === 'tcp-rbac');
    const second = connect(proxy.port, '127.0.0.1');
    second.end();
    assert.equal((await readAll(second)).toString(), 'welcome');
    assert.equal((await allowed).verdict, 'FORWARDED');
  });

  test('an upstream that refuses the connection closes the downstream with an ERROR record', async () => {
    const closed = await startTcpServer(() => {});
    const deadPort = closed.port;
    await closed.close();
    const proxy = await startProxy([], deadPort, 'tcp-refused');
    cleanups.push(() => proxy.manager.close());
    const flow = nextFlow((r) => r.listener === 'tcp-refused');
    const client = connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    client.resume();
    await once(client, 'close');
    const record = await flow;
    assert.equal(record.verdict, 'ERROR');
    assert.equal(record.reason, 'upstream_connect_failed');
  });

  test('the idle timeout closes both sides of a silent connection', async () => {
    let upstreamClosed!: () => void;
    const upstreamGone = new Promise<void>((r) => (upstreamClosed = r));
    // The test upstream is half-open capable: the proxy closing its side shows up as 'end'.
    const upstream = await startTcpServer((s) => {
      s.resume();
      s.once('end', () => upstreamClosed());
    });
    cleanups.push(upstream.close);
    const proxy = await startProxy([], upstream.port, 'tcp-idle', 150);
    cleanups.push(() => proxy.manager.close());
    const started = Date.now();
    const flow = nextFlow((r) => r.listener === 'tcp-idle');
    const client = connect(proxy.port, '127.0.0.1');
    client.on('error', () => {});
    client.resume();
    await Promise.all([once(client, 'close'), upstreamGone]);
    assert.equal((await flow).reason, 'idle_timeout');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 2_000, `closed after ${elapsed} ms`);
  });
});
