// Envoy configurations as users write them for Envoy (proto3 JSON through messageFromJson) compile
// with Envoy's defaults, and every field the built-in proxy does not implement is refused with its
// exact path (the NACK rule), never silently ignored.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import { envoy, messageFromJson, packAny } from '../../xds/index.js';
import {
  compileCluster,
  compileListener,
  compileLoadAssignment,
  compileResource,
  compileRouteConfiguration,
  compileSecret,
  referencesOfCluster,
  referencesOfListener,
  type Compiled,
  type ConfigProblem,
} from './index.js';

const T = 'type.googleapis.com/';
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } };
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

function ok<T>(r: Compiled<T>): T {
  if (!r.ok) assert.fail(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.value;
}

function paths(r: Compiled<unknown>): string[] {
  return r.ok ? [] : r.problems.map((p: ConfigProblem) => p.path);
}

/** Envoy's front-proxy example, the shape most hand-written configs have. */
function frontProxyListener(hcmExtra: Record<string, unknown> = {}, listenerExtra: Record<string, unknown> = {}) {
  return messageFromJson(envoy.ListenerSchema, {
    name: 'listener_0',
    address: { socket_address: { address: '0.0.0.0', port_value: 10000 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'ingress_http',
              codec_type: 'AUTO',
              route_config: {
                name: 'local_route',
                virtual_hosts: [{ name: 'backend', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'service_backend', timeout: '30s' } }] }],
              },
              http_filters: [ROUTER],
              ...hcmExtra,
            },
          },
        ],
      },
    ],
    ...listenerExtra,
  });
}

