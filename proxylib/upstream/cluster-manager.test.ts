import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterConfig, EndpointAddress } from '../config/types.js';
import { MemoryConfigView, staticCluster } from '../../test/proxy/listener-fixtures.js';
import { ViewClusterManager, hostOfAuthority } from './cluster-manager.js';
import { LoadBalancer } from './load-balancer.js';

const ctx = { originalDestination: { address: '10.1.2.3', port: 8080 }, host: 'svc.local', downstreamProtocol: 'http2' as const };

function endpoints(...ports: number[]): EndpointAddress[] {
  return ports.map((port) => ({ address: '127.0.0.1', port, weight: 1 }));
}

describe('ClusterManager.pick', () => {
  test('round robin visits every STATIC endpoint in turn', () => {
    const view = new MemoryConfigView();
    view.setCluster(staticCluster('rr', [1, 2, 3].map((port) => ({ address: '127.0.0.1', port }))));
    const clusters = new ViewClusterManager(view);
    const ports = Array.from({ length: 6 }, () => {
      const r = clusters.pick('rr', ctx);
      assert.ok(r.ok);
      return r.target.port;
    });
    assert.deepEqual(new Set(ports.slice(0, 3)), new Set([1, 2, 3]));
    assert.deepEqual(ports.slice(3), ports.slice(0, 3));
  });

  test('EDS endpoints come from the view, and an EDS update applies to the next pick', () => {
    const view = new MemoryConfigView();
    view.setCluster({ ...staticCluster('eds', []), discovery: { kind: 'eds', serviceName: 'eds-service' } });
    const clusters = new ViewClusterManager(view);
    assert.deepEqual(clusters.pick('eds', ctx), { ok: false, reason: 'no_healthy_upstream' });
    view.setEndpoints({ name: 'eds-service', endpoints: endpoints(7) });
    const first = clusters.pick('eds', ctx);
    assert.ok(first.ok && first.target.port === 7);
    view.setEndpoints({ name: 'eds-service', endpoints: endpoints(8) });
    const second = clusters.pick('eds', ctx);
    assert.ok(second.ok && second.target.port === 8);
    view.setEndpoints({ name: 'eds-service', endpoints: [] });
    assert.deepEqual(clusters.pick('eds', ctx), { ok: false, reason: 'no_healthy_upstream' });
  });

  test('ORIGINAL_DST dials the connection\'s original destination; an unknown cluster is reported', () => {
    const view = new MemoryConfigView();
    view.setCluster({ ...staticCluster('orig', []), discovery: { kind: 'original_dst' }, httpProtocol: 'downstream' });
    const clusters = new ViewClusterManager(view);
    const r = clusters.pick('orig', ctx);
    assert.ok(r.ok);
    assert.equal(r.target.address, '10.1.2.3');
    assert.equal(r.target.port, 8080);
    assert.equal(clusters.protocolOf(r.target, 'http2'), 'http2');
    assert.match(r.target.poolKey, /\|http2$/);
    assert.deepEqual(clusters.pick('orig', { ...ctx, originalDestination: { address: '', port: 0 } }), { ok: false, reason: 'no_original_destination' });
    assert.deepEqual(clusters.pick('missing', ctx), { ok: false, reason: 'cluster_not_found' });
  });

  test('a connect to a closed port is rejected with MESHD_ERR_PROXY_UPSTREAM_CONNECT', async () => {
    const view = new MemoryConfigView();
    const cluster: ClusterConfig = staticCluster('dead', [{ address: '127.0.0.1', port: 1 }], { connectTimeoutMs: 1_000 });
    view.setCluster(cluster);
    const clusters = new ViewClusterManager(view);
    const r = clusters.pick('dead', ctx);
    assert.ok(r.ok);
    await assert.rejects(clusters.connect(r.target, { alpnProtocols: [] }), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_PROXY_UPSTREAM_CONNECT');
  });

  test('auto_sni takes the host without its port', () => {
    assert.equal(hostOfAuthority('svc.local:8443'), 'svc.local');
    assert.equal(hostOfAuthority('[::1]:443'), '::1');
    assert.equal(hostOfAuthority('::1'), '::1');
    assert.equal(hostOfAuthority('svc.local'), 'svc.local');
  });
});

describe('LoadBalancer', () => {
  test('weighted round robin follows the weights smoothly', () => {
    const lb = new LoadBalancer();
    const list: EndpointAddress[] = [
      { address: 'a', port: 1, weight: 3 },
      { address: 'b', port: 1, weight: 1 },
    ];
    const picks = Array.from({ length: 8 }, () => lb.choose('w', 'round_robin', list)?.address);
    assert.equal(picks.filter((p) => p === 'a').length, 6);
    assert.equal(picks.filter((p) => p === 'b').length, 2);
    // Smooth: b never comes twice in a row.
    assert.ok(!picks.join('').includes('bb'));
  });

  test('least request prefers the endpoint with fewer active requests', () => {
    const lb = new LoadBalancer();
    const list = endpoints(1, 2);
    const ends = Array.from({ length: 5 }, () => lb.begin('127.0.0.1', 1));
    const counts = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const e = lb.choose('lr', 'least_request', list)!;
      counts.set(e.port, (counts.get(e.port) ?? 0) + 1);
    }
    // With two random choices the busy endpoint wins only when both choices land on it (~1/4).
    assert.ok((counts.get(2) ?? 0) > 120, `idle endpoint picked ${counts.get(2)} of 200`);
    for (const end of ends) end();
    assert.equal(lb.activeOf('127.0.0.1', 1), 0);
  });

  test('random picks only listed endpoints', () => {
    const lb = new LoadBalancer();
    const list = endpoints(1, 2, 3);
    for (let i = 0; i < 50; i++) assert.ok([1, 2, 3].includes(lb.choose('r', 'random', list)!.port));
  });
});
