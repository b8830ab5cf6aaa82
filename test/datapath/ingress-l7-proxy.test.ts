// The Star Wars shape end to end on one node: deathstar's ingress HTTP rules, translated for the
// built-in proxy (translateNode, served over xDS) and for the kernel (translateEndpointPolicy),
// are enforced by the proxy when tiefighter, a pod of the same node, calls deathstar: the
// kernel sends tiefighter's connection to the ingress listener (ingress L7 for local clients),
// the proxy finds deathstar's policy by the original destination and tiefighter's identity by
// its address, allows the landing request, refuses the other one with 403, and forwards to
// deathstar from the gateway. xwing, not allowed at L3/L4, fails at connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import { translateNode, type IpCacheEntry } from '../../xds/index.js';
import { subscribeFlows, type FlowRecord, type HttpFlowRecord } from '../../proxylib/index.js';
import type { Pod } from '../../agent/index.js';
import { HOST_IDENTITY, LineProcess, cnp, timedConnect, withCluster, type PodMember } from './datapath-harness.js';
import { POD_HTTP_SERVER, freePortOn, startServedProxy } from './ingress-l7-harness.js';

const NODE_ID = 'ingress-l7-node';

async function curlInPod(pod: Pod, args: string[]): Promise<{ status: number; body: string; code: number | null }> {
  const r = await pod.exec('curl', ['-s', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', ...args], { timeoutMs: 15_000 });
  const cut = r.stdout.lastIndexOf('\n');
  return { body: r.stdout.slice(0, cut), status: Number(r.stdout.slice(cut + 1)), code: r.code };
}

const DEATHSTAR_POLICY = cnp('deathstar', `  ingress:
    - fromEndpoints: [{ matchLabels: { app: tiefighter } }]
      toPorts:
        - ports: [{ port: "8080", protocol: TCP }]
          rules: { http: [{ method: POST, path: "/v1/request-landing" }] }`);

/** The proxy's half of the configuration: the same policy and identities as the kernel's. */
function proxyTranslation(members: readonly PodMember[], gateways: { ipv4: string; ipv6: string }, port: number) {
  const repo = new Repository();
  const selectors = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectors.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [
    { prefix: `${gateways.ipv4}/32`, identity: HOST_IDENTITY },
    { prefix: `${gateways.ipv6}/128`, identity: HOST_IDENTITY },
  ];
  for (const m of members) {
    const ep = repo.upsertEndpoint({ name: m.app, namespace: 'default', labels: { app: m.app }, ips: [m.ipv4, m.ipv6], namedPorts: [] });
    selectors.addIdentity(m.identity, ep.identityLabels);
    ipcache.push({ prefix: `${m.ipv4}/32`, identity: m.identity }, { prefix: `${m.ipv6}/128`, identity: m.identity });
  }
  const loaded = loadPolicyText('deathstar.yaml', DEATHSTAR_POLICY);
  assert.deepEqual(loaded.problems, []);
  for (const p of loaded.policies) repo.upsertPolicy(p);
  return translateNode({
    target: 'builtin',
    endpoints: repo.resolveAll(),
    identitiesOf: (s) => selectors.register(s).selections(),
    ipcache,
    proxyAddresses: [gateways.ipv4, gateways.ipv6],
    proxyPortOf: (key) => (key.l7 === 'http' && key.direction === 'ingress' ? port : undefined),
  });
}

test("deathstar's ingress HTTP rules are enforced by the built-in proxy for tiefighter on the same node, and xwing fails at connect", { timeout: 120_000 }, async () => {
  await withCluster(['deathstar', 'tiefighter', 'xwing'], async ({ dp, pods, members, node, applyPolicy }) => {
    const [deathstar, tiefighter, xwing] = members as [PodMember, PodMember, PodMember];
    const flows: FlowRecord[] = [];
    const unsubscribe = subscribeFlows((r) => flows.push(r));
    let served: Awaited<ReturnType<typeof startServedProxy>> | undefined;
    let server: LineProcess | undefined;
    try {
      const port = await freePortOn(node.gateway4);
      const translation = proxyTranslation(members, { ipv4: node.gateway4, ipv6: node.gateway6 }, port);
      assert.equal(translation.redirects.length, 1, `one ingress HTTP redirect: ${JSON.stringify(translation.skipped)}`);
      served = await startServedProxy(dp, NODE_ID, translation);
      applyPolicy(DEATHSTAR_POLICY, { http: port });
      server = new LineProcess(pods[0]!.spawn(process.execPath, ['-e', POD_HTTP_SERVER, '8080'], { stdio: ['ignore', 'pipe', 'pipe'] }));
      await server.waitFor((l) => l['listening'] === true, 10_000);

      for (const family of [4, 6] as const) {
        const target = family === 4 ? `http://${deathstar.ipv4}:8080` : `http://[${deathstar.ipv6}]:8080`;
        const gateway = family === 4 ? node.gateway4 : node.gateway6;
        const landing = await curlInPod(pods[1]!, ['-X', 'POST', `${target}/v1/request-landing`]);
        assert.equal(landing.status, 200, `IPv${family} landing: ${JSON.stringify(landing)}`);
        const seen = JSON.parse(landing.body) as { server: string; method: string; url: string; from: string };
        assert.deepEqual({ ...seen, from: seen.from.replace(/^::ffff:/, '') }, { server: 'pod', method: 'POST', url: '/v1/request-landing', from: gateway }, 'deathstar was reached by the proxy');

        const exhaust = await curlInPod(pods[1]!, ['-X', 'PUT', `${target}/v1/exhaust-port`]);
        assert.equal(exhaust.status, 403, `IPv${family} exhaust port: the proxy refuses it: ${JSON.stringify(exhaust)}`);

        const address = family === 4 ? deathstar.ipv4 : deathstar.ipv6;
        assert.equal((await timedConnect(pods[2]!, address, 8080)).code, 'EPERM', `IPv${family}: xwing is not allowed at L3/L4`);
      }

      const http = flows.filter((f): f is HttpFlowRecord => f.type === 'http');
      const forwarded = http.find((f) => f.verdict === 'FORWARDED');
      const denied = http.find((f) => f.verdict === 'DENIED');
      assert.ok(forwarded && denied, `a FORWARDED and a DENIED flow: ${JSON.stringify(flows)}`);
      for (const f of [forwarded, denied]) {
        assert.equal(f.source.identity, tiefighter.identity, 'the source is tiefighter, by its address');
        assert.equal(f.destination.identity, deathstar.identity);
        assert.equal(f.destination.port, 8080, 'the original destination from the datapath');
      }
      assert.ok(!http.some((f) => f.source.identity === xwing.identity), 'xwing never reached the proxy');
    } finally {
      unsubscribe();
      server?.stop();
      await served?.close();
    }
  });
});
