// Envoy JSON shared by the proxy suite's harnesses: the HttpConnectionManager as meshd's translation
// writes it (xds/resources/listener.ts), so every test configures the HCM users actually run, and
// load assignments.
import { ACCESS_DENIED_BODY, ACCESS_DENIED_STATUS_RUNTIME_KEY } from '../../xds/index.js';

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const HTTP_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

type Json = Record<string, unknown>;

export interface HcmJsonSpec {
  statPrefix: string;
  /** Where routes come from: `{ rds: … }` or `{ route_config: … }`. */
  routeSource: Json;
  /** HTTP filters before the router (which is always last). */
  httpFilters: unknown[];
}

/**
 * AUTO codec, the filters then the router, normalize_path + merge_slashes + REJECT_REQUEST on
 * escaped slashes, use_remote_address, skip_xff_append, and the 403 local reply body; `overrides`
 * replace or add top-level HCM fields.
 */
export function meshdHcmJson(spec: HcmJsonSpec, overrides: Json = {}): Json {
  return {
    '@type': HCM_TYPE,
    stat_prefix: spec.statPrefix,
    codec_type: 'AUTO',
    ...spec.routeSource,
    http_filters: [...spec.httpFilters, { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: 'REJECT_REQUEST',
    use_remote_address: true,
    skip_xff_append: true,
    local_reply_config: {
      mappers: [
        {
          filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 403, runtime_key: ACCESS_DENIED_STATUS_RUNTIME_KEY } } } },
          body: { inline_string: ACCESS_DENIED_BODY },
        },
      ],
    },
    ...overrides,
  };
}

/** A ClusterLoadAssignment (or a cluster's load_assignment) with one locality holding `endpoints`. */
export function loadAssignmentJson(clusterName: string, endpoints: ReadonlyArray<{ host: string; port: number }>): Json {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } })) }] };
}
