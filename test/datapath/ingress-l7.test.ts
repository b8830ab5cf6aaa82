// Ingress L7 for local clients: a pod's connection to a pod of the same node whose ingress
// policy has L7 rules is sent to the node proxy by the client's own connect hook (cgroup_skb
// cannot redirect a packet). The proxy learns the original destination and the client's
// identity, and its own connection to the server, from the gateway, is let in by
// allow-localhost. An ingress deny fails the client's connect with EPERM; no ingress policy
// leaves the connection alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatapathEvent } from '../../bpf/index.js';
import { cnp, collectEvents, probe, showEvents, startPlainProxy, startPodServer, timedConnect, withCluster } from './datapath-harness.js';

const T = { timeout: 120_000 };

const serverL7Policy = cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{ method: GET }] } }]`);

/** The address as a dual-stack listener reports an IPv4 peer. */
const asSeenByDualStack = (address: string): string => (address.includes(':') ? address : `::ffff:${address}`);

describe('ingress L7 rules for clients on the same node', () => {
  for (const family of [4, 6] as const) {
    test(`a client pod's connection to a pod with ingress L7 rules reaches the proxy with the original destination and the client's identity (IPv${family})`, T, async () => {
      await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
        const [client, server] = [members[0]!, members[1]!];
        const gateway = family === 4 ? node.gateway4 : node.gateway6;
        const serverAddress = family === 4 ? server.ipv4 : server.ipv6;
        const clientAddress = family === 4 ? client.ipv4 : client.ipv6;
        const { proxy, port: proxyPort } = await startPlainProxy(node, gateway, { forward: true });
        const listener = await startPodServer(pods[1]!, 'tcp', 8080);
        try {
          applyPolicy(serverL7Policy, { http: proxyPort });
          const events = dp.events();
          const r = await probe(pods[0]!, ['tcp', serverAddress, '8080', 'GET / HTTP/1.0\r\n\r\n']);
          assert.equal(r.ok, true, `${JSON.stringify(r)}; proxy: ${JSON.stringify(proxy.lines)} ${proxy.stderr}`);
          assert.deepEqual(r.peer, { address: serverAddress, port: 8080 }, 'the client sees the server as its peer');

          const reply = JSON.parse(r.response ?? '{}') as Record<string, unknown>;
          assert.deepEqual(reply['origDst'], { address: serverAddress, port: 8080 }, `getsockopt(SO_ORIGINAL_DST) on the proxy side: ${r.response}`);
          // The proxy's own connection to the server: from the proxy cgroup (no hook), source the
          // gateway (host identity), let in by the server's ingress through allow-localhost.
          assert.equal(reply['upstreamLocal'], gateway, `the proxy connects from the gateway: ${r.response}`);
          const upstream = JSON.parse((reply['upstream'] as string | undefined) ?? '{}') as { server?: string; from?: { address: string } };
          assert.equal(upstream.server, 'pod', `the server pod answered the proxy: ${r.response}`);
          assert.equal(upstream.from?.address, asSeenByDualStack(gateway));
          assert.deepEqual(
            listener.lines.filter((l) => l['accepted']).map((l) => (l['accepted'] as { address: string }).address),
            [asSeenByDualStack(gateway)],
            'the server was only ever reached by the proxy, never by the client directly',
          );

          const seen = await proxy.waitFor((l) => l['peer'] !== undefined);
          assert.deepEqual(seen['peer'], { address: clientAddress, port: r.local!.port }, 'the proxy sees the client pod address');
          assert.deepEqual(
            dp.originalDestination({ remote: seen['peer'] as { address: string; port: number }, local: seen['local'] as { address: string; port: number } }),
            { address: serverAddress, port: 8080, family, protocol: 'tcp', endpointId: client.endpointId, localIdentity: client.identity, peerIdentity: server.identity },
          );

          const [redirected] = await collectEvents(events, (e) => e.verdict === 'redirected', 1);
          assert.ok(redirected, 'a redirect event');
          assert.deepEqual({ ...redirected, timestampNs: 0n, cookie: 0n }, {
            timestampNs: 0n,
            cookie: 0n,
            endpointId: server.endpointId,
            localIdentity: server.identity,
            peerIdentity: client.identity,
            family,
            protocol: 'tcp',
            direction: 'ingress',
            verdict: 'redirected',
            dropReason: 0,
            dropReasonName: 'NONE',
            proxyPort,
            hook: 'connect',
            source: { address: clientAddress, port: 0 },
            destination: { address: serverAddress, port: 8080 },
          } satisfies DatapathEvent);
        } finally {
          proxy.stop();
          listener.stop();
        }
      });
    });
  }

  test('an ingress deny fails the local client connect with EPERM at once, and an allowed peer still connects directly', T, async () => {
    await withCluster(['client', 'server', 'other'], async ({ dp, pods, members, applyPolicy }) => {
      const [client, server, other] = [members[0]!, members[1]!, members[2]!];
      const listener = await startPodServer(pods[1]!, 'tcp', 8080);
      try {
        applyPolicy(cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: other } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]`));
        const events = dp.events();
        for (const address of [server.ipv4, server.ipv6]) {
          const r = await timedConnect(pods[0]!, address, 8080, 5);
          assert.deepEqual(new Set(r.codes), new Set(['EPERM']), `connect to ${address}:8080: ${JSON.stringify(r)}`);
          assert.ok(Math.max(...r.timesMs) < 200, `EPERM, not a dropped SYN's timeout: ${JSON.stringify(r.timesMs)}`);
        }
        const denied = await collectEvents(events, (e) => e.verdict === 'denied', 10, 1500);
        assert.equal(denied.length, 10, showEvents(denied));
        for (const e of denied) {
          assert.deepEqual(
            [e.direction, e.hook, e.endpointId, e.localIdentity, e.peerIdentity, e.dropReasonName, e.destination.port],
            ['ingress', 'connect', server.endpointId, server.identity, client.identity, 'POLICY_DEFAULT_DENY', 8080],
          );
        }
        assert.equal(listener.lines.filter((l) => l['accepted']).length, 0, 'nothing reached the server');

        const allowed = await probe(pods[2]!, ['tcp', server.ipv4, '8080', 'hi']);
        assert.equal(allowed.ok, true, JSON.stringify(allowed));
        assert.match(allowed.response ?? '', /"server":"pod"/, 'a plain allow goes straight to the server, not to a proxy');
        assert.equal((JSON.parse(allowed.response!) as { from: { address: string } }).from.address, asSeenByDualStack(other.ipv4));
      } finally {
        listener.stop();
      }
    });
  });

  test('without an ingress policy, or with a plain ingress allow, a local client connects directly', T, async () => {
    await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
      const [client, server] = [members[0]!, members[1]!];
      const { proxy, port: proxyPort } = await startPlainProxy(node, node.gateway4);
      const listener = await startPodServer(pods[1]!, 'tcp', 8080);
      try {
        const events = dp.events();
        const direct = async (why: string) => {
          const r = await probe(pods[0]!, ['tcp', server.ipv4, '8080', 'hi']);
          assert.equal(r.ok, true, `${why}: ${JSON.stringify(r)}`);
          assert.deepEqual(JSON.parse(r.response ?? '{}'), { server: 'pod', from: { address: asSeenByDualStack(client.ipv4), port: r.local!.port }, data: 'hi' }, why);
        };
        await direct('no policy at all');
        // The client's egress is L7 on another port; the server's ingress a plain allow.
        applyPolicy(
          cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]`) +
            cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "9090", protocol: TCP }], rules: { http: [{}] } }]`),
          { http: proxyPort },
        );
        await direct('a plain ingress allow');
        const got = await collectEvents(events, () => true, Number.POSITIVE_INFINITY, 800);
        assert.deepEqual(got, [], `nothing to report: ${showEvents(got)}`);
        assert.equal(proxy.lines.filter((l) => l['peer']).length, 0, 'the proxy saw nothing');
      } finally {
        proxy.stop();
        listener.stop();
      }
    });
  });

  test("a client's own egress L7 redirect wins over the server's ingress L7 rules, but not over the server's ingress deny", T, async () => {
    await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
      const [client, server] = [members[0]!, members[1]!];
      const egressProxy = await startPlainProxy(node, node.gateway4);
      try {
        // Both directions L7 for the same port: only the egress redirect applies (docs/adr/0003).
        applyPolicy(
          serverL7Policy +
            cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]`),
          { http: egressProxy.port },
        );
        const events = dp.events();
        const r = await probe(pods[0]!, ['tcp', server.ipv4, '8080', 'GET / HTTP/1.0\r\n\r\n']);
        assert.equal(r.ok, true, JSON.stringify(r));
        const redirects = await collectEvents(events, (e) => e.verdict === 'redirected', 2, 1000);
        assert.deepEqual(
          redirects.map((e) => [e.direction, e.endpointId]),
          [['egress', client.endpointId]],
          showEvents(redirects),
        );
        const seen = await egressProxy.proxy.waitFor((l) => l['peer'] !== undefined);
        assert.deepEqual(seen['origDst'], { address: server.ipv4, port: 8080 });

        // But the server's L3/L4 ingress still holds: the egress proxy would reach the server as
        // the host, so a deny must stop the client at its connect.
        applyPolicy(
          cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: nobody } }]`) +
            cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]`),
          { http: egressProxy.port },
        );
        const afterChange = dp.events();
        const denied = await timedConnect(pods[0]!, server.ipv4, 8080);
        assert.equal(denied.code, 'EPERM', `the server's ingress deny applies behind the egress redirect: ${JSON.stringify(denied)}`);
        const deniedEvents = await collectEvents(afterChange, (e) => e.verdict === 'denied', 1, 1000);
        assert.deepEqual(deniedEvents.map((e) => [e.direction, e.hook, e.endpointId, e.dropReasonName]), [['ingress', 'connect', server.endpointId, 'POLICY_DEFAULT_DENY']]);
      } finally {
        egressProxy.proxy.stop();
      }
    });
  });
});
