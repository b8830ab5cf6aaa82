// Filter chain selection as Envoy's FilterChainMatch documents it: a table of listeners and
// connections with the chain Envoy picks (or none → the connection is closed / default chain).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileListener, type ConnectionFacts, type ListenerConfig } from './index.js';

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

/** A listener whose chains are named by their key and carry a tcp_proxy to a cluster of the same name. */
function listener(chains: Record<string, object>, extra: Record<string, unknown> = {}): ListenerConfig {
  const json = {
    name: 'l',
    address: { socket_address: { address: '0.0.0.0', port_value: 15001 } },
    listener_filters: [
      { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } },
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } },
    ],
    filter_chains: Object.entries(chains).map(([name, match]) => ({
      name,
      filter_chain_match: match,
      filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: name, cluster: name } }],
    })),
    ...extra,
  };
  const compiled = compileListener(messageFromJson(envoy.ListenerSchema, json));
  if (!compiled.ok) assert.fail(compiled.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return compiled.value;
}

function facts(f: Partial<ConnectionFacts>): ConnectionFacts {
  return {
    destinationIp: '10.0.0.1',
    destinationPort: 80,
    sourceIp: '10.1.0.1',
    sourcePort: 40000,
    serverName: '',
    transportProtocol: 'raw_buffer',
    applicationProtocols: [],
    ...f,
  };
}

function chosen(l: ListenerConfig, f: Partial<ConnectionFacts>): string | undefined {
  return l.selectFilterChain(facts(f))?.name;
}

