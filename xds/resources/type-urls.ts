// Type URLs of meshd's own typed filter configs, and the extension names meshd gives the Envoy
// filters it configures. Envoy resolves an extension by its typed_config type, so the names are
// labels for stats and config dumps; they are fixed here so every builder and test agrees.
import { typeUrlOf } from '../codec/index.js';
import { KafkaPolicySchema } from '../generated/meshd/filters/kafka/v1/kafka_pb.js';
import { DnsPolicySchema } from '../generated/meshd/filters/dns/v1/dns_pb.js';

export const MESHD_TYPE_URL = {
  kafkaPolicy: typeUrlOf(KafkaPolicySchema.typeName),
  dnsPolicy: typeUrlOf(DnsPolicySchema.typeName),
} as const;

/** Every meshd type name starts with this; an Envoy node must never see one. */
export const MESHD_TYPE_PREFIX = 'meshd.';

export const FILTER_NAME = {
  originalDst: 'envoy.filters.listener.original_dst',
  tlsInspector: 'envoy.filters.listener.tls_inspector',
  httpConnectionManager: 'envoy.filters.network.http_connection_manager',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
  networkRbacDeny: 'meshd.rbac.deny',
  networkRbacAllow: 'meshd.rbac.allow',
  httpRbacDeny: 'meshd.rbac.deny',
  httpRbacAllow: 'meshd.rbac.allow',
  router: 'envoy.filters.http.router',
  tlsTransportSocket: 'envoy.transport_sockets.tls',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  kafka: 'meshd.filters.kafka',
  dns: 'meshd.filters.dns',
} as const;
