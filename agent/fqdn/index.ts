// Public entry of agent/fqdn: the toFQDNs learning and enforcement side of the DNS proxy
// (issue 7). FqdnManager is the DnsAnswerObserver handed to BuiltinProxy.start; the rest are its
// parts, exported for the agent's wiring, the CLI and tests.
export { FqdnManager, FQDN_DEFAULTS } from './fqdn-manager.js';
export type { FqdnManagerOptions, FqdnIpcache } from './fqdn-manager.js';
export { FqdnCache } from './fqdn-cache.js';
export type { FqdnCacheOptions, CachedIp, DroppedIp } from './fqdn-cache.js';
export { FqdnSelectorSet } from './fqdn-selectors.js';
export { EndpointPolicyRegenerator } from './policy-regenerator.js';
export type { PolicyUpdater, PolicyWriter, EndpointPolicyRegeneratorOptions } from './policy-regenerator.js';
export { UdpPeerActivity } from './flow-activity.js';
export type { FlowActivity } from './flow-activity.js';
export { FQDN_STATE_FILE, fqdnStatePath, loadFqdnState, saveFqdnState, decodeFqdnState } from './fqdn-state-file.js';
export type { FqdnState, FqdnStateName, FqdnStateIp } from './fqdn-state-file.js';
export { listFqdnState, renderFqdnListing } from './fqdn-listing.js';
export type { FqdnListing, FqdnListingIp } from './fqdn-listing.js';
export { FqdnError, FQDN_ERROR_CODES } from './errors.js';
export type { FqdnErrorCode, FqdnWarning } from './errors.js';
export { canonicalIp } from './host-prefix.js';
