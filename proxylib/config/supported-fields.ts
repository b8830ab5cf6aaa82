// The fields meshd's built-in proxy implements, per Envoy message type (proto full name → field
// name → how it is checked). The supported-field walker (field-walker.ts) reports every set field
// that is not listed here as "not implemented" with its path: Envoy would honour it, so running
// without it would silently change behaviour, and the xDS client NACKs instead (issue 5's rule).
//
//  'yes'       implemented; a message field is walked against its own type's entry below.
//  'delegated' implemented by a compiler that checks the field itself: google.protobuf.Any configs
//              (unpacked by the filter registry, which walks the inner message), RBAC and matcher
//              messages (proxylib/rbac and proxylib/matchers report their own problems), and
//              informational messages with no behaviour in the proxy (metadata, locality).
// Deprecated fields Envoy still honours are left out on purpose: they are reported with their path.
export type FieldUse = 'yes' | 'delegated';

/**
 * Fields the proxy does not implement whose set value nevertheless means exactly what the proxy
 * does (an explicit Envoy default): accepted so configs written out in full are not refused.
 * Keyed by type and field name; the predicate sees the field's value as the message holds it.
 */
export const ACCEPTED_VALUES: Readonly<Record<string, Readonly<Record<string, (value: unknown) => boolean>>>> = {
  'envoy.config.listener.v3.Listener': {
    bind_to_port: (v) => v === true,
    freebind: (v) => v === false,
  },
  'envoy.config.core.v3.Http1ProtocolOptions': {
    allow_absolute_url: (v) => v === true,
  },
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': {
    add_user_agent: (v) => v === false,
  },
};

type Rules = Readonly<Record<string, FieldUse>>;

const L = 'envoy.config.listener.v3.';
const C = 'envoy.config.core.v3.';
const R = 'envoy.config.route.v3.';
const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.';
const TLS = 'envoy.extensions.transport_sockets.tls.v3.';
const E = 'envoy.config.endpoint.v3.';
const CL = 'envoy.config.cluster.v3.';

const none: Rules = {};

