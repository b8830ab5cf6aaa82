// The resources bench/xds serves. A "one-policy change" is what meshd pushes when one network policy
// changes on a node: the node's Listener with its RBAC filter gains one policy. POLICIES (32) policies of
// a few CIDRs and L7 rules each make a ~4 KiB Listener, the payload of the research's local anchor
// (research/xds.md §4). Plus ClusterLoadAssignments for the 10,000-endpoint snapshot build.
import { create, type DescMessage } from '@bufbuild/protobuf';
import { Snapshot, TYPE_URL, messageFromJson, messageSchemaOfUrl, type SnapshotMessages } from '../../xds/index.js';

type Listener = NonNullable<SnapshotMessages['listeners']>[number];
type Cluster = NonNullable<SnapshotMessages['clusters']>[number];
type ClusterLoadAssignment = NonNullable<SnapshotMessages['endpoints']>[number];

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export const BACKEND_CLUSTER = 'backend';

function policyJson(i: number): Record<string, unknown> {
  return {
    permissions: [
      { and_rules: { rules: [{ header: { name: ':method', string_match: { exact: i % 2 === 0 ? 'GET' : 'POST' } } }, { url_path: { path: { prefix: `/api/v${i % 3}/service-${i}/` } } }] } },
    ],
    principals: [
      { direct_remote_ip: { address_prefix: `10.${i % 250}.${(i * 7) % 250}.0`, prefix_len: 24 } },
      { direct_remote_ip: { address_prefix: `10.${(i + 1) % 250}.${(i * 11) % 250}.0`, prefix_len: 24 } },
    ],
  };
}

/** The node's listener with `policies` RBAC policies (policy-0 … policy-(n-1)). */
export function policyListener(policies: number): Listener {
  const json = {
    name: 'ingress-http',
    address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'ingress_http',
              route_config: { name: 'local', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: BACKEND_CLUSTER } }] }] },
              http_filters: [
                { name: 'envoy.filters.http.rbac', typed_config: { '@type': RBAC, rules: { action: 'ALLOW', policies: Object.fromEntries(Array.from({ length: policies }, (_, i) => [`policy-${i}`, policyJson(i)])) } } },
                { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } },
              ],
            },
          },
        ],
      },
    ],
  };
  return messageFromJson(schemaOf(TYPE_URL.listener), json) as Listener;
}

export function backendCluster(): Cluster {
  return messageFromJson(schemaOf(TYPE_URL.cluster), {
    name: BACKEND_CLUSTER,
    type: 'STATIC',
    load_assignment: { cluster_name: BACKEND_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } } }] }] },
  }) as Cluster;
}

/** The snapshot every bench node shares: the policy listener and the cluster it routes to. */
export function policySnapshot(policies: number): Snapshot {
  return Snapshot.fromMessages({ listeners: [policyListener(policies)], clusters: [backendCluster()] });
}

/**
 * `endpoints` endpoints as ClusterLoadAssignments of `perCluster` endpoints, with their EDS clusters
 * (a consistent snapshot needs both), built as messages the way the translation would.
 */
export function endpointMessages(endpoints: number, perCluster: number): { clusters: Cluster[]; assignments: ClusterLoadAssignment[] } {
  const clusterSchema = schemaOf(TYPE_URL.cluster);
  const claSchema = schemaOf(TYPE_URL.endpoint);
  const clusters: Cluster[] = [];
  const assignments: ClusterLoadAssignment[] = [];
  for (let first = 0, c = 0; first < endpoints; first += perCluster, c++) {
    const name = `service-${c}`;
    clusters.push(create(clusterSchema, { name, clusterDiscoveryType: { case: 'type', value: 3 /* EDS */ }, edsClusterConfig: { edsConfig: { configSourceSpecifier: { case: 'ads', value: {} } } } } as never) as Cluster);
    const lbEndpoints = [];
    for (let i = first; i < Math.min(endpoints, first + perCluster); i++) {
      lbEndpoints.push({
        hostIdentifier: {
          case: 'endpoint',
          value: { address: { address: { case: 'socketAddress', value: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, portSpecifier: { case: 'portValue', value: 8080 } } } } },
        },
      });
    }
    assignments.push(create(claSchema, { clusterName: name, endpoints: [{ locality: { region: 'r', zone: `z${c % 3}` }, lbEndpoints }] } as never) as ClusterLoadAssignment);
  }
  return { clusters, assignments };
}

function schemaOf(typeUrl: string): DescMessage {
  const schema = messageSchemaOfUrl(typeUrl);
  if (!schema) throw new Error(`bench: the xds registry lacks ${typeUrl}`);
  return schema;
}
