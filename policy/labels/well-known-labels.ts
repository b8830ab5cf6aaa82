// Label keys Cilium derives for every pod (pkg/k8s/apis/cilium.io/const.go). Wire spellings.

export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';
export const SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
/** Set on every namespace by Kubernetes ≥1.21, so policies may select namespaces by name with it. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
export const DEFAULT_CLUSTER_NAME = 'default';
