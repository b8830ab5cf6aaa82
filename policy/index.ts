// Public entry of the policy layer: load and validate policy sources, resolve them per endpoint,
// and trace flows offline. Other layers import only from here.
export * from './errors.js';
export type * from './model.js';
export { ENTITIES, PROTOCOLS } from './model.js';
export { loadPolicySources, loadPolicyText } from './load/load-sources.js';
// YAML/JSON with file:line:col for any field; other layers' file formats use it too.
export { parseSource as parseYamlSource } from './load/yaml-source.js';
export type { ParsedSource as ParsedYamlSource, ParsedDocument as ParsedYamlDocument, FieldPath } from './load/yaml-source.js';
export type { LoadResult, FileLoadResult, PolicyWarning } from './load/load-sources.js';
export { Repository } from './resolve/repository.js';
export { policyKey, policyDisplayName } from './policy-ref.js';
// "did you mean" hints: the loader's unknown fields and the CLI's mistyped commands and options.
export { editDistance } from './load/edit-distance.js';
export type { Endpoint, EndpointSpec, EndpointPolicy, RepositoryOptions } from './resolve/repository.js';
export { lookupFlow, entryMatches } from './resolve/endpoint-policy.js';
export type { DirectionPolicy, PolicyEntry, FlowKey, L7Request, LookupResult, NamedPort, L7Evaluator } from './resolve/endpoint-policy.js';
export { parseEndpoints, loadEndpointsFile } from './resolve/endpoints-file.js';
export { traceFlow } from './trace/trace-flow.js';
export type { TraceOptions, TraceResult, TraceSide, TracePeer } from './trace/trace-flow.js';
// Kafka: the rule matcher the proxy's filter shares with `policy trace`, and the API key tables.
export {
  parseKafkaApiKeyArg,
  kafkaApiKeyName,
  kafkaApiKeyFromName,
  isKafkaTopicName,
  KAFKA_API_NAMES,
  KAFKA_ROLE_API_KEYS,
  KAFKA_TOPIC_API_KEYS,
  KAFKA_GROUP_API_KEYS,
  matchKafkaRuleSpecs,
  kafkaRuleSpecOf,
} from './l7/index.js';
export type { KafkaRuleSpec, KafkaRulesMatch, KafkaRequestFacts } from './l7/index.js';
export { parseCidr, parseIp, prefixContains, ipInPrefix, formatIpAddress } from './cidr/index.js';
export type { Prefix, ParseCidrResult, ParseIpResult, IpFamily } from './cidr/index.js';
export { IDENTITY_ERROR_CODES, IdentityAllocator, SelectorCache, RESERVED_IDENTITIES, reservedIdentityByName, reservedIdentityById, reservedIdentityByLabels, IDENTITY_RANGES, identityScopeForLabels, worldIdentityOf, entitySelectors, cidrIdentityLabels, fqdnIdentityLabels } from './identity/index.js';
export type { CachedSelector } from './identity/index.js';
export { LabelSet, endpointLabels, matchesSelector, selectorKey } from './labels/index.js';
export { compileFqdnMatcher, fqdnSelectorString } from './fqdn/index.js';
// RE2 full-match regexes (compiled once per source); the proxy's matchers build on them.
export { compileFullMatchRegex as compileRe2FullMatch } from './regex/index.js';
