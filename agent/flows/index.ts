// Public entry of agent/flows: the flow ring, the collector that fills it from the kernel and the
// proxy, the deciding-policy lookup, filters, the service map and the flow API routes.
export type { Flow, FlowEndpointRef, FlowFilter, FlowProtocol, FlowVerdict, NewFlow } from './types.js';
export { FLOW_PROTOCOLS, FLOW_VERDICTS } from './types.js';
export { FLOWS_ERROR_CODES, FlowsError } from './errors.js';
export type { FlowsErrorCode } from './errors.js';
export { FlowStore, DEFAULT_FLOW_CAPACITY, DEFAULT_FOLLOWER_QUEUE } from './flow-store.js';
export type { FlowStoreOptions, FlowStoreStats } from './flow-store.js';
export { FlowCollector } from './flow-collector.js';
export type { FlowCollectorOptions } from './flow-collector.js';
export { agentFlowEnrichment, labelStrings } from './enrichment.js';
export type { FlowEnrichment } from './enrichment.js';
export { decidingPolicy, entryPolicyName, namePolicyOf } from './deciding-policy.js';
export type { DecidingPolicy } from './deciding-policy.js';
export { kernelEventToFlow, kernelVerdict } from './kernel-flow.js';
export { proxyRecordToFlow, proxySummary } from './proxy-flow.js';
export { parseFlowQuery, matchesFlowFilter, normalizePodRef, flowQueryParams, FLOW_QUERY_KEYS } from './flow-filter.js';
export type { FlowQuery } from './flow-filter.js';
export { buildServiceMap, serviceMapNodeOf } from './service-map.js';
export type { ServiceMap, ServiceMapEdge, ServiceMapNode } from './service-map.js';
export { renderServiceMapSvg } from './service-map-svg.js';
export { flowRoutes } from './flow-routes.js';
export type { FlowListResponse } from './flow-routes.js';
