// Cluster state through etcd (issue 9): cluster-wide identities, the shared ipcache, node
// membership and distributed policies. `openClusterState` is the one call the agent makes; the
// parts are exported for tests and for finer wiring. See docs/adr/0008-cluster-state-etcd.md.
export { ClusterSession } from './cluster-session.js';
export type { ClusterSessionOptions, ClusterLogger } from './cluster-session.js';
export { ClusterIdentityAllocator } from './cluster-identity-allocator.js';
export type { ClusterIdentity, ClusterIdentityChange, IdentityChangeListener, IdentityReassignedListener, ClusterIdentityAllocatorOptions } from './cluster-identity-allocator.js';
export { ClusterIpcache } from './cluster-ipcache.js';
export type { ClusterIpcacheEntry, IpcacheEvent, IpcacheListener } from './cluster-ipcache.js';
export { ClusterNodes } from './cluster-nodes.js';
export type { ClusterNode, NodeEvent, NodeListener } from './cluster-nodes.js';
export { ClusterPolicySource } from './cluster-policy-source.js';
export type { ClusterPolicyRef, ClusterPolicyDocument, PolicyEvent, PolicyListener } from './cluster-policy-source.js';
export { ClusterKeys } from './etcd-keys.js';
export { ClusterError, CLUSTER_ERROR_CODES } from './errors.js';
export type { ClusterErrorCode } from './errors.js';
export { openClusterState } from './cluster-state.js';
export type { ClusterState, ClusterStateOptions } from './cluster-state.js';
