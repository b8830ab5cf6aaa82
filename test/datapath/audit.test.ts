// Audit mode per endpoint: where policy would deny (connect, sendmsg, cgroup_skb ingress) the
// traffic passes and an event with verdict 'audit' carries the drop reason that would have
// applied; switching it off denies again; policy replacement keeps it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cnp, collectEvents, probe, showEvents, startPodServer, timedConnect, withCluster } from './datapath-harness.js';

const T = { timeout: 120_000 };

describe('audit mode', () => {
  test("an audited endpoint's denied connect and datagram succeed and are reported as audit, and switching audit off denies again", T, async () => {
    await withCluster(['client', 'server'], async ({ dp, pods, members, applyPolicy }) => {
      const [client, server] = [members[0]!, members[1]!];
      const tcp = await startPodServer(pods[1]!, 'tcp', 7001);
      const tcpDenyRule = await startPodServer(pods[1]!, 'tcp', 7002);
      const udp = await startPodServer(pods[1]!, 'udp4', 7003);
      try {
        applyPolicy(cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]
  egressDeny:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7002", protocol: TCP }] }]`));
        assert.equal((await timedConnect(pods[0]!, server.ipv4, 7001)).code, 'EPERM', 'enforced before audit mode');
        assert.equal(dp.isAuditMode(client.endpointId), false);

        dp.setAuditMode(client.endpointId, true);
        assert.equal(dp.isAuditMode(client.endpointId), true);
        const events = dp.events();
        const t = await probe(pods[0]!, ['tcp', server.ipv4, '7001', 'audited']);
        assert.equal(t.ok, true, `default-deny audited: ${JSON.stringify(t)}`);
        assert.match(t.response ?? '', /"data":"audited"/);
        assert.equal((await probe(pods[0]!, ['tcp', server.ipv6, '7002'])).ok, true, 'a deny rule audited');
        const u = await probe(pods[0]!, ['udp', server.ipv4, '7003', 'dgram']);
        assert.equal(u.ok, true, `an unconnected datagram audited, and its reply gets back in: ${JSON.stringify(u)}`);

        const audits = await collectEvents(events, (e) => e.verdict === 'audit', 3);
        assert.deepEqual(
          audits.map((e) => [e.direction, e.hook, e.endpointId, e.peerIdentity, e.dropReasonName, e.destination.address, e.destination.port]),
          [
            ['egress', 'connect', client.endpointId, server.identity, 'POLICY_DEFAULT_DENY', server.ipv4, 7001],
            ['egress', 'connect', client.endpointId, server.identity, 'POLICY_DENY_RULE', server.ipv6, 7002],
            ['egress', 'sendmsg', client.endpointId, server.identity, 'POLICY_DEFAULT_DENY', server.ipv4, 7003],
          ],
          showEvents(audits),
        );
        assert.ok(audits.every((e) => e.dropReason !== 0 && e.proxyPort === 0));

        // A policy change keeps audit mode (the flag lives beside the enforcement flags).
        applyPolicy(cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: nobody } }]`));
        assert.equal(dp.isAuditMode(client.endpointId), true, 'replacePolicy keeps audit mode');
        assert.equal((await probe(pods[0]!, ['tcp', server.ipv4, '7001'])).ok, true);

        dp.setAuditMode(client.endpointId, false);
        assert.equal((await timedConnect(pods[0]!, server.ipv4, 7001)).code, 'EPERM', 'audit off: denied again');
        assert.equal((await probe(pods[0]!, ['udp', server.ipv4, '7003'])).code, 'EPERM');

        assert.throws(() => dp.setAuditMode(99, true), { code: 'MESHD_ERR_DATAPATH_UNKNOWN_ENDPOINT' });
      } finally {
        tcp.stop();
        tcpDenyRule.stop();
        udp.stop();
      }
    });
  });

  test('an audited server lets a denied SYN in and reports it once, from cgroup_skb; without audit the local client gets EPERM', T, async () => {
    await withCluster(['client', 'server'], async ({ dp, pods, members, applyPolicy }) => {
      const [client, server] = [members[0]!, members[1]!];
      const tcp = await startPodServer(pods[1]!, 'tcp', 7001);
      const udp = await startPodServer(pods[1]!, 'udp4', 7003);
      try {
        applyPolicy(cnp('server', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`));
        dp.setAuditMode(server.endpointId, true);
        const events = dp.events();
        const t = await probe(pods[0]!, ['tcp', server.ipv4, '7001', 'in']);
        assert.equal(t.ok, true, JSON.stringify(t));
        assert.match(t.response ?? '', /"data":"in"/, 'the server pod itself answered');
        assert.equal((await probe(pods[0]!, ['udp', server.ipv4, '7003'])).ok, true, 'a datagram too');
        const got = await collectEvents(events, () => true, Number.POSITIVE_INFINITY, 1500);
        assert.deepEqual(
          got.map((e) => [e.verdict, e.direction, e.hook, e.endpointId, e.peerIdentity, e.dropReasonName, e.protocol, e.destination.port]),
          [
            ['audit', 'ingress', 'skb-ingress', server.endpointId, client.identity, 'POLICY_DEFAULT_DENY', 'tcp', 7001],
            ['audit', 'ingress', 'skb-ingress', server.endpointId, client.identity, 'POLICY_DEFAULT_DENY', 'udp', 7003],
          ],
          `one audit event per connection, none from the client's connect: ${showEvents(got)}`,
        );

        dp.setAuditMode(server.endpointId, false);
        assert.equal((await timedConnect(pods[0]!, server.ipv4, 7001)).code, 'EPERM', 'the ingress deny, decided at the local client connect');
      } finally {
        tcp.stop();
        udp.stop();
      }
    });
  });
});
