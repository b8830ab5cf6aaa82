// The snapshot file `meshd xds serve --snapshot` hands the meshd contenders: plain Envoy resources
// in the proto3 JSON mapping, written the way meshd's own translation writes them (xds/resources:
// HCM with AUTO codec, RDS over ADS, an RBAC filter then the router, normalize_path + merge_slashes +
// REJECT_REQUEST on escaped slashes, use_remote_address, skip_xff_append, the 403 local-reply body,
// SDS certificates) so the bench measures the configuration users run, not a stripped-down one.
// Two sets of three listeners (HTTP/1.1, h2c, TLS): "allow-all" (one RBAC policy: any/any) and
// "rules" (RULES policies as meshd translates HTTP rules: :method and :path RE2 header matchers and a
// direct_remote_ip principal; the benchmarked path matches only the last policy in name order, so
// every policy is evaluated on every request — the worst case of a first-match walk).
import { ACCESS_DENIED_BODY, ACCESS_DENIED_STATUS_RUNTIME_KEY } from '../../xds/index.js';
import type { Ports } from './configs.js';

/** The path every load generator requests; it matches the last rule of the rules contender. */
export function benchPath(rules: number): string {
  return `/api/v1/${serviceName(rules - 1)}/items`;
}

/** A path no rule allows (the rules contender answers it 403; checked once before measuring). */
export const DENIED_PATH = '/api/v1/not-a-service/items';

function serviceName(i: number): string {
  return `svc${String(i).padStart(3, '0')}`;
}

const ADS = { ads: {}, resource_api_version: 'V3' };
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const CERT_SECRET = 'bench-cert';

type Json = Record<string, unknown>;

function allowAllPolicies(): Json {
  return { 'allow-all': { permissions: [{ any: true }], principals: [{ any: true }] } };
}

function rulePolicies(count: number): Json {
  const policies: Json = {};
  for (let i = 0; i < count; i++) {
    policies[`rule-${String(i).padStart(3, '0')}`] = {
      permissions: [
        {
          and_rules: {
            rules: [
              { header: { name: ':method', string_match: { safe_regex: { regex: 'GET|POST|HEAD' } } } },
              { header: { name: ':path', string_match: { safe_regex: { regex: `/api/v1/${serviceName(i)}/.*` } } } },
            ],
          },
        },
      ],
      principals: [{ or_ids: { ids: [{ direct_remote_ip: { address_prefix: '127.0.0.1', prefix_len: 32 } }] } }],
    };
  }
  return policies;
}

function hcm(name: string, policies: Json): Json {
  return {
    '@type': HCM_TYPE,
    stat_prefix: name,
    codec_type: 'AUTO',
    rds: { config_source: ADS, route_config_name: name },
    http_filters: [
      { name: 'meshd.rbac.allow', typed_config: { '@type': RBAC_TYPE, rules: { action: 'ALLOW', policies } } },
      { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } },
    ],
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
  };
}

function listener(name: string, port: number, policies: Json, tls: boolean): Json {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        name: `${name}-chain`,
        filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(name, policies) }],
        ...(tls
          ? {
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type': TLS_TYPE,
                  common_tls_context: {
                    tls_certificate_sds_secret_configs: [{ name: CERT_SECRET, sds_config: ADS }],
                    alpn_protocols: ['h2', 'http/1.1'],
                  },
                },
              },
            }
          : {}),
      },
    ],
  };
}

function route(name: string, cluster: string): Json {
  return { name, virtual_hosts: [{ name: `${name}-vh`, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] };
}

function staticCluster(name: string, port: number, http2: boolean): Json {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
    ...(http2
      ? { typed_extension_protocol_options: { [PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${PROTOCOL_OPTIONS}`, explicit_http_config: { http2_protocol_options: {} } } } }
      : {}),
  };
}

/** The snapshot file (JSON) of both meshd contenders. */
export function meshdSnapshot(p: Ports, rules: number, cert: { chain: string; key: string }): string {
  const sets = [
    { prefix: 'allow', policies: allowAllPolicies(), ports: [p.meshdH1, p.meshdH2, p.meshdTls] as const },
    { prefix: 'rules', policies: rulePolicies(rules), ports: [p.rulesH1, p.rulesH2, p.rulesTls] as const },
  ];
  const listeners: Json[] = [];
  const routes: Json[] = [];
  for (const s of sets) {
    listeners.push(listener(`${s.prefix}-h1`, s.ports[0], s.policies, false));
    listeners.push(listener(`${s.prefix}-h2`, s.ports[1], s.policies, false));
    listeners.push(listener(`${s.prefix}-tls`, s.ports[2], s.policies, true));
    routes.push(route(`${s.prefix}-h1`, 'upstream-h1'), route(`${s.prefix}-h2`, 'upstream-h2'), route(`${s.prefix}-tls`, 'upstream-h1'));
  }
  return JSON.stringify(
    {
      version: 'bench-1',
      listeners,
      routes,
      clusters: [staticCluster('upstream-h1', p.upH1, false), staticCluster('upstream-h2', p.upH2, true)],
      secrets: [{ name: CERT_SECRET, tls_certificate: { certificate_chain: { inline_string: cert.chain }, private_key: { inline_string: cert.key } } }],
    },
    null,
    1,
  );
}
