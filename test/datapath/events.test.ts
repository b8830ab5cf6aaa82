// Verdict events: every deny (egress at connect, ingress at cgroup_skb) and every redirect
// arrives with its endpoint, identities, 5-tuple, verdict, drop reason and proxy port;
// allowed connections only when sampling is on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP_REASONS, type DatapathEvent, type EventStream } from '../../bpf/index.js';
import { cnp, probe, startPlainProxy, startPodServer, timedConnect, withCluster } from './datapath-harness.js';

/** Collects events until `count` match `pick` or the time is up. */
async function collect(stream: EventStream, pick: (e: DatapathEvent) => boolean, count: number, timeoutMs = 5000): Promise<DatapathEvent[]> {
  const out: DatapathEvent[] = [];
  const deadline = setTimeout(() => stream.close(), timeoutMs);
  try {
    for await (const e of stream) {
      if (pick(e)) out.push(e);
      if (out.length >= count) break;
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

test('events arrive for denies and redirects with the right fields, and for allowed connections when sampled', { timeout: 120_000 }, async () => {
  await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
    const [client, server] = [members[0]!, members[1]!];
    const { proxy, port: proxyPort } = await startPlainProxy(node, node.gateway4);
    const listener = await startPodServer(pods[1]!, 'tcp', 7001);
    const listener0 = await startPodServer(pods[1]!, 'tcp', 7000);
    try {
      applyPolicy(
        cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }, { port: "7001", protocol: TCP }] }]
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]
  egressDeny:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7003", protocol: TCP }] }]`) +
          cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`),
        { http: proxyPort },
      );
      const events = dp.events();
      assert.equal((await timedConnect(pods[0]!, server.ipv4, 7002)).code, 'EPERM');
      assert.equal((await timedConnect(pods[0]!, server.ipv6, 7003)).code, 'EPERM');
      assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '8080'])).ok, true);
      assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '7001'], { PROBE_TIMEOUT_MS: '500' })).code, 'TIMEOUT');
      assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '7000'])).ok, true);
      // Everything the five connections produced, not just the first four events: the allowed
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

      const ingressDenied = got.find((e) => e.direction === 'ingress');
      assert.ok(ingressDenied, 'an ingress deny event');
      assert.deepEqual({ ...strip(ingressDenied), source: { address: ingressDenied.source.address } }, {
        timestampNs: 0n,
        cookie: 0n,
        endpointId: server.endpointId,
        localIdentity: server.identity,
        peerIdentity: client.identity,
        family: 4,
        protocol: 'tcp',
        direction: 'ingress',
        verdict: 'denied',
        dropReason: 2,
        dropReasonName: 'POLICY_DEFAULT_DENY',
        proxyPort: 0,
        hook: 'skb-ingress',
        source: { address: client.ipv4 },
        destination: { address: server.ipv4, port: 7001 },
      });
      assert.ok(ingressDenied.source.port > 0, 'ingress events carry the peer port');
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
    }
  });
});
