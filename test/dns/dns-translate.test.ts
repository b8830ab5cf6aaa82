// From policy to answers: a CiliumNetworkPolicy with rules.dns, translated for the built-in proxy
// (a UDP listener with DnsPolicy listener filters and a TCP listener with a DnsPolicy chain, both
// sending to the ORIGINAL_DST cluster), served over xDS; the proxy's originalDestination resolver
// stands in for the datapath and names dnsmasq as the resolver each query was sent to. The DNS
// port of the policy is dnsmasq's own (unprivileged) port, so the original destination is real.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHarness, pod, translatePolicies } from '../proxy/harness.js';
import { dig, freeDnsPort, requireTools, startDnsmasq, type Dnsmasq } from './dns-harness.js';

const T = { timeout: 60_000 };

describe('DNS rules translated from a policy', () => {
  let h: ProxyHarness;
  let dnsmasq: Dnsmasq;
  let proxyPort: number;
  const tuples: Array<{ protocol?: string }> = [];

  before(async () => {
    await requireTools();
    h = await ProxyHarness.start({ nodeId: 'dns-translate' });
    try {
      dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3', '--host-record=denied.test,10.6.6.6', '--address=/wild.allowed.test/10.9.9.9']);
      proxyPort = await freeDnsPort();
      const node = translatePolicies(
        [
          {
            name: 'dns.yaml',
            text: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: dns, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
    - toEntities: [all]
      toPorts:
        - ports: [{ port: "${dnsmasq.port}", protocol: ANY }]
          rules: { dns: [{ matchName: api.allowed.test }, { matchPattern: "*.wild.allowed.test" }] }
`,
          },
        ],
        [pod('client', 'default', { app: 'client' }, '127.0.0.1')],
        (key) => (key.l7 === 'dns' ? proxyPort : undefined),
      );
      const t = node.translation;
      assert.deepEqual(t.listeners.map((l) => l.name).sort(), [`meshd/tcp/${proxyPort}`, `meshd/udp/${proxyPort}`]);
      h.setSnapshot({ listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets });
      await h.startProxy({
        originalDestination: (tuple) => {
          tuples.push(tuple as { protocol?: string });
          return { address: dnsmasq.address, port: dnsmasq.port };
        },
      });
    } catch (err) {
      await h.close();
      throw err;
    }
  });

  after(async () => {
    await h?.close();
  });

  const proxy = () => ({ address: '127.0.0.1', port: proxyPort });

  test('over UDP the proxy asks the datapath for the original destination with protocol udp and forwards there', T, async () => {
    tuples.length = 0;
    const r = await dig(proxy(), 'api.allowed.test');
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.deepEqual(r.answers.map((a) => a.data), ['10.1.2.3']);
    assert.ok(tuples.some((t) => t.protocol === 'udp'), JSON.stringify(tuples));
    assert.equal((await dig(proxy(), 'x.wild.allowed.test')).status, 'NOERROR');
    assert.equal((await dig(proxy(), 'denied.test')).status, 'REFUSED');
  });

  test('over TCP the filter chain selected by the original destination port decides the same way', T, async () => {
    const r = await dig(proxy(), 'api.allowed.test', 'A', ['+tcp']);
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.deepEqual(r.answers.map((a) => a.data), ['10.1.2.3']);
    assert.equal((await dig(proxy(), 'denied.test', 'A', ['+tcp'])).status, 'REFUSED');
  });
});
