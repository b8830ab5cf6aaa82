// Builders for xDS resources in tests (grpc-js-xds's FakeListener/FakeCluster style): real Envoy
// messages from the generated schemas, built through the proto3 JSON mapping so nested Anys (HCM,
// tcp_proxy, TLS contexts) are packed by the codec. Fluent, so a test says only what it cares about.
import { Snapshot, TYPE_URL, makeResource, messageFromJson, messageSchemaOfUrl, type SnapshotMessages, type XdsResource } from '../../xds/index.js';

export type Listener = NonNullable<SnapshotMessages['listeners']>[number];
export type RouteConfiguration = NonNullable<SnapshotMessages['routes']>[number];
export type Cluster = NonNullable<SnapshotMessages['clusters']>[number];
export type ClusterLoadAssignment = NonNullable<SnapshotMessages['endpoints']>[number];
export type Secret = NonNullable<SnapshotMessages['secrets']>[number];

const T = 'type.googleapis.com/';
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;

function fromJson<M>(typeUrl: string, json: unknown): M {
  const schema = messageSchemaOfUrl(typeUrl);
  if (!schema) throw new Error(`fixtures: no schema for ${typeUrl}`);
  return messageFromJson(schema, json) as M;
}

function tlsSocket(kind: 'Downstream' | 'Upstream', secretName: string): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${T}envoy.extensions.transport_sockets.tls.v3.${kind}TlsContext`,
      common_tls_context: { tls_certificate_sds_secret_configs: [{ name: secretName, sds_config: { ads: {} } }] },
    },
  };
}

export class FakeListener {
  private readonly chains: object[] = [];
  private api: object | undefined;
  private statPrefix = '';
  constructor(private readonly name: string, private readonly port = 10000) {}

  /** A filter chain whose HCM takes routes from RDS. */
  withRds(routeConfigName: string, tlsSecret?: string): this {
    this.chains.push({
      filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: this.name, rds: { route_config_name: routeConfigName, config_source: { ads: {} } }, http_filters: [{ name: 'router', typed_config: { '@type': ROUTER } }] } }],
      ...(tlsSecret ? { transport_socket: tlsSocket('Downstream', tlsSecret) } : {}),
    });
    return this;
  }

  /** A filter chain that proxies TCP to one cluster. */
  withTcpProxy(cluster: string): this {
    this.chains.push({ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: this.name, cluster } }] });
    return this;
  }

  /** A gRPC-client-shaped listener: api_listener with an HCM using RDS. */
  asApiListener(routeConfigName: string): this {
    this.api = { api_listener: { '@type': HCM, rds: { route_config_name: routeConfigName, config_source: { ads: {} } }, http_filters: [{ name: 'router', typed_config: { '@type': ROUTER } }] } };
    return this;
  }

  /** Pads the encoded listener to about `bytes` (for message-size tests). */
  padded(bytes: number): this {
    this.statPrefix = 'p'.repeat(bytes);
    return this;
  }

  build(): Listener {
    return fromJson<Listener>(TYPE_URL.listener, {
      name: this.name,
      ...(this.api ? { api_listener: this.api } : { address: { socket_address: { address: '0.0.0.0', port_value: this.port } }, filter_chains: this.chains }),
      ...(this.statPrefix ? { stat_prefix: this.statPrefix } : {}),
    });
  }
}

export class FakeRoute {
  private readonly routes: object[] = [];
  private padding = '';
  constructor(private readonly name: string) {}

  toCluster(cluster: string, prefix = '/'): this {
    this.routes.push({ match: { prefix }, route: { cluster } });
    return this;
  }

  /** Pads the encoded route configuration to about `bytes` (for message-size tests). */
  padded(bytes: number): this {
    this.padding = 'r'.repeat(bytes);
    return this;
  }

  build(): RouteConfiguration {
    return fromJson<RouteConfiguration>(TYPE_URL.route, {
      name: this.name,
      virtual_hosts: [{ name: `${this.name}-vh`, domains: ['*'], routes: this.routes }],
      ...(this.padding ? { response_headers_to_add: [{ header: { key: 'x-pad', value: this.padding } }] } : {}),
    });
  }
}

export class FakeCluster {
  private kind: 'EDS' | 'STATIC' = 'EDS';
  private serviceName = '';
  private tlsSecret: string | undefined;
  constructor(private readonly name: string) {}

  /** EDS with an explicit eds_cluster_config.service_name (default: the cluster name). */
  withServiceName(serviceName: string): this {
    this.serviceName = serviceName;
    return this;
  }

  static(): this {
    this.kind = 'STATIC';
    return this;
  }

  withUpstreamTls(secretName: string): this {
    this.tlsSecret = secretName;
    return this;
  }

  build(): Cluster {
    return fromJson<Cluster>(TYPE_URL.cluster, {
      name: this.name,
      type: this.kind,
      connect_timeout: '1s',
      ...(this.kind === 'EDS' ? { eds_cluster_config: { eds_config: { ads: {} }, ...(this.serviceName ? { service_name: this.serviceName } : {}) } } : {}),
      ...(this.tlsSecret ? { transport_socket: tlsSocket('Upstream', this.tlsSecret) } : {}),
    });
  }
}

export class FakeEndpoints {
  private readonly addresses: Array<[string, number]> = [];
  private padding = '';
  constructor(private readonly clusterName: string) {}

  at(address: string, port: number): this {
    this.addresses.push([address, port]);
    return this;
  }

  /** Pads the encoded endpoint set to about `bytes` (for message-size tests). */
  padded(bytes: number): this {
    this.padding = 'e'.repeat(bytes);
    return this;
  }

  build(): ClusterLoadAssignment {
    const lbEndpoints = this.addresses.map(([address, port_value]) => ({ endpoint: { address: { socket_address: { address, port_value } } } }));
    return fromJson<ClusterLoadAssignment>(TYPE_URL.endpoint, {
      cluster_name: this.clusterName,
      endpoints: [{ locality: { zone: 'z1' }, lb_endpoints: lbEndpoints, ...(this.padding ? { metadata: { filter_metadata: { pad: { v: this.padding } } } } : {}) }],
    });
  }
}

export function fakeSecret(name: string, value = 'not-a-real-key'): Secret {
  return fromJson<Secret>(TYPE_URL.secret, { name, generic_secret: { secret: { inline_string: value } } });
}

/** A consistent service: listener → RDS route → EDS cluster → endpoints, all named `${prefix}`-something. */
export function fakeService(prefix: string, port = 10000, endpoint: [string, number] = ['10.0.0.1', 8080]): Required<Pick<SnapshotMessages, 'listeners' | 'routes' | 'clusters' | 'endpoints'>> {
  return {
    listeners: [new FakeListener(`${prefix}-listener`, port).withRds(`${prefix}-route`).build()],
    routes: [new FakeRoute(`${prefix}-route`).toCluster(`${prefix}-cluster`).build()],
    clusters: [new FakeCluster(`${prefix}-cluster`).build()],
    endpoints: [new FakeEndpoints(`${prefix}-cluster`).at(...endpoint).build()],
  };
}

/** Merges service fragments into one snapshot's messages. */
export function mergeServices(...parts: Array<Partial<SnapshotMessages>>): SnapshotMessages {
  const out: Required<Pick<SnapshotMessages, 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets'>> = { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
  for (const p of parts) {
    out.listeners.push(...(p.listeners ?? []));
    out.routes.push(...(p.routes ?? []));
    out.clusters.push(...(p.clusters ?? []));
    out.endpoints.push(...(p.endpoints ?? []));
    out.secrets.push(...(p.secrets ?? []));
  }
  return out;
}

/** A stand-in for one of meshd's own types (not envoy.*): raw bytes under a meshd type URL. */
export const FAKE_MESHD_TYPE_URL = 'type.googleapis.com/meshd.test.v1.FakePolicy';

export function fakeMeshdResource(name: string, payload = name): XdsResource {
  return makeResource(FAKE_MESHD_TYPE_URL, name, new TextEncoder().encode(payload));
}

/** A snapshot of Envoy messages plus raw resources of other types (e.g. meshd's own). */
export function snapshotWithExtra(messages: SnapshotMessages, extra: XdsResource[]): Snapshot {
  const base = Snapshot.fromMessages(messages);
  const resources: Record<string, XdsResource[]> = {};
  for (const typeUrl of base.typeUrls()) resources[typeUrl] = [...base.resources(typeUrl).values()];
  for (const r of extra) (resources[r.typeUrl] ??= []).push(r);
  return new Snapshot(messages.version !== undefined ? { version: messages.version, resources } : { resources });
}
