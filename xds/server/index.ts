// Public entry of the xDS server: *how* the protocol delivers what the cache (xds/cache/) holds, over
// ADS and the per-type services, SotW and Delta.
export { XdsServer } from './xds-server.js';
export type { XdsServerOptions } from './xds-server.js';
export type { XdsServerCallbacks, XdsServerMetrics, StreamInfo, ResponseSummary } from './callbacks.js';
export { SERVED_SERVICES, grpcDefinitionOf, methodPath } from './ads.js';
export type { XdsLogger } from '../cache/index.js';
// The wire messages of the discovery services, for clients and tests that speak the protocol.
export {
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  ResourceSchema as DiscoveryResourceSchema,
} from '../generated/envoy/service/discovery/v3/discovery_pb.js';
export type { DiscoveryRequest, DiscoveryResponse, DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource as DiscoveryResource } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
