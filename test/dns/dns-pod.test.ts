// The DNS proxy behind the real datapath: a pod (its own netns and cgroup) resolves with dig; the
// kernel redirects its UDP and TCP queries to the built-in proxy's listeners on the node proxy
// address and records the original destination, which the proxy reads from the datapath (protocol
// udp for datagrams) to forward to the resolver the pod asked — dnsmasq on the node's gateway
// address — and the pod sees the reply come from that resolver (the recvmsg hook). Needs root and
// BPF; fails with the missing piece's name otherwise.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnsAnswerEvent } from '../../proxylib/index.js';
import { cnp, withCluster } from '../datapath/datapath-harness.js';
import { ProxyHarness, envoyMessages } from '../proxy/harness.js';
import { DIG, digArgs, dnsPolicyJson, freeDnsPort, parseDigOutput, requireTools, startDnsmasq, udpDnsListenerJson } from './dns-harness.js';

const T = { timeout: 180_000 };

describe('DNS from a pod through the datapath redirect', () => {
  test('a pod resolves an allowed name over UDP and TCP, gets REFUSED for a denied one, and sees the resolver as the sender', T, async () => {
    await requireTools();
    await withCluster(['client'], async ({ dp, pods, members, node, applyPolicy }) => {
      const h = await ProxyHarness.start({ nodeId: 'dns-pod' });
      try {
        const dnsmasq = await startDnsmasq(h.cleanup, ['--host-record=api.allowed.test,10.1.2.3', '--host-record=denied.test,10.6.6.6'], node.gateway4);
        const proxyPort = await freeDnsPort();
        const podIp = members[0]!.ipv4;
        const policy = dnsPolicyJson({
          endpoint_ips: [podIp, members[0]!.ipv6],
          destination_ports: { start: dnsmasq.port, end: dnsmasq.port },
          upstream: { cluster: 'original-dst' },
          rules: [{ name: 'allow api', remotes: { any: true }, names: [{ match_name: 'api.allowed.test' }] }],
        });
        h.setSnapshot(
          envoyMessages({
            listeners: [
              udpDnsListenerJson('dns-udp', [policy], node.gateway4, proxyPort),
              {
                name: 'dns-tcp',
                address: { socket_address: { address: node.gateway4, port_value: proxyPort } },
                listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
                filter_chains: [
                  {
                    name: 'dns-tcp/client',
                    filter_chain_match: { destination_port: dnsmasq.port, source_prefix_ranges: [{ address_prefix: podIp, prefix_len: 32 }] },
                    filters: [{ name: 'meshd.filters.dns', typed_config: policy }],
                  },
                ],
              },
            ],
            clusters: [{ name: 'original-dst', type: 'ORIGINAL_DST', connect_timeout: '2s', lb_policy: 'CLUSTER_PROVIDED' }],
          }),
        );
        const events: DnsAnswerEvent[] = [];
        await h.startProxy({
          originalDestination: (tuple) => {
            const o = dp.originalDestination(tuple);
            return o ? { address: o.address, port: o.port } : undefined;
          },
          identityOf: (ip) => dp.ipcache.identityOf(ip),
          dnsAnswerObserver: { onAnswer: (e) => void events.push(e) },
        });
        applyPolicy(
          cnp('client', `  egress:
    - toEntities: [all]
      toPorts: [{ ports: [{ port: "${dnsmasq.port}", protocol: ANY }], rules: { dns: [{ matchName: api.allowed.test }] } }]`),
          { dns: proxyPort },
        );
        const digInPod = async (name: string, args: string[] = []) => {
          const r = await pods[0]!.exec(DIG, digArgs(dnsmasq, name, 'A', args), { timeoutMs: 20_000 });
          return parseDigOutput(r.stdout + r.stderr);
        };

        const allowed = await digInPod('api.allowed.test');
        assert.equal(allowed.status, 'NOERROR', allowed.raw);
        assert.deepEqual(allowed.answers.map((a) => a.data), ['10.1.2.3']);
        // dig names the server the answer came from; a reply from the proxy's own port would be
        // "reply from unexpected source" and no answer.
        assert.match(allowed.raw, new RegExp(`SERVER: ${node.gateway4.replaceAll('.', '\\.')}#${dnsmasq.port}`));
        assert.doesNotMatch(allowed.raw, /unexpected source/);
        const event = events.find((e) => e.queryName === 'api.allowed.test');
        assert.ok(event, 'the observer saw the answer');
        assert.equal(event.sourceIp, podIp);
        assert.equal(event.endpoint, 'default/client');

        const denied = await digInPod('denied.test');
        assert.equal(denied.status, 'REFUSED', denied.raw);

        const overTcp = await digInPod('api.allowed.test', ['+tcp']);
        assert.equal(overTcp.status, 'NOERROR', overTcp.raw);
        assert.deepEqual(overTcp.answers.map((a) => a.data), ['10.1.2.3']);
        assert.equal((await digInPod('denied.test', ['+tcp'])).status, 'REFUSED');
      } finally {
        await h.close();
      }
    });
  });
});
