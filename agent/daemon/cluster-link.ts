// Cluster mode (`meshd agent --etcd`): how the agent's components are fed from the cluster state
// of agent/cluster (docs/adr/0008-cluster-state-etcd.md) and feed it back — identities into the
// SelectorCache, other nodes' pod IPs into the kernel ipcache (and so into xDS), policies applied
// on any node into the PolicyStore, other nodes' pod ranges into the routing table. The parts are
// functions the agent calls in its start order; each returns its unsubscribe for the stop stack.
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IpcacheTable } from '../../bpf/index.js';
import { IDENTITY_RANGES, type SelectorCache } from '../../policy/index.js';
import type { ClusterNode, ClusterPolicyDocument, ClusterState } from '../cluster/index.js';
import type { ApiRoute } from '../api/index.js';
import type { PolicyStore } from '../policy-store/index.js';
import type { Logger } from './logger.js';
import { writeJsonAtomic } from './state-file.js';
import { AgentError } from './errors.js';

const run = promisify(execFile);

/** Global-range ids are the cluster's: the cluster feed adds and removes them in the SelectorCache. */
export function isClusterIdentity(id: number): boolean {
  return id >= IDENTITY_RANGES.global.min && id <= IDENTITY_RANGES.global.max;
}

/** Seeds the SelectorCache with every cluster identity and keeps it current. */
export function feedSelectorCache(cluster: ClusterState, selectorCache: SelectorCache): () => void {
  const off = cluster.identities.onChange((c) => {
    selectorCache.update(
      c.added.map((i) => [i.id, i.labels] as const),
      c.removed.map((i) => i.id),
    );
  });
  selectorCache.update(cluster.identities.identities().map((i) => [i.id, i.labels] as const));
  return off;
}

/**
 * Other nodes' pod IPs into the kernel ipcache (xDS reads the same table). Entries of this node
 * are the EndpointManager's. `isLocalIp` guards against a stale remote entry of an address that
 * is now a local pod's. `changed` is called after every change (the reconciler republishes xDS).
 */
export function feedRemoteIpcache(o: { cluster: ClusterState; nodeName: string; ipcache: IpcacheTable; isLocalIp(ip: string): boolean; changed(): void; logger: Logger }): () => void {
  const prefixOf = (ip: string): string => (ip.includes(':') ? `${ip}/128` : `${ip}/32`);
  const off = o.cluster.ipcache.onChange((ev) => {
    if (ev.entry.node === o.nodeName || o.isLocalIp(ev.entry.ip)) return;
    try {
      if (ev.type === 'upsert') o.ipcache.upsert(prefixOf(ev.entry.ip), ev.entry.identity);
      else o.ipcache.delete(prefixOf(ev.entry.ip));
    } catch (err) {
      o.logger.error({ ip: ev.entry.ip, node: ev.entry.node, err: (err as Error).message }, 'cluster: cannot update the kernel ipcache for a remote pod');
      return;
    }
    o.changed();
  });
  for (const e of o.cluster.ipcache.remoteEntries()) if (!o.isLocalIp(e.ip)) o.ipcache.upsert(prefixOf(e.ip), e.identity);
  return off;
}

/**
 * The pinned kernel ipcache outlives the agent: remote pods that went away while it was down are
 * still in it. A /32 or /128 entry with a cluster-wide identity is a pod's — local (the
 * EndpointManager re-upserted it) or remote (the cluster has it now); anything else is stale.
 */
export function dropStaleRemoteEntries(o: { cluster: ClusterState; ipcache: IpcacheTable; isLocalIp(ip: string): boolean }): string[] {
  const remote = new Set(o.cluster.ipcache.remoteEntries().map((e) => e.ip));
  const dropped: string[] = [];
  for (const [prefix, identity] of o.ipcache.entries()) {
    const m = /^(.+)\/(32|128)$/.exec(prefix);
    if (!m || !isClusterIdentity(identity)) continue;
    const ip = m[1]!;
    if (remote.has(ip) || o.isLocalIp(ip)) continue;
    o.ipcache.delete(prefix);
    dropped.push(prefix);
  }
  return dropped;
}

/** The PolicyStore source name of a policy that came from etcd. */
function etcdSource(d: ClusterPolicyDocument): string {
  return `etcd:${d.kind}/${d.namespace ?? ''}/${d.name}`;
}

/**
 * Policies of the cluster into the PolicyStore: the startup list, then every change, one at a
 * time in etcd's order. A document whose text the store has already (this node applied it) is
 * not applied again.
 */
