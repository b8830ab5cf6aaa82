// Listeners: one per proxy port and protocol, on the proxy's addresses. The datapath rewrites a
// redirected connection's destination to the proxy port and answers SO_ORIGINAL_DST for it, so the
// original_dst listener filter restores the original destination as the connection's local address;
// filter chains then match on it (destination port, the endpoint's addresses) and the ORIGINAL_DST
// clusters connect to it. No default filter chain: a connection no chain matches is closed.
import { create } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { packAny } from '../codec/index.js';
import {
  AdditionalAddressSchema,
  ListenerSchema,
  type Listener,
} from '../generated/envoy/config/listener/v3/listener_pb.js';
import {
  FilterChainMatchSchema,
  FilterChainSchema,
  FilterSchema,
  ListenerFilterSchema,
  type Filter,
  type FilterChain,
  type FilterChainMatch,
} from '../generated/envoy/config/listener/v3/listener_components_pb.js';
import { UdpListenerConfigSchema } from '../generated/envoy/config/listener/v3/udp_listener_config_pb.js';
import { AddressSchema, SocketAddress_Protocol, type Address } from '../generated/envoy/config/core/v3/address_pb.js';
import { OriginalDstSchema } from '../generated/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb.js';
import { TlsInspectorSchema } from '../generated/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector_pb.js';
import { TcpProxySchema } from '../generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js';
import { RouterSchema } from '../generated/envoy/extensions/filters/http/router/v3/router_pb.js';
import {
  HttpConnectionManagerSchema,
  HttpConnectionManager_CodecType,
  HttpConnectionManager_PathWithEscapedSlashesAction,
  type HttpConnectionManager,
} from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import { ComparisonFilter_Op } from '../generated/envoy/config/accesslog/v3/accesslog_pb.js';
import { DownstreamTlsContextSchema } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import type { ChainFilterPlan, FilterChainPlan, ListenerPlan, PrefixPlan } from './plan.js';
import { buildHttpRbacFilters, buildNetworkRbacFilters, cidrRange, HttpRbacSchema, NetworkRbacSchema, validateRbacConfig } from './rbac-filter.js';
import { buildKafkaPolicy, encodeKafkaPolicy, KafkaPolicySchema, validateKafkaPolicy } from './kafka-filter.js';
import { buildDnsPolicy, DnsPolicySchema, encodeDnsPolicy, validateDnsPolicy } from './dns-filter.js';
import { adsConfigSource, sdsNamesOf, sdsSecret, tlsTransportSocket } from './sds.js';
import { FILTER_NAME, MESHD_TYPE_PREFIX } from './type-urls.js';
import { ProblemList, type ResourceProblem } from './problems.js';

/** What an HTTP RBAC denial answers (Cilium's default `--http-403-msg`, CRLF included). */
export const ACCESS_DENIED_BODY = 'Access denied\r\n';
/** Runtime key of the status the local-reply mapper rewrites (RuntimeUInt32 requires one). */
export const ACCESS_DENIED_STATUS_RUNTIME_KEY = 'meshd.http.access_denied_status';

export function buildListener(plan: ListenerPlan): Listener {
  const [first, ...rest] = plan.addresses;
  const protocol = plan.protocol === 'UDP' ? SocketAddress_Protocol.UDP : SocketAddress_Protocol.TCP;
  const base = {
    name: plan.name,
    address: socketAddress(first ?? '', plan.port, protocol),
    additionalAddresses: rest.map((a) => create(AdditionalAddressSchema, { address: socketAddress(a, plan.port, protocol) })),
  };
  if (plan.protocol === 'UDP') {
    return create(ListenerSchema, {
      ...base,
      udpListenerConfig: create(UdpListenerConfigSchema, {}),
      listenerFilters: plan.udpFilters.map((f) => listenerFilter(f.name, encodeDnsPolicy(buildDnsPolicy(f.config)))),
    });
  }
  const needsTlsInspector = plan.chains.some((c) => c.match.transportProtocol !== undefined || c.match.serverNames.length > 0);
  return create(ListenerSchema, {
    ...base,
    listenerFilters: [
      listenerFilter(FILTER_NAME.originalDst, packAny(OriginalDstSchema, create(OriginalDstSchema, {}))),
      ...(needsTlsInspector ? [listenerFilter(FILTER_NAME.tlsInspector, packAny(TlsInspectorSchema, create(TlsInspectorSchema, {})))] : []),
    ],
    filterChains: plan.chains.map(filterChain),
  });
}

