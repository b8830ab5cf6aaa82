// Clusters: meshd's upstreams are the connections' original destinations (ORIGINAL_DST with the
// CLUSTER_PROVIDED load balancer), in plaintext or originating TLS with SDS-fed trust. The HTTP
// protocol options make the upstream speak the downstream's protocol (h2 for gRPC) and, with TLS,
// send the request's host as SNI and verify the server certificate against it.
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { packAny } from '../codec/index.js';
import { ClusterSchema, Cluster_DiscoveryType, Cluster_LbPolicy, type Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { UpstreamTlsContextSchema } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import { HttpProtocolOptionsSchema } from '../generated/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js';
import type { ClusterPlan } from './plan.js';
import { sdsNamesOf, sdsSecret, tlsTransportSocket } from './sds.js';
import { FILTER_NAME } from './type-urls.js';
import { ProblemList, type ResourceProblem } from './problems.js';

export function buildCluster(plan: ClusterPlan): Cluster {
  const tls = plan.upstreamTls;
  const protocolOptions = create(HttpProtocolOptionsSchema, {
    upstreamProtocolOptions: { case: 'useDownstreamProtocolConfig', value: { httpProtocolOptions: {}, http2ProtocolOptions: {} } },
    ...(tls ? { upstreamHttpProtocolOptions: { autoSni: true, autoSanValidation: true } } : {}),
  });
  return create(ClusterSchema, {
    name: plan.name,
    clusterDiscoveryType: { case: 'type', value: Cluster_DiscoveryType.ORIGINAL_DST },
    lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
    connectTimeout: create(DurationSchema, { seconds: BigInt(Math.floor(plan.connectTimeoutMs / 1000)), nanos: (plan.connectTimeoutMs % 1000) * 1_000_000 }),
    typedExtensionProtocolOptions: { [FILTER_NAME.httpProtocolOptions]: packAny(HttpProtocolOptionsSchema, protocolOptions) },
    ...(tls
      ? {
          transportSocket: tlsTransportSocket(UpstreamTlsContextSchema, {
            commonTlsContext: {
              validationContextType: { case: 'validationContextSdsSecretConfig', value: sdsSecret(tls.validationSecret) },
              tlsCertificateSdsSecretConfigs: tls.clientCertificateSecret ? [sdsSecret(tls.clientCertificateSecret)] : [],
            },
          }),
        }
      : {}),
  });
}

export function validateCluster(cluster: Cluster): ResourceProblem[] {
  const p = new ProblemList();
  p.nonEmpty('name', cluster.name);
  const timeout = cluster.connectTimeout;
  if (!timeout || (timeout.seconds === 0n && timeout.nanos === 0) || timeout.seconds < 0n) p.add('connect_timeout', 'must be greater than 0');
  const type = cluster.clusterDiscoveryType;
  if (type.case === 'type' && type.value === Cluster_DiscoveryType.ORIGINAL_DST) {
    // Envoy refuses other load balancers and any load_assignment on ORIGINAL_DST clusters.
    if (cluster.lbPolicy !== Cluster_LbPolicy.CLUSTER_PROVIDED) p.add('lb_policy', 'ORIGINAL_DST clusters need CLUSTER_PROVIDED');
    if (cluster.loadAssignment) p.add('load_assignment', 'ORIGINAL_DST clusters must not have a load assignment');
  }
  for (const [key, any] of Object.entries(cluster.typedExtensionProtocolOptions)) {
    if (key === FILTER_NAME.httpProtocolOptions) p.typedConfig(`typed_extension_protocol_options["${key}"]`, any, HttpProtocolOptionsSchema);
  }
  secretNamesOfCluster(cluster, p);
  return p.items;
}

/** SDS secret names the cluster's transport socket refers to. */
function secretNamesOfCluster(cluster: Cluster, p?: ProblemList): string[] {
  const socket = cluster.transportSocket;
  if (!socket) return [];
  if (socket.configType.case !== 'typedConfig') {
    p?.add('transport_socket.typed_config', 'missing');
    return [];
  }
  const checker = p ?? new ProblemList();
  const ctx = checker.typedConfig('transport_socket.typed_config', socket.configType.value, UpstreamTlsContextSchema);
  return ctx ? sdsNamesOf(p, 'transport_socket.typed_config.common_tls_context', ctx.commonTlsContext) : [];
}

export { ClusterSchema };
