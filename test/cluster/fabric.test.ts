// The multi-node test fabric itself, without agents: pods of different nodes reach each other
// through the fabric's routes, an address of no node is dropped by the blackhole, etcd is
// reachable from inside every node, and teardown leaves nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { cgroup2Mount } from '../../agent/index.js';
import { Fabric, type FabricPod } from './fabric.js';

const TCP_SERVER = `const net = require('node:net');
net.createServer((c) => c.end('pong from ' + process.argv[1] + ' to ' + c.remoteAddress)).listen(8080, '::', () => console.log('ready'));`;
const TCP_CLIENT = `const net = require('node:net');
const s = net.connect({ host: process.argv[1], port: 8080, timeout: 3000 });
let out = ''; s.on('data', (d) => (out += d)); s.on('end', () => { console.log(out); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(3); }); s.on('error', (e) => { console.log(e.code); process.exit(4); });`;

describe('test fabric: three nodes on one machine', { timeout: 180_000 }, () => {
  let fabric: Fabric;
  const pods: FabricPod[][] = [];

  before(async () => {
    fabric = await Fabric.create({ nodes: 3, etcd: true });
    for (const node of fabric.nodes) pods.push(await fabric.createPods(node, ['a', 'b']));
  });

  after(async () => {
    await fabric?.dispose();
  });

  test('each node allocates pod addresses from its own range, with its own gateway', () => {
    for (const [i, node] of fabric.nodes.entries()) {
      const nodePods = pods[i]!;
      assert.deepEqual(nodePods.map((p) => p.ipv4), [`10.244.${node.index}.10`, `10.244.${node.index}.11`]);
      assert.deepEqual(nodePods.map((p) => p.ipv6), [`fd44:244:0:${node.index}::a`, `fd44:244:0:${node.index}::b`]);
    }
  });

  test('pods on different nodes reach each other over IPv4 and IPv6 with no policy', async () => {
    for (const [from, to] of [[0, 1], [1, 2], [2, 0]] as const) {
      const src = pods[from]![0]!;
      const dst = pods[to]![1]!;
      for (const address of [dst.ipv4, dst.ipv6]) {
        const r = await fabric.inPod(src, 'ping', ['-c', '1', '-W', '2', address]);
        assert.equal(r.code, 0, `ping ${src.nsName} -> ${address}: ${r.stdout}${r.stderr}`);
      }
    }
  });

  test('TCP connects across nodes, and the server sees the client pod address', async () => {
    const server = pods[1]![0]!;
    const client = pods[0]![1]!;
    const serverProcess = (await import('node:child_process')).spawn('/usr/bin/nsenter', [`--net=${server.netns}`, '--', process.execPath, '-e', TCP_SERVER, server.name], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('server did not start')), 5000);
        serverProcess.stdout!.on('data', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      for (const [address, clientAddress] of [[server.ipv4, client.ipv4], [server.ipv6, client.ipv6]] as const) {
        const r = await fabric.inPod(client, process.execPath, ['-e', TCP_CLIENT, address]);
        // Routed, never NATed: the server sees the client pod's own address (as `::ffff:` on a dual-stack socket).
        assert.match(r.stdout.trim(), new RegExp(`^pong from ${server.name} to (::ffff:)?${clientAddress}$`), `${address}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      serverProcess.kill('SIGKILL');
    }
  });

  test('an address in the cluster range that belongs to no node is dropped by the blackhole', async () => {
    const src = pods[0]![0]!;
    for (const address of ['10.244.9.10', 'fd44:244:0:9::a']) {
      const route = await fabric.inNode(fabric.node(1), 'ip', ['route', 'get', address]);
      assert.match(`${route.stdout}${route.stderr}`, /blackhole|Invalid argument|No route/, `route of ${address} on node1`);
      const r = await fabric.inPod(src, 'ping', ['-c', '1', '-W', '1', address]);
      assert.notEqual(r.code, 0, `ping ${address} must fail: ${r.stdout}`);
    }
  });

  test('etcd answers inside every node at the fabric router address', async () => {
    for (const node of fabric.nodes) {
      const r = await fabric.inNode(node, 'curl', ['-s', '-m', '5', `${fabric.etcdUrl}/health`]);
      assert.match(r.stdout, /"health":"true"/, `${node.name}: ${r.stderr}`);
    }
  });
});

test('a disposed fabric leaves no netns, cgroup, pin or process behind', { timeout: 120_000 }, async () => {
  const fabric = await Fabric.create({ nodes: 2, etcd: true });
  let prefix = fabric.prefix;
  try {
    await fabric.createPods(fabric.node(1), ['x']);
    await fabric.createPods(fabric.node(2), ['y']);
  } finally {
    prefix = fabric.prefix;
    await fabric.dispose();
  }
  const leftovers = [
    ...readdirSync('/run/netns').filter((n) => n.startsWith(prefix)),
    ...readdirSync(cgroup2Mount()).filter((n) => n.startsWith(prefix)),
    ...readdirSync('/sys/fs/bpf').filter((n) => n.startsWith(prefix)),
  ];
  assert.deepEqual(leftovers, []);
  assert.equal(existsSync(fabric.etcd!.dataDir), false, 'etcd data dir removed');
});
