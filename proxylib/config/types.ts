// The built-in proxy's view of its configuration: what compiling each xDS resource yields. Compiling
// is pure (no sockets): it checks every field the proxy meets against what it implements, and
// anything it does not implement is a problem with the field path, so the xDS client NACKs the
// update instead of silently ignoring a field Envoy would honour.
import type { ResourceProblem } from '../../xds/index.js';
import type { UdpListenerFilterConfig } from '../listener/udp-types.js';
import type { RbacFilter } from '../rbac/types.js';

/** A problem with its proto field path from the resource root (the xDS layer's validators use the same shape). */
export type ConfigProblem = ResourceProblem;

export type Compiled<T> = { ok: true; value: T; warnings: string[] } | { ok: false; problems: ConfigProblem[] };

// ---- listeners -------------------------------------------------------------------------------

export interface SocketAddressConfig {
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** ipv4_compat: an IPv6 wildcard listener also accepts IPv4 (Envoy's default on `::` is IPv6 only). */
  ipv4Compat?: boolean;
}

/** What filter chain selection sees of a new connection (Envoy's FilterChainMatch inputs). */
export interface ConnectionFacts {
  /** Local address after original_dst: for a redirected connection, its original destination. */
  destinationIp: string;
  destinationPort: number;
  sourceIp: string;
  sourcePort: number;
  /** SNI from the ClientHello ('' when none or not TLS). */
  serverName: string;
  transportProtocol: 'tls' | 'raw_buffer';
  /** ALPN offered in the ClientHello (empty when none or not TLS). */
  applicationProtocols: readonly string[];
}

export interface ListenerConfig {
  name: string;
  /** address first, then additional_addresses. */
  addresses: SocketAddressConfig[];
  /** original_dst listener filter present: destination facts come from the datapath. */
  useOriginalDst: boolean;
  /** Listener.transparent: bound with IP_TRANSPARENT, so it accepts connections BPF TPROXY assigns to
   *  it (a local address that is not the node's; that address is the original destination). */
  transparent?: boolean;
  /** tls_inspector listener filter present: SNI/ALPN are read from the ClientHello before selection. */
  tlsInspector: boolean;
  filterChains: FilterChainConfig[];
  defaultFilterChain: FilterChainConfig | undefined;
  /** Envoy's selection order: destination_port, prefix_ranges (longest), server_names, transport_protocol,
   *  application_protocols, direct_source_prefix_ranges, source_type, source_prefix_ranges, source_ports;
   *  falls back to the default chain; undefined → the connection is closed. */
  selectFilterChain(facts: ConnectionFacts): FilterChainConfig | undefined;
  /** True when any chain's match needs tls_inspector facts (server_names, transport_protocol, ALPN). */
  needsTlsFacts: boolean;
  perConnectionBufferLimitBytes: number;
  /** listener_filters_timeout (Envoy default 15 s; 0 = none): how long tls_inspector may wait for a ClientHello. */
  listenerFiltersTimeoutMs?: number;
  /** continue_on_listener_filters_timeout: on timeout, select a chain with what is known instead of closing. */
  continueOnListenerFiltersTimeout?: boolean;
  /**
   * A UDP listener's listener filters (meshd's DNS filter), compiled, in config order; a UDP
   * listener has no filter chains. Empty or absent for TCP listeners.
   */
  udpListenerFilters?: UdpListenerFilterConfig[];
}

export interface FilterChainConfig {
  name: string;
  downstreamTls: DownstreamTlsConfig | undefined;
  /** In order; the last one is terminal (http_connection_manager, tcp_proxy, or a meshd filter). */
  networkFilters: NetworkFilterConfig[];
}

/** A secret is named (SDS, resolved at handshake time so rotation applies to new handshakes) or inline. */
export type TlsCertificateRef = { kind: 'sds'; name: string } | { kind: 'inline'; material: TlsCertificateMaterial };
export type ValidationRef = { kind: 'sds'; name: string } | { kind: 'inline'; material: ValidationMaterial };

export interface DownstreamTlsConfig {
  certificates: TlsCertificateRef[];
  validation: ValidationRef | undefined;
  requireClientCertificate: boolean;
  alpnProtocols: string[];
  minVersion: 'TLSv1.2' | 'TLSv1.3' | undefined;
  maxVersion: 'TLSv1.2' | 'TLSv1.3' | undefined;
}

export type NetworkFilterConfig =
  | { kind: 'rbac'; name: string; rbac: RbacFilter }
  | { kind: 'http_connection_manager'; name: string; hcm: HcmConfig }
  /** idleTimeoutMs: Envoy default 1 h when unset; 0 = disabled. */
  | { kind: 'tcp_proxy'; name: string; statPrefix: string; cluster: string; idleTimeoutMs: number }
  /** A meshd typed filter (Kafka, DNS) compiled by a registered compiler; `config` is its compiled form. */
  | { kind: 'meshd'; name: string; typeName: string; config: unknown };

export type EscapedSlashesAction = 'keep' | 'reject' | 'unescape_and_forward';

export interface LocalReplyMapper {
  /** The mapper applies to local replies with this status (meshd generates status_code_filter EQ only). */
  whenStatus: number;
  statusOverride: number | undefined;
  body: string | undefined;
}

export interface HcmConfig {
  statPrefix: string;
  codec: 'auto' | 'http1' | 'http2';
  routes: { kind: 'rds'; name: string } | { kind: 'inline'; table: RouteTable };
  /** In order; the last one is the router. */
  httpFilters: HttpFilterConfig[];
  normalizePath: boolean;
  mergeSlashes: boolean;
  escapedSlashes: EscapedSlashesAction;
  useRemoteAddress: boolean;
  skipXffAppend: boolean;
  localReplyMappers: LocalReplyMapper[];
  /** Envoy defaults where the field is unset; 0 = disabled. */
  requestHeadersTimeoutMs: number;
  streamIdleTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxRequestHeadersKb: number;
  maxHeadersCount: number;
  /** upgrade_configs: which Upgrade values (lower-case, e.g. 'websocket') and whether CONNECT is allowed. */
  upgrades: ReadonlySet<string>;
  allowConnect: boolean;
  serverName: string;
  // ---- added by C1 (optional so hand-built configs keep compiling; compileListener always sets them) ----
  /** common_http_protocol_options.headers_with_underscores_action (Envoy default: allow). */
  headersWithUnderscores?: 'allow' | 'reject_request' | 'drop_header';
  /** http_protocol_options.accept_http_10 (Envoy default false: HTTP/1.0 requests get 426). */
  acceptHttp10?: boolean;
  /** http_protocol_options.default_host_for_http_10 ('' when unset). */
  defaultHostForHttp10?: string;
  /** generate_request_id (Envoy default true: an x-request-id is added when absent). */
  generateRequestId?: boolean;
  /** proxy_100_continue (Envoy default false: Envoy answers 100-continue itself). */
  proxy100Continue?: boolean;
  /** strip_matching_host_port / strip_any_host_port: the port is removed from Host before routing and forwarding. */
  stripPortMode?: 'none' | 'matching' | 'any';
  /** strip_trailing_host_dot. */
  stripTrailingHostDot?: boolean;
  /** drain_timeout (Envoy default 5 s): HTTP/2 graceful GOAWAY → final GOAWAY. */
  drainTimeoutMs?: number;
  /** common_http_protocol_options.max_connection_duration (0 = none, Envoy's default). */
  maxConnectionDurationMs?: number;
  /** http2_protocol_options with Envoy's defaults (max streams 2^31-1, windows 256 MiB, HPACK 4096). */
  http2?: Http2Settings;
  /**
   * Every upgrade_configs entry, lower-case type → enabled by default (`upgrades` holds the enabled ones).
   * Envoy allows an upgrade only when its type is configured here; a route's `upgrades` entry overrides
   * `enabled`: allowed = configuredUpgrades.has(t) && (route.upgrades.get(t) ?? configuredUpgrades.get(t)).
   */
  configuredUpgrades?: ReadonlyMap<string, boolean>;
  /** server_header_transformation (Envoy default overwrite: `server: <serverName>`). */
  serverHeader?: 'overwrite' | 'append_if_absent' | 'pass_through';
}

export interface Http2Settings {
  maxConcurrentStreams: number;
  initialStreamWindowSize: number;
  initialConnectionWindowSize: number;
  hpackTableSize: number;
  /** allow_connect: extended CONNECT (RFC 8441, WebSocket over h2). */
  allowConnect: boolean;
}

export type HttpFilterConfig = { kind: 'rbac'; name: string; rbac: RbacFilter } | { kind: 'router'; name: string };

// ---- routes ----------------------------------------------------------------------------------

export interface RouteRequest {
  /** Host / :authority, as received (the table lower-cases and strips the port as Envoy does). */
  authority: string;
  /** Normalized path with query. */
  path: string;
  method: string;
  header(lowerCaseName: string): string | undefined;
  isGrpc: boolean;
  /** For header matchers on `:scheme` (added by C1; 'http' when absent). */
  scheme?: 'http' | 'https';
}

export type RouteAction =
  | {
      kind: 'route';
      /** Chooses the cluster for one request (weighted_clusters pick per request). */
      cluster(): string;
      /** 0 = no limit (Envoy: route.timeout 0 disables; default 15 s when unset). */
      timeoutMs: number;
      /** -1 = unset (the HCM's streamIdleTimeoutMs applies); 0 = disabled, even the HCM's; >0 overrides. */
      idleTimeoutMs: number;
      /** Returns the path to send upstream (prefix_rewrite / regex_rewrite applied), or the input. */
      rewritePath(path: string): string;
      hostRewriteLiteral: string | undefined;
      /** Per-route upgrade overrides: value → enabled. */
      upgrades: ReadonlyMap<string, boolean>;
      /** cluster_not_found_response_code (Envoy default 503). */
      clusterNotFoundStatus?: number;
      /** Every cluster this action can choose (for references and consistency checks). */
      clusterNames?: readonly string[];
    }
  | { kind: 'direct_response'; status: number; body: string };

export interface RouteEntry {
  name: string;
  virtualHost: string;
  action: RouteAction;
}

export interface RouteTable {
  name: string;
  /** Every cluster a route of the table names (added by C1; optional for hand-built tables). */
  clusterNames?: readonly string[];
  /** undefined → no route (Envoy answers 404). */
  select(request: RouteRequest): RouteEntry | undefined;
}

// ---- clusters, endpoints, secrets --------------------------------------------------------------

export interface EndpointAddress {
  /** An IP address; for a LOGICAL_DNS cluster a DNS name, resolved when connecting (net.connect does). */
  address: string;
  port: number;
  weight: number;
  /** LOGICAL_DNS dns_lookup_family V4_ONLY / V6_ONLY: pass as net.connect's `family`; absent = any. */
  family?: 4 | 6;
}

export interface UpstreamTlsConfig {
  /** Fixed SNI (UpstreamTlsContext.sni); '' when unset. */
  sni: string;
  /** auto_sni: SNI from the request's Host/:authority (host part). */
  autoSni: boolean;
  /** auto_san_validation: the server certificate must carry the SNI used. */
  autoSanValidation: boolean;
  validation: ValidationRef | undefined;
  certificate: TlsCertificateRef | undefined;
  alpnProtocols: string[];
}

export interface ClusterConfig {
  name: string;
  discovery: { kind: 'static'; endpoints: EndpointAddress[] } | { kind: 'eds'; serviceName: string } | { kind: 'original_dst' };
  connectTimeoutMs: number;
  lbPolicy: 'round_robin' | 'random' | 'least_request';
  upstreamTls: UpstreamTlsConfig | undefined;
  /** Upstream HTTP protocol: fixed, or the downstream's (use_downstream_protocol_config). */
  httpProtocol: 'http1' | 'http2' | 'downstream';
  /** common_http_protocol_options.idle_timeout (Envoy default 1 h). */
  idleTimeoutMs: number;
  maxRequestsPerConnection: number | undefined;
  perConnectionBufferLimitBytes: number;
  /** HTTP/2 settings for upstream sessions (explicit or downstream-protocol http2_protocol_options; Envoy's defaults). */
  http2?: Http2Settings;
}

export interface EndpointSet {
  /** ClusterLoadAssignment.cluster_name (the EDS service name). */
  name: string;
  /** Healthy (or unknown-health) endpoints only. */
  endpoints: EndpointAddress[];
}

export interface TlsCertificateMaterial {
  certificateChain: string;
  privateKey: string;
}

export interface ValidationMaterial {
  trustedCa: string;
  /** match_typed_subject_alt_names / match_subject_alt_names, compiled. */
  matchSubjectAltName: ((san: { type: 'DNS' | 'URI' | 'IP' | 'EMAIL'; value: string }) => boolean) | undefined;
}

export type SecretMaterial =
  | { name: string; kind: 'tls_certificate'; certificate: TlsCertificateMaterial }
  | { name: string; kind: 'validation_context'; validation: ValidationMaterial };
