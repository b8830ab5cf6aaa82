// L7 redirect ("mode A"): a pod's connection to an L7 port lands on a listener on the node
// proxy address, which recovers the original destination both from the datapath (the
// addon-backed map lookup) and through getsockopt(SO_ORIGINAL_DST) on a plain socket; the
// client keeps seeing the original peer. DNS over UDP the same way, back from the resolver.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { join } from 'node:path';
import { BpfMap, MAP_NAMES } from '../../bpf/index.js';
import { LineProcess, PROBE, cnp, probe, startPlainProxy, withCluster } from './datapath-harness.js';

const T = { timeout: 120_000 };

describe('L7 redirect to the node proxy', () => {
  for (const family of [4, 6] as const) {
    test(`an L7 port is redirected to a host listener that recovers the original destination (IPv${family})`, T, async () => {
      await withCluster(['client', 'server'], async ({ dp, pods, members, node, applyPolicy }) => {
        const gateway = family === 4 ? node.gateway4 : node.gateway6;
        const { proxy, port: proxyPort } = await startPlainProxy(node, gateway);
        try {
          applyPolicy(
            cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{ method: GET }] } }]`),
            { http: proxyPort },
          );
          const server = family === 4 ? members[1]!.ipv4 : members[1]!.ipv6;
          const r = await probe(pods[0]!, ['tcp', server, '8080', 'GET / HTTP/1.0\r\n\r\n']);
          assert.equal(r.ok, true, `${JSON.stringify(r)}; proxy: ${JSON.stringify(proxy.lines)} ${proxy.stderr}`);
          // The application sees the original peer (getpeername translated), the bytes are the proxy's.
          assert.deepEqual(r.peer, { address: server, port: 8080 });
          assert.deepEqual(JSON.parse(r.response || '{}'), { proxy: true, origDst: { address: server, port: 8080 } }, `getsockopt(SO_ORIGINAL_DST) on a plain socket; proxy: ${JSON.stringify(proxy.lines)} ${proxy.stderr}`);

          const seen = await proxy.waitFor((l) => l['peer'] !== undefined);
          const client = family === 4 ? members[0]!.ipv4 : members[0]!.ipv6;
          assert.deepEqual(seen['peer'], { address: client, port: r.local!.port }, 'the proxy sees the pod address: tuples are unique per pod');
          const orig = dp.originalDestination({
            remote: seen['peer'] as { address: string; port: number },
            local: seen['local'] as { address: string; port: number },
          });
          assert.deepEqual(orig, {
            address: server,
            port: 8080,
            family,
            protocol: 'tcp',
            endpointId: members[0]!.endpointId,
            localIdentity: members[0]!.identity,
            peerIdentity: members[1]!.identity,
          });
          assert.equal(dp.originalDestination({ remote: { address: client, port: 1 }, local: { address: gateway, port: proxyPort } }), undefined);
        } finally {
          proxy.stop();
        }
      });
    });
  }

  for (const mode of ['unconnected', 'connected'] as const) {
    test(`UDP/53 from a pod reaches a local DNS listener and the reply comes from the original resolver (${mode})`, T, async () => {
      await withCluster(['client'], async ({ dp, pods, members, node, applyPolicy }) => {
        const dns = dgram.createSocket('udp4');
        dns.bind(0, node.gateway4);
        await once(dns, 'listening');
        const dnsPort = dns.address().port;
        const queries: Array<{ from: dgram.RemoteInfo; orig: unknown }> = [];
        dns.on('message', (msg, rinfo) => {
          queries.push({ from: rinfo, orig: dp.originalDestination({ remote: rinfo, local: { address: node.gateway4, port: dnsPort }, protocol: 'udp' }) });
          dns.send(`answer to ${msg.toString()}`, rinfo.port, rinfo.address);
        });
        try {
          // Ingress default-deny too: the answer must still get in (it replies to the pod's own datagram).
          applyPolicy(
            cnp('client', `  egress:
    - toEntities: [world]
      toPorts: [{ ports: [{ port: "53", protocol: ANY }], rules: { dns: [{ matchPattern: "*" }] } }]
  ingress:
    - fromEndpoints: [{ matchLabels: { app: nobody } }]`),
            { dns: dnsPort },
          );
          const resolver = '10.96.0.10';
          const r = await probe(pods[0]!, ['udp', resolver, '53', 'example.org', mode === 'connected' ? 'connected' : '']);
          assert.equal(r.ok, true, JSON.stringify(r));
          assert.equal(r.response, 'answer to example.org');
          assert.deepEqual(r.from, { address: resolver, port: 53 }, 'recvmsg shows the resolver, not the listener');
          if (mode === 'connected') assert.deepEqual({ ...r.peer, family: undefined }, { address: resolver, port: 53, family: undefined }, 'getpeername too');
          assert.equal(queries.length, 1);
          assert.equal(queries[0]!.from.address, members[0]!.ipv4);
          assert.deepEqual(queries[0]!.orig, {
            address: resolver,
            port: 53,
            family: 4,
            protocol: 'udp',
            endpointId: members[0]!.endpointId,
            localIdentity: members[0]!.identity,
            peerIdentity: 9,
          });
        } finally {
          dns.close();
        }
      });
    });
  }

  test('with socket acceleration, app and proxy sockets meet in the sockhash and bytes still flow both ways', T, async () => {
    await withCluster(
      ['client', 'server'],
      async ({ pods, members, node, pinRoot, applyPolicy }) => {
        const { proxy, port: proxyPort } = await startPlainProxy(node, node.gateway4);
        const sockhash = BpfMap.openPinned(join(pinRoot, MAP_NAMES.sockhash));
        try {
          applyPolicy(
            cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]`),
            { http: proxyPort },
          );
          const payload = 'x'.repeat(3000);
          const client = new LineProcess(pods[0]!.spawn(process.execPath, [PROBE, 'tcp-hold', members[1]!.ipv4, '8080', payload], { stdio: ['pipe', 'pipe', 'pipe'] }));
          await client.waitFor((l) => l['connected'] === true);
          await proxy.waitFor((l) => l['peer'] !== undefined);
          assert.equal(sockhash.keys().length, 2, 'the app socket (sockops active) and the accepted proxy socket (passive)');
          client.child.stdin!.end();
          const result = await client.waitFor((l) => l['ok'] !== undefined);
          assert.equal(result['ok'], true, JSON.stringify(result));
          assert.deepEqual(JSON.parse(result['response'] as string), { proxy: true, origDst: { address: members[1]!.ipv4, port: 8080 } });
          client.stop();
        } finally {
          sockhash.close();
          proxy.stop();
        }
      },
      { socketAcceleration: true },
    );
  });
});
