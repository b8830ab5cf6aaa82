// The proxied contender's configuration, made the product's way: a CiliumNetworkPolicy with a kafka
// topic rule → the policy engine (Repository, identities) → translateNode for the built-in proxy →
// a snapshot meshd's xDS server serves. (test/proxy/harness.ts has the same steps; bench/ may not
// import test/, so the few lines are repeated here.)
//
// Addresses: the broker pod is 127.0.<BENCH_SUBNET>.20 on loopback; the client pod's identity is
// what 127.0.0.1 resolves to in the proxy (kcat cannot bind a source address), so the policy is an
// ingress policy on the broker pod, whose peer is the connection's source.
import {
  IdentityAllocator,
  RESERVED_IDENTITIES,
  Repository,
  SelectorCache,
  loadPolicyText,
  type EndpointSpec,
} from '../../policy/index.js';
import { Snapshot, translateNode, type IpCacheEntry } from '../../xds/index.js';

export const BENCH_SUBNET = 210;
export const BROKER_POD_IP = `127.0.${BENCH_SUBNET}.20`;
export const CLIENT_POD_IP = `127.0.${BENCH_SUBNET}.21`;
/** The topic the bench produces to; the policy allows producing only this one. */
export const BENCH_TOPIC = 'bench-orders';
/** A topic the policy denies (probed once before measuring: the policy is really enforced). */
export const DENIED_TOPIC = 'bench-forbidden';

function pods(): EndpointSpec[] {
  return [
    { name: 'kafka', namespace: 'bench', labels: { app: 'kafka' }, ips: [BROKER_POD_IP], namedPorts: [] },
    { name: 'producer', namespace: 'bench', labels: { app: 'producer' }, ips: [CLIENT_POD_IP], namedPorts: [] },
  ];
}

export function benchPolicyYaml(brokerPort: number): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: bench-kafka
  namespace: bench
spec:
  endpointSelector:
    matchLabels:
      app: kafka
  ingress:
    - fromEndpoints:
        - matchLabels:
            app: producer
      toPorts:
        - ports:
            - port: "${brokerPort}"
              protocol: TCP
          rules:
            kafka:
              - role: produce
                topic: ${BENCH_TOPIC}
`;
}

export interface BenchProxyConfig {
  snapshot: Snapshot;
  /** The client pod's identity (127.0.0.1 maps to it in the proxy process). */
  clientIdentity: number;
  /** ipcache entries: address → identity, for the proxy's identity resolver. */
  ipcache: IpCacheEntry[];
}

/** Translates the bench policy for a broker pod listening on `brokerPort` and a proxy listener on `proxyPort`. */
export function benchProxyConfig(brokerPort: number, proxyPort: number): BenchProxyConfig {
  const loaded = loadPolicyText('bench-kafka.yaml', benchPolicyYaml(brokerPort));
  if (loaded.problems.length > 0) throw new Error(`bench policy: ${loaded.problems.map((p) => p.message).join('; ')}`);
  const repo = new Repository();
  for (const p of loaded.policies) repo.upsertPolicy(p);
  for (const e of pods()) repo.upsertEndpoint(e);
  const allocator = new IdentityAllocator();
  const selectors = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectors.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [];
  for (const e of repo.listEndpoints()) {
    const { id } = allocator.allocate(e.identityLabels);
    selectors.addIdentity(id, e.identityLabels);
    for (const ip of e.ips) ipcache.push({ prefix: `${ip}/32`, identity: id });
  }
  const t = translateNode({
    target: 'builtin',
    endpoints: repo.resolveAll(),
    identitiesOf: (s) => selectors.register(s).selections(),
    ipcache,
    proxyAddresses: ['127.0.0.1'],
    proxyPortOf: (key) => (key.l7 === 'kafka' && key.direction === 'ingress' ? proxyPort : undefined),
  });
  if (!t.redirects.some((r) => r.key.l7 === 'kafka')) throw new Error(`the bench policy yields no Kafka redirect (skipped: ${JSON.stringify(t.skipped)}; warnings: ${JSON.stringify(t.warnings)})`);
  const clientIdentity = ipcache.find((e) => e.prefix === `${CLIENT_POD_IP}/32`)?.identity;
  if (clientIdentity === undefined) throw new Error('no identity for the bench client pod');
  const snapshot = Snapshot.fromMessages({ version: 'bench-1', listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets });
  return { snapshot, clientIdentity, ipcache };
}
