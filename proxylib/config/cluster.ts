// Cluster → ClusterConfig (STATIC with load_assignment, EDS over ADS, ORIGINAL_DST with
// CLUSTER_PROVIDED), ClusterLoadAssignment → EndpointSet. Upstream protocol and auto SNI come from
// typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], the
// only protocol options key Envoy reads for HTTP upstreams.
import type { Any } from '@bufbuild/protobuf/wkt';
import { envoy } from '../../xds/index.js';
import { isIpAddress } from '../matchers/index.js';
import { checkSupportedFields } from './field-walker.js';
import { checkAdsSource, HTTP2_DEFAULTS } from './hcm.js';
import { DEFAULT_BUFFER_LIMIT_BYTES } from './listener.js';
import { at, checkedDurationMs, NOT_IMPLEMENTED, Problems } from './problems.js';
import { ClusterLoadAssignmentSchema, ClusterSchema, UpstreamHttpProtocolOptionsSchema } from './schemas.js';
import { compileTransportSocket } from './tls.js';
import { typeNameOfAny, unpackTypedConfig } from './typed-config.js';
import type { ClusterConfig, Compiled, EndpointAddress, EndpointSet, Http2Settings } from './types.js';

/** Envoy's Cluster.connect_timeout default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Envoy's common_http_protocol_options.idle_timeout default for upstream connections. */
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS = 60 * 60_000;
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function compileCluster(c: envoy.Cluster): Compiled<ClusterConfig> {
  const p = new Problems();
  checkSupportedFields(ClusterSchema, c, '', p);
  if (c.name === '') p.add('name', 'must not be empty');
  const D = envoy.Cluster_DiscoveryType;
  const L = envoy.Cluster_LbPolicy;
  const type = c.clusterDiscoveryType.case === 'type' ? c.clusterDiscoveryType.value : c.clusterDiscoveryType.case === undefined ? D.STATIC : undefined;

  let discovery: ClusterConfig['discovery'] | undefined;
  switch (type) {
    case D.STATIC: {
      if (!c.loadAssignment) p.add('load_assignment', 'a STATIC cluster needs its endpoints here');
      else {
        const endpoints = compileEndpointsInto(p, 'load_assignment', c.loadAssignment);
        if (endpoints) discovery = { kind: 'static', endpoints };
      }
      break;
    }
    case D.LOGICAL_DNS: {
      // Envoy resolves the one host and connects to its first address, re-resolving as it goes;
      // connecting by name (net.connect resolves per connection) is the same, only fresher.
      // STRICT_DNS balances over every resolved address: not implemented.
      if (!c.loadAssignment) p.add('load_assignment', 'a LOGICAL_DNS cluster needs its host here');
      else {
        const endpoints = compileEndpointsInto(p, 'load_assignment', c.loadAssignment, { family: familyOf(p, c.dnsLookupFamily) });
        const count = c.loadAssignment.endpoints.reduce((n, l) => n + l.lbEndpoints.length, 0);
        if (c.loadAssignment.endpoints.length !== 1 || count !== 1) p.add('load_assignment.endpoints', 'a LOGICAL_DNS cluster has exactly one locality with one endpoint (Envoy refuses others)');
        if (endpoints) discovery = { kind: 'static', endpoints };
      }
      break;
    }
    case D.EDS: {
      const eds = c.edsClusterConfig;
      if (!eds?.edsConfig) p.add('eds_cluster_config.eds_config', 'is required (ads)');
      else checkAdsSource(p, 'eds_cluster_config.eds_config', eds.edsConfig);
      if (c.loadAssignment) p.warn(`cluster ${c.name}: load_assignment is ignored for an EDS cluster (as in Envoy)`);
      discovery = { kind: 'eds', serviceName: eds?.serviceName || c.name };
      break;
    }
    case D.ORIGINAL_DST:
      // Envoy's own checks for this cluster type.
      if (c.lbPolicy !== L.CLUSTER_PROVIDED) p.add('lb_policy', 'an ORIGINAL_DST cluster needs CLUSTER_PROVIDED (Envoy refuses others)');
      if (c.loadAssignment) p.add('load_assignment', 'an ORIGINAL_DST cluster has no load assignment (Envoy refuses it)');
      discovery = { kind: 'original_dst' };
      break;
    case undefined:
      break; // cluster_type: reported by the walker
    default:
      p.add('type', `${D[type] ?? type} ${NOT_IMPLEMENTED} (STATIC, LOGICAL_DNS, EDS and ORIGINAL_DST are)`);
  }

  let lbPolicy: ClusterConfig['lbPolicy'] = 'round_robin';
  switch (c.lbPolicy) {
    case L.ROUND_ROBIN:
      break;
    case L.RANDOM:
      lbPolicy = 'random';
      break;
    case L.LEAST_REQUEST:
      lbPolicy = 'least_request';
      break;
    case L.CLUSTER_PROVIDED:
      if (type !== D.ORIGINAL_DST) p.add('lb_policy', 'CLUSTER_PROVIDED is for ORIGINAL_DST clusters');
      break;
    default:
      p.add('lb_policy', `${L[c.lbPolicy] ?? c.lbPolicy} ${NOT_IMPLEMENTED} (ROUND_ROBIN, RANDOM, LEAST_REQUEST are)`);
  }

  const connectTimeoutMs = checkedDurationMs(p, 'connect_timeout', c.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS);
  if (c.connectTimeout && connectTimeoutMs === 0) p.add('connect_timeout', 'must be greater than 0');

  const options = compileProtocolOptions(p, c.typedExtensionProtocolOptions);
  const upstreamTls = compileTransportSocket(p, 'transport_socket', c.transportSocket, 'upstream');
  if (upstreamTls && options) {
    upstreamTls.autoSni = options.autoSni;
    upstreamTls.autoSanValidation = options.autoSanValidation;
  }

  return p.result(() => ({
    name: c.name,
    discovery: discovery!,
    connectTimeoutMs,
    lbPolicy,
    upstreamTls,
    httpProtocol: options?.httpProtocol ?? 'http1',
    idleTimeoutMs: options?.idleTimeoutMs ?? DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
    maxRequestsPerConnection: options?.maxRequestsPerConnection,
    perConnectionBufferLimitBytes: c.perConnectionBufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES,
    http2: options?.http2 ?? HTTP2_DEFAULTS,
  }));
}

