// The generated Envoy (and meshd filter) message schemas and types that other layers decode: the
// built-in proxy reads Listener, RouteConfiguration, Cluster, ClusterLoadAssignment and Secret
// resources with them, exactly as they travel over xDS. Re-exported as one namespace (`envoy`) from
// xds/index.ts so no layer reaches into xds/generated/ directly.
export * from './generated/envoy/config/listener/v3/listener_pb.js';
export * from './generated/envoy/config/listener/v3/listener_components_pb.js';
export * from './generated/envoy/config/listener/v3/udp_listener_config_pb.js';
export * from './generated/envoy/config/core/v3/address_pb.js';
export * from './generated/envoy/config/core/v3/base_pb.js';
export * from './generated/envoy/config/core/v3/config_source_pb.js';
export * from './generated/envoy/config/core/v3/protocol_pb.js';
export * from './generated/envoy/config/core/v3/extension_pb.js';
export * from './generated/envoy/config/cluster/v3/cluster_pb.js';
export * from './generated/envoy/config/endpoint/v3/endpoint_pb.js';
export * from './generated/envoy/config/endpoint/v3/endpoint_components_pb.js';
export * from './generated/envoy/config/route/v3/route_pb.js';
export * from './generated/envoy/config/route/v3/route_components_pb.js';
export * from './generated/envoy/config/rbac/v3/rbac_pb.js';
export * from './generated/envoy/config/accesslog/v3/accesslog_pb.js';
export * from './generated/envoy/config/core/v3/substitution_format_string_pb.js';
export {
  RBACSchema as HttpRbacSchema,
  type RBAC as HttpRbac,
  RBACPerRouteSchema as HttpRbacPerRouteSchema,
  type RBACPerRoute as HttpRbacPerRoute,
} from './generated/envoy/extensions/filters/http/rbac/v3/rbac_pb.js';
export {
  RBACSchema as NetworkRbacSchema,
  type RBAC as NetworkRbac,
  RBAC_EnforcementType as NetworkRbac_EnforcementType,
} from './generated/envoy/extensions/filters/network/rbac/v3/rbac_pb.js';
export * from './generated/envoy/extensions/filters/http/router/v3/router_pb.js';
export * from './generated/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb.js';
export * from './generated/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector_pb.js';
export * from './generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
export * from './generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js';
export * from './generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
export * from './generated/envoy/extensions/transport_sockets/tls/v3/common_pb.js';
export * from './generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
export * from './generated/envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer_pb.js';
export * from './generated/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js';
export * from './generated/envoy/service/discovery/v3/discovery_pb.js';
export * from './generated/envoy/type/matcher/v3/string_pb.js';
export * from './generated/envoy/type/matcher/v3/regex_pb.js';
export * from './generated/envoy/type/matcher/v3/path_pb.js';
export * from './generated/envoy/type/matcher/v3/metadata_pb.js';
export * from './generated/envoy/type/matcher/v3/filter_state_pb.js';
export * from './generated/envoy/type/v3/range_pb.js';
export * from './generated/envoy/type/v3/percent_pb.js';
export * from './generated/envoy/type/http/v3/path_transformation_pb.js';
export * from './generated/google/rpc/status_pb.js';
export * from './generated/meshd/filters/common/v1/policy_pb.js';
export * from './generated/meshd/filters/kafka/v1/kafka_pb.js';
export * from './generated/meshd/filters/dns/v1/dns_pb.js';
// Names two protos share: the route's RetryPolicy and core's HttpProtocolOptions keep the plain name;
// the others get a prefix.
export {
  type RetryPolicy,
  RetryPolicySchema,
  type RetryPolicy_RetryHostPredicate,
  RetryPolicy_RetryHostPredicateSchema,
  type RetryPolicy_RetryPriority,
  RetryPolicy_RetryPrioritySchema,
} from './generated/envoy/config/route/v3/route_components_pb.js';
export { type RetryPolicy as CoreRetryPolicy, RetryPolicySchema as CoreRetryPolicySchema } from './generated/envoy/config/core/v3/base_pb.js';
export { type HttpProtocolOptions, HttpProtocolOptionsSchema } from './generated/envoy/config/core/v3/protocol_pb.js';
export {
  type HttpProtocolOptions as UpstreamHttpProtocolOptions,
  HttpProtocolOptionsSchema as UpstreamHttpProtocolOptionsSchema,
} from './generated/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js';
