// Verdict events: every deny (egress at connect, ingress at a local client's connect or at
// cgroup_skb) and every redirect
// arrives with its endpoint, identities, 5-tuple, verdict, drop reason and proxy port;
// allowed connections only when sampling is on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP_REASONS, type DatapathEvent } from '../../bpf/index.js';
import { cnp, collectEvents as collect, probe, startPlainProxy, startPodServer, timedConnect, withCluster } from './datapath-harness.js';

test('events arrive for denies and redirects with the right fields, and for allowed connections when sampled', { timeout: 120_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
    const [client, server] = [members[0]!, members[1]!];
    const { proxy, port: proxyPort } = await startPlainProxy(node, node.gateway4);
    const listener = await startPodServer(pods[1]!, 'tcp', 7001);
    const listener0 = await startPodServer(pods[1]!, 'tcp', 7000);
    // cgroup_skb ingress runs when a packet is delivered to one of the pod's sockets.
    const udpListener = await startPodServer(pods[1]!, 'udp4', 7004);
    try {
      applyPolicy(
        cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }, { port: "7001", protocol: TCP }, { port: "7004", protocol: UDP }] }]
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]
  egressDeny:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7003", protocol: TCP }] }]`) +
          cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }, { port: "8080", protocol: TCP }] }]`),
        { http: proxyPort },
      );
      const events = dp.events();
      assert.equal((await timedConnect(pods[0]!, server.ipv4, 7002)).code, 'EPERM');
      assert.equal((await timedConnect(pods[0]!, server.ipv6, 7003)).code, 'EPERM');
      assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '8080'])).ok, true);
      assert.equal((await timedConnect(pods[0]!, server.ipv4, 7001)).code, 'EPERM', "the server's ingress, applied at the local client's connect");
      assert.equal((await probe(pods[0]!, ['udp', server.ipv4, '7004'], { PROBE_TIMEOUT_MS: '500' })).code, 'TIMEOUT', "the server's cgroup_skb drops the datagram");
      assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '7000'])).ok, true);
      // Everything the six connections produced, not just the first four events: the allowed
      // connection to 7000 came last, so only a full drain can show it was not reported.
      const got = await collect(events, () => true, Number.POSITIVE_INFINITY, 1500);
      const strip = (e: DatapathEvent) => ({ ...e, timestampNs: 0n, cookie: 0n, source: { ...e.source, port: 0 } });
      /** What every egress TCP event of the client to the server over IPv4 carries, stripped. */
      const clientEgress = {
        timestampNs: 0n,
        cookie: 0n,
        endpointId: client.endpointId,
        localIdentity: client.identity,
        peerIdentity: server.identity,
        family: 4,
        protocol: 'tcp',
        direction: 'egress',
        hook: 'connect',
        source: { address: client.ipv4, port: 0 },
      } as const;

      const egressDenied = got.find((e) => e.destination.port === 7002);
      assert.ok(egressDenied, `a default-deny event; got ${JSON.stringify(got, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      assert.deepEqual(strip(egressDenied), {
        ...clientEgress,
        verdict: 'denied',
        dropReason: 2,
        dropReasonName: DROP_REASONS[2],
        proxyPort: 0,
        destination: { address: server.ipv4, port: 7002 },
      });
      assert.ok(egressDenied.cookie > 0n, 'the socket cookie is set');
      const now = process.hrtime.bigint();
      assert.ok(egressDenied.timestampNs <= now && now - egressDenied.timestampNs < 60_000_000_000n, 'timestamps are CLOCK_MONOTONIC');

      const ruleDenied = got.find((e) => e.destination.port === 7003);
      assert.deepEqual(
        ruleDenied && { reason: ruleDenied.dropReasonName, family: ruleDenied.family, destination: ruleDenied.destination, source: ruleDenied.source.address },
        { reason: 'POLICY_DENY_RULE', family: 6, destination: { address: server.ipv6, port: 7003 }, source: client.ipv6 },
      );

      const redirected = got.find((e) => e.verdict === 'redirected');
      assert.deepEqual(redirected && strip(redirected), {
        ...clientEgress,
        verdict: 'redirected',
        dropReason: 0,
        dropReasonName: 'NONE',
        proxyPort,
        destination: { address: server.ipv4, port: 8080 },
      });

      /** What every ingress deny of the server from the client over IPv4 carries, stripped. */
      const serverIngressDenied = {
        timestampNs: 0n,
        cookie: 0n,
        endpointId: server.endpointId,
        localIdentity: server.identity,
        peerIdentity: client.identity,
        family: 4,
        direction: 'ingress',
        verdict: 'denied',
        dropReason: 2,
        dropReasonName: 'POLICY_DEFAULT_DENY',
        proxyPort: 0,
        source: { address: client.ipv4 },
      } as const;
      const atConnect = got.find((e) => e.direction === 'ingress' && e.hook === 'connect');
      assert.ok(atConnect, 'an ingress deny event from the client connect');
      assert.deepEqual({ ...strip(atConnect), source: { address: atConnect.source.address } }, {
        ...serverIngressDenied,
        protocol: 'tcp',
        hook: 'connect',
        destination: { address: server.ipv4, port: 7001 },
      });
      assert.equal(atConnect.source.port, 0, 'not bound yet at connect');
      const ingressDenied = got.find((e) => e.direction === 'ingress' && e.hook === 'skb-ingress');
      assert.ok(ingressDenied, 'an ingress deny event from cgroup_skb');
      assert.deepEqual({ ...strip(ingressDenied), source: { address: ingressDenied.source.address } }, {
        ...serverIngressDenied,
        protocol: 'udp',
        hook: 'skb-ingress',
        destination: { address: server.ipv4, port: 7004 },
      });
      assert.ok(ingressDenied.source.port > 0, 'cgroup_skb ingress events carry the peer port');
      assert.equal(got.filter((e) => e.verdict === 'allowed').length, 0, 'allowed connections are not reported by default');

      dp.setSampleAllowed(1);
      const sampled = dp.events();
      assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '7000'])).ok, true);
      const allowed = await collect(sampled, (e) => e.verdict === 'allowed', 2);
      assert.deepEqual(allowed.map((e) => [e.direction, e.hook, e.endpointId, e.destination.port]).sort(), [
        ['egress', 'connect', client.endpointId, 7000],
        ['ingress', 'skb-ingress', server.endpointId, 7000],
      ]);
    } finally {
      proxy.stop();
      listener.stop();
      listener0.stop();
      udpListener.stop();
    }
  });
});
