// Ingress L7 for clients on OTHER nodes, the kernel half (BPF TPROXY, mode C, docs/adr/0003):
// a client in a "remote node" netns (not a pod of this node, no hook of ours on its sockets)
// connects to a pod with an ingress HTTP rule. The tc program on the node's device from that
// netns assigns the SYN to the proxy's IP_TRANSPARENT listener on the rule's proxy port, which
// accepts it with the client's real address as peer and the pod's address as local address.
// A source whose identity the policy does not allow is dropped by the kernel (the pod never
// sees it; a tc-ingress event says so); a pod without policy is reached directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import {
  Datapath,
  bindTransparent,
  setupTproxyRouting,
  teardownTproxyRouting,
  tproxyRoutingInstalled,
  translateEndpointPolicy,
  type DatapathEvent,
} from '../../bpf/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import type { NodeNetwork } from '../../agent/index.js';
import { LineProcess, cnp, collectEvents, datapathOptions, showEvents, withCluster, type PodMember } from './datapath-harness.js';
import { withRemoteNode, type RemoteNode } from './remote-node.js';
import { INTRUDER_IDENTITY, REMOTE_CLIENT_IDENTITY, addRemoteIdentities, curlFrom, freePortOn, remoteIpcache } from './ingress-l7-harness.js';

const POD_HTTP_SERVER = String.raw`
const http = require('node:http');
http.createServer((req, res) => {
  const body = JSON.stringify({ server: 'pod', url: req.url, from: req.socket.remoteAddress });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}).listen({ host: '::', port: Number(process.argv[1]) }, () => console.log(JSON.stringify({ listening: true })));
`;

const SERVER_POLICY = cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: remote-client } }]
      toPorts:
        - ports: [{ port: "8080", protocol: TCP }]
          rules: { http: [{ method: GET, path: "/allowed" }] }`);

/** Policy YAML → tries, with the remote identities known to the selector cache. */
function applyWithRemotes(dp: Datapath, members: readonly PodMember[], yaml: string, proxyPort: number): void {
  const loaded = loadPolicyText('remote.yaml', yaml);
  assert.deepEqual(loaded.problems, []);
  const repo = new Repository();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  addRemoteIdentities(cache);
  for (const m of members) {
    const ep = repo.upsertEndpoint({ name: m.app, namespace: 'default', labels: { app: m.app }, ips: [m.ipv4, m.ipv6], namedPorts: [] });
    cache.addIdentity(m.identity, ep.identityLabels);
  }
  for (const p of loaded.policies) repo.upsertPolicy(p);
  for (const m of members) {
    const content = translateEndpointPolicy(repo.endpointPolicy(`default/${m.app}`)!, {
      identitiesOf: (s) => cache.register(s).selections(),
      proxyPortOf: (type) => (type === 'http' ? proxyPort : undefined),
    });
    dp.replacePolicy(m.endpointId, content);
  }
}

function registerRemotes(dp: Datapath, node: NodeNetwork, members: readonly PodMember[], remote: RemoteNode): void {
  dp.ipcache.replaceAll([
    ...remoteIpcache(node, remote),
    ...members.flatMap((m) => [[`${m.ipv4}/32`, m.identity], [`${m.ipv6}/128`, m.identity]] as Array<[string, number]>),
  ]);
}

interface Accepted {
  local: { address: string; port: number };
  remote: { address: string; port: number };
}

/** A stand-in for the proxy's ingress listener: IP_TRANSPARENT on the node proxy address, it
 *  records each connection's addresses and answers one HTTP response. */
async function transparentListener(address: string, port: number, accepted: Accepted[]): Promise<Server> {
  const server = createServer((socket: Socket) => {
    accepted.push({
      local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      remote: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
    });
    socket.on('error', () => socket.destroy());
    socket.once('data', () => {
      const body = JSON.stringify({ server: 'proxy', local: socket.localAddress, from: socket.remoteAddress });
      socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
  });
  server.listen({ fd: bindTransparent(address, port, { ipv6Only: address.includes(':') }) });
  await once(server, 'listening');
  return server;
}

const url = (address: string, port: number, path: string): string => (address.includes(':') ? `http://[${address}]:${port}${path}` : `http://${address}:${port}${path}`);

