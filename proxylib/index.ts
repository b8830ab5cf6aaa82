// Public entry of proxylib, meshd's built-in L7 proxy: agent/, test/ and bench/ import it only through
// this file (scripts/check-layers.mjs). It is an xDS client of meshd's server (or any ADS server) and
// runs the Listener/Route/Cluster/Endpoint/Secret resources Envoy would run.

// ---- errors ----------------------------------------------------------------------------------
export { ProxyError, PROXY_ERROR_CODES } from './errors.js';
export type { ProxyErrorCode } from './errors.js';

// ---- shared types (the issue-5 contract) -----------------------------------------------------
export type * from './config/types.js';
export type * from './rbac/types.js';
export type * from './hcm/types.js';
export type * from './upstream/types.js';
export type { FlowVerdict, FlowPeer, HttpFlowRecord, KafkaFlowRecord, TcpFlowRecord, FlowRecord } from './flow/types.js';
export { FLOW_CHANNEL } from './flow/types.js';
export type * from './config-store/types.js';

// ---- configuration: xDS client and config store (C2) ----------------------------------------
export { ConfigStore, defaultCompilers } from './config-store/index.js';
export type { ResourceCompilers, AcceptedResource } from './config-store/index.js';
export { DeltaXdsClient, formatNackDetail, parseXdsAddress, splitHostPort } from './xds-client/index.js';
export type { XdsClientOptions, XdsClientStatus, XdsClientEvent, XdsTypeStatus, XdsNodeInfo, NackRecord, XdsAddress } from './xds-client/index.js';

// ---- the proxy, its admin server (C2) ---------------------------------------------------------
export { BuiltinProxy } from './proxy.js';
export type { BuiltinProxyOptions, DataPlane, DataPlaneDeps } from './proxy.js';
export { startAdminServer } from './admin/index.js';
export type { AdminServer, AdminSources } from './admin/index.js';

// ---- the building blocks, for agent/, test/ and bench/ (each folder's own index) -----------------
export * from './codec/index.js';
export * from './http/index.js';
export * from './hcm/index.js';
export * from './rbac/index.js';
export {
  compileStringMatcher,
  compileRegexMatcher,
  compileFullMatchRegex,
  asciiLower,
  compileHeaderMatcher,
  compileHeaderMatcherWithName,
  parseInt64,
  compileCidrRange,
  compileCidrRangeDetailed,
  isIpAddress,
  compileQueryParameterMatcher,
  parseQueryParameters,
  percentDecode,
} from './matchers/index.js';
export type { StringPredicate, HeaderLookup, HeaderPredicate, CompiledHeaderMatcher, AddressPredicate, CompiledCidr, QueryParameters, QueryPredicate } from './matchers/index.js';
export {
  compileListener,
  compileRouteConfiguration,
  compileCluster,
  compileLoadAssignment,
  compileSecret,
  compileResource,
  referencesOfListener,
  referencesOfCluster,
  registerNetworkFilter,
  checkSupportedFields,
  Problems,
  NOT_IMPLEMENTED,
  HCM_DEFAULTS,
  HTTP2_DEFAULTS,
  DEFAULT_BUFFER_LIMIT_BYTES,
  DEFAULT_ROUTE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
  TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS,
  stripPort,
} from './config/index.js';
export type { NetworkFilterCompiler, NetworkFilterContext, ListenerReferences, ClusterReferences, CompiledResource } from './config/index.js';
export * from './listener/index.js';
export * from './upstream/index.js';
export { handleHttp1Connection, createHttp1Handler, http1PoolOf, Http1Pool } from './http1/index.js';
export type { Http1PoolOptions, Http1PoolStats } from './http1/index.js';
export * from './http2/index.js';
export { isFlowObserved, publishFlow, subscribeFlows } from './flow/index.js';
// The Kafka filter (codec, per-API semantics, the filter); importing it registers the filter.
export * from './kafka/index.js';
// The DNS proxy's data plane (UDP and TCP filters, the answer hook); importing it registers the filter.
export * from './dns/index.js';
