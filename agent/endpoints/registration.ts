// Steps both endpoint sources share (EndpointManager for `meshd pod run` pods, K8sPodRegistry for
// Kubernetes pods): an endpoint's addresses in the local ipcache and in the cluster's, and the
// release of its identity.
import { isIP } from 'node:net';
import type { LabelSet } from '../../policy/index.js';
import type { EndpointInfo, EndpointManagerOptions, EndpointStatus } from './endpoint-manager.js';

/** What the shared steps use of either source's options. */
export type RegistrationContext = Pick<EndpointManagerOptions, 'datapath' | 'allocator' | 'selectorCache' | 'logger' | 'publisher'>;

/** The ipcache key of one address. */
export function hostPrefix(ip: string): string {
  return isIP(ip) === 4 ? `${ip}/32` : `${ip}/128`;
}

/** Maps each address to the identity in the local ipcache. */
export function upsertAddresses(o: RegistrationContext, ips: readonly string[], identity: number): void {
  for (const ip of ips) o.datapath.ipcache.upsert(hostPrefix(ip), identity);
}

export function deleteAddresses(o: RegistrationContext, ips: readonly string[]): void {
  for (const ip of ips) o.datapath.ipcache.delete(hostPrefix(ip));
}

/** Releases one reference to the identity of `labels`; the last one takes it out of the selector cache. */
export async function releaseIdentity(o: RegistrationContext, labels: LabelSet): Promise<void> {
  const released = await o.allocator.release(labels);
  // In cluster mode the cluster feed removes cluster-wide ids (pods of other nodes may hold them).
  if (released && released.refCount === 0 && !o.publisher?.ownsIdentity(released.id)) o.selectorCache.removeIdentity(released.id);
}

/** Cluster mode: a failure is logged, not thrown — the pod works on this node, and the entry
 *  is put again with every other record of the node when its lease is renewed. */
export async function publishAddresses(o: RegistrationContext, pod: string, ips: readonly string[], identity: number): Promise<void> {
  const publisher = o.publisher;
  if (!publisher) return;
  try {
    for (const ip of ips) await publisher.publish({ ip, identity, pod });
  } catch (err) {
    o.logger.warn({ endpoint: pod, code: (err as { code?: string }).code, err: (err as Error).message }, 'cannot publish the pod to the cluster now; other nodes learn it when etcd is back');
  }
}

export async function unpublishAddresses(o: RegistrationContext, pod: string, ips: readonly string[]): Promise<void> {
  const publisher = o.publisher;
  if (!publisher) return;
  for (const ip of ips) {
    try {
      await publisher.unpublish(ip);
    } catch (err) {
      // Not retried: the entry goes with this node's lease at the latest.
      o.logger.warn({ endpoint: pod, ip, err: (err as Error).message }, 'cannot withdraw the pod address from the cluster now');
    }
  }
}

/** The endpoints with policy enforcement and audit mode, for `meshd endpoint list`. */
export function statusesOf(o: Pick<EndpointManagerOptions, 'repository' | 'auditModeOf'>, endpoints: readonly EndpointInfo[]): EndpointStatus[] {
  return endpoints.map((info) => {
    const policy = o.repository.endpointPolicy(info.id);
    return {
      ...info,
      policyEnforcement: { ingress: policy?.ingress.isDefaultDeny ?? false, egress: policy?.egress.isDefaultDeny ?? false },
      auditMode: o.auditModeOf?.(info.id) ?? false,
    };
  });
}