test('a client on another node reaches the transparent ingress listener with its real address and the pod address, an unlisted identity is dropped by the kernel, a pod without policy is reached directly, and a second open keeps the device link', { timeout: 180_000 }, async () => {
  await withCluster(['server', 'plain'], async ({ dp, pods, members, node, pinRoot }) => {
    const [server] = members as [PodMember, PodMember];
    await withRemoteNode(node, async (remote) => {
      const listeners: Server[] = [];
      const podServers: LineProcess[] = [];
      const accepted: Accepted[] = [];
      try {
        setupTproxyRouting();
        setupTproxyRouting(); // idempotent: a second call changes nothing
        assert.ok(tproxyRoutingInstalled(), 'the fwmark rule and the local route are in place for both families');
        dp.attachIngressDevice(remote.nodeDevice);
        dp.attachIngressDevice(remote.nodeDevice); // attaching twice is harmless
        assert.deepEqual(dp.ingressDevices(), [remote.nodeDevice]);

        // A proxy port nobody uses: the listener binds it on both gateway addresses.
        const proxyPort = await freePortOn(node.gateway4);
        listeners.push(await transparentListener(node.gateway4, proxyPort, accepted));
        listeners.push(await transparentListener(node.gateway6, proxyPort, accepted));

        registerRemotes(dp, node, members, remote);
        applyWithRemotes(dp, members, SERVER_POLICY, proxyPort);
        for (const pod of pods) {
          const p = new LineProcess(pod.spawn(process.execPath, ['-e', POD_HTTP_SERVER, '8080'], { stdio: ['ignore', 'pipe', 'pipe'] }));
          podServers.push(p);
          await p.waitFor((l) => l['listening'] === true, 10_000);
        }

        for (const family of [4, 6] as const) {
          const podAddress = family === 4 ? server.ipv4 : server.ipv6;
          const plainAddress = family === 4 ? members[1]!.ipv4 : members[1]!.ipv6;
          const [client, intruder] = family === 4 ? remote.ipv4 : remote.ipv6;
          const events = dp.events();
          try {
            const before = accepted.length;
            const viaProxy = await curlFrom(remote, client, [url(podAddress, 8080, '/allowed')]);
            if (viaProxy.status !== 200) {
              const got = await collectEvents(events, () => true, 10, 1000);
              assert.fail(`IPv${family}: ${JSON.stringify(viaProxy)}; events ${showEvents(got)}`);
            }
            assert.equal((JSON.parse(viaProxy.body) as { server: string }).server, 'proxy', 'the transparent listener answered, not the pod');
            const seen = accepted[before];
            assert.ok(seen, `IPv${family}: the listener accepted the connection`);
            assert.deepEqual({ local: seen.local, from: seen.remote.address }, { local: { address: podAddress, port: 8080 }, from: client }, 'local address = the original destination, peer = the real client');

            const dropped = await curlFrom(remote, intruder, [url(podAddress, 8080, '/allowed')], 2);
            assert.equal(dropped.status, 0, `IPv${family}: the intruder gets no answer: ${JSON.stringify(dropped)}`);
            assert.equal(accepted.length, before + 1, 'the intruder never reached the listener');

            const got = await collectEvents(events, (e: DatapathEvent) => e.hook === 'tc-ingress', 2, 5000);
            const redirected = got.find((e) => e.verdict === 'redirected');
            const denied = got.find((e) => e.verdict === 'denied');
            assert.ok(redirected && denied, `a redirected and a denied tc-ingress event: ${showEvents(got)}`);
            assert.equal(redirected.peerIdentity, REMOTE_CLIENT_IDENTITY);
            assert.equal(redirected.proxyPort, proxyPort);
            assert.equal(redirected.endpointId, server.endpointId);
            assert.equal(denied.peerIdentity, INTRUDER_IDENTITY);
            assert.equal(denied.dropReasonName, 'POLICY_DEFAULT_DENY');
          } finally {
            events.close();
          }

          const direct = await curlFrom(remote, client, [url(plainAddress, 8080, '/direct')]);
          assert.equal(direct.status, 200, `IPv${family} to a pod without policy: ${JSON.stringify(direct)}`);
          const body = JSON.parse(direct.body) as { server: string; from: string };
          assert.deepEqual({ server: body.server, from: body.from.replace(/^::ffff:/, '') }, { server: 'pod', from: client }, 'reached directly, with the client address');
        }

        // A restarted agent: a second open on the same pin root swaps its program into the pinned
        // device link, which keeps redirecting.
        const restarted = Datapath.open(datapathOptions(node, pinRoot));
        try {
          assert.deepEqual(restarted.ingressDevices(), [remote.nodeDevice]);
          const before = accepted.length;
          const again = await curlFrom(remote, remote.ipv4[0], [url(server.ipv4, 8080, '/allowed')]);
          assert.equal((JSON.parse(again.body) as { server: string }).server, 'proxy', `after a second open: ${JSON.stringify(again)}`);
          assert.equal(accepted.length, before + 1);
        } finally {
          restarted.close();
        }

        assert.equal(dp.detachIngressDevice(remote.nodeDevice), true);
        assert.deepEqual(dp.ingressDevices(), []);
        const unassigned = await curlFrom(remote, remote.ipv4[0], [url(server.ipv4, 8080, '/allowed')]);
        assert.equal((JSON.parse(unassigned.body) as { server: string }).server, 'pod', 'without the tc program the pod answers itself (L3/L4 only)');
      } finally {
        for (const p of podServers) p.stop();
        for (const l of listeners) l.close();
        try {
          dp.detachIngressDevice(remote.nodeDevice);
        } finally {
          teardownTproxyRouting();
        }
      }
    });
  });
});
