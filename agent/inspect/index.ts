// Public entry of agent/inspect: what `meshd status`, `endpoint list`, `identity list`,
// `bpf policy get`, `xds status` and `fqdn cache list` show — the agent's routes that compute
// it and the text renderings the CLI prints.
export { inspectRoutes } from './routes.js';
export type { InspectServices, InspectRouteOptions } from './routes.js';
export { agentStatus, renderStatus } from './status.js';
export type { AgentStatus, ComponentStatus, Health, StatusSources } from './status.js';
export { pinnedMapStats } from './map-stats.js';
export type { MapStat } from './map-stats.js';
export { listIdentities, renderIdentities } from './identities.js';
export type { IdentityRow, IdentitySources, IdentityScopeName } from './identities.js';
export { bpfPolicyOf, renderBpfPolicy } from './bpf-policy.js';
export type { BpfPolicyReport, BpfPolicyRow, BpfPolicySources, BpfVerdict } from './bpf-policy.js';
export { renderXdsStatus, shortTypeName } from './xds-status.js';
export type { XdsStatusReport } from './xds-status.js';
export { renderEndpoints } from './endpoints.js';
export type { EndpointRow } from './endpoints.js';
export { fqdnCacheOf, fqdnCounts } from './fqdn-cache.js';
export type { FqdnCacheReport, FqdnCacheSource } from './fqdn-cache.js';
export { parsePodRef, DEFAULT_POD_NAMESPACE } from './pod-ref.js';
export { INSPECT_ERROR_CODES, InspectError } from './errors.js';
export type { InspectErrorCode } from './errors.js';
