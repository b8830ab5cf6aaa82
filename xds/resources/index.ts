// Envoy resources meshd generates, one file per resource type (and per typed filter config), each
// with build (plan → message) and validate (field-path problems); the meshd filter configs also
// encode (the Any a filter chain carries). Envoy resources go into a Snapshot as messages.
export type * from './plan.js';
export type { ResourceProblem } from './problems.js';
export { formatProblems } from './problems.js';
export { MESHD_TYPE_URL, MESHD_TYPE_PREFIX, FILTER_NAME } from './type-urls.js';
export { buildListener, validateListener, meshdTypesInListener, ListenerSchema, ACCESS_DENIED_BODY, ACCESS_DENIED_STATUS_RUNTIME_KEY } from './listener.js';
export { buildRouteConfiguration, validateRouteConfiguration, RouteConfigurationSchema } from './route.js';
export { buildCluster, validateCluster, ClusterSchema } from './cluster.js';
export { buildSecret, validateSecret, SecretSchema } from './secret.js';
export { buildKafkaPolicy, validateKafkaPolicy, encodeKafkaPolicy, KafkaPolicySchema } from './kafka-filter.js';
export type { KafkaPolicyPlan, KafkaRequestPlan } from './kafka-filter.js';
export { buildDnsPolicy, validateDnsPolicy, encodeDnsPolicy, DnsPolicySchema } from './dns-filter.js';
export type { DnsPolicyPlan, DnsNamePlan } from './dns-filter.js';
export type { PeerPolicyPlan, PeerRulePlan, RemotesPlan } from './peer-policy.js';
export { serverNameRegex, envoyServerNames } from './server-names.js';
export { validateRbacConfig } from './rbac-filter.js';
