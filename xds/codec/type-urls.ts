// Type URLs of the resources meshd serves. The server keys responses by the request's full type URL
// (a mismatch silently answers "no resources", which the client ACKs: research/xds.md §2.8), so
// every place names them through these constants.

const PREFIX = 'type.googleapis.com/';

export const TYPE_URL = {
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  route: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  endpoint: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  secret: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`,
} as const;

export type EnvoyResourceKind = keyof typeof TYPE_URL;
export type EnvoyTypeUrl = (typeof TYPE_URL)[EnvoyResourceKind];

/** `type.googleapis.com/a.b.C` → `a.b.C`; the part after the last `/`, as protobuf's Any resolution does. */
export function typeNameOfUrl(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}

export function typeUrlOf(typeName: string): string {
  return `${PREFIX}${typeName}`;
}