export async function feedPolicies(o: { cluster: ClusterState; policies: PolicyStore; logger: Logger }): Promise<{ stop(): Promise<void> }> {
  let queue: Promise<void> = Promise.resolve();
  const ref = (d: ClusterPolicyDocument): { kind: string; namespace?: string; name: string } => ({ kind: d.kind, ...(d.namespace !== undefined ? { namespace: d.namespace } : {}), name: d.name });
  const storedText = (d: ClusterPolicyDocument): string | undefined => {
    try {
      return o.policies.get(ref(d)).text;
    } catch {
      return undefined;
    }
  };
  const put = async (d: ClusterPolicyDocument): Promise<void> => {
    if (storedText(d) === d.text) return;
    try {
      await o.policies.apply([{ file: etcdSource(d), text: d.text }]);
      o.logger.info({ policy: `${d.kind}/${d.namespace ?? ''}/${d.name}`, from: d.node }, 'cluster: applied a policy from etcd');
    } catch (err) {
      o.logger.error({ policy: etcdSource(d), code: (err as { code?: string }).code, err: (err as Error).message }, 'cluster: a policy from etcd does not apply on this node; ignored');
    }
  };
  const del = async (d: ClusterPolicyDocument): Promise<void> => {
    if (storedText(d) === undefined) return;
    try {
      await o.policies.delete(ref(d));
      o.logger.info({ policy: `${d.kind}/${d.namespace ?? ''}/${d.name}` }, 'cluster: deleted a policy deleted in etcd');
    } catch (err) {
      if ((err as { code?: string }).code !== 'MESHD_ERR_POLICY_STORE_NOT_FOUND') o.logger.error({ policy: etcdSource(d), err: (err as Error).message }, 'cluster: cannot delete a policy deleted in etcd');
    }
  };
  const off = o.cluster.policies.onChange((ev) => {
    queue = queue.then(() => (ev.type === 'put' ? put(ev.document) : del(ev.document)));
  });
  for (const d of o.cluster.policies.list()) await put(d);
  // Policies this node took from etcd earlier that were deleted there while it was away.
  for (const p of o.policies.list()) {
    if (!p.file.startsWith('etcd:')) continue;
    const ref = { kind: p.kind, ...(p.namespace !== undefined ? { namespace: p.namespace } : {}), name: p.name };
    if (o.cluster.policies.get(ref)) continue;
    try {
      await o.policies.delete(ref);
      o.logger.info({ policy: p.key }, 'cluster: deleted a policy that was deleted in etcd while the agent was away');
    } catch (err) {
      o.logger.warn({ policy: p.key, err: (err as Error).message }, 'cluster: cannot delete a policy that is gone from etcd');
    }
  }
  return {
    stop: async () => {
      off();
      await queue;
    },
  };
}

/**
 * The PolicyStore's API routes, distributing: an apply is first applied here (all-or-nothing,
 * validated), then every applied document is put into etcd for the other nodes; a delete likewise.
 */
export function clusterPolicyRoutes(routes: ApiRoute[], cluster: ClusterState, policies: PolicyStore): ApiRoute[] {
  return routes.map((r): ApiRoute => {
    if (r.method === 'POST' && r.path === '/v1/policies') {
      return {
        ...r,
        handler: async (req) => {
          const result = (await r.handler(req)) as { applied: Array<{ kind: string; namespace?: string; name: string }> };
          for (const s of result.applied) {
            const ref = { kind: s.kind, ...(s.namespace !== undefined ? { namespace: s.namespace } : {}), name: s.name };
            await distribute(`${s.kind}/${s.namespace ?? ''}/${s.name}`, 'apply', () => cluster.policies.put(ref, policies.get(ref).text));
          }
          return result;
        },
      };
    }
    if (r.method === 'DELETE' && r.path === '/v1/policies') {
      return {
        ...r,
        handler: async (req) => {
          const result = (await r.handler(req)) as { deleted: { kind: string; namespace?: string; name: string } };
          const d = result.deleted;
          await distribute(`${d.kind}/${d.namespace ?? ''}/${d.name}`, 'delete', () => cluster.policies.delete({ kind: d.kind, ...(d.namespace !== undefined ? { namespace: d.namespace } : {}), name: d.name }));
          return result;
        },
      };
    }
    return r;
  });
}

