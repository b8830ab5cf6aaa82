// The agent's single entry: join the cluster (session + lease), register the node, and mirror
// identities, ipcache and policies. Each part resolves only after its initial list, so once this
// returns every lookup is answered from the local mirrors, synchronously.
import type { IdentityAllocator } from '../../policy/index.js';
import { ClusterIdentityAllocator } from './cluster-identity-allocator.js';
import { ClusterIpcache } from './cluster-ipcache.js';
import { ClusterNodes } from './cluster-nodes.js';
import { ClusterPolicySource } from './cluster-policy-source.js';
import { ClusterSession } from './cluster-session.js';
import type { ClusterSessionOptions } from './cluster-session.js';

export interface ClusterStateOptions extends ClusterSessionOptions {
  /** The node's own allocator (reserved and CIDR/FQDN identities stay in it). */
  localAllocator: IdentityAllocator;
  nodeIp: string;
  podCidrs: readonly string[];
  gcIntervalMs?: number;
}

export interface ClusterState {
  readonly session: ClusterSession;
  readonly identities: ClusterIdentityAllocator;
  readonly ipcache: ClusterIpcache;
  readonly nodes: ClusterNodes;
  readonly policies: ClusterPolicySource;
  /** `revoke` on a node leaving for good (records vanish at once); not on an agent restart. */
  close(o?: { revoke?: boolean }): Promise<void>;
}

export async function openClusterState(o: ClusterStateOptions): Promise<ClusterState> {
  const session = await ClusterSession.open(o);
  const opened: { close(): Promise<void> }[] = [];
  try {
    const identities = await ClusterIdentityAllocator.open({ session, local: o.localAllocator, ...(o.gcIntervalMs !== undefined ? { gcIntervalMs: o.gcIntervalMs } : {}) });
    opened.push(identities);
    const nodes = await ClusterNodes.open({ session, self: { nodeIp: o.nodeIp, podCidrs: o.podCidrs } });
    opened.push(nodes);
    const ipcache = await ClusterIpcache.open({ session });
    opened.push(ipcache);
    const policies = await ClusterPolicySource.open({ session });
    opened.push(policies);
    return {
      session,
      identities,
      ipcache,
      nodes,
      policies,
      async close(c = {}) {
        for (const part of opened.reverse()) await part.close().catch(() => undefined);
        await session.close(c);
      },
    };
  } catch (err) {
    for (const part of opened.reverse()) await part.close().catch(() => undefined);
    await session.close();
    throw err;
  }
}