function socketAddress(address: string, port: number, protocol: SocketAddress_Protocol): Address {
  return create(AddressSchema, { address: { case: 'socketAddress', value: { protocol, address, portSpecifier: { case: 'portValue', value: port } } } });
}

function listenerFilter(name: string, config: Any) {
  return create(ListenerFilterSchema, { name, configType: { case: 'typedConfig', value: config } });
}

function networkFilter(name: string, config: Any): Filter {
  return create(FilterSchema, { name, configType: { case: 'typedConfig', value: config } });
}

function filterChain(plan: FilterChainPlan): FilterChain {
  const m = plan.match;
  const match = create(FilterChainMatchSchema, {
    ...(m.destinationPort !== undefined ? { destinationPort: m.destinationPort } : {}),
    prefixRanges: sortPrefixes(m.destinationPrefixes).map(cidrRange),
    sourcePrefixRanges: sortPrefixes(m.sourcePrefixes).map(cidrRange),
    transportProtocol: m.transportProtocol ?? '',
    serverNames: [...m.serverNames],
  });
  const tls = plan.downstreamTls;
  return create(FilterChainSchema, {
    name: plan.name,
    filterChainMatch: match,
    filters: chainFilters(plan.filter),
    ...(tls
      ? {
          transportSocket: tlsTransportSocket(DownstreamTlsContextSchema, {
            commonTlsContext: {
              tlsCertificateSdsSecretConfigs: [sdsSecret(tls.certificateSecret)],
              ...(tls.validationSecret ? { validationContextType: { case: 'validationContextSdsSecretConfig' as const, value: sdsSecret(tls.validationSecret) } } : {}),
              // h2 first so gRPC over TLS keeps HTTP/2; the HCM's AUTO codec follows ALPN.
              alpnProtocols: plan.filter.kind === 'http' ? ['h2', 'http/1.1'] : [],
            },
          }),
        }
      : {}),
  });
}

function sortPrefixes(prefixes: readonly PrefixPlan[]): PrefixPlan[] {
  return [...prefixes].sort((a, b) => (a.address === b.address ? a.length - b.length : a.address < b.address ? -1 : 1));
}

function chainFilters(plan: ChainFilterPlan): Filter[] {
  switch (plan.kind) {
    case 'http':
      return [networkFilter(FILTER_NAME.httpConnectionManager, packAny(HttpConnectionManagerSchema, httpConnectionManager(plan)))];
    case 'tcp': {
      const rbac = buildNetworkRbacFilters(plan.access);
      return [
        ...(rbac.deny ? [networkFilter(FILTER_NAME.networkRbacDeny, packAny(NetworkRbacSchema, rbac.deny))] : []),
        networkFilter(FILTER_NAME.networkRbacAllow, packAny(NetworkRbacSchema, rbac.allow)),
        networkFilter(FILTER_NAME.tcpProxy, packAny(TcpProxySchema, create(TcpProxySchema, { statPrefix: plan.statPrefix, clusterSpecifier: { case: 'cluster', value: plan.cluster } }))),
      ];
    }
    case 'kafka':
      return [networkFilter(FILTER_NAME.kafka, encodeKafkaPolicy(buildKafkaPolicy(plan.config)))];
    case 'dns':
      return [networkFilter(FILTER_NAME.dns, encodeDnsPolicy(buildDnsPolicy(plan.config)))];
  }
}

