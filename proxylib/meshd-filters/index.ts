// Public entry of proxylib/meshd-filters: what the compilers of meshd's own filter configs (DNS,
// Kafka) share — the common/v1 messages, peer rules and the supported-field walk.
export { checkedFilterConfig, COMMON_POLICY_FIELDS, compileDenyRules, compileDirection, compilePeerRules, compilePortRange, compileUpstreamCluster, joinPath } from './common-policy.js';
export type { PeerMatch, SupportedFilterFields } from './common-policy.js';
