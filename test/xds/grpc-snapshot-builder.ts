// Builds the gRPC-shaped snapshot documents the real-client tests serve through `meshd xds serve`.
// gRPC clients NACK Envoy-style listeners (listener filters, non-HCM chains: research/xds.md §2.2),
// so these test the protocol with what proxyless gRPC accepts:
//   - a client Listener (gRFC A27): api_listener → HCM → RDS (ADS) → router;
//   - its RouteConfiguration, an EDS Cluster and the ClusterLoadAssignment with the backends;
//   - for xDS-enabled servers (gRFC A36), a server Listener named after the listening address with
//     HCM → RBAC (A41) → router and routes with non_forwarding_action.
import { stringify } from 'yaml';

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
};

/** What the bootstrap's server_listener_resource_name_template turns `127.0.0.1:port` into. */
export const SERVER_LISTENER_TEMPLATE = 'grpc/server?xds.resource.listening_address=%s';

export interface GrpcSnapshotOptions {
  /** The xds:/// target's name, e.g. `greeter.local`. */
  serviceName: string;
  /** Ports on 127.0.0.1 the ClusterLoadAssignment lists. */
  backendPorts: number[];
  /** Ports on 127.0.0.1 of xDS-enabled servers; each gets an A36 server Listener with RBAC. */
  serverPorts?: number[];
  /** gRPC method paths the RBAC policy denies; everything else is allowed. */
  deniedPaths?: string[];
  version?: string;
}

export function routeNameOf(serviceName: string): string {
  return `route-${serviceName}`;
}

export function clusterNameOf(serviceName: string): string {
  return `cluster-${serviceName}`;
}

/** The snapshot as a `resources:` list, each resource with its "@type". */
export function grpcSnapshotDocument(opts: GrpcSnapshotOptions): Record<string, unknown> {
  const resources: Array<Record<string, unknown>> = [
    { '@type': TYPE.listener, ...clientListener(opts.serviceName) },
    { '@type': TYPE.route, ...clientRoute(opts.serviceName) },
    { '@type': TYPE.cluster, ...edsCluster(clusterNameOf(opts.serviceName)) },
    { '@type': TYPE.endpoint, ...loadAssignment(clusterNameOf(opts.serviceName), opts.backendPorts) },
    ...(opts.serverPorts ?? []).map((port) => ({ '@type': TYPE.listener, ...serverListener(port, opts.deniedPaths ?? []) })),
  ];
  return { ...(opts.version !== undefined ? { version: opts.version } : {}), resources };
}

/** The same snapshot in the typed-list layout (listeners:, routes:, clusters:, endpoints:), as YAML. */
export function grpcSnapshotYaml(opts: GrpcSnapshotOptions): string {
  const doc: Record<string, unknown> = {
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    listeners: [clientListener(opts.serviceName), ...(opts.serverPorts ?? []).map((port) => serverListener(port, opts.deniedPaths ?? []))],
    routes: [clientRoute(opts.serviceName)],
    clusters: [edsCluster(clusterNameOf(opts.serviceName))],
    endpoints: [loadAssignment(clusterNameOf(opts.serviceName), opts.backendPorts)],
  };
  return stringify(doc);
}

function clientListener(serviceName: string): Record<string, unknown> {
  return {
    name: serviceName,
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        stat_prefix: serviceName,
        rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: routeNameOf(serviceName) },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
      },
    },
  };
}

function clientRoute(serviceName: string): Record<string, unknown> {
  return {
    name: routeNameOf(serviceName),
    virtual_hosts: [{ name: serviceName, domains: [serviceName], routes: [{ match: { prefix: '' }, route: { cluster: clusterNameOf(serviceName) } }] }],
  };
}

function edsCluster(name: string): Record<string, unknown> {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } }, lb_policy: 'ROUND_ROBIN' };
}

function loadAssignment(clusterName: string, ports: number[]): Record<string, unknown> {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        // gRPC NACKs a LocalityLbEndpoints without a locality and ignores a locality of weight 0.
        locality: { region: 'local', zone: 'a' },
        load_balancing_weight: 1,
        lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })),
      },
    ],
  };
}

function serverListener(port: number, deniedPaths: string[]): Record<string, unknown> {
  const address = `127.0.0.1:${port}`;
  return {
    // A36: the server subscribes to the template with %s = the address it binds; the Listener's
    // socket_address must equal that address, or the server stays NOT_SERVING.
    name: SERVER_LISTENER_TEMPLATE.replace('%s', address),
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: `server-${port}`,
              route_config: {
                name: `server-route-${port}`,
                virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '' }, non_forwarding_action: {} }] }],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.rbac',
                  typed_config: {
                    '@type': RBAC_TYPE,
                    rules: {
                      action: 'DENY',
                      policies: {
                        'deny-listed-methods': {
                          permissions: [{ or_rules: { rules: deniedPaths.map((p) => ({ url_path: { path: { exact: p } } })) } }],
                          principals: [{ any: true }],
                        },
                      },
                    },
                  },
                },
                { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } },
              ],
            },
          },
        ],
      },
    ],
  };
}
