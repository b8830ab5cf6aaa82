// The inspect routes of the agent API, built from the running agent's services. The daemon
// calls inspectRoutes(services); each builder above takes only the narrow sources it reads, so
// it is tested without an agent.
import type { PolicyMapEntry, PolicyTranslationOptions } from '../../bpf/index.js';
import type { EndpointPolicy, LabelSet } from '../../policy/index.js';
import { requireQuery } from '../api/index.js';
import type { ApiRoute } from '../api/index.js';
import { readPackageVersion } from '../cli/read-package-version.js';
import type { FqdnState } from '../fqdn/index.js';
import type { FlowStoreStats } from '../flows/index.js';
import type { ProxyInfo } from '../proxy-supervisor/index.js';
import type { XdsPublisherStatus } from '../xds-publish/index.js';
import { clusterStatus } from '../daemon/index.js';
import { bpfPolicyOf } from './bpf-policy.js';
import type { BpfPolicySources } from './bpf-policy.js';
import { fqdnCacheOf, fqdnCounts } from './fqdn-cache.js';
import { listIdentities } from './identities.js';
import type { IdentitySources } from './identities.js';
import { pinnedMapStats } from './map-stats.js';
import type { MapStat } from './map-stats.js';
import { agentStatus } from './status.js';

/** What the inspect routes read of a running agent (AgentServices has all of it). */
export interface InspectServices {
  options: { stateDir: string; pinRoot: string; nodeName: string; nodePrefix: string; proxy: string; policyAuditMode: boolean };
  startedAt: Date;
  datapath: { pinRoot: string; ipcache: { entries(): Array<[string, number]> } };
  allocator: { refCount(id: number): number };
  selectorCache: BpfPolicySources['selectorCache'] & { labelsOf(id: number): LabelSet | undefined };
  repository: { endpointPolicy(id: string): EndpointPolicy | undefined };
  endpoints: {
    list(): ReadonlyArray<{ id: string; endpointId: number; identity: number; state: 'running' | 'exited' }>;
    get(id: string): { endpointId: number; identity: number } | undefined;
  };
  policies: { list(): ReadonlyArray<{ auditMode: boolean }> };
  fqdn: { snapshot(): FqdnState };
  xds: { status(): XdsPublisherStatus };
  flows: { stats(): FlowStoreStats };
  proxy: { info(): ProxyInfo } | undefined;
  builtinHelper?: { info(): ProxyInfo } | undefined;
  ports: { kernel: PolicyTranslationOptions['proxyPortOf'] };
  reconciler?: { stats: { runs: number; failures: number; lastError: string | undefined; lastRunAt: Date | undefined } };
  /** Cluster mode: the etcd-backed state, and the options it was joined with. */
  cluster?: Parameters<typeof clusterStatus>[0] | undefined;
}

export interface InspectRouteOptions {
  /** Default: the pinned maps under options.pinRoot. */
  mapStats?: () => MapStat[];
}

export function inspectRoutes(s: InspectServices, o: InspectRouteOptions = {}): ApiRoute[] {
  let version: Promise<string> | undefined;
  const identitySources: IdentitySources = {
    endpoints: () => s.endpoints.list(),
    ipcache: () => s.datapath.ipcache.entries(),
    fqdnIdentities: () => s.fqdn.snapshot().ips.map((i) => i.identity),
    labelsOf: (id) => s.selectorCache.labelsOf(id),
    refCount: (id) => s.allocator.refCount(id),
  };
  const bpfSources: BpfPolicySources = {
    endpoint: (id) => s.endpoints.get(id),
    endpointPolicy: (id) => s.repository.endpointPolicy(id),
    selectorCache: s.selectorCache,
    labelsOf: (id) => s.selectorCache.labelsOf(id),
    proxyPortOf: s.ports.kernel,
    readPolicy: livePolicyReader(s.datapath),
  };
  return [
    {
      method: 'GET',
      path: '/v1/status',
      handler: async () =>
        agentStatus({
          version: await (version ??= readPackageVersion()),
          pid: process.pid,
          startedAt: s.startedAt,
          options: s.options,
          mapStats: o.mapStats ?? (() => pinnedMapStats(s.options.pinRoot)),
          proxies: () => [s.proxy, s.builtinHelper].filter((p): p is { info(): ProxyInfo } => p !== undefined).map((p) => p.info()),
          xds: () => s.xds.status(),
          endpoints: () => s.endpoints.list(),
          policies: () => s.policies.list(),
          identities: () => listIdentities(identitySources).length,
          fqdn: () => fqdnCounts(s.fqdn.snapshot()),
          flows: () => s.flows.stats(),
          ...(s.reconciler ? { reconciler: () => s.reconciler!.stats } : {}),
          cluster: () => {
            const cluster = (s.options as { cluster?: { endpoints: string[]; prefix: string } }).cluster;
            return s.cluster && cluster ? clusterStatus(s.cluster, cluster) : undefined;
          },
        }),
    },
    { method: 'GET', path: '/v1/identities', handler: async () => ({ identities: listIdentities(identitySources) }) },
    { method: 'GET', path: '/v1/bpf/policy', handler: async (req) => bpfPolicyOf(bpfSources, requireQuery(req.query, 'pod', 'empire/deathstar')) },
    { method: 'GET', path: '/v1/xds/status', handler: async () => s.xds.status() },
    { method: 'GET', path: '/v1/fqdn/cache', handler: async () => fqdnCacheOf(s.fqdn.snapshot()) },
  ];
}

/** The datapath's reader of an endpoint's live policy trie, when this build of it has one. */
function livePolicyReader(datapath: object): BpfPolicySources['readPolicy'] {
  const reader = (datapath as { readPolicy?: unknown }).readPolicy;
  if (typeof reader !== 'function') return undefined;
  return (endpointId: number) => {
    const got: unknown = reader.call(datapath, endpointId);
    if (Array.isArray(got)) return got as PolicyMapEntry[];
    if (typeof got === 'object' && got !== null && Array.isArray((got as { entries?: unknown }).entries)) return (got as { entries: PolicyMapEntry[] }).entries;
    return undefined;
  };
}
