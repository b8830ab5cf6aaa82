// Agents with --node-ip and their own pod ranges (issue 9): each agent routes the other nodes'
// pod ranges via their node IPs, and removes the route when the node leaves the cluster. The
// node IPs live on a veth link of this test (192.0.2.0/24, TEST-NET-1); removing the link in
// the end removes every route through it, whatever happened.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withAgent } from '../agent/agent-harness.js';
import { EtcdHarness, waitFor } from './etcd-harness.js';
import { uniquePrefix } from './etcd-nodes.js';
import { clusterInfo } from './agent-etcd-harness.js';

const LINK = `mdw${process.pid % 100000}`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const routeOf = (cidr: string): string => ip('route', 'show', cidr).trim();

describe('agents with --node-ip', () => {
  test('an agent routes another node\'s pod ranges via its node IP and removes the route when that node leaves', async () => {
    const etcd = await EtcdHarness.start();
    // A veth pair (the kernel may have no dummy driver); deleting one end deletes both.
    ip('link', 'add', LINK, 'type', 'veth', 'peer', 'name', `${LINK}p`);
    try {
      ip('addr', 'add', '192.0.2.1/24', 'dev', LINK);
      ip('link', 'set', LINK, 'up');
      ip('link', 'set', `${LINK}p`, 'up');
      const common = ['--etcd', etcd.url, '--etcd-prefix', uniquePrefix('routes'), '--etcd-lease-ttl', '15'];
      // Ranges of their own (not the default one other tests' pods use): B routes A's range too.
      await withAgent({ args: [...common, '--node-ip', '192.0.2.11', '--pod-cidr4', '10.244.76.0/24', '--pod-cidr6', 'fd44:244:0:76::/64'] }, async (a) => {
        const cidrB = '10.244.77.0/24';
        try {
          await withAgent({ args: [...common, '--node-ip', '192.0.2.12', '--pod-cidr4', cidrB, '--pod-cidr6', 'fd44:244:0:77::/64'] }, async (b) => {
            await waitFor('A to see B', async () => (await clusterInfo(a)).nodes.length === 2, 20_000);
            const seen = (await clusterInfo(a)).nodes.find((n) => n.name === b.place.nodeName);
            assert.deepEqual(seen?.podCidrs, [cidrB, 'fd44:244:0:77::/64']);
            assert.equal(seen?.nodeIp, '192.0.2.12');
            await waitFor('the route to B\'s pods', () => routeOf(cidrB).includes('via 192.0.2.12'), 10_000);
            await waitFor('the route to A\'s pods on B\'s side', () => routeOf('10.244.76.0/24').includes('via 192.0.2.11'), 10_000);
            // The IPv6 range is not routed via an IPv4 node IP.
            assert.equal(routeOf('fd44:244:0:77::/64'), '');
            const td = await b.meshd(['teardown', '--state-dir', b.place.stateDir, '--pin-root', b.place.pinRoot, '--node-prefix', b.place.nodePrefix], { timeoutMs: 60_000 });
            assert.equal(td.code, 0, td.stderr);
            await waitFor('the route to B\'s pods to go when B leaves', () => routeOf(cidrB) === '', 10_000);
          });
        } finally {
          // B's gateway address on the shared gateway interface (teardown leaves that interface alone).
          for (const addr of ['10.244.77.1/32', 'fd44:244:0:77::1/128', '10.244.76.1/32', 'fd44:244:0:76::1/128']) {
            try {
              ip('addr', 'del', addr, 'dev', 'meshd0');
            } catch {
              // not there
            }
          }
        }
      });
    } finally {
      ip('link', 'del', LINK);
      await etcd.dispose();
    }
  });
});
