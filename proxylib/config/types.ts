// The built-in proxy's view of its configuration: what compiling each xDS resource yields. Compiling
// is pure (no sockets): it checks every field the proxy meets against what it implements, and
// anything it does not implement is a problem with the field path, so the xDS client NACKs the
// update instead of silently ignoring a field Envoy would honour.
import type { RbacFilter } from '../rbac/types.js';

export interface ConfigProblem {
  /** Proto field path from the resource root, e.g. `filter_chains[0].filters[0].typed_config.codec_type`. */
  path: string;
  message: string;
}

export type Compiled<T> = { ok: true; value: T; warnings: string[] } | { ok: false; problems: ConfigProblem[] };

// ---- listeners -------------------------------------------------------------------------------

export interface SocketAddressConfig {
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
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
}

export type RouteAction =
  | {
      kind: 'route';
      /** Chooses the cluster for one request (weighted_clusters pick per request). */
      cluster(): string;
      /** 0 = no limit (Envoy: route.timeout 0 disables; default 15 s when unset). */
      timeoutMs: number;
      idleTimeoutMs: number;
      /** Returns the path to send upstream (prefix_rewrite / regex_rewrite applied), or the input. */
      rewritePath(path: string): string;
      hostRewriteLiteral: string | undefined;
      /** Per-route upgrade overrides: value → enabled. */
      upgrades: ReadonlyMap<string, boolean>;
    }
  | { kind: 'direct_response'; status: number; body: string };

export interface RouteEntry {
  name: string;
  virtualHost: string;
  action: RouteAction;
}

export interface RouteTable {
  name: string;
  /** undefined → no route (Envoy answers 404). */
  select(request: RouteRequest): RouteEntry | undefined;
}

// ---- clusters, endpoints, secrets --------------------------------------------------------------

export interface EndpointAddress {
  address: string;
  port: number;
  weight: number;
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
