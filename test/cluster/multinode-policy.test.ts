// Three nodes of one cluster on this machine (test/cluster/fabric.ts: a network namespace, an
// agent, pins and a pod range each) sharing one etcd: identities agree, an L3/L4 policy selecting
// pods by labels holds for pods on other nodes, and it keeps holding across an agent restart and an
// etcd restart; a removed node's pods vanish from the other nodes' ipcache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fabric, type FabricNode } from './fabric.js';
import { eventually, runPod, type PodInfo } from './multinode-harness.js';

const PORT = 8081;
const SERVER = `require('node:net').createServer((c) => c.end('pong')).listen(${PORT}, '::')`;
/** Prints pong, or why not: timeout (dropped), or the socket error code. */
const CLIENT = `const s = require('node:net').connect({ host: process.argv[1], port: ${PORT}, timeout: 1500 });
let out = ''; s.on('data', (d) => (out += d)); s.on('end', () => { console.log(out || 'empty'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(3); }); s.on('error', (e) => { console.log(e.code); process.exit(4); });`;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-from-client, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: client } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
`;

describe('three nodes sharing one etcd', { timeout: 600_000 }, () => {
  let fabric: Fabric;
  let node1: FabricNode;
  let node2: FabricNode;
  let node3: FabricNode;
  let server: PodInfo;
  const policyDir = mkdtempSync(join(tmpdir(), 'meshd-multinode-'));

  /** What a connection from pod `from` (on `node`) to the server gets: pong, timeout, or an error code. */
  async function probe(node: FabricNode, from: string, address = server.ipv4): Promise<string> {
    const r = await fabric.meshd(node, ['pod', 'exec', from, '--', process.execPath, '-e', CLIENT, address], { timeoutMs: 15_000 });
    return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
  }

  async function identities(node: FabricNode): Promise<Map<string, number>> {
    const r = await fabric.meshd(node, ['identity', 'list', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const list = (JSON.parse(r.stdout) as { identities: Array<{ id: number; labels: string[]; scope: string }> }).identities;
    return new Map(list.filter((i) => i.scope === 'global').map((i) => [i.labels.find((l) => l.startsWith('k8s:app=')) ?? i.labels.join(','), i.id]));
  }

  before(async () => {
    fabric = await Fabric.create({ nodes: 3, etcd: true, agentRoutes: true });
    [node1, node2, node3] = [fabric.node(1), fabric.node(2), fabric.node(3)];
    await Promise.all(fabric.nodes.map((n) => fabric.startAgent(n)));
    server = await runPod(fabric, node2, 'server', 'server', [process.execPath, '-e', SERVER]);
    await runPod(fabric, node1, 'client', 'client', ['sleep', 'infinity']);
    await runPod(fabric, node3, 'other', 'other', ['sleep', 'infinity']);
    await runPod(fabric, node3, 'client3', 'client', ['sleep', 'infinity']);
  });

  after(async () => {
    rmSync(policyDir, { recursive: true, force: true });
    await fabric?.dispose();
  });

  test('every node gives the same labels the same identity', async () => {
    const all = await eventually('identities of app=server, client, other on every node', async () => {
      const maps = await Promise.all(fabric.nodes.map((n) => identities(n)));
      return maps.every((m) => ['k8s:app=server', 'k8s:app=client', 'k8s:app=other'].every((l) => m.has(l))) ? maps : undefined;
    });
    for (const label of ['k8s:app=server', 'k8s:app=client', 'k8s:app=other']) {
      assert.equal(new Set(all.map((m) => m.get(label))).size, 1, `${label}: ${all.map((m) => m.get(label)).join(' ')}`);
    }
    assert.equal(all[0]!.get('k8s:app=server'), server.identity);
  });

  test('without a policy, pods of every node reach the server on another node', async () => {
    assert.equal(await eventually('client -> server', async () => ((await probe(node1, 'client')) === 'pong' ? 'pong' : undefined)), 'pong');
    assert.equal(await probe(node3, 'other'), 'pong');
    assert.equal(await probe(node1, 'client', server.ipv6), 'pong');
  });

  test('a policy applied on one node allows app=client from any node and drops app=other', async () => {
    const file = join(policyDir, 'policy.yaml');
    writeFileSync(file, POLICY);
    const applied = await fabric.meshd(node1, ['policy', 'apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
    await eventually('app=other dropped at the server node', async () => ((await probe(node3, 'other')) === 'timeout' ? true : undefined));
    assert.equal(await probe(node1, 'client'), 'pong', 'client on node1 (remote identity, distributed policy)');
    assert.equal(await probe(node3, 'client3'), 'pong', 'client on node3');
    assert.equal(await probe(node1, 'client', server.ipv6), 'pong', 'IPv6');
    assert.equal(await probe(node3, 'other', server.ipv6), 'timeout', 'IPv6');
  });

  test('a restarted agent on the server node enforces the same policy, and learns pods created meanwhile', async () => {
    await fabric.stopAgent(node2);
    // The kernel keeps enforcing while the agent is away.
    assert.equal(await probe(node1, 'client'), 'pong');
    assert.equal(await probe(node3, 'other'), 'timeout');
    await runPod(fabric, node1, 'late', 'client', ['sleep', 'infinity']);
    await fabric.startAgent(node2);
    await eventually('a pod created while the agent was down is allowed', async () => ((await probe(node1, 'late')) === 'pong' ? true : undefined));
    assert.equal(await probe(node3, 'other'), 'timeout');
  });

  test('after an etcd restart nothing is lost and new pods are enforced everywhere', async () => {
    await fabric.etcd!.stop();
    assert.equal(await probe(node1, 'client'), 'pong', 'enforcement goes on without etcd');
    assert.equal(await probe(node3, 'other'), 'timeout');
    await fabric.etcd!.restart();
    await runPod(fabric, node3, 'after-etcd', 'client', ['sleep', 'infinity']);
    await eventually('a pod created after the etcd restart is allowed', async () => ((await probe(node3, 'after-etcd')) === 'pong' ? true : undefined), 60_000);
    const maps = await Promise.all(fabric.nodes.map((n) => identities(n)));
    assert.equal(new Set(maps.map((m) => m.get('k8s:app=client'))).size, 1);
  });

  test("a removed node's pods disappear from the other nodes' ipcache", async () => {
    const node3Pods = (prefix: string) => (e: [string, number]) => e[0].startsWith(prefix);
    for (const node of [node1, node2]) assert.ok(fabric.ipcache(node).some(node3Pods('10.244.3.')), `${node.name} knows node3's pods`);
    await fabric.removeNode(node3);
    await eventually('node3 pods gone from node1 and node2', async () =>
      [node1, node2].every((n) => !fabric.ipcache(n).some(node3Pods('10.244.3.')) && !fabric.ipcache(n).some(node3Pods('fd44:244:0:3:'))) ? true : undefined,
    );
    assert.equal(await probe(node1, 'client'), 'pong', 'the rest of the cluster goes on');
  });
});
