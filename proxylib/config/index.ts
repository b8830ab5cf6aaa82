// Public entry of proxylib/config: compiling xDS resources (Listener, RouteConfiguration, Cluster,
// ClusterLoadAssignment, Secret) into the built-in proxy's config model. Each compile function is
// pure apart from reading DataSource files, and returns Compiled<T>: the value, or every problem
// with its proto field path (anything the proxy does not implement is one — the NACK rule).
export type * from './types.js';
export { compileListener, registerUdpListenerFilter, DEFAULT_BUFFER_LIMIT_BYTES, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS } from './listener.js';
export type { UdpListenerFilterCompiler } from './listener.js';
export { compileRouteConfiguration, stripPort, DEFAULT_ROUTE_TIMEOUT_MS } from './route-table.js';
export { compileCluster, compileLoadAssignment, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS } from './cluster.js';
export { compileSecret } from './secret.js';
export { HCM_DEFAULTS, HTTP2_DEFAULTS } from './hcm.js';
export { TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS, registerNetworkFilter } from './filter-registry.js';
export type { NetworkFilterCompiler, NetworkFilterContext } from './filter-registry.js';
export { referencesOfListener, referencesOfCluster } from './references.js';
export type { ListenerReferences, ClusterReferences } from './references.js';
export { checkSupportedFields } from './field-walker.js';
export { Problems, NOT_IMPLEMENTED } from './problems.js';
export { compileResource } from './compile-resource.js';
export type { CompiledResource } from './compile-resource.js';