describe('filter chain selection follows Envoy FilterChainMatch', () => {
  test('a chain naming the destination port beats one without, and a wrong port never matches', () => {
    const l = listener({ port80: { destination_port: 80 }, any: {}, port443: { destination_port: 443 } });
    assert.equal(chosen(l, { destinationPort: 80 }), 'port80');
    assert.equal(chosen(l, { destinationPort: 443 }), 'port443');
    assert.equal(chosen(l, { destinationPort: 8080 }), 'any');
  });

  test('the longest matching destination prefix wins, across IPv4 and IPv6, and v4-mapped peers match IPv4 ranges', () => {
    const l = listener({
      wide: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] },
      narrow: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 24 }, { address_prefix: 'fd00::', prefix_len: 64 }] },
      host: { prefix_ranges: [{ address_prefix: '10.0.0.7', prefix_len: 32 }] },
    });
    assert.equal(chosen(l, { destinationIp: '10.0.0.7' }), 'host');
    assert.equal(chosen(l, { destinationIp: '10.0.0.8' }), 'narrow');
    assert.equal(chosen(l, { destinationIp: '::ffff:10.0.0.8' }), 'narrow');
    assert.equal(chosen(l, { destinationIp: '10.9.0.1' }), 'wide');
    assert.equal(chosen(l, { destinationIp: 'fd00::5' }), 'narrow');
    assert.equal(chosen(l, { destinationIp: '192.168.0.1' }), undefined);
    assert.equal(chosen(l, { destinationIp: 'fd01::5' }), undefined);
  });

  test('server names: exact, then the longest wildcard, then chains without names; no SNI only matches the latter', () => {
    const l = listener({
      exact: { server_names: ['www.example.com'] },
      wild: { server_names: ['*.example.com'] },
      deeper: { server_names: ['*.api.example.com'] },
      tld: { server_names: ['*.com'] },
      none: {},
    });
    assert.equal(chosen(l, { serverName: 'www.example.com' }), 'exact');
    assert.equal(chosen(l, { serverName: 'WWW.Example.COM' }), 'exact');
    assert.equal(chosen(l, { serverName: 'shop.example.com' }), 'wild');
    assert.equal(chosen(l, { serverName: 'a.b.example.com' }), 'wild');
    assert.equal(chosen(l, { serverName: 'v1.api.example.com' }), 'deeper');
    assert.equal(chosen(l, { serverName: 'example.com' }), 'tld');
    assert.equal(chosen(l, { serverName: 'example.org' }), 'none');
    assert.equal(chosen(l, { serverName: '' }), 'none');
  });

  test('no backtracking: the most specific step wins even when a later step then fails (→ default chain or none)', () => {
    const l = listener({
      specificPortButTls: { destination_port: 443, transport_protocol: 'tls' },
      anyPortRaw: {},
    });
    // Port 443 selects the first chain; it needs TLS, so a plaintext connection matches nothing,
    // although the second chain would have accepted it.
    assert.equal(chosen(l, { destinationPort: 443, transportProtocol: 'raw_buffer' }), undefined);
    assert.equal(chosen(l, { destinationPort: 443, transportProtocol: 'tls' }), 'specificPortButTls');
    assert.equal(chosen(l, { destinationPort: 80 }), 'anyPortRaw');
    const withDefault = listener(
      { specificPortButTls: { destination_port: 443, transport_protocol: 'tls' } },
      { default_filter_chain: { name: 'fallback', filters: [{ name: 'tcp', typed_config: { '@type': TCP_PROXY, stat_prefix: 'f', cluster: 'f' } }] } },
    );
    assert.equal(chosen(withDefault, { destinationPort: 443 }), 'fallback');
    assert.equal(chosen(withDefault, { destinationPort: 443, transportProtocol: 'tls' }), 'specificPortButTls');
  });

  test('transport protocol and ALPN: a named value beats an empty one', () => {
    const l = listener({
      tls: { transport_protocol: 'tls' },
      tlsH2: { transport_protocol: 'tls', application_protocols: ['h2'] },
      raw: { transport_protocol: 'raw_buffer' },
    });
    assert.equal(chosen(l, { transportProtocol: 'tls', applicationProtocols: ['h2', 'http/1.1'] }), 'tlsH2');
    assert.equal(chosen(l, { transportProtocol: 'tls', applicationProtocols: ['http/1.1'] }), 'tls');
    assert.equal(chosen(l, { transportProtocol: 'raw_buffer' }), 'raw');
  });

  test('source type, source prefixes and source ports are the last steps', () => {
    const l = listener({
      local: { source_type: 'SAME_IP_OR_LOOPBACK' },
      external: { source_type: 'EXTERNAL', source_prefix_ranges: [{ address_prefix: '10.1.0.0', prefix_len: 16 }] },
      externalPort: { source_type: 'EXTERNAL', source_prefix_ranges: [{ address_prefix: '10.1.0.0', prefix_len: 16 }], source_ports: [5555] },
      externalWide: { source_type: 'EXTERNAL', source_prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] },
    });
    assert.equal(chosen(l, { sourceIp: '127.0.0.1' }), 'local');
    assert.equal(chosen(l, { sourceIp: '10.0.0.1', destinationIp: '10.0.0.1' }), 'local');
    assert.equal(chosen(l, { sourceIp: '10.1.2.3' }), 'external');
    assert.equal(chosen(l, { sourceIp: '10.1.2.3', sourcePort: 5555 }), 'externalPort');
    assert.equal(chosen(l, { sourceIp: '10.2.2.3' }), 'externalWide');
    assert.equal(chosen(l, { sourceIp: '192.0.2.1' }), undefined);
  });

  test('two chains with the same match are refused with the second chain\'s path, as Envoy refuses the listener', () => {
    const json = {
      name: 'l',
      address: { socket_address: { address: '0.0.0.0', port_value: 1 } },
      listener_filters: [{ name: 'tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
      filter_chains: [
        { name: 'a', filter_chain_match: { server_names: ['a.example', 'b.example'] }, filters: [{ name: 't', typed_config: { '@type': TCP_PROXY, stat_prefix: 'a', cluster: 'a' } }] },
        { name: 'b', filter_chain_match: { server_names: ['b.example'] }, filters: [{ name: 't', typed_config: { '@type': TCP_PROXY, stat_prefix: 'b', cluster: 'b' } }] },
      ],
    };
    const r = compileListener(messageFromJson(envoy.ListenerSchema, json));
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.problems.map((p) => p.path), ['filter_chains[1].filter_chain_match']);
  });

  test('chains matching on SNI without a tls_inspector compile with a warning and never see SNI', () => {
    const json = {
      name: 'l',
      address: { socket_address: { address: '0.0.0.0', port_value: 1 } },
      filter_chains: [{ name: 'a', filter_chain_match: { server_names: ['a.example'] }, filters: [{ name: 't', typed_config: { '@type': TCP_PROXY, stat_prefix: 'a', cluster: 'a' } }] }],
    };
    const r = compileListener(messageFromJson(envoy.ListenerSchema, json));
    assert.ok(r.ok);
    assert.equal(r.value.needsTlsFacts, false);
    assert.match(r.warnings.join('\n'), /tls_inspector/);
  });
});
