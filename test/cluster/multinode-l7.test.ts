// Ingress L7 rules for clients on other nodes (issue 9, BPF TPROXY): two nodes of one cluster on
// this machine (test/cluster/fabric.ts, sharing one etcd so node 2's ipcache knows node 1's pods),
// each agent started with `--ingress-device fab0` (the device that carries the other nodes'
// traffic). An HTTP server pod on node 2 allows GET /allowed from app=client only: a client pod on
// node 1 gets 200 and 403 from node 2's proxy, a pod with other labels on node 1 cannot connect,
// and node 2's flows show the proxy's HTTP flows with the remote client's identity. Also: an
// unknown device fails the start with the datapath's error, an agent restarted without the option
// detaches the device and removes the routing, and `meshd teardown` removes both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fabric, run, type FabricNode } from './fabric.js';
import { eventually, runPod, type PodInfo } from './multinode-harness.js';

const PORT = 8080;
const SERVER = `require('node:http').createServer((q, r) => r.end('pod ' + q.method + ' ' + q.url)).listen(${PORT}, '::')`;
/** Prints the HTTP status, or why there is none: timeout (dropped) or the socket error code. */
const CLIENT = `const [host, path] = process.argv.slice(1);
const q = require('node:http').get({ host, port: ${PORT}, path, timeout: 2000 }, (r) => { r.resume(); r.on('end', () => { console.log(String(r.statusCode)); process.exit(0); }); });
q.on('timeout', () => { console.log('timeout'); process.exit(3); }); q.on('error', (e) => { console.log(e.code); process.exit(4); });`;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-http, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: client } }]
    toPorts:
    - ports: [{ port: "${PORT}", protocol: TCP }]
      rules: { http: [{ method: GET, path: "/allowed" }] }
