// In-process "nodes" for the cluster tests: each one its own etcd client, lease and mirrors, the
// same objects `meshd agent --etcd` opens (openClusterState).
import { openClusterState } from '../../agent/index.js';
import type { ClusterState } from '../../agent/index.js';
import { IdentityAllocator, LabelSet } from '../../policy/index.js';

export interface TestNode extends ClusterState {
  readonly name: string;
}

let counter = 0;

/** A node joined to the etcd at `url` under `prefix` (one prefix per test keeps them apart). */
export async function openTestNode(o: { url: string; prefix: string; name?: string; leaseTtlSeconds?: number; index?: number }): Promise<TestNode> {
  const index = o.index ?? counter++;
  const name = o.name ?? `node-${index}`;
  const { allocator } = await IdentityAllocator.open();
  const state = await openClusterState({
    endpoints: [o.url],
    nodeName: name,
    prefix: o.prefix,
    leaseTtlSeconds: o.leaseTtlSeconds ?? 10,
    connectTimeoutMs: 10_000,
    localAllocator: allocator,
    nodeIp: `192.168.200.${(index % 250) + 1}`,
    podCidrs: [`10.244.${index % 250}.0/24`],
    gcIntervalMs: 0,
  });
  return Object.assign(state, { name });
}

export async function closeAll(nodes: readonly (TestNode | undefined)[]): Promise<void> {
  // Bounded: a node cut off from etcd must not hold the test up.
  for (const node of nodes) {
    if (!node) continue;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([node.close({ revoke: true }).catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
  }
}

export function labels(...texts: string[]): LabelSet {
  return LabelSet.parse(texts);
}

let prefixCounter = 0;
export function uniquePrefix(what: string): string {
  return `meshd-test-${process.pid}-${what}-${prefixCounter++}`;
}
