// Ingress L7 for clients on OTHER nodes, end to end with the built-in proxy (BPF TPROXY, mode C,
// docs/adr/0003): the pod's ingress HTTP rules are translated for the proxy (translateNode with
// transparentIngress: the ingress listener is `transparent: true`) and for the kernel; a client
// in a "remote node" netns connects to the pod; the tc program on the node's device from that
// netns assigns the connection to the proxy's IP_TRANSPARENT listener, which takes the pod's
// address (its local address) as original destination and the client's real address as source,
// forwards the allowed GET to the pod and refuses the other path with 403. A source identity the
// policy does not allow is dropped by the kernel and never reaches the proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setupTproxyRouting, teardownTproxyRouting, translateEndpointPolicy, type Datapath } from '../../bpf/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { translateNode, type IpCacheEntry } from '../../xds/index.js';
import { subscribeFlows, type FlowRecord, type HttpFlowRecord } from '../../proxylib/index.js';
import type { NodeNetwork } from '../../agent/index.js';
import { LineProcess, cnp, withCluster, type PodMember } from './datapath-harness.js';
import { POD_HTTP_SERVER, REMOTE_CLIENT_IDENTITY, addRemoteIdentities, curlFrom, freePortOn, remoteIpcache, startServedProxy } from './ingress-l7-harness.js';
import { withRemoteNode, type RemoteNode } from './remote-node.js';

const NODE_ID = 'ingress-l7-remote-node';
const SERVER_POLICY = cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: remote-client } }]
      toPorts:
        - ports: [{ port: "8080", protocol: TCP }]
          rules: { http: [{ method: GET, path: "/allowed" }] }`);

/** One repository and selector cache for both halves, with the other node's pods known. */
function world(node: NodeNetwork, members: readonly PodMember[], remote: RemoteNode) {
  const repo = new Repository();
  const selectors = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectors.addIdentity(r.id, r.labels);
  addRemoteIdentities(selectors);
  const ipcache = remoteIpcache(node, remote);
  for (const m of members) {
    const ep = repo.upsertEndpoint({ name: m.app, namespace: 'default', labels: { app: m.app }, ips: [m.ipv4, m.ipv6], namedPorts: [] });
    selectors.addIdentity(m.identity, ep.identityLabels);
    ipcache.push([`${m.ipv4}/32`, m.identity], [`${m.ipv6}/128`, m.identity]);
  }
  const loaded = loadPolicyText('server.yaml', SERVER_POLICY);
  assert.deepEqual(loaded.problems, []);
  for (const p of loaded.policies) repo.upsertPolicy(p);
  return { repo, selectors, ipcache };
}

function installKernelPolicy(dp: Datapath, w: ReturnType<typeof world>, members: readonly PodMember[], port: number): void {
  dp.ipcache.replaceAll(w.ipcache);
  for (const m of members) {
    dp.replacePolicy(
      m.endpointId,
      translateEndpointPolicy(w.repo.endpointPolicy(`default/${m.app}`)!, {
        identitiesOf: (s) => w.selectors.register(s).selections(),
        proxyPortOf: (type, direction) => (type === 'http' && direction === 'ingress' ? port : undefined),
      }),
    );
  }
}

test("a pod's ingress HTTP rules are enforced by the built-in proxy for a client on another node, which it sees with its real address, and an unlisted identity is dropped by the kernel", { timeout: 180_000 }, async () => {
  await withCluster(['server'], async ({ dp, pods, members, node }) => {
    const [server] = members as [PodMember];
    await withRemoteNode(node, async (remote) => {
      const flows: FlowRecord[] = [];
      const unsubscribe = subscribeFlows((r) => flows.push(r));
      let served: Awaited<ReturnType<typeof startServedProxy>> | undefined;
      let podServer: LineProcess | undefined;
      try {
        setupTproxyRouting();
        dp.attachIngressDevice(remote.nodeDevice);
        const port = await freePortOn(node.gateway4);
        const w = world(node, members, remote);
        const t = translateNode({
          target: 'builtin',
          endpoints: w.repo.resolveAll(),
          identitiesOf: (s) => w.selectors.register(s).selections(),
          ipcache: w.ipcache.map(([prefix, identity]): IpCacheEntry => ({ prefix, identity })),
          proxyAddresses: [node.gateway4, node.gateway6],
          proxyPortOf: (key) => (key.l7 === 'http' && key.direction === 'ingress' ? port : undefined),
          options: { transparentIngress: true },
        });
        assert.equal(t.redirects.length, 1, `one ingress HTTP redirect: ${JSON.stringify(t.skipped)}`);
        assert.equal(t.listeners[0]?.transparent, true, 'the ingress listener is transparent');
        served = await startServedProxy(dp, NODE_ID, t);
        installKernelPolicy(dp, w, members, port);
        podServer = new LineProcess(pods[0]!.spawn(process.execPath, ['-e', POD_HTTP_SERVER, '8080'], { stdio: ['ignore', 'pipe', 'pipe'] }));
        await podServer.waitFor((l) => l['listening'] === true, 10_000);

        for (const family of [4, 6] as const) {
          const podAddress = family === 4 ? server.ipv4 : server.ipv6;
          const target = family === 4 ? `http://${podAddress}:8080` : `http://[${podAddress}]:8080`;
          const gateway = family === 4 ? node.gateway4 : node.gateway6;
          const [client, intruder] = family === 4 ? remote.ipv4 : remote.ipv6;

          const allowed = await curlFrom(remote, client, [`${target}/allowed`]);
          assert.equal(allowed.status, 200, `IPv${family} allowed GET: ${JSON.stringify(allowed)}`);
          const seen = JSON.parse(allowed.body) as { server: string; url: string; from: string };
          assert.deepEqual({ ...seen, from: seen.from.replace(/^::ffff:/, '') }, { server: 'pod', method: 'GET', url: '/allowed', from: gateway }, 'the pod was reached through the proxy');

          const denied = await curlFrom(remote, client, [`${target}/denied`]);
          assert.equal(denied.status, 403, `IPv${family} other path: the proxy refuses it: ${JSON.stringify(denied)}`);

          const dropped = await curlFrom(remote, intruder, [`${target}/allowed`], 2);
          assert.equal(dropped.status, 0, `IPv${family}: the intruder's SYN is dropped by the kernel: ${JSON.stringify(dropped)}`);

          const http = flows.filter((f): f is HttpFlowRecord => f.type === 'http' && f.source.ip === client);
          const forwarded = http.find((f) => f.verdict === 'FORWARDED');
          const refused = http.find((f) => f.verdict === 'DENIED');
          assert.ok(forwarded && refused, `IPv${family}: a FORWARDED and a DENIED flow from ${client}: ${JSON.stringify(flows)}`);
          for (const f of [forwarded, refused]) {
            assert.equal(f.source.identity, REMOTE_CLIENT_IDENTITY, 'the source is the remote client, by its real address');
            assert.deepEqual({ ip: f.destination.ip, port: f.destination.port, identity: f.destination.identity }, { ip: podAddress, port: 8080, identity: server.identity }, 'the original destination is the local address');
          }
          assert.ok(!flows.some((f) => f.type === 'http' && f.source.ip === intruder), 'the intruder never reached the proxy');
        }
      } finally {
        unsubscribe();
        podServer?.stop();
        await served?.close();
        try {
          dp.detachIngressDevice(remote.nodeDevice);
        } finally {
          teardownTproxyRouting();
        }
      }
    });
  });
});