`;

const INGRESS_DEVICE = ['--ingress-device', 'fab0'];

interface FlowJson {
  layer: string;
  protocol: string;
  verdict: string;
  summary: string;
  source: { ip: string; identity?: number; pod?: string };
  destination: { ip: string; port?: number; pod?: string };
}

describe('ingress L7 rules for clients on another node', { timeout: 600_000 }, () => {
  let fabric: Fabric;
  let node1: FabricNode;
  let node2: FabricNode;
  let server: PodInfo;
  let client: PodInfo;
  const policyDir = mkdtempSync(join(tmpdir(), 'meshd-multinode-l7-'));

  /** What pod `from` on node 1 gets for GET `path` on the server: a status, timeout, or an error code. */
  async function get(from: string, path: string, address = server.ipv4): Promise<string> {
    const r = await fabric.meshd(node1, ['pod', 'exec', from, '--', process.execPath, '-e', CLIENT, address, path], { timeoutMs: 15_000 });
    return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
  }

  async function routing(node: FabricNode): Promise<{ rules: string; route4: string; route6: string }> {
    const rules = await fabric.inNode(node, 'ip', ['rule', 'show']);
    const rules6 = await fabric.inNode(node, 'ip', ['-6', 'rule', 'show']);
    const route4 = await fabric.inNode(node, 'ip', ['-4', 'route', 'show', 'table', '2004']);
    const route6 = await fabric.inNode(node, 'ip', ['-6', 'route', 'show', 'table', '2004']);
    return { rules: `${rules.stdout}${rules6.stdout}`, route4: route4.stdout, route6: route6.stdout };
  }

  /** The tcx link the agent pinned for fab0 (bpftool's view of the pin), or undefined without a pin. */
  async function fab0Link(node: FabricNode): Promise<{ id: number; type: string | number; prog_id: number } | undefined> {
    const pin = join(node.pinRoot, 'devices', 'fab0', 'meshd_tc_ingress');
    if (!existsSync(pin)) return undefined;
    const r = await run('bpftool', ['-j', 'link', 'show', 'pinned', pin]);
    assert.equal(r.code, 0, `bpftool link show pinned ${pin}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { id: number; type: string | number; prog_id: number };
  }

  /** Whether the kernel still has the link (a detached and unpinned one is freed; ids are not reused soon). */
  async function linkExists(id: number): Promise<boolean> {
    return (await run('bpftool', ['link', 'show', 'id', String(id)])).code === 0;
  }

  before(async () => {
    fabric = await Fabric.create({ nodes: 2, etcd: true, agentRoutes: true });
    [node1, node2] = [fabric.node(1), fabric.node(2)];
    await Promise.all(fabric.nodes.map((n) => fabric.startAgent(n, INGRESS_DEVICE)));
    server = await runPod(fabric, node2, 'server', 'server', [process.execPath, '-e', SERVER]);
    client = await runPod(fabric, node1, 'client', 'client', ['sleep', 'infinity']);
    await runPod(fabric, node1, 'other', 'other', ['sleep', 'infinity']);
    const file = join(policyDir, 'policy.yaml');
    writeFileSync(file, POLICY);
    const applied = await fabric.meshd(node1, ['policy', 'apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
  });

  after(async () => {
    rmSync(policyDir, { recursive: true, force: true });
    await fabric?.dispose();
  });

  test('the agent installs the BPF TPROXY routing and a tc program on the ingress device', async () => {
    const r = await routing(node2);
    assert.match(r.rules, /fwmark 0x200\/0xf00 lookup 2004/, r.rules);
    assert.match(r.route4, /local default dev lo/, r.route4);
    assert.match(r.route6, /local default dev lo/, r.route6);
    const link = await fab0Link(node2);
    assert.ok(link, 'fab0 attached');
    // BPF_LINK_TYPE_TCX is 11 (this bpftool prints the number, newer ones the name).
    assert.ok(link.type === 'tcx' || Number(link.type) === 11, JSON.stringify(link));
    const prog = await run('bpftool', ['-j', 'prog', 'show', 'id', String(link.prog_id)]);
    // The kernel keeps 15 bytes of a name; bpftool shows the full one when it reads the BTF.
    assert.match((JSON.parse(prog.stdout) as { name: string }).name, /^meshd_tc_ingres/, 'the tc program');
  });

  test('a client pod on node 1 gets 200 for the allowed path and 403 from node 2\'s proxy for another', async () => {
    // The policy reaches node 2 through etcd, and the client's IP node 2's ipcache the same way.
    assert.equal(await eventually('GET /denied refused by the proxy', async () => ((await get('client', '/denied')) === '403' ? '403' : undefined), 60_000), '403');
    assert.equal(await get('client', '/allowed'), '200');
    assert.equal(await get('client', '/denied'), '403');
  });

  test('the same holds over IPv6', async () => {
    assert.equal(await eventually('IPv6 GET /allowed', async () => ((await get('client', '/allowed', server.ipv6)) === '200' ? '200' : undefined)), '200');
    assert.equal(await get('client', '/denied', server.ipv6), '403');
  });

  test('a pod with other labels on node 1 cannot connect', async () => {
    assert.equal(await get('other', '/allowed'), 'timeout');
    assert.equal(await get('other', '/allowed', server.ipv6), 'timeout');
  });

  test("node 2's flows show the proxy's HTTP flows with the remote client's identity", async () => {
    const flows = await eventually('proxy http flows on node 2', async () => {
      const r = await fabric.meshd(node2, ['observe', '--protocol', 'http', '--last', '200', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const list = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as FlowJson);
      const fromClient = list.filter((f) => f.layer === 'proxy' && f.source.ip === client.ipv4);
      return fromClient.some((f) => f.summary.includes('/allowed')) && fromClient.some((f) => f.summary.includes('/denied')) ? fromClient : undefined;
    });
    for (const f of flows) assert.equal(f.source.identity, client.identity, JSON.stringify(f));
    const allowed = flows.find((f) => f.summary.includes('/allowed'))!;
    const denied = flows.find((f) => f.summary.includes('/denied'))!;
    assert.equal(allowed.verdict, 'FORWARDED', JSON.stringify(allowed));
    assert.match(allowed.summary, /200/);
    assert.equal(denied.verdict, 'DENIED', JSON.stringify(denied));
    assert.match(denied.summary, /403/);
    assert.equal(denied.destination.ip, server.ipv4, 'the original destination is the pod');
  });

  test('an unknown ingress device fails the start with the datapath\'s error', async () => {
    await fabric.stopAgent(node1);
    await assert.rejects(fabric.startAgent(node1, ['--ingress-device', 'nosuch0']), /MESHD_ERR_DATAPATH_ATTACH[\s\S]*nosuch0/);
    await fabric.stopAgent(node1);
    await fabric.startAgent(node1, INGRESS_DEVICE);
  });

  test('an agent restarted without --ingress-device detaches the device and removes the routing', async () => {
    const before = await fab0Link(node2);
    assert.ok(before, 'fab0 attached');
    await fabric.stopAgent(node2);
    await fabric.startAgent(node2);
    assert.equal(await fab0Link(node2), undefined, 'pin removed');
    assert.equal(await linkExists(before.id), false, 'link detached');
    const r = await routing(node2);
    assert.doesNotMatch(r.rules, /lookup 2004/, r.rules);
    assert.equal(r.route4.trim(), '');
    // The control: without BPF TPROXY the connection from the other node reaches the pod itself
    // (the L3/L4 part allows app=client), so the ingress L7 rule does not apply to it.
    assert.equal(await get('client', '/denied'), '200');
    await fabric.stopAgent(node2);
    await fabric.startAgent(node2, INGRESS_DEVICE);
    assert.equal(await eventually('the proxy again', async () => ((await get('client', '/denied')) === '403' ? '403' : undefined)), '403');
  });

  test('meshd teardown removes the device link and the routing', async () => {
    const link = await fab0Link(node2);
    assert.ok(link, 'fab0 attached');
    const r = await fabric.meshd(node2, ['teardown', '--pin-root', node2.pinRoot, '--node-prefix', node2.prefix, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ingressDevicesDetached?: string[]; tproxyRoutingRemoved?: boolean };
    assert.deepEqual(report.ingressDevicesDetached, ['fab0']);
    assert.equal(report.tproxyRoutingRemoved, true);
    assert.equal(await linkExists(link.id), false, 'link detached');
    const after = await routing(node2);
    assert.doesNotMatch(after.rules, /lookup 2004/, after.rules);
    assert.equal(after.route4.trim(), '');
    assert.equal(after.route6.trim(), '');
  });
});