interface ProtocolOptions {
  httpProtocol: ClusterConfig['httpProtocol'];
  idleTimeoutMs: number;
  maxRequestsPerConnection: number | undefined;
  autoSni: boolean;
  autoSanValidation: boolean;
  http2: Http2Settings;
}

function compileProtocolOptions(p: Problems, options: { [key: string]: Any }): ProtocolOptions | undefined {
  let result: ProtocolOptions | undefined;
  for (const [key, any] of Object.entries(options)) {
    const path = `typed_extension_protocol_options[${JSON.stringify(key)}]`;
    const typeName = typeNameOfAny(any);
    if (key !== HTTP_PROTOCOL_OPTIONS_KEY || typeName !== UpstreamHttpProtocolOptionsSchema.typeName) {
      p.add(path, `protocol options ${typeName || key} ${NOT_IMPLEMENTED} (only ${HTTP_PROTOCOL_OPTIONS_KEY})`);
      continue;
    }
    const unpacked = unpackTypedConfig(p, path, any);
    if (!unpacked) continue;
    const o = unpacked.message as envoy.UpstreamHttpProtocolOptions;
    checkSupportedFields(UpstreamHttpProtocolOptionsSchema, o, path, p);
    let httpProtocol: ClusterConfig['httpProtocol'] = 'http1';
    let h2: envoy.Http2ProtocolOptions | undefined;
    const u = o.upstreamProtocolOptions;
    if (u.case === 'explicitHttpConfig') {
      const pc = u.value.protocolConfig;
      if (pc.case === 'http2ProtocolOptions') {
        httpProtocol = 'http2';
        h2 = pc.value;
      } else if (pc.case === undefined) p.add(`${path}.explicit_http_config`, 'needs http_protocol_options or http2_protocol_options');
    } else if (u.case === 'useDownstreamProtocolConfig') {
      httpProtocol = 'downstream';
      h2 = u.value.http2ProtocolOptions;
    }
    const common = o.commonHttpProtocolOptions;
    if (common) {
      for (const [field, set] of [
        ['max_headers_count', common.maxHeadersCount !== undefined],
        ['headers_with_underscores_action', common.headersWithUnderscoresAction !== 0],
        ['max_connection_duration', common.maxConnectionDuration !== undefined],
      ] as const) {
        if (set) p.notImplemented(`${path}.common_http_protocol_options.${field}`, 'for upstream connections');
      }
    }
    const idleTimeoutMs = checkedDurationMs(p, `${path}.common_http_protocol_options.idle_timeout`, common?.idleTimeout, DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS);
    const maxRequestsPerConnection = common?.maxRequestsPerConnection;
    if (maxRequestsPerConnection === 0) p.add(`${path}.common_http_protocol_options.max_requests_per_connection`, 'must be at least 1 (unset means no limit)');
    result = {
      httpProtocol,
      idleTimeoutMs,
      maxRequestsPerConnection,
      autoSni: o.upstreamHttpProtocolOptions?.autoSni ?? false,
      autoSanValidation: o.upstreamHttpProtocolOptions?.autoSanValidation ?? false,
      http2: {
        maxConcurrentStreams: h2?.maxConcurrentStreams ?? HTTP2_DEFAULTS.maxConcurrentStreams,
        initialStreamWindowSize: h2?.initialStreamWindowSize ?? HTTP2_DEFAULTS.initialStreamWindowSize,
        initialConnectionWindowSize: h2?.initialConnectionWindowSize ?? HTTP2_DEFAULTS.initialConnectionWindowSize,
        hpackTableSize: h2?.hpackTableSize ?? HTTP2_DEFAULTS.hpackTableSize,
        allowConnect: h2?.allowConnect ?? false,
      },
    };
  }
  return result;
}

