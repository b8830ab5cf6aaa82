// Several real `meshd agent` processes in this network namespace sharing one real etcd: each its
// own state dir, pin root, node prefix, node name and proxy port range (test/agent/agent-harness),
// all with --etcd on one fresh prefix. The pods of all of them live in the root namespace's
// routing table, so a pod of agent A reaches a pod of agent B directly; what each agent knows of
// the other's pods comes only from etcd. Everything is torn down whatever happens.
import type { EndpointInfo } from '../../agent/index.js';
import { withAgent, type AgentWorld } from '../agent/agent-harness.js';
import { probeFrom } from '../agent/endpoints-harness.js';
import { EtcdHarness, waitFor } from './etcd-harness.js';
import { uniquePrefix } from './etcd-nodes.js';

export interface ClusterWorld {
  etcd: EtcdHarness;
  prefix: string;
  agents: AgentWorld[];
  /** The `meshd agent` flags that join this cluster. */
  clusterArgs: string[];
}

export async function withEtcdAgents(o: { count: number; leaseTtlSeconds?: number; what: string }, fn: (w: ClusterWorld) => Promise<void>): Promise<void> {
  const etcd = await EtcdHarness.start();
  const prefix = uniquePrefix(o.what);
  const clusterArgs = ['--etcd', etcd.url, '--etcd-prefix', prefix, '--etcd-lease-ttl', String(o.leaseTtlSeconds ?? 15), '--log-level', 'info'];
  const agents: AgentWorld[] = [];
  const nest = async (i: number): Promise<void> => {
    if (i === o.count) return fn({ etcd, prefix, agents, clusterArgs });
    await withAgent({ args: clusterArgs }, async (w) => {
      agents.push(w);
      await nest(i + 1);
    });
  };
  try {
    await nest(0);
  } finally {
    await etcd.dispose();
  }
}

export interface ClusterInfo {
  connected: boolean;
  leaseId: string;
  revision: number;
  nodes: Array<{ name: string; nodeIp: string; podCidrs: string[] }>;
  identities: number;
  remotePods: number;
  policies: number;
}

export async function clusterInfo(w: AgentWorld): Promise<ClusterInfo> {
  const info = (await w.info()) as unknown as { cluster?: ClusterInfo };
  if (!info.cluster) throw new Error(`agent ${w.place.nodeName} reports no cluster state`);
  return info.cluster;
}

export async function runPod(w: AgentWorld, name: string, labels: Record<string, string>, command: string[]): Promise<EndpointInfo> {
  return w.api.post<EndpointInfo>('/v1/pods', { name, labels, command });
}

export async function pods(w: AgentWorld): Promise<EndpointInfo[]> {
  return (await w.api.get<{ pods: EndpointInfo[] }>('/v1/pods')).pods;
}

export async function applyPolicy(w: AgentWorld, file: string, text: string): Promise<void> {
  await w.api.post('/v1/policies', { sources: [{ file, text }] });
}

export async function policyNames(w: AgentWorld): Promise<string[]> {
  return (await w.api.get<{ policies: Array<{ name: string }> }>('/v1/policies')).policies.map((p) => p.name).sort();
}

/** Every change this agent has seen so far is in kernel and xDS. */
export async function reconciled(w: AgentWorld): Promise<void> {
  await w.api.post('/v1/agent/reconcile', {});
}

export async function connects(from: EndpointInfo, to: EndpointInfo, port: number): Promise<boolean> {
  return (await probeFrom(from, ['tcp', to.ipv4, String(port)])).ok;
}

/** Polls until `from` → `to` gives `expected` (policies travel through etcd asynchronously). */
export async function eventuallyConnects(from: EndpointInfo, to: EndpointInfo, port: number, expected: boolean, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${from.id} → ${to.id}:${port} to be ${expected ? 'allowed' : 'denied'}`, async () => (await connects(from, to, port)) === expected, timeoutMs);
}