function httpConnectionManager(plan: Extract<ChainFilterPlan, { kind: 'http' }>): HttpConnectionManager {
  const rbac = buildHttpRbacFilters(plan.access);
  const httpFilter = (name: string, config: Any) => ({ name, configType: { case: 'typedConfig' as const, value: config } });
  return create(HttpConnectionManagerSchema, {
    statPrefix: plan.statPrefix,
    codecType: HttpConnectionManager_CodecType.AUTO,
    routeSpecifier: { case: 'rds', value: { configSource: adsConfigSource(), routeConfigName: plan.routeConfigName } },
    httpFilters: [
      ...(rbac.deny ? [httpFilter(FILTER_NAME.httpRbacDeny, packAny(HttpRbacSchema, rbac.deny))] : []),
      httpFilter(FILTER_NAME.httpRbacAllow, packAny(HttpRbacSchema, rbac.allow)),
      httpFilter(FILTER_NAME.router, packAny(RouterSchema, create(RouterSchema, {}))),
    ],
    // Rules match the path as the upstream will read it: `/a/../b` and `//b` are normalized before
    // RBAC, and a path with an escaped slash or backslash (%2F, %5C), which an upstream might
    // decode into a different path than the one RBAC saw, is refused with 400.
    normalizePath: true,
    mergeSlashes: true,
    pathWithEscapedSlashesAction: HttpConnectionManager_PathWithEscapedSlashesAction.REJECT_REQUEST,
    // The peer is the socket's address, never a header; and the request goes upstream unchanged.
    useRemoteAddress: true,
    skipXffAppend: true,
    localReplyConfig: {
      mappers: [
        {
          filter: {
            filterSpecifier: {
              case: 'statusCodeFilter',
              value: { comparison: { op: ComparisonFilter_Op.EQ, value: { defaultValue: 403, runtimeKey: ACCESS_DENIED_STATUS_RUNTIME_KEY } } },
            },
          },
          // RBAC's own body is "RBAC: access denied"; for gRPC, Envoy turns the 403 into
          // grpc-status PERMISSION_DENIED with this text as grpc-message.
          body: { specifier: { case: 'inlineString', value: ACCESS_DENIED_BODY } },
        },
      ],
    },
  });
}

// ---- validation ----------------------------------------------------------------------------

export function validateListener(listener: Listener): ResourceProblem[] {
  const p = new ProblemList();
  p.nonEmpty('name', listener.name);
  const protocol = checkAddress(p, 'address', listener.address);
  listener.additionalAddresses.forEach((a, i) => {
    const other = checkAddress(p, `additional_addresses[${i}].address`, a.address);
    if (other !== protocol) p.add(`additional_addresses[${i}].address.socket_address.protocol`, 'differs from the listener address');
  });
  if (protocol === SocketAddress_Protocol.UDP) {
    if (!listener.udpListenerConfig) p.add('udp_listener_config', 'a UDP listener needs it');
    if (listener.filterChains.length > 0) p.add('filter_chains', 'a UDP listener has listener filters, not filter chains');
    if (listener.listenerFilters.length === 0) p.add('listener_filters', 'a UDP listener needs a listener filter');
    listener.listenerFilters.forEach((f, i) => {
      p.nonEmpty(`listener_filters[${i}].name`, f.name);
      const dns = f.configType.case === 'typedConfig' ? p.typedConfig(`listener_filters[${i}].typed_config`, f.configType.value, DnsPolicySchema) : undefined;
      if (f.configType.case !== 'typedConfig') p.add(`listener_filters[${i}].typed_config`, 'missing');
      if (dns) p.merge(`listener_filters[${i}].typed_config`, validateDnsPolicy(dns));
    });
    return p.items;
  }
  const hasOriginalDst = listener.listenerFilters.some((f) => f.configType.case === 'typedConfig' && f.configType.value.typeUrl.endsWith(OriginalDstSchema.typeName));
  if (!hasOriginalDst) p.add('listener_filters', 'needs the original_dst listener filter (chains match on the original destination)');
  const hasTlsInspector = listener.listenerFilters.some((f) => f.configType.case === 'typedConfig' && f.configType.value.typeUrl.endsWith(TlsInspectorSchema.typeName));
  if (listener.filterChains.length === 0 && !listener.defaultFilterChain) p.add('filter_chains', 'must not be empty (Envoy refuses a listener without filter chains)');
  const matches = new Map<string, number>();
  p.unique('filter_chains', listener.filterChains.map((c) => c.name), 'filter chain name');
  listener.filterChains.forEach((chain, i) => {
    const at = `filter_chains[${i}]`;
    p.nonEmpty(`${at}.name`, chain.name);
    const key = matchKey(chain.filterChainMatch);
    const previous = matches.get(key);
    if (previous !== undefined) p.add(`${at}.filter_chain_match`, `same match as filter_chains[${previous}] (Envoy refuses the listener)`);
    else matches.set(key, i);
    checkMatch(p, `${at}.filter_chain_match`, chain.filterChainMatch);
    const m = chain.filterChainMatch;
    if (m && (m.transportProtocol !== '' || m.serverNames.length > 0) && !hasTlsInspector) p.add(`${at}.filter_chain_match`, 'matches on TLS but the listener has no tls_inspector listener filter');
    if (chain.transportSocket) {
      const socket = chain.transportSocket;
      if (socket.configType.case !== 'typedConfig') p.add(`${at}.transport_socket.typed_config`, 'missing');
      else {
        const ctx = p.typedConfig(`${at}.transport_socket.typed_config`, socket.configType.value, DownstreamTlsContextSchema);
        if (ctx) {
          const names = sdsNamesOf(p, `${at}.transport_socket.typed_config.common_tls_context`, ctx.commonTlsContext);
          if (names.length === 0) p.add(`${at}.transport_socket.typed_config.common_tls_context`, 'terminating TLS needs a certificate');
        }
      }
    }
    checkFilters(p, at, chain.filters);
  });
  return p.items;
}

