// The names each Envoy resource refers to: what Snapshot.consistencyProblems() checks against what the
// snapshot holds. Filters travel as Any, so HCM, tcp_proxy and TLS contexts are unpacked to look inside.
import { unpackAny } from '../codec/index.js';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { FilterChain } from '../generated/envoy/config/listener/v3/listener_components_pb.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { Route } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { Cluster_DiscoveryType, type Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { TransportSocket } from '../generated/envoy/config/core/v3/base_pb.js';
import type { HttpConnectionManager } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { TcpProxy } from '../generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js';
import type { CommonTlsContext, DownstreamTlsContext, UpstreamTlsContext } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import type { KafkaPolicy } from '../generated/meshd/filters/kafka/v1/kafka_pb.js';
import type { DnsPolicy } from '../generated/meshd/filters/dns/v1/dns_pb.js';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const DOWNSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const KAFKA_POLICY = 'meshd.filters.kafka.v1.KafkaPolicy';
const DNS_POLICY = 'meshd.filters.dns.v1.DnsPolicy';

/** Names referred to, each with a description of where, for problem messages. */
export interface References {
  routes: Array<{ name: string; from: string }>;
  clusters: Array<{ name: string; from: string }>;
  endpoints: Array<{ name: string; from: string }>;
  secrets: Array<{ name: string; from: string }>;
  /** Parts that could not be decoded, so their references are unknown. */
  problems: string[];
}

export function emptyReferences(): References {
  return { routes: [], clusters: [], endpoints: [], secrets: [], problems: [] };
}