describe('hand-written Envoy configurations compile', () => {
  test("Envoy's front-proxy listener compiles with Envoy's HCM defaults", () => {
    const l = ok(compileListener(frontProxyListener()));
    assert.deepEqual(l.addresses, [{ address: '0.0.0.0', port: 10000, protocol: 'tcp' }]);
    assert.equal(l.useOriginalDst, false);
    assert.equal(l.tlsInspector, false);
    assert.equal(l.perConnectionBufferLimitBytes, 1024 * 1024);
    assert.equal(l.listenerFiltersTimeoutMs, 15_000);
    const chain = l.selectFilterChain({ destinationIp: '127.0.0.1', destinationPort: 10000, sourceIp: '127.0.0.1', sourcePort: 5, serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [] });
    assert.ok(chain);
    const f = chain.networkFilters[0];
    assert.ok(f?.kind === 'http_connection_manager');
    const hcm = f.hcm;
    assert.equal(hcm.codec, 'auto');
    assert.equal(hcm.streamIdleTimeoutMs, 300_000);
    assert.equal(hcm.requestTimeoutMs, 0);
    assert.equal(hcm.requestHeadersTimeoutMs, 0);
    assert.equal(hcm.idleTimeoutMs, 3_600_000);
    assert.equal(hcm.maxRequestHeadersKb, 60);
    assert.equal(hcm.maxHeadersCount, 100);
    assert.equal(hcm.normalizePath, false);
    assert.equal(hcm.mergeSlashes, false);
    assert.equal(hcm.escapedSlashes, 'keep');
    assert.equal(hcm.useRemoteAddress, false);
    assert.equal(hcm.serverName, 'envoy');
    assert.equal(hcm.acceptHttp10, false);
    assert.equal(hcm.generateRequestId, true);
    assert.equal(hcm.headersWithUnderscores, 'allow');
    assert.equal(hcm.stripPortMode, 'none');
    assert.equal(hcm.http2?.maxConcurrentStreams, 2_147_483_647);
    assert.deepEqual([...hcm.upgrades], []);
    assert.deepEqual(hcm.httpFilters, [{ kind: 'router', name: 'envoy.filters.http.router' }]);
    assert.ok(hcm.routes.kind === 'inline');
    const route = hcm.routes.table.select({ authority: 'x', path: '/a', method: 'GET', header: () => undefined, isGrpc: false });
    assert.ok(route?.action.kind === 'route');
    assert.equal(route.action.cluster(), 'service_backend');
    assert.equal(route.action.timeoutMs, 30_000);
    assert.deepEqual(referencesOfListener(l), { routes: [], clusters: ['service_backend'], secrets: [] });
  });

  test('an HTTPS listener: tls_inspector, SNI chains, inline and file certificates, RBAC, WebSocket, HTTP/1.0 and timeouts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshd-c1-'));
    try {
      writeFileSync(join(dir, 'cert.pem'), PEM_CERT);
      writeFileSync(join(dir, 'key.pem'), PEM_KEY);
      const hcm = (name: string) => ({
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM,
          stat_prefix: name,
          rds: { route_config_name: `${name}-routes`, config_source: { ads: {}, resource_api_version: 'V3' } },
          stream_idle_timeout: '10s',
          request_headers_timeout: '5s',
          common_http_protocol_options: { idle_timeout: '60s', headers_with_underscores_action: 'REJECT_REQUEST', max_headers_count: 50 },
          http_protocol_options: { accept_http_10: true },
          upgrade_configs: [{ upgrade_type: 'websocket' }, { upgrade_type: 'CONNECT', enabled: false }],
          use_remote_address: true,
          normalize_path: true,
          merge_slashes: true,
          path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
          strip_any_host_port: true,
          local_reply_config: { mappers: [{ filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 403, runtime_key: 'k' } } } }, body: { inline_string: 'nope' }, status_code: 401 }] },
          http_filters: [
            {
              name: 'envoy.filters.http.rbac',
              typed_config: {
                '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`,
                rules: { action: 'ALLOW', policies: { admins: { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } },
              },
            },
            { name: 'optional-thing', is_optional: true, typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 'x', cluster: 'x' } },
            ROUTER,
          ],
        },
      });
      const tlsSocket = (common: object) => ({
        name: 'envoy.transport_sockets.tls',
        typed_config: { '@type': `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`, common_tls_context: common },
      });
      const l = ok(
        compileListener(
          messageFromJson(envoy.ListenerSchema, {
            name: 'https',
            address: { socket_address: { address: '::', port_value: 8443, ipv4_compat: true } },
            listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` } }],
            filter_chains: [
              {
                name: 'a',
                filter_chain_match: { server_names: ['a.example.com'] },
                transport_socket: tlsSocket({
                  tls_certificates: [{ certificate_chain: { inline_string: PEM_CERT }, private_key: { inline_string: PEM_KEY } }],
                  alpn_protocols: ['h2', 'http/1.1'],
                  tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
                }),
                filters: [hcm('a')],
              },
              {
                name: 'b',
                filter_chain_match: { server_names: ['*.example.com'] },
                transport_socket: tlsSocket({
                  tls_certificates: [{ certificate_chain: { filename: join(dir, 'cert.pem') }, private_key: { filename: join(dir, 'key.pem') } }],
                  tls_certificate_sds_secret_configs: [{ name: 'b-cert', sds_config: { ads: {} } }],
                  validation_context_sds_secret_config: { name: 'b-ca', sds_config: { ads: {} } },
                }),
                filters: [hcm('b')],
              },
            ],
          }),
        ),
      );
      assert.equal(l.tlsInspector, true);
      assert.equal(l.needsTlsFacts, true);
      assert.deepEqual(l.addresses, [{ address: '::', port: 8443, protocol: 'tcp', ipv4Compat: true }]);
      const facts = { destinationIp: '::1', destinationPort: 8443, sourceIp: '::1', sourcePort: 1, transportProtocol: 'tls' as const, applicationProtocols: ['h2'] };
      const a = l.selectFilterChain({ ...facts, serverName: 'a.example.com' });
      const b = l.selectFilterChain({ ...facts, serverName: 'b.example.com' });
      assert.equal(a?.name, 'a');
      assert.equal(b?.name, 'b');
      assert.equal(l.selectFilterChain({ ...facts, serverName: 'other.org' }), undefined);
      assert.deepEqual(a?.downstreamTls, {
        certificates: [{ kind: 'inline', material: { certificateChain: PEM_CERT, privateKey: PEM_KEY } }],
        validation: undefined,
        requireClientCertificate: false,
        alpnProtocols: ['h2', 'http/1.1'],
        minVersion: 'TLSv1.2',
        maxVersion: undefined,
      });
      assert.deepEqual(b?.downstreamTls?.certificates, [
        { kind: 'inline', material: { certificateChain: PEM_CERT, privateKey: PEM_KEY } },
        { kind: 'sds', name: 'b-cert' },
      ]);
      assert.deepEqual(b?.downstreamTls?.validation, { kind: 'sds', name: 'b-ca' });
      const f = a?.networkFilters[0];
      assert.ok(f?.kind === 'http_connection_manager');
      const h = f.hcm;
      assert.deepEqual(h.routes, { kind: 'rds', name: 'a-routes' });
      assert.deepEqual(h.httpFilters.map((x) => x.kind), ['rbac', 'router']);
      assert.equal(h.streamIdleTimeoutMs, 10_000);
      assert.equal(h.requestHeadersTimeoutMs, 5_000);
      assert.equal(h.idleTimeoutMs, 60_000);
      assert.equal(h.maxHeadersCount, 50);
      assert.equal(h.headersWithUnderscores, 'reject_request');
      assert.equal(h.acceptHttp10, true);
      assert.deepEqual([...h.upgrades], ['websocket']);
      assert.deepEqual([...(h.configuredUpgrades ?? [])], [['websocket', true], ['connect', false]]);
      assert.equal(h.allowConnect, false);
      assert.equal(h.escapedSlashes, 'unescape_and_forward');
      assert.equal(h.stripPortMode, 'any');
      assert.deepEqual(h.localReplyMappers, [{ whenStatus: 403, statusOverride: 401, body: 'nope' }]);
      const rbac = h.httpFilters[0];
      assert.ok(rbac?.kind === 'rbac');
      const ctx = { directRemoteIp: '::1', directRemotePort: 1, remoteIp: '::1', destinationIp: '::1', destinationPort: 8443, requestedServerName: 'a.example.com', header: () => undefined };
      assert.equal(rbac.rbac.evaluate({ ...ctx, urlPath: '/admin/x' }).allowed, true);
      assert.equal(rbac.rbac.evaluate({ ...ctx, urlPath: '/public' }).allowed, false);
      assert.deepEqual(referencesOfListener(l), { routes: ['a-routes', 'b-routes'], clusters: [], secrets: ['b-ca', 'b-cert'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('clusters: STATIC with endpoints, EDS over ADS, ORIGINAL_DST, upstream TLS with auto SNI and HTTP/2', () => {
    const s = ok(
      compileCluster(
        messageFromJson(envoy.ClusterSchema, {
          name: 'service_backend',
          type: 'STATIC',
          lb_policy: 'LEAST_REQUEST',
          load_assignment: {
            cluster_name: 'service_backend',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } } },
                  { endpoint: { address: { socket_address: { address: '::1', port_value: 8081 } } }, load_balancing_weight: 3, health_status: 'HEALTHY' },
                  { endpoint: { address: { socket_address: { address: '127.0.0.2', port_value: 8082 } } }, health_status: 'UNHEALTHY' },
                ],
              },
            ],
          },
        }),
      ),
    );
    assert.deepEqual(s.discovery, { kind: 'static', endpoints: [{ address: '127.0.0.1', port: 8080, weight: 1 }, { address: '::1', port: 8081, weight: 3 }] });
    assert.equal(s.connectTimeoutMs, 5_000);
    assert.equal(s.lbPolicy, 'least_request');
    assert.equal(s.httpProtocol, 'http1');
    assert.equal(s.idleTimeoutMs, 3_600_000);
    assert.equal(s.upstreamTls, undefined);

    const e = ok(compileCluster(messageFromJson(envoy.ClusterSchema, { name: 'eds', type: 'EDS', connect_timeout: '0.25s', eds_cluster_config: { eds_config: { ads: {} } } })));
    assert.deepEqual(e.discovery, { kind: 'eds', serviceName: 'eds' });
    assert.equal(e.connectTimeoutMs, 250);
    assert.deepEqual(referencesOfCluster(e), { endpoints: ['eds'], secrets: [] });

    const o = ok(
      compileCluster(
        messageFromJson(envoy.ClusterSchema, {
          name: 'orig',
          type: 'ORIGINAL_DST',
          lb_policy: 'CLUSTER_PROVIDED',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
              explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 100 } },
              upstream_http_protocol_options: { auto_sni: true, auto_san_validation: true },
              common_http_protocol_options: { idle_timeout: '30s', max_requests_per_connection: 1000 },
            },
          },
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
              sni: 'fixed.example',
              common_tls_context: {
                validation_context: {
                  trusted_ca: { inline_string: PEM_CERT },
                  match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'api.example.com' } }, { san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }],
                },
              },
            },
          },
        }),
      ),
    );
    assert.deepEqual(o.discovery, { kind: 'original_dst' });
    assert.equal(o.httpProtocol, 'http2');
    assert.equal(o.http2?.maxConcurrentStreams, 100);
    assert.equal(o.idleTimeoutMs, 30_000);
    assert.equal(o.maxRequestsPerConnection, 1000);
    const tls = o.upstreamTls;
    assert.ok(tls);
    assert.equal(tls.sni, 'fixed.example');
    assert.equal(tls.autoSni, true);
    assert.equal(tls.autoSanValidation, true);
    assert.ok(tls.validation?.kind === 'inline');
    const san = tls.validation.material.matchSubjectAltName;
    assert.ok(san);
    assert.equal(san({ type: 'DNS', value: 'api.example.com' }), true);
    assert.equal(san({ type: 'DNS', value: '*.example.com' }), true, 'an exact DNS matcher accepts a wildcard SAN, as Envoy');
    assert.equal(san({ type: 'DNS', value: '*.other.com' }), false);
    assert.equal(san({ type: 'URI', value: 'spiffe://cluster.local/ns/a' }), true);
    assert.equal(san({ type: 'URI', value: 'api.example.com' }), false);
    const d = ok(
      compileCluster(
        messageFromJson(envoy.ClusterSchema, {
          name: 'follow',
          type: 'ORIGINAL_DST',
          lb_policy: 'CLUSTER_PROVIDED',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } },
          },
        }),
      ),
    );
    assert.equal(d.httpProtocol, 'downstream');
  });

  test("Envoy's demo cluster: LOGICAL_DNS with a host name, V4_ONLY, originating TLS with a fixed SNI", () => {
    const c = ok(
      compileCluster(
        messageFromJson(envoy.ClusterSchema, {
          name: 'service_envoyproxy_io',
          type: 'LOGICAL_DNS',
          dns_lookup_family: 'V4_ONLY',
          load_assignment: { cluster_name: 'service_envoyproxy_io', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'www.envoyproxy.io', port_value: 443 } } } }] }] },
          transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`, sni: 'www.envoyproxy.io' } },
        }),
      ),
    );
    assert.deepEqual(c.discovery, { kind: 'static', endpoints: [{ address: 'www.envoyproxy.io', port: 443, weight: 1, family: 4 }] });
    assert.equal(c.upstreamTls?.sni, 'www.envoyproxy.io');
    assert.equal(c.upstreamTls?.validation, undefined);
    const two = compileCluster(
      messageFromJson(envoy.ClusterSchema, {
        name: 'x',
        type: 'LOGICAL_DNS',
        load_assignment: { cluster_name: 'x', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'a.example', port_value: 1 } } } }, { endpoint: { address: { socket_address: { address: 'b.example', port_value: 1 } } } }] }] },
      }),
    );
    assert.deepEqual(paths(two), ['load_assignment.endpoints']);
    const strict = compileCluster(messageFromJson(envoy.ClusterSchema, { name: 'x', type: 'STRICT_DNS', load_assignment: { cluster_name: 'x' } }));
    assert.deepEqual(paths(strict), ['type']);
    const nameInStatic = compileCluster(
      messageFromJson(envoy.ClusterSchema, { name: 'x', load_assignment: { cluster_name: 'x', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'a.example', port_value: 1 } } } }] }] } }),
    );
    assert.deepEqual(paths(nameInStatic), ['load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address']);
  });

  test('endpoints: healthy and unknown endpoints take traffic, degraded only when nothing else is left', () => {
    const ep = (address: string, health?: string) => ({ endpoint: { address: { socket_address: { address, port_value: 80 } } }, ...(health ? { health_status: health } : {}) });
    const set = ok(compileLoadAssignment(messageFromJson(envoy.ClusterLoadAssignmentSchema, { cluster_name: 'svc', endpoints: [{ lb_endpoints: [ep('10.0.0.1'), ep('10.0.0.2', 'DRAINING'), ep('10.0.0.3', 'DEGRADED')] }] })));
    assert.deepEqual(set, { name: 'svc', endpoints: [{ address: '10.0.0.1', port: 80, weight: 1 }] });
    const degraded = ok(compileLoadAssignment(messageFromJson(envoy.ClusterLoadAssignmentSchema, { cluster_name: 'svc', endpoints: [{ lb_endpoints: [ep('10.0.0.3', 'DEGRADED'), ep('10.0.0.4', 'TIMEOUT')] }] })));
    assert.deepEqual(degraded.endpoints, [{ address: '10.0.0.3', port: 80, weight: 1 }]);
    assert.deepEqual(ok(compileLoadAssignment(messageFromJson(envoy.ClusterLoadAssignmentSchema, { cluster_name: 'empty' }))).endpoints, []);
  });

  test('secrets: a certificate and a validation context', () => {
    const cert = ok(compileSecret(messageFromJson(envoy.SecretSchema, { name: 'c', tls_certificate: { certificate_chain: { inline_string: PEM_CERT }, private_key: { inline_bytes: Buffer.from(PEM_KEY).toString('base64') } } })));
    assert.deepEqual(cert, { name: 'c', kind: 'tls_certificate', certificate: { certificateChain: PEM_CERT, privateKey: PEM_KEY } });
    const ca = ok(compileSecret(messageFromJson(envoy.SecretSchema, { name: 'ca', validation_context: { trusted_ca: { inline_string: PEM_CERT } } })));
    assert.ok(ca.kind === 'validation_context');
    assert.equal(ca.validation.trustedCa, PEM_CERT);
    assert.equal(ca.validation.matchSubjectAltName, undefined);
  });

  test('compileResource dispatches by kind (what the config store calls)', () => {
    const r = compileResource('route', messageFromJson(envoy.RouteConfigurationSchema, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] }));
    assert.ok(r.ok);
    assert.deepEqual(r.value.clusterNames, ['c']);
  });
});