async function distribute(policy: string, what: 'apply' | 'delete', write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    throw new AgentError('MESHD_ERR_AGENT_CLUSTER_PUBLISH', `policy ${policy}: the ${what} took effect on this node, but etcd did not take it for the other nodes: ${(err as Error).message}`, {
      hint: `run the same \`meshd policy ${what}\` again once etcd answers (it is idempotent); \`meshd status\` shows whether the agent is connected`,
      cause: err,
    });
  }
}

/**
 * Routes to other nodes' pod ranges via their node IPs (`ip route replace CIDR via NODE_IP`),
 * removed when the node leaves. Only with --node-ip (nodes on one L2/L3 fabric). Ranges this
 * node owns itself, and families the node IP cannot carry, are skipped.
 */
export function routeOtherNodes(o: { cluster: ClusterState; nodeName: string; ownCidrs: readonly string[]; logger: Logger }): () => void {
  const installed = new Map<string, { cidr: string; via: string }[]>();
  const routable = (n: ClusterNode): { cidr: string; via: string }[] =>
    isIP(n.nodeIp) === 0 ? [] : n.podCidrs.filter((c) => !o.ownCidrs.includes(c) && isIP(c.split('/')[0]!) === isIP(n.nodeIp)).map((cidr) => ({ cidr, via: n.nodeIp }));
  const ip = async (args: string[]): Promise<void> => {
    await run('ip', args, { timeout: 5000 });
  };
  const onJoin = async (n: ClusterNode): Promise<void> => {
    if (n.name === o.nodeName) return;
    const want = routable(n);
    for (const old of installed.get(n.name) ?? []) {
      if (!want.some((w) => w.cidr === old.cidr && w.via === old.via)) await ip(['route', 'del', old.cidr, 'via', old.via]).catch(() => undefined);
    }
    for (const r of want) {
      try {
        await ip(['route', 'replace', r.cidr, 'via', r.via]);
      } catch (err) {
        o.logger.warn({ node: n.name, cidr: r.cidr, via: r.via, err: (err as Error).message }, 'cluster: cannot install the route to a node\'s pods');
      }
    }
    installed.set(n.name, want);
    if (want.length > 0) o.logger.info({ node: n.name, routes: want }, 'cluster: routes to a node\'s pods installed');
  };
  const leave = async (n: ClusterNode): Promise<void> => {
    for (const r of installed.get(n.name) ?? routable(n)) await ip(['route', 'del', r.cidr, 'via', r.via]).catch(() => undefined);
    installed.delete(n.name);
    o.logger.info({ node: n.name }, 'cluster: node left; its routes removed');
  };
  let queue: Promise<void> = Promise.resolve();
  const off = o.cluster.nodes.onChange((ev) => {
    queue = queue.then(() => (ev.type === 'leave' ? leave(ev.node) : onJoin(ev.node)));
  });
  for (const n of o.cluster.nodes.list()) queue = queue.then(() => onJoin(n));
  return off;
}

/** What `meshd teardown` needs to revoke this node's lease (its records vanish at once). */
export const CLUSTER_RECORD_FILE = 'cluster.json';

export interface ClusterRecord {
  endpoints: string[];
  prefix: string;
  nodeName: string;
  leaseId: string;
}

export function writeClusterRecord(stateDir: string, record: ClusterRecord): void {
  writeJsonAtomic(join(stateDir, CLUSTER_RECORD_FILE), record);
}

/** `GET /v1/agent`'s `cluster` (undefined on a single node). */
export interface ClusterStatus {
  etcd: string[];
  prefix: string;
  connected: boolean;
  leaseId: string;
  leaseGeneration: number;
  /** The newest etcd revision the watches have seen. */
  revision: number;
  nodes: Array<{ name: string; nodeIp: string; podCidrs: readonly string[] }>;
  identities: number;
  remotePods: number;
  policies: number;
}

export function clusterStatus(cluster: ClusterState, o: { endpoints: string[]; prefix: string }): ClusterStatus {
  return {
    etcd: o.endpoints,
    prefix: o.prefix,
    connected: cluster.identities.watchConnected && !cluster.session.closed,
    leaseId: cluster.session.leaseId,
    leaseGeneration: cluster.session.leaseGeneration,
    revision: Math.max(cluster.identities.watchRevision, cluster.ipcache.watchRevision),
    nodes: cluster.nodes
      .list()
      .map((n) => ({ name: n.name, nodeIp: n.nodeIp, podCidrs: n.podCidrs }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    identities: cluster.identities.identities().length,
    remotePods: new Set(cluster.ipcache.remoteEntries().map((e) => `${e.node}/${e.pod ?? e.ip}`)).size,
    policies: cluster.policies.list().length,
  };
}
