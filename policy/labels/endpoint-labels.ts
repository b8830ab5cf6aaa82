// The identity-relevant labels Cilium derives for a pod (pkg/k8s/utils, pkg/k8s/apis/cilium.io).
import { LabelSet } from './label-set.js';
import type { Label } from './label.js';
import {
  CLUSTER_LABEL,
  DEFAULT_CLUSTER_NAME,
  NAMESPACE_LABELS_PREFIX,
  NAMESPACE_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  SERVICE_ACCOUNT_LABEL,
} from './well-known-labels.js';

export interface EndpointLabelSource {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  serviceAccount?: string;
  namespaceLabels?: Readonly<Record<string, string>>;
  clusterName?: string;
}

/**
 * Pod labels, namespace, service account, cluster and namespace labels, all under `k8s:`.
 * Derived labels are added last so a pod label cannot impersonate another namespace.
 */
export function endpointLabels(ep: EndpointLabelSource): LabelSet {
  const k8s = (key: string, value: string): Label => ({ source: 'k8s', key, value });
  // Kubernetes (≥1.21) labels every namespace with its own name; policies rely on it.
  const namespaceLabels = { ...ep.namespaceLabels, [NAMESPACE_NAME_LABEL]: ep.namespace };
  return LabelSet.from([
    ...Object.entries(ep.labels)
      .filter(([key]) => !isReservedPodLabel(key))
      .map(([key, value]) => k8s(key, value)),
    k8s(POD_NAMESPACE_LABEL, ep.namespace),
    ...(ep.serviceAccount === undefined ? [] : [k8s(SERVICE_ACCOUNT_LABEL, ep.serviceAccount)]),
    k8s(CLUSTER_LABEL, ep.clusterName ?? DEFAULT_CLUSTER_NAME),
    ...Object.entries(namespaceLabels).map(([key, value]) => k8s(NAMESPACE_LABELS_PREFIX + key, value)),
  ]);
}

/**
 * Labels only meshd may set: a pod labelled `io.cilium.k8s.policy.serviceaccount=robot` must not
 * pass for a pod running as `robot`, nor claim its namespace's labels (Cilium's filterPodLabels
 * drops the same prefixes).
 */
function isReservedPodLabel(key: string): boolean {
  return key.startsWith('io.cilium.k8s.') || key === POD_NAMESPACE_LABEL;
}