/** Any packs typed configs; only the types we look inside are decoded. Unknown types (cilium.*) are skipped. */
function unpackIf<T>(any: Any | undefined, typeName: string, from: string, refs: References): T | undefined {
  if (!any || !any.typeUrl.endsWith(`/${typeName}`)) return undefined;
  try {
    return unpackAny(any).message as T;
  } catch (err) {
    refs.problems.push(`${from}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

export function collectListenerReferences(listener: Listener, refs: References): void {
  const at = `listener "${listener.name}"`;
  const chains: Array<[FilterChain, string]> = listener.filterChains.map((c, i) => [c, `${at} filter_chains[${i}]`]);
  if (listener.defaultFilterChain) chains.push([listener.defaultFilterChain, `${at} default_filter_chain`]);
  for (const [chain, where] of chains) {
    chain.filters.forEach((filter, i) => {
      const from = `${where}.filters[${i}]`;
      const typed = filter.configType.case === 'typedConfig' ? filter.configType.value : undefined;
      const hcm = unpackIf<HttpConnectionManager>(typed, HCM, from, refs);
      if (hcm) collectHcmReferences(hcm, from, refs);
      const tcp = unpackIf<TcpProxy>(typed, TCP_PROXY, from, refs);
      if (tcp) collectTcpProxyReferences(tcp, from, refs);
      collectMeshdUpstreamReferences(typed, from, refs);
    });
    collectTransportSocketReferences(chain.transportSocket, `${where}.transport_socket`, refs);
  }
  // meshd's UDP DNS filter is a listener filter (xds/resources/listener.ts).
  listener.listenerFilters.forEach((filter, i) => {
    if (filter.configType.case === 'typedConfig') collectMeshdUpstreamReferences(filter.configType.value, `${at} listener_filters[${i}]`, refs);
  });
  // gRPC clients' listeners carry the HCM in api_listener (research/xds.md §2.2).
  const api = unpackIf<HttpConnectionManager>(listener.apiListener?.apiListener, HCM, `${at} api_listener`, refs);
  if (api) collectHcmReferences(api, `${at} api_listener`, refs);
}

function collectHcmReferences(hcm: HttpConnectionManager, from: string, refs: References): void {
  if (hcm.routeSpecifier.case === 'rds') refs.routes.push({ name: hcm.routeSpecifier.value.routeConfigName, from });
  else if (hcm.routeSpecifier.case === 'routeConfig') collectRouteConfigReferences(hcm.routeSpecifier.value, refs, `${from} inline route_config`);
}

/** meshd's Kafka and DNS filters forward what they allow to an upstream cluster of the snapshot. */
function collectMeshdUpstreamReferences(typed: Any | undefined, from: string, refs: References): void {
  const policy = unpackIf<KafkaPolicy>(typed, KAFKA_POLICY, from, refs) ?? unpackIf<DnsPolicy>(typed, DNS_POLICY, from, refs);
  if (policy?.upstream) refs.clusters.push({ name: policy.upstream.cluster, from: `${from} upstream` });
}

function collectTcpProxyReferences(tcp: TcpProxy, from: string, refs: References): void {
  if (tcp.clusterSpecifier.case === 'cluster') refs.clusters.push({ name: tcp.clusterSpecifier.value, from: `${from} tcp_proxy` });
  else if (tcp.clusterSpecifier.case === 'weightedClusters') {
    for (const c of tcp.clusterSpecifier.value.clusters) refs.clusters.push({ name: c.name, from: `${from} tcp_proxy` });
  }
}

export function collectRouteConfigReferences(config: RouteConfiguration, refs: References, from = `route configuration "${config.name}"`): void {
  for (const vhost of config.virtualHosts) {
    for (const route of vhost.routes) collectRouteReferences(route, `${from} virtual host "${vhost.name}"`, refs);
  }
}

function collectRouteReferences(route: Route, from: string, refs: References): void {
  if (route.action.case !== 'route') return;
  const action = route.action.value;
  if (action.clusterSpecifier.case === 'cluster') refs.clusters.push({ name: action.clusterSpecifier.value, from });
  else if (action.clusterSpecifier.case === 'weightedClusters') {
    for (const c of action.clusterSpecifier.value.clusters) refs.clusters.push({ name: c.name, from });
  }
  for (const mirror of action.requestMirrorPolicies) if (mirror.cluster) refs.clusters.push({ name: mirror.cluster, from: `${from} request mirror` });
}

export function collectClusterReferences(cluster: Cluster, refs: References): void {
  const at = `cluster "${cluster.name}"`;
  if (cluster.clusterDiscoveryType.case === 'type' && cluster.clusterDiscoveryType.value === Cluster_DiscoveryType.EDS) {
    refs.endpoints.push({ name: cluster.edsClusterConfig?.serviceName || cluster.name, from: `${at} (EDS)` });
  }
  collectTransportSocketReferences(cluster.transportSocket, `${at} transport_socket`, refs);
  cluster.transportSocketMatches.forEach((m, i) => collectTransportSocketReferences(m.transportSocket, `${at} transport_socket_matches[${i}]`, refs));
}

function collectTransportSocketReferences(socket: TransportSocket | undefined, from: string, refs: References): void {
  const typed = socket?.configType.case === 'typedConfig' ? socket.configType.value : undefined;
  const down = unpackIf<DownstreamTlsContext>(typed, DOWNSTREAM_TLS, from, refs);
  if (down) {
    collectTlsReferences(down.commonTlsContext, from, refs);
    if (down.sessionTicketKeysType.case === 'sessionTicketKeysSdsSecretConfig') refs.secrets.push({ name: down.sessionTicketKeysType.value.name, from });
  }
  const up = unpackIf<UpstreamTlsContext>(typed, UPSTREAM_TLS, from, refs);
  if (up) collectTlsReferences(up.commonTlsContext, from, refs);
}

function collectTlsReferences(common: CommonTlsContext | undefined, from: string, refs: References): void {
  if (!common) return;
  for (const sds of common.tlsCertificateSdsSecretConfigs) refs.secrets.push({ name: sds.name, from });
  const v = common.validationContextType;
  if (v.case === 'validationContextSdsSecretConfig') refs.secrets.push({ name: v.value.name, from });
  else if (v.case === 'combinedValidationContext' && v.value.validationContextSdsSecretConfig) {
    refs.secrets.push({ name: v.value.validationContextSdsSecretConfig.name, from });
  }
}
