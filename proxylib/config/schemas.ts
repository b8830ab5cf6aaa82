// The Envoy message schemas the compilers decode and walk, taken once from the xDS layer's `envoy`
// namespace (proxylib never imports xds/generated directly).
import { envoy } from '../../xds/index.js';

export const ListenerSchema = envoy.ListenerSchema;
export const FilterChainSchema = envoy.FilterChainSchema;
export const RouteConfigurationSchema = envoy.RouteConfigurationSchema;
export const ClusterSchema = envoy.ClusterSchema;
export const ClusterLoadAssignmentSchema = envoy.ClusterLoadAssignmentSchema;
export const SecretSchema = envoy.SecretSchema;
export const HttpConnectionManagerSchema = envoy.HttpConnectionManagerSchema;
export const TcpProxySchema = envoy.TcpProxySchema;
export const HttpRbacSchema = envoy.HttpRbacSchema;
export const NetworkRbacSchema = envoy.NetworkRbacSchema;
export const RouterSchema = envoy.RouterSchema;
export const OriginalDstSchema = envoy.OriginalDstSchema;
export const TlsInspectorSchema = envoy.TlsInspectorSchema;
export const DownstreamTlsContextSchema = envoy.DownstreamTlsContextSchema;
export const UpstreamTlsContextSchema = envoy.UpstreamTlsContextSchema;
export const RawBufferSchema = envoy.RawBufferSchema;
/** envoy.extensions.upstreams.http.v3.HttpProtocolOptions (the cluster's typed_extension_protocol_options). */
export const UpstreamHttpProtocolOptionsSchema = envoy.UpstreamHttpProtocolOptionsSchema;
