// Public entry of the pods module: network namespace + veth + cgroup v2 "pods" on this node,
// for the datapath's integration tests and bench/bpf (docs/pods.md).

export { PODS_ERROR_CODES, PodError, PodCommandError, type PodsErrorCode } from './errors.js';
export { cgroup2Mount } from './mountinfo.js';
export {
  CLUSTER_CIDR4,
  CLUSTER_CIDR6,
  DEFAULT_PREFIX,
  GATEWAY4,
  GATEWAY6,
  GATEWAY_INTERFACE,
  POD_CIDR4,
  POD_CIDR6,
  resolvePodRanges,
  type PodRanges,
  type PodRangeOptions,
} from './addresses.js';
export { setupNode, describeNode, destroyNode, type NodeNetwork, type SetupNodeOptions } from './node-network.js';
export {
  createPod,
  deletePod,
  type CreatePodOptions,
  type Pod,
  type PodSpec,
  type ExecResult,
  type PodSpawnOptions,
  type PodExecOptions,
} from './pod.js';
export { cleanupAll, testPrefix } from './cleanup.js';
export { withPods } from './with-pods.js';
