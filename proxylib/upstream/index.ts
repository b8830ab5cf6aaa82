// The cluster layer: endpoint choice and upstream connections (TLS origination included).
export type { ClusterManager, ConnectOptions, PickContext, PickResult, UpstreamTarget } from './types.js';
export { hostOfAuthority, ViewClusterManager, type ClusterManagerOptions } from './cluster-manager.js';
export { LoadBalancer, type LbPolicy } from './load-balancer.js';
export {
  describeRef,
  matchesAnySan,
  parseSubjectAltNames,
  resolveCertificate,
  resolveValidation,
  SecureContextCache,
  subjectToRfc2253,
  type ResolvedTls,
  type SubjectAltNames,
} from './tls-material.js';
// D-http1's keep-alive pool (http1-pool.ts, owned by D-http1), exported here so other folders can
// reach it through this entry instead of the file.
export { Http1Pool, PooledConnection, type Http1PoolOptions, type Http1PoolStats, type UpstreamConnectionHandler } from './http1-pool.js';