function checkAddress(p: ProblemList, path: string, address: Address | undefined): SocketAddress_Protocol | undefined {
  if (address?.address.case !== 'socketAddress') {
    p.add(path, 'needs a socket address');
    return undefined;
  }
  const socket = address.address.value;
  p.ip(`${path}.socket_address.address`, socket.address);
  p.port(`${path}.socket_address.port_value`, socket.portSpecifier.case === 'portValue' ? socket.portSpecifier.value : undefined);
  return socket.protocol;
}

function matchKey(m: FilterChainMatch | undefined): string {
  if (!m) return '';
  const cidrs = (list: FilterChainMatch['prefixRanges']) => list.map((c) => `${c.addressPrefix}/${String(c.prefixLen)}`).sort();
  return JSON.stringify([m.destinationPort ?? null, cidrs(m.prefixRanges), cidrs(m.sourcePrefixRanges), m.transportProtocol, [...m.serverNames].sort(), [...m.applicationProtocols].sort(), m.sourceType, [...m.sourcePorts].sort()]);
}

function checkMatch(p: ProblemList, path: string, m: FilterChainMatch | undefined): void {
  if (!m) return;
  if (m.destinationPort !== undefined) p.port(`${path}.destination_port`, m.destinationPort);
  m.prefixRanges.forEach((c, i) => p.cidr(`${path}.prefix_ranges[${i}]`, c.addressPrefix, c.prefixLen));
  m.sourcePrefixRanges.forEach((c, i) => p.cidr(`${path}.source_prefix_ranges[${i}]`, c.addressPrefix, c.prefixLen));
  p.unique(`${path}.server_names`, m.serverNames, 'server name');
  m.serverNames.forEach((name, i) => {
    // Envoy accepts exact names and a leading `*.` wildcard only.
    if (!/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) p.add(`${path}.server_names[${i}]`, `"${name}" is not an exact name or *.suffix`);
  });
}

const TERMINAL_FILTERS: ReadonlySet<string> = new Set([HttpConnectionManagerSchema.typeName, TcpProxySchema.typeName, KafkaPolicySchema.typeName, DnsPolicySchema.typeName]);