// ---- endpoints -------------------------------------------------------------------------------

const DNS_NAME = /^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62}))*\.?$/;

/** Envoy's HealthStatus (config/core/v3/health_check.proto). */
const HEALTH = { UNKNOWN: 0, HEALTHY: 1, UNHEALTHY: 2, DRAINING: 3, TIMEOUT: 4, DEGRADED: 5 } as const;

export function compileLoadAssignment(cla: envoy.ClusterLoadAssignment): Compiled<EndpointSet> {
  const p = new Problems();
  checkSupportedFields(ClusterLoadAssignmentSchema, cla, '', p);
  if (cla.clusterName === '') p.add('cluster_name', 'must not be empty');
  const endpoints = compileEndpointsInto(p, '', cla);
  return p.result(() => ({ name: cla.clusterName, endpoints: endpoints! }));
}

/**
 * The endpoints that take traffic: healthy or unknown health (Envoy's default host set); degraded
 * ones only when there is no other (Envoy sends to degraded hosts when healthy ones run out).
 * Priorities other than 0 would need Envoy's priority failover: not implemented.
 */
/** dns_lookup_family → net.connect's family (undefined: any, as AUTO / V4_PREFERRED / ALL resolve both). */
function familyOf(p: Problems, family: envoy.Cluster_DnsLookupFamily): 4 | 6 | undefined {
  const F = envoy.Cluster_DnsLookupFamily;
  switch (family) {
    case F.V4_ONLY:
      return 4;
    case F.V6_ONLY:
      return 6;
    case F.AUTO:
    case F.V4_PREFERRED:
    case F.ALL:
      return undefined;
    default:
      p.notImplemented('dns_lookup_family', String(family));
      return undefined;
  }
}

/** `dns`: DNS names are allowed (LOGICAL_DNS), connected to with this address family; otherwise IPs only. */
function compileEndpointsInto(p: Problems, path: string, cla: envoy.ClusterLoadAssignment, dns?: { family: 4 | 6 | undefined }): EndpointAddress[] | undefined {
  const before = p.items.length;
  const usable: EndpointAddress[] = [];
  const degraded: EndpointAddress[] = [];
  cla.endpoints.forEach((locality, i) => {
    const lPath = at(path, `endpoints[${i}]`);
    if (locality.priority !== 0) p.notImplemented(at(lPath, 'priority'), 'priority failover');
    locality.lbEndpoints.forEach((lb, j) => {
      const ePath = at(lPath, `lb_endpoints[${j}]`);
      if (lb.hostIdentifier.case !== 'endpoint') {
        if (lb.hostIdentifier.case === undefined) p.add(at(ePath, 'endpoint'), 'is required');
        return;
      }
      const address = lb.hostIdentifier.value.address;
      if (address?.address.case !== 'socketAddress') {
        if (address?.address.case === undefined) p.add(at(ePath, 'endpoint.address.socket_address'), 'is required');
        return;
      }
      const s = address.address.value;
      const sPath = at(ePath, 'endpoint.address.socket_address');
      if (!dns && !isIpAddress(s.address)) p.add(at(sPath, 'address'), `"${s.address}" is not an IP address (DNS names are for LOGICAL_DNS clusters)`);
      else if (dns && !isIpAddress(s.address) && !DNS_NAME.test(s.address)) p.add(at(sPath, 'address'), `"${s.address}" is neither an IP address nor a DNS name`);
      if (s.protocol !== envoy.SocketAddress_Protocol.TCP) p.notImplemented(at(sPath, 'protocol'), 'UDP upstreams');
      if (s.portSpecifier.case !== 'portValue' || s.portSpecifier.value === 0 || s.portSpecifier.value > 65535) {
        if (s.portSpecifier.case !== 'namedPort') p.add(at(sPath, 'port_value'), 'must be in [1, 65535]');
        return;
      }
      const weight = lb.loadBalancingWeight ?? 1;
      if (weight < 1) p.add(at(ePath, 'load_balancing_weight'), 'must be at least 1');
      const endpoint: EndpointAddress = { address: s.address, port: s.portSpecifier.value, weight, ...(dns?.family ? { family: dns.family } : {}) };
      if (lb.healthStatus === HEALTH.HEALTHY || lb.healthStatus === HEALTH.UNKNOWN) usable.push(endpoint);
      else if (lb.healthStatus === HEALTH.DEGRADED) degraded.push(endpoint);
    });
  });
  if (p.items.length > before) return undefined;
  return usable.length > 0 ? usable : degraded;
}
