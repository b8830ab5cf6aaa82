// The daemon's own API routes: what the agent process is (options, pid, proxy, reconciler), for
// `meshd status` and for tests that wait until a change was enforced.
import type { ApiRoute } from '../api/index.js';
import type { AgentServices } from './agent.js';
import { clusterStatus, type ClusterStatus } from './cluster-link.js';

export interface AgentInfo {
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  options: AgentServices['options'];
  node: { name: string; prefix: string; gateway4: string; gateway6: string; proxyCgroup: string };
  proxyPorts: ReturnType<AgentServices['ports']['list']>;
  proxy: ReturnType<NonNullable<AgentServices['proxy']>['info']> | undefined;
  builtinHelper: ReturnType<NonNullable<AgentServices['builtinHelper']>['info']> | undefined;
  xds: { socket: string; version: number };
  reconciler: { runs: number; failures: number; lastDurationMs: number | undefined; lastRunAt: string | undefined; lastError: string | undefined };
  bpf: { pinRoot: string; mapIds: Record<string, number> };
  /** Cluster mode (--etcd): etcd connection, lease, nodes, revision; undefined on a single node. */
  cluster: ClusterStatus | undefined;
}

export function agentInfo(s: AgentServices): AgentInfo {
  const r = s.reconciler.stats;
  return {
    pid: process.pid,
    startedAt: s.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - s.startedAt.getTime()) / 1000),
    options: s.options,
    node: { name: s.options.nodeName, prefix: s.node.prefix, gateway4: s.node.gateway4, gateway6: s.node.gateway6, proxyCgroup: s.node.proxyCgroup },
    proxyPorts: s.ports.list(),
    proxy: s.proxy?.info(),
    builtinHelper: s.builtinHelper?.info(),
    xds: { socket: s.xds.socketPath, version: s.xds.version },
    reconciler: { runs: r.runs, failures: r.failures, lastDurationMs: r.lastDurationMs, lastRunAt: r.lastRunAt?.toISOString(), lastError: r.lastError },
    bpf: { pinRoot: s.datapath.pinRoot, mapIds: s.datapath.mapIds() },
    cluster: s.cluster && s.options.cluster ? clusterStatus(s.cluster, s.options.cluster) : undefined,
  };
}

export function coreRoutes(s: AgentServices): ApiRoute[] {
  return [
    { method: 'GET', path: '/v1/agent', handler: async () => agentInfo(s) },
    // Resolves once every change so far reached the kernel and the xDS snapshot; with
    // ?wait=proxy also once the proxy ACKed (or NACKed) that snapshot (10 s at most).
    {
      method: 'POST',
      path: '/v1/agent/reconcile',
      handler: async (req) => {
        await s.reconcile();
        const version = s.xds.version;
        if (req.query.get('wait') !== 'proxy' || !s.proxy) return { xdsVersion: version };
        await s.xds.waitForSync({ nodeId: s.proxy.info().nodeId, version, timeoutMs: 10_000, signal: req.signal });
        const proxy = s.xds.status().proxies.find((p) => p.nodeId === s.proxy!.info().nodeId);
        return { xdsVersion: version, proxy };
      },
    },
  ];
}