function checkFilters(p: ProblemList, chainPath: string, filters: readonly Filter[]): void {
  if (filters.length === 0) {
    p.add(`${chainPath}.filters`, 'must not be empty');
    return;
  }
  filters.forEach((f, j) => {
    const at = `${chainPath}.filters[${j}]`;
    p.nonEmpty(`${at}.name`, f.name);
    if (f.configType.case !== 'typedConfig') {
      p.add(`${at}.typed_config`, 'missing');
      return;
    }
    const any = f.configType.value;
    const typeName = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
    const isLast = j === filters.length - 1;
    const terminal = TERMINAL_FILTERS.has(typeName);
    if (terminal !== isLast) p.add(at, isLast ? `the last filter must be terminal, not ${typeName}` : `${typeName} is terminal and must be last`);
    const cfg = `${at}.typed_config`;
    switch (typeName) {
      case HttpConnectionManagerSchema.typeName: {
        const hcm = p.typedConfig(cfg, any, HttpConnectionManagerSchema);
        if (hcm) checkHcm(p, cfg, hcm);
        return;
      }
      case TcpProxySchema.typeName: {
        const tcp = p.typedConfig(cfg, any, TcpProxySchema);
        if (!tcp) return;
        p.nonEmpty(`${cfg}.stat_prefix`, tcp.statPrefix);
        if (tcp.clusterSpecifier.case !== 'cluster' || tcp.clusterSpecifier.value === '') p.add(`${cfg}.cluster`, 'must name a cluster');
        return;
      }
      case NetworkRbacSchema.typeName: {
        const rbac = p.typedConfig(cfg, any, NetworkRbacSchema);
        if (!rbac) return;
        p.nonEmpty(`${cfg}.stat_prefix`, rbac.statPrefix);
        p.merge(`${cfg}.rules`, validateRbacConfig(rbac.rules));
        return;
      }
      case KafkaPolicySchema.typeName: {
        const kafka = p.typedConfig(cfg, any, KafkaPolicySchema);
        if (kafka) p.merge(cfg, validateKafkaPolicy(kafka));
        return;
      }
      case DnsPolicySchema.typeName: {
        const dns = p.typedConfig(cfg, any, DnsPolicySchema);
        if (dns) p.merge(cfg, validateDnsPolicy(dns));
        return;
      }
      default:
        p.add(cfg, `meshd does not generate network filter ${typeName}`);
    }
  });
}

function checkHcm(p: ProblemList, path: string, hcm: HttpConnectionManager): void {
  p.nonEmpty(`${path}.stat_prefix`, hcm.statPrefix);
  if (hcm.routeSpecifier.case !== 'rds' || hcm.routeSpecifier.value.routeConfigName === '') p.add(`${path}.rds.route_config_name`, 'must name a RouteConfiguration');
  if (hcm.normalizePath !== true) p.add(`${path}.normalize_path`, 'must be true (rules match normalized paths)');
  if (hcm.httpFilters.length === 0) {
    p.add(`${path}.http_filters`, 'must not be empty');
    return;
  }
  hcm.httpFilters.forEach((f, i) => {
    const at = `${path}.http_filters[${i}]`;
    p.nonEmpty(`${at}.name`, f.name);
    if (f.configType.case !== 'typedConfig') {
      p.add(`${at}.typed_config`, 'missing');
      return;
    }
    const typeName = f.configType.value.typeUrl.slice(f.configType.value.typeUrl.lastIndexOf('/') + 1);
    const isLast = i === hcm.httpFilters.length - 1;
    if ((typeName === RouterSchema.typeName) !== isLast) p.add(at, isLast ? 'the router must be the last HTTP filter' : 'the router must be last');
    if (typeName === HttpRbacSchema.typeName) {
      const rbac = p.typedConfig(`${at}.typed_config`, f.configType.value, HttpRbacSchema);
      if (rbac) p.merge(`${at}.typed_config.rules`, validateRbacConfig(rbac.rules));
    } else if (typeName !== RouterSchema.typeName) {
      p.add(`${at}.typed_config`, `meshd does not generate HTTP filter ${typeName}`);
    }
  });
}

/** Type names of meshd's own configs anywhere in the listener (an Envoy node must get none). */
export function meshdTypesInListener(listener: Listener): string[] {
  const found = new Set<string>();
  const visit = (any: Any | undefined) => {
    if (!any) return;
    const name = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
    if (name.startsWith(MESHD_TYPE_PREFIX)) found.add(name);
  };
  for (const f of listener.listenerFilters) if (f.configType.case === 'typedConfig') visit(f.configType.value);
  for (const chain of listener.filterChains) for (const f of chain.filters) if (f.configType.case === 'typedConfig') visit(f.configType.value);
  return [...found].sort();
}

export { ListenerSchema };