describe('anything the proxy does not implement is refused with its field path', () => {
  const cases: Array<[string, () => Compiled<unknown>, string[]]> = [
    ['a listener field (freebind)', () => compileListener(frontProxyListener({}, { freebind: true })), ['freebind']],
    ['an explicit Envoy default of an unimplemented field is accepted (bind_to_port: true, freebind: false)', () => compileListener(frontProxyListener({}, { bind_to_port: true, freebind: false })), []],
    ['a non-default value of the same field is not (bind_to_port: false)', () => compileListener(frontProxyListener({}, { bind_to_port: false })), ['bind_to_port']],
    ['a deprecated listener field Envoy still honours (use_original_dst)', () => compileListener(frontProxyListener({}, { use_original_dst: true })), ['use_original_dst']],
    ['an HCM field (access_log)', () => compileListener(frontProxyListener({ access_log: [{ name: 'envoy.access_loggers.stdout' }] })), ['filter_chains[0].filters[0].typed_config.access_log']],
    [
      'a route field inside an inline route_config (retry_policy)',
      () =>
        compileListener(
          frontProxyListener({
            route_config: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx' } } }] }] },
          }),
        ),
      ['filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.retry_policy'],
    ],
    [
      'an HTTP filter the proxy does not have (fault)',
      () => compileListener(frontProxyListener({ http_filters: [{ name: 'fault', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 's', cluster: 'c' } }, ROUTER] })),
      ['filter_chains[0].filters[0].typed_config.http_filters[0].typed_config'],
    ],
    [
      'a network filter the proxy does not have (meshd Kafka)',
      () =>
        compileListener(
          messageFromJson(envoy.ListenerSchema, {
            name: 'k',
            address: { socket_address: { address: '0.0.0.0', port_value: 1 } },
            filter_chains: [{ filters: [{ name: 'kafka', typed_config: { '@type': `${T}meshd.filters.kafka.v1.KafkaPolicy` } }] }],
          }),
        ),
      ['filter_chains[0].filters[0].typed_config'],
    ],
    [
      'a per-route filter config (typed_per_filter_config, e.g. per-route RBAC)',
      () =>
        compileRouteConfiguration(
          messageFromJson(envoy.RouteConfigurationSchema, {
            name: 'r',
            virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { 'envoy.filters.http.rbac': { '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBACPerRoute` } } }] }],
          }),
        ),
      ['virtual_hosts[0].routes[0].typed_per_filter_config'],
    ],
    [
      'cluster fields (STRICT_DNS, circuit_breakers, health_checks)',
      () =>
        compileCluster(
          messageFromJson(envoy.ClusterSchema, {
            name: 'c',
            type: 'STRICT_DNS',
            dns_lookup_family: 'V4_ONLY',
            circuit_breakers: { thresholds: [{ max_connections: 10 }] },
            health_checks: [{ timeout: '1s', interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }],
            load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'backend.local', port_value: 80 } } } }] }] },
          }),
        ),
      ['health_checks', 'circuit_breakers', 'type'],
    ],
    [
      'a deprecated cluster field Envoy still honours (http2_protocol_options)',
      () => compileCluster(messageFromJson(envoy.ClusterSchema, { name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, http2_protocol_options: {} })),
      ['http2_protocol_options'],
    ],
    [
      'an EDS config source other than ADS',
      () => compileCluster(messageFromJson(envoy.ClusterSchema, { name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { api_config_source: { api_type: 'GRPC' } } } })),
      ['eds_cluster_config.eds_config.api_config_source', 'eds_cluster_config.eds_config'],
    ],
    [
      'downstream TLS extras (require_sni, ecdh_curves, a TLS 1.1 minimum)',
      () =>
        compileListener(
          frontProxyListener(
            {},
            {
              filter_chains: [
                {
                  transport_socket: {
                    name: 'tls',
                    typed_config: {
                      '@type': `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
                      require_sni: true,
                      common_tls_context: {
                        tls_params: { ecdh_curves: ['X25519'], tls_minimum_protocol_version: 'TLSv1_1' },
                        tls_certificates: [{ certificate_chain: { inline_string: PEM_CERT }, private_key: { inline_string: PEM_KEY } }],
                      },
                    },
                  },
                  filters: [{ name: 't', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 's', cluster: 'c' } }],
                },
              ],
            },
          ),
        ),
      [
        'filter_chains[0].transport_socket.typed_config.require_sni',
        'filter_chains[0].transport_socket.typed_config.common_tls_context.tls_params.ecdh_curves',
        'filter_chains[0].transport_socket.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version',
      ],
    ],
    ['a secret type the proxy does not use (generic_secret)', () => compileSecret(messageFromJson(envoy.SecretSchema, { name: 's', generic_secret: { secret: { inline_string: 'x' } } })), ['generic_secret']],
    ['a secret file that cannot be read', () => compileSecret(messageFromJson(envoy.SecretSchema, { name: 's', validation_context: { trusted_ca: { filename: '/nonexistent/ca.pem' } } })), ['validation_context.trusted_ca.filename']],
    [
      'HCM settings outside what the proxy runs (HTTP/3 codec, redirecting escaped slashes, a GE local-reply filter)',
      () =>
        compileListener(
          frontProxyListener({
            codec_type: 'HTTP3',
            path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT',
            local_reply_config: { mappers: [{ filter: { status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } } }, status_code: 503 }] },
          }),
        ),
      [
        'filter_chains[0].filters[0].typed_config.codec_type',
        'filter_chains[0].filters[0].typed_config.path_with_escaped_slashes_action',
        'filter_chains[0].filters[0].typed_config.local_reply_config.mappers[0].filter.status_code_filter.comparison.op',
      ],
    ],
    [
      'HTTP filter order: the router must be last',
      () => compileListener(frontProxyListener({ http_filters: [ROUTER, { name: 'rbac', typed_config: { '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC` } }] })),
      ['filter_chains[0].filters[0].typed_config.http_filters[0]', 'filter_chains[0].filters[0].typed_config.http_filters[1]'],
    ],
    [
      'an RBAC construct the proxy does not implement is reported below the filter (by the RBAC compiler)',
      () =>
        compileListener(
          frontProxyListener({
            http_filters: [
              { name: 'rbac', typed_config: { '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`, rules: { policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], condition: { const_expr: { bool_value: true } } } } } } },
              ROUTER,
            ],
          }),
        ),
      ['filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.rules.policies["p"].condition'],
    ],
    [
      'tcp_proxy: weighted clusters, and a terminal filter that is not last',
      () =>
        compileListener(
          messageFromJson(envoy.ListenerSchema, {
            name: 't',
            address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
            filter_chains: [
              {
                filters: [
                  { name: 'a', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 'a', cluster: 'a' } },
                  { name: 'b', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 'b', weighted_clusters: { clusters: [{ name: 'x', weight: 1 }] } } },
                ],
              },
            ],
          }),
        ),
      ['filter_chains[0].filters[0]', 'filter_chains[0].filters[1].typed_config.weighted_clusters'],
    ],
    ['priority failover in endpoints', () => compileLoadAssignment(messageFromJson(envoy.ClusterLoadAssignmentSchema, { cluster_name: 'c', endpoints: [{ priority: 1, lb_endpoints: [] }] })), ['endpoints[0].priority']],
  ];
  for (const [what, compile, expected] of cases) {
    test(`${what} → ${expected.join(', ')}`, () => {
      assert.deepEqual(paths(compile()).sort(), [...expected].sort());
    });
  }

  test('fields from a newer Envoy than meshd knows (unknown field numbers) are refused, not dropped', () => {
    const cluster = create(envoy.ClusterSchema, { name: 'c', clusterDiscoveryType: { case: 'type', value: envoy.Cluster_DiscoveryType.ORIGINAL_DST }, lbPolicy: envoy.Cluster_LbPolicy.CLUSTER_PROVIDED });
    // Field 9999, varint 1, appended to the encoding: what a newer control plane would send.
    const bytes = Buffer.concat([Buffer.from(toBinary(envoy.ClusterSchema, cluster)), Buffer.from([0xf8, 0xf0, 0x04, 0x01])]);
    const decoded = fromBinary(envoy.ClusterSchema, bytes);
    const r = compileCluster(decoded);
    assert.deepEqual(paths(r), ['<field 9999>']);
  });

  test('an unknown type inside an Any is refused at the Any', () => {
    const l = frontProxyListener();
    const chain = l.filterChains[0]!;
    const filter = chain.filters[0]!;
    filter.configType = { case: 'typedConfig', value: { ...packAny(envoy.RouterSchema, create(envoy.RouterSchema, {})), typeUrl: `${T}no.such.Type` } };
    assert.deepEqual(paths(compileListener(l)), ['filter_chains[0].filters[0].typed_config']);
  });
});