export const SUPPORTED_FIELDS: Readonly<Record<string, Rules>> = {
  // ---- listeners ----
  [`${L}Listener`]: {
    name: 'yes',
    address: 'yes',
    additional_addresses: 'yes',
    stat_prefix: 'yes',
    filter_chains: 'yes',
    default_filter_chain: 'yes',
    per_connection_buffer_limit_bytes: 'yes',
    // IP_TRANSPARENT listeners for BPF TPROXY (bpf/progs/tc.bpf.c, docs/adr/0003).
    transparent: 'yes',
    metadata: 'delegated',
    listener_filters: 'yes',
    listener_filters_timeout: 'yes',
    continue_on_listener_filters_timeout: 'yes',
    // Informational for Envoy's own filters (none of which the proxy has).
    traffic_direction: 'yes',
    // A UDP listener's settings: only its defaults are implemented (the entry below is empty, so any
    // option set in it — GRO, QUIC, socket options, writers — is reported with its path).
    udp_listener_config: 'yes',
  },
  [`${L}UdpListenerConfig`]: none,
  [`${L}AdditionalAddress`]: { address: 'yes' },
  [`${L}FilterChain`]: { filter_chain_match: 'yes', filters: 'yes', metadata: 'delegated', transport_socket: 'yes', name: 'yes' },
  [`${L}FilterChainMatch`]: {
    destination_port: 'yes',
    prefix_ranges: 'yes',
    direct_source_prefix_ranges: 'yes',
    source_type: 'yes',
    source_prefix_ranges: 'yes',
    source_ports: 'yes',
    server_names: 'yes',
    transport_protocol: 'yes',
    application_protocols: 'yes',
  },
  [`${L}ListenerFilter`]: { name: 'yes', typed_config: 'delegated' },
  [`${L}Filter`]: { name: 'yes', typed_config: 'delegated' },
  [`${C}Address`]: { socket_address: 'yes' },
  [`${C}SocketAddress`]: { protocol: 'yes', address: 'yes', port_value: 'yes', ipv4_compat: 'yes' },
  [`${C}CidrRange`]: { address_prefix: 'yes', prefix_len: 'yes' },
  [`${C}TransportSocket`]: { name: 'yes', typed_config: 'delegated' },
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst': none,
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': none,
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer': none,
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': { stat_prefix: 'yes', cluster: 'yes', idle_timeout: 'yes' },

  // ---- HTTP connection manager ----
  [`${HCM}HttpConnectionManager`]: {
    codec_type: 'yes',
    stat_prefix: 'yes',
    rds: 'yes',
    route_config: 'yes',
    http_filters: 'yes',
    common_http_protocol_options: 'yes',
    http_protocol_options: 'yes',
    http2_protocol_options: 'yes',
    server_name: 'yes',
    server_header_transformation: 'yes',
    max_request_headers_kb: 'yes',
    stream_idle_timeout: 'yes',
    request_timeout: 'yes',
    request_headers_timeout: 'yes',
    drain_timeout: 'yes',
    use_remote_address: 'yes',
    skip_xff_append: 'yes',
    generate_request_id: 'yes',
    proxy_100_continue: 'yes',
    upgrade_configs: 'yes',
    normalize_path: 'yes',
    merge_slashes: 'yes',
    path_with_escaped_slashes_action: 'yes',
    local_reply_config: 'yes',
    strip_matching_host_port: 'yes',
    strip_any_host_port: 'yes',
    strip_trailing_host_dot: 'yes',
  },
  [`${HCM}Rds`]: { config_source: 'yes', route_config_name: 'yes' },
  [`${HCM}HttpFilter`]: { name: 'yes', typed_config: 'delegated', is_optional: 'yes' },
  [`${HCM}HttpConnectionManager.UpgradeConfig`]: { upgrade_type: 'yes', enabled: 'yes' },
  [`${HCM}LocalReplyConfig`]: { mappers: 'yes' },
  [`${HCM}ResponseMapper`]: { filter: 'yes', status_code: 'yes', body: 'yes' },
  'envoy.config.accesslog.v3.AccessLogFilter': { status_code_filter: 'yes' },
  'envoy.config.accesslog.v3.StatusCodeFilter': { comparison: 'yes' },
  'envoy.config.accesslog.v3.ComparisonFilter': { op: 'yes', value: 'yes' },
  [`${C}RuntimeUInt32`]: { default_value: 'yes', runtime_key: 'yes' },
  [`${C}DataSource`]: { filename: 'yes', inline_bytes: 'yes', inline_string: 'yes', environment_variable: 'yes' },
  [`${C}ConfigSource`]: { ads: 'yes', self: 'yes', resource_api_version: 'yes', initial_fetch_timeout: 'yes' },
  [`${C}AggregatedConfigSource`]: none,
  [`${C}SelfConfigSource`]: { transport_api_version: 'yes' },
  [`${C}HttpProtocolOptions`]: {
    idle_timeout: 'yes',
    max_connection_duration: 'yes',
    max_headers_count: 'yes',
    headers_with_underscores_action: 'yes',
    max_requests_per_connection: 'yes',
  },
  [`${C}Http1ProtocolOptions`]: { accept_http_10: 'yes', default_host_for_http_10: 'yes' },
  [`${C}Http2ProtocolOptions`]: {
    hpack_table_size: 'yes',
    max_concurrent_streams: 'yes',
    initial_stream_window_size: 'yes',
    initial_connection_window_size: 'yes',
    allow_connect: 'yes',
  },
  'envoy.extensions.filters.http.router.v3.Router': none,

  // ---- routes ----
  [`${R}RouteConfiguration`]: {
    name: 'yes',
    virtual_hosts: 'yes',
    validate_clusters: 'yes',
    ignore_port_in_host_matching: 'yes',
    max_direct_response_body_size_bytes: 'yes',
    metadata: 'delegated',
  },
  [`${R}VirtualHost`]: { name: 'yes', domains: 'yes', routes: 'yes', metadata: 'delegated' },
  [`${R}Route`]: { name: 'yes', match: 'yes', route: 'yes', direct_response: 'yes', metadata: 'delegated', stat_prefix: 'yes' },
  [`${R}RouteMatch`]: {
    prefix: 'yes',
    path: 'yes',
    safe_regex: 'delegated',
    connect_matcher: 'yes',
    path_separated_prefix: 'yes',
    case_sensitive: 'yes',
    headers: 'delegated',
    query_parameters: 'delegated',
    grpc: 'yes',
  },
  [`${R}RouteMatch.ConnectMatcher`]: none,
  [`${R}RouteMatch.GrpcRouteMatchOptions`]: none,
  [`${R}RouteAction`]: {
    cluster: 'yes',
    weighted_clusters: 'yes',
    cluster_not_found_response_code: 'yes',
    prefix_rewrite: 'yes',
    regex_rewrite: 'yes',
    host_rewrite_literal: 'yes',
    timeout: 'yes',
    idle_timeout: 'yes',
    upgrade_configs: 'yes',
  },
  [`${R}WeightedCluster`]: { clusters: 'yes' },
  [`${R}WeightedCluster.ClusterWeight`]: { name: 'yes', weight: 'yes' },
  [`${R}RouteAction.UpgradeConfig`]: { upgrade_type: 'yes', enabled: 'yes' },
  [`${R}DirectResponseAction`]: { status: 'yes', body: 'yes' },
  'envoy.type.matcher.v3.RegexMatchAndSubstitute': { pattern: 'delegated', substitution: 'yes' },

  // ---- clusters and endpoints ----
  [`${CL}Cluster`]: {
    name: 'yes',
    alt_stat_name: 'yes',
    type: 'yes',
    eds_cluster_config: 'yes',
    connect_timeout: 'yes',
    per_connection_buffer_limit_bytes: 'yes',
    lb_policy: 'yes',
    load_assignment: 'yes',
    typed_extension_protocol_options: 'delegated',
    transport_socket: 'yes',
    metadata: 'delegated',
    original_dst_lb_config: 'yes',
    // Only read by STRICT_DNS / LOGICAL_DNS clusters, which are refused by their type.
    dns_lookup_family: 'yes',
    dns_refresh_rate: 'yes',
    respect_dns_ttl: 'yes',
  },
  [`${CL}Cluster.EdsClusterConfig`]: { eds_config: 'yes', service_name: 'yes' },
  [`${CL}Cluster.OriginalDstLbConfig`]: none,
  [`${E}ClusterLoadAssignment`]: { cluster_name: 'yes', endpoints: 'yes', policy: 'yes' },
  [`${E}ClusterLoadAssignment.Policy`]: { overprovisioning_factor: 'yes' },
  [`${E}LocalityLbEndpoints`]: { locality: 'delegated', metadata: 'delegated', lb_endpoints: 'yes', load_balancing_weight: 'yes', priority: 'yes' },
  [`${E}LbEndpoint`]: { endpoint: 'yes', health_status: 'yes', metadata: 'delegated', load_balancing_weight: 'yes' },
  [`${E}Endpoint`]: { address: 'yes', hostname: 'yes' },
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    common_http_protocol_options: 'yes',
    upstream_http_protocol_options: 'yes',
    explicit_http_config: 'yes',
    use_downstream_protocol_config: 'yes',
  },
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig': { http_protocol_options: 'yes', http2_protocol_options: 'yes' },
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions.UseDownstreamHttpConfig': { http_protocol_options: 'yes', http2_protocol_options: 'yes' },
  [`${C}UpstreamHttpProtocolOptions`]: { auto_sni: 'yes', auto_san_validation: 'yes' },

  // ---- TLS and secrets ----
  [`${TLS}DownstreamTlsContext`]: { common_tls_context: 'yes', require_client_certificate: 'yes' },
  [`${TLS}UpstreamTlsContext`]: { common_tls_context: 'yes', sni: 'yes' },
  [`${TLS}CommonTlsContext`]: {
    tls_params: 'yes',
    tls_certificates: 'yes',
    tls_certificate_sds_secret_configs: 'yes',
    validation_context: 'yes',
    validation_context_sds_secret_config: 'yes',
    alpn_protocols: 'yes',
  },
  [`${TLS}TlsParameters`]: { tls_minimum_protocol_version: 'yes', tls_maximum_protocol_version: 'yes' },
  [`${TLS}TlsCertificate`]: { certificate_chain: 'yes', private_key: 'yes' },
  [`${TLS}CertificateValidationContext`]: { trusted_ca: 'yes', match_typed_subject_alt_names: 'yes' },
  [`${TLS}SubjectAltNameMatcher`]: { san_type: 'yes', matcher: 'delegated' },
  [`${TLS}SdsSecretConfig`]: { name: 'yes', sds_config: 'yes' },
  [`${TLS}Secret`]: { name: 'yes', tls_certificate: 'yes', validation_context: 'yes' },
};
