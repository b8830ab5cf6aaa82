import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ClusterConfig } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import { createCoarseClock } from '../listener/index.js';
import { ViewClusterManager } from './cluster-manager.js';
import { Http1Pool, type UpstreamConnectionHandler } from './http1-pool.js';
import type { UpstreamTarget } from './types.js';
import { staticCluster } from '../../test/proxy/listener-fixtures.js';

function cluster(port: number, extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return staticCluster('c', [{ address: '127.0.0.1', port }], { connectTimeoutMs: 1000, ...extra });
}

/** A config view holding just one cluster (what the cluster manager reads). */
function viewOf(c: ClusterConfig): ConfigView {
  return {
    listener: () => undefined,
    listenerNames: () => [],
    routeTable: () => undefined,
    cluster: (name) => (name === c.name ? c : undefined),
    endpoints: () => undefined,
    secret: () => undefined,
    onChange: () => () => {},
  };
}

const idleHandler = (): UpstreamConnectionHandler & { closes: number; data: Buffer[] } => {
  const h = {
    closes: 0,
    data: [] as Buffer[],
    onUpstreamData: (d: Buffer) => h.data.push(d),
    onUpstreamClose: () => h.closes++,
    onUpstreamDrain: () => {},
  };
  return h;
};

describe('Http1Pool', () => {
  let server: net.Server;
  let port: number;
  const serverSockets = new Set<net.Socket>();
  before(async () => {
    server = net.createServer((s) => {
      serverSockets.add(s);
      s.on('close', () => serverSockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of serverSockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function setup(extra: Partial<ClusterConfig> = {}): { pool: Http1Pool; target: UpstreamTarget } {
    const c = cluster(port, extra);
    const clock = createCoarseClock(10);
    const clusters = new ViewClusterManager(viewOf(c), { clock });
    const picked = clusters.pick('c', { originalDestination: { address: '', port: 0 }, host: '', downstreamProtocol: 'http1' });
    assert.ok(picked.ok);
    return { pool: new Http1Pool({ clusters, clock }), target: picked.target };
  }

  test('a released connection is handed out again (newest first) and counts as reused', async () => {
    const { pool, target } = setup();
    assert.equal(pool.acquireIdle(target, idleHandler()), undefined);
    const a = await pool.connect(target, idleHandler());
    const b = await pool.connect(target, idleHandler());
    assert.equal(a.reused, false);
    pool.release(a);
    pool.release(b);
    assert.deepEqual(pool.stats(), { idle: 2, busy: 0, connectsStarted: 2 });
    const again = pool.acquireIdle(target, idleHandler());
    assert.equal(again, b, 'LIFO: the most recently released connection first');
    assert.equal(again?.reused, true);
    pool.close();
    assert.equal(a.socket.destroyed, true);
  });

  test('max_requests_per_connection closes a connection once it served that many requests', async () => {
    const { pool, target } = setup({ maxRequestsPerConnection: 2 });
    const conn = await pool.connect(target, idleHandler());
    pool.release(conn);
    assert.equal(pool.acquireIdle(target, idleHandler()), conn);
    pool.release(conn);
    assert.equal(conn.socket.destroyed, true);
    assert.equal(pool.acquireIdle(target, idleHandler()), undefined);
    pool.close();
  });

  test('a connection the upstream closes while idle is discarded, not handed out', async () => {
    const { pool, target } = setup();
    const conn = await pool.connect(target, idleHandler());
    pool.release(conn);
    for (const s of serverSockets) s.destroy();
    const deadline = Date.now() + 2000;
    while (!conn.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(conn.closed, true);
    assert.equal(pool.acquireIdle(target, idleHandler()), undefined);
    pool.close();
  });

  test('bytes from an idle upstream make the connection unusable', async () => {
    const { pool, target } = setup();
    const conn = await pool.connect(target, idleHandler());
    pool.release(conn);
    for (const s of serverSockets) s.write('HTTP/1.1 408 Request Timeout\r\n\r\n');
    const deadline = Date.now() + 2000;
    while (!conn.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(conn.closed, true, 'the stray bytes discarded the idle connection');
    assert.equal(conn.socket.destroyed, true);
    assert.equal(pool.acquireIdle(target, idleHandler()), undefined);
    assert.equal(pool.stats().idle, 0);
    pool.close();
  });

  test('the cluster idle timeout closes idle connections', async () => {
    const { pool, target } = setup({ idleTimeoutMs: 50 });
    const conn = await pool.connect(target, idleHandler());
    pool.release(conn);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(conn.socket.destroyed, true);
    assert.equal(pool.stats().idle, 0);
    pool.close();
  });

  test('the holder of a connection hears about its close', async () => {
    const { pool, target } = setup();
    const handler = idleHandler();
    await pool.connect(target, handler);
    for (const s of serverSockets) s.end();
    const deadline = Date.now() + 2000;
    while (handler.closes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(handler.closes, 1);
    pool.close();
  });
});
