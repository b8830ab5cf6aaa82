// Compiling hostile resources never throws: the bytes of valid resources are mutated (bit flips,
// byte insertions, truncations, spliced slices), whatever still decodes is compiled, and every
// outcome must be a Compiled value — a bad update is a NACK, never a crashed proxy. Bounded in
// iterations and time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileResource, type CompiledResource } from './index.js';
import { seededRandom } from '../../test/fuzz/prng.js';

const T = 'type.googleapis.com/';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

interface Seed {
  kind: keyof CompiledResource;
  schema: DescMessage;
  bytes: Uint8Array;
}

function seed(kind: keyof CompiledResource, schema: DescMessage, json: object): Seed {
  return { kind, schema, bytes: toBinary(schema, messageFromJson(schema, json)) };
}

const ROUTE_CONFIG = {
  name: 'r',
  virtual_hosts: [
    {
      name: 'v',
      domains: ['a.example', '*.b.example', 'c.*', '*'],
      routes: [
        { match: { path_separated_prefix: '/api', headers: [{ name: 'x', string_match: { safe_regex: { regex: 'a+' } } }], query_parameters: [{ name: 'q', present_match: true }] }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }] }, regex_rewrite: { pattern: { regex: '^/(.*)$' }, substitution: '/x/\\1' } } },
        { match: { prefix: '/', grpc: {} }, route: { cluster: 'c', timeout: '1s', upgrade_configs: [{ upgrade_type: 'websocket' }] } },
        { match: { safe_regex: { regex: '/d.*' } }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
      ],
    },
  ],
};

const SEEDS: Seed[] = [
  seed('listener', envoy.ListenerSchema, {
    name: 'l',
    address: { socket_address: { address: '10.0.0.1', port_value: 15001 } },
    listener_filters: [
      { name: 'od', typed_config: { '@type': `${T}envoy.extensions.filters.listener.original_dst.v3.OriginalDst` } },
      { name: 'ti', typed_config: { '@type': `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` } },
    ],
    filter_chains: [
      {
        name: 'http',
        filter_chain_match: { destination_port: 80, prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }], server_names: ['*.example.com'], transport_protocol: 'tls' },
        transport_socket: {
          name: 'tls',
          typed_config: { '@type': `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 's', sds_config: { ads: {} } }], alpn_protocols: ['h2'] } },
        },
        filters: [
          {
            name: 'hcm',
            typed_config: {
              '@type': `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
              stat_prefix: 'h',
              route_config: ROUTE_CONFIG,
              http_filters: [
                {
                  name: 'rbac',
                  typed_config: {
                    '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`,
                    rules: { policies: { p: { permissions: [{ header: { name: ':method', string_match: { exact: 'GET' } } }], principals: [{ remote_ip: { address_prefix: '10.0.0.0', prefix_len: 8 } }] } } },
                  },
                },
                { name: 'router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } },
              ],
              local_reply_config: { mappers: [{ filter: { status_code_filter: { comparison: { value: { default_value: 403, runtime_key: 'k' } } } }, body: { inline_string: 'x' } }] },
            },
          },
        ],
      },
      {
        name: 'tcp',
        filter_chain_match: { destination_port: 5432 },
        filters: [
          { name: 'rbac', typed_config: { '@type': `${T}envoy.extensions.filters.network.rbac.v3.RBAC`, stat_prefix: 'r', rules: { policies: { p: { permissions: [{ any: true }], principals: [{ any: true }] } } } } },
          { name: 'tcp', typed_config: { '@type': `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 't', cluster: 'c' } },
        ],
      },
    ],
  }),
  seed('route', envoy.RouteConfigurationSchema, ROUTE_CONFIG),
  seed('cluster', envoy.ClusterSchema, {
    name: 'c',
    type: 'STATIC',
    load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '::1', port_value: 80 } } }, load_balancing_weight: 2 }] }] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, explicit_http_config: { http2_protocol_options: {} }, upstream_http_protocol_options: { auto_sni: true } },
    },
    transport_socket: {
      name: 'tls',
      typed_config: { '@type': `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`, sni: 'x', common_tls_context: { validation_context: { trusted_ca: { inline_string: PEM }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { suffix: '.x' } }] } } },
    },
  }),
  seed('endpoints', envoy.ClusterLoadAssignmentSchema, { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 8080 } } }, health_status: 'DEGRADED' }] }] }),
  seed('secret', envoy.SecretSchema, { name: 's', tls_certificate: { certificate_chain: { inline_string: PEM }, private_key: { inline_string: PEM } } }),
];

function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const out = [...bytes];
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = Math.floor(rand() * out.length);
    switch (Math.floor(rand() * 4)) {
      case 0:
        out[at] = out[at]! ^ (1 << Math.floor(rand() * 8));
        break;
      case 1:
        out.splice(at, 0, Math.floor(rand() * 256));
        break;
      case 2:
        out.length = at;
        break;
      default: {
        const from = Math.floor(rand() * out.length);
        out.splice(at, 0, ...out.slice(from, from + 1 + Math.floor(rand() * 16)));
      }
    }
  }
  return Uint8Array.from(out);
}

test('compiling mutated resources never throws (bounded: 20000 inputs or 3 s)', () => {
  const rand = seededRandom(0xc1);
  const deadline = Date.now() + 3000;
  let decoded = 0;
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
    const s = SEEDS[i % SEEDS.length]!;
    const bytes = mutate(s.bytes, rand);
    let message: Message;
    try {
      message = fromBinary(s.schema, bytes);
    } catch {
      continue; // not a message at all: the xDS client NACKs it before compiling
    }
    decoded++;
    let result;
    try {
      result = compileResource(s.kind, message);
    } catch (err) {
      assert.fail(`compile ${s.kind} threw on input #${i} (${Buffer.from(bytes).toString('base64')}): ${(err as Error).stack}`);
    }
    if (result.ok) accepted++;
    else {
      refused++;
      for (const p of result.problems) assert.equal(typeof p.path, 'string');
    }
  }
  console.log(`config fuzz: ${decoded} decodable mutants, ${accepted} accepted, ${refused} refused`);
  assert.ok(decoded > 100 && refused > 0 && accepted > 0, 'the mutants should cover both outcomes');
});
