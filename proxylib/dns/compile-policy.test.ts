// The DNS filter's compiler and decision without sockets: configs as proto3 JSON (what an xDS
// server sends), problems at their proto paths, the proto's decision order, Cilium's name matching
// through policy's matcher, and UDP / TCP listeners carrying the filter through compileListener.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileListener, Problems } from '../config/index.js';
import { compileDnsPolicyConfig, DEFAULT_DNS_UPSTREAM_TIMEOUT_MS, type DnsPolicyConfig } from './compile-policy.js';
import { decideQuery } from './decide.js';
import { DnsTcpFilter } from './tcp-filter.js';
import { DnsUdpFilter } from './udp-filter.js';
import './register.js';

type Json = Record<string, unknown>;
const TYPE_URL = 'type.googleapis.com/meshd.filters.dns.v1.DnsPolicy';

function policyJson(extra: Json = {}): Json {
  return {
    stat_prefix: 'meshd.egress.dns',
    endpoint: 'default/client',
    direction: 'EGRESS',
    upstream: { cluster: 'original-dst' },
    endpoint_ips: ['10.0.0.1', 'fd00::1'],
    destination_ports: { start: 53, end: 53 },
    ...extra,
  };
}

function compile(json: Json, forUdp = true): { config: DnsPolicyConfig | undefined; problems: string[] } {
  const p = new Problems();
  const message = messageFromJson(envoy.DnsPolicySchema, json);
  const config = compileDnsPolicyConfig(message, { path: 'typed_config', problems: p, forUdp });
  return { config, problems: p.items.map((i) => `${i.path}: ${i.message}`) };
}

function compiled(json: Json): DnsPolicyConfig {
  const r = compile(json);
  assert.deepEqual(r.problems, []);
  assert.ok(r.config);
  return r.config;
}

const WORLD = 2;

describe('DnsPolicy compiler', () => {
  test('a complete policy compiles with Cilium’s defaults: REFUSED and a 10 s upstream timeout', () => {
    const c = compiled(policyJson({ rules: [{ name: 'r', remotes: { any: true }, names: [{ match_name: 'a.test' }] }] }));
    assert.equal(c.denyRcode, 'REFUSED');
    assert.equal(c.upstreamTimeoutMs, DEFAULT_DNS_UPSTREAM_TIMEOUT_MS);
    assert.equal(c.upstreamTimeoutMs, 10_000);
    assert.equal(c.direction, 'egress');
    assert.deepEqual(c.destinationPorts, { start: 53, end: 53 });
  });

  test('deny_response_code and upstream_timeout are read', () => {
    const c = compiled(policyJson({ deny_response_code: 'DENY_RESPONSE_CODE_NAME_ERROR', upstream_timeout: '2.5s' }));
    assert.equal(c.denyRcode, 'NXDOMAIN');
    assert.equal(c.upstreamTimeoutMs, 2500);
  });

  test('every problem is reported at its proto path', () => {
    const r = compile({
      endpoint: 'default/client',
      direction: 'DIRECTION_UNSPECIFIED',
      endpoint_ips: ['not-an-ip'],
      destination_ports: { start: 60, end: 53 },
      upstream_timeout: '0s',
      rules: [
        { name: 'a', remotes: { any: true }, names: [{ match_pattern: 'bad pattern' }, {}] },
        { name: 'a', names: [] },
      ],
      deny_rules: [{ name: '', remotes: { any: true }, ports: { start: 0, end: 1 } }],
    });
    assert.equal(r.config, undefined);
    assert.deepEqual(r.problems.sort(), [
      'typed_config.deny_rules[0].name: must not be empty (flow records name the deciding rule)',
      'typed_config.deny_rules[0].ports.start: must be a port (1-65535)',
      'typed_config.destination_ports: start 60 is after end 53',
      'typed_config.direction: must be INGRESS or EGRESS',
      'typed_config.endpoint_ips[0]: "not-an-ip" is not an IP address',
      'typed_config.rules[0].names[0].match_pattern: ' + r.problems.find((p) => p.startsWith('typed_config.rules[0].names[0].match_pattern: '))!.slice('typed_config.rules[0].names[0].match_pattern: '.length),
      'typed_config.rules[0].names[1]: needs match_name or match_pattern',
      'typed_config.rules[1].name: duplicate rule name "a"',
      'typed_config.rules[1].remotes: is required',
      'typed_config.stat_prefix: must not be empty',
      'typed_config.upstream.cluster: must name the cluster allowed queries go to',
      'typed_config.upstream_timeout: must be longer than 0 (a query must not wait forever)',
    ].sort());
  });

  test('a UDP listener’s policy needs endpoint_ips and destination_ports; a TCP chain’s does not', () => {
    const { destination_ports: _ports, ...bare } = policyJson({ endpoint_ips: [] });
    assert.deepEqual(compile(bare, true).problems.sort(), [
      "typed_config.destination_ports: is required (a UDP listener picks the policy by it)",
      "typed_config.endpoint_ips: must name the endpoint's addresses (a UDP listener picks the policy by them)",
    ]);
    assert.deepEqual(compile(bare, false).problems, []);
  });
});

describe('DNS decisions in the proto’s order', () => {
  const policy = compiled(
    policyJson({
      default_deny: true,
      deny_rules: [{ name: 'deny 666', remotes: { any: false, identities: [666] } }],
      rules: [
        { name: 'names', remotes: { any: false, identities: [WORLD] }, names: [{ match_name: 'api.stripe.com' }, { match_pattern: '*.cilium.io' }, { match_pattern: '**.deep.test' }] },
        { name: 'visible', remotes: { any: false, identities: [77] }, visibility_only: true },
        { name: 'ports', remotes: { any: true }, ports: { start: 5353, end: 5353 }, names: [] },
      ],
    }),
  );

  test('a deny rule covering the resolver refuses before any name is looked at', () => {
    assert.deepEqual(decideQuery(policy, 666, 53, 'api.stripe.com'), { allowed: false, policy: 'deny 666', reason: 'dns_deny_rule' });
  });

  test('no covering rule: default deny refuses, otherwise every name is allowed', () => {
    assert.deepEqual(decideQuery(policy, 5, 53, 'api.stripe.com'), { allowed: false, policy: undefined, reason: 'dns_default_deny' });
    const open = compiled(policyJson({ default_deny: false }));
    assert.deepEqual(decideQuery(open, 5, 53, 'anything.test'), { allowed: true, policy: undefined });
  });

  test('visibility_only and rules without names allow every name; port ranges scope rules', () => {
    assert.deepEqual(decideQuery(policy, 77, 53, 'whatever.example'), { allowed: true, policy: 'visible' });
    assert.deepEqual(decideQuery(policy, 5, 5353, 'whatever.example'), { allowed: true, policy: 'ports' });
  });

  test('names match as Cilium does: case, trailing dot, `*` within a label, `**.` for one or more labels', () => {
    const cases: Array<[string, boolean]> = [
      ['api.stripe.com', true],
      ['API.Stripe.COM', true],
      ['api.stripe.com.', true],
      ['api.stripe.com.evil.test', false],
      ['xapi.stripe.com', false],
      ['sub.cilium.io', true],
      ['cilium.io', false],
      ['a.b.cilium.io', false],
      ['a.deep.test', true],
      ['a.b.c.deep.test', true],
      ['deep.test', false],
      // A label holding a dot, as readName escapes it: never an allowed name.
      ['api\\.stripe.com', false],
      ['', false],
    ];
    for (const [name, allowed] of cases) assert.equal(decideQuery(policy, WORLD, 53, name).allowed, allowed, name);
  });
});

describe('listeners carrying the DNS filter', () => {
  const udpListener = (extra: Json = {}): envoy.Listener =>
    messageFromJson(envoy.ListenerSchema, {
      name: 'meshd/udp/4053',
      address: { socket_address: { protocol: 'UDP', address: '10.244.0.1', port_value: 4053 } },
      udp_listener_config: {},
      listener_filters: [{ name: 'meshd.filters.dns/a', typed_config: { '@type': TYPE_URL, ...policyJson() } }],
      ...extra,
    });

  test('a UDP listener with DnsPolicy listener filters compiles; the filters select by endpoint address and port', () => {
    const r = compileListener(udpListener());
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    const filters = r.value.udpListenerFilters ?? [];
    assert.equal(filters.length, 1);
    const filter = filters[0]!.filter;
    assert.ok(filter instanceof DnsUdpFilter);
    const facts = (source: string, port: number) => ({ listenerName: 'l', source: { address: source, port: 4000 }, destination: { address: '10.96.0.10', port }, redirected: true, sourceIdentity: undefined, destinationIdentity: undefined });
    assert.equal(filter.selects(facts('10.0.0.1', 53)), true);
    assert.equal(filter.selects(facts('fd00:0::1', 53)), true, 'IPv6 compared in canonical form');
    assert.equal(filter.selects(facts('10.0.0.2', 53)), false);
    assert.equal(filter.selects(facts('10.0.0.1', 54)), false);
  });

  test('a UDP listener refuses filter chains, unknown listener filters and udp_listener_config options', () => {
    const r = compileListener(
      udpListener({
        listener_filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
        filter_chains: [{ name: 'c', filters: [{ name: 'dns', typed_config: { '@type': TYPE_URL, ...policyJson() } }] }],
        udp_listener_config: { downstream_socket_config: { max_rx_datagram_size: 9000 } },
      }),
    );
    assert.equal(r.ok, false);
    if (r.ok) return;
    const paths = r.problems.map((p) => p.path);
    assert.ok(paths.includes('listener_filters[0].typed_config'), JSON.stringify(r.problems));
    assert.ok(paths.includes('filter_chains'), JSON.stringify(r.problems));
    assert.ok(paths.includes('udp_listener_config.downstream_socket_config'), JSON.stringify(r.problems));
  });

  test('a DnsPolicy network filter ends a TCP chain', () => {
    const r = compileListener(
      messageFromJson(envoy.ListenerSchema, {
        name: 'meshd/tcp/4053',
        address: { socket_address: { address: '10.244.0.1', port_value: 4053 } },
        filter_chains: [{ name: 'c', filters: [{ name: 'dns', typed_config: { '@type': TYPE_URL, ...policyJson({ endpoint_ips: [] }) } }] }],
      }),
    );
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    const terminal = r.value.filterChains[0]!.networkFilters[0]!;
    assert.equal(terminal.kind, 'meshd');
    assert.ok(terminal.kind === 'meshd' && terminal.config instanceof DnsTcpFilter);
  });

  test('a DnsPolicy with an unimplemented field is NACKed at its path inside the listener', () => {
    const r = compileListener(udpListener({ listener_filters: [{ name: 'a', typed_config: { '@type': TYPE_URL, ...policyJson({ rules: [{ name: 'r', remotes: { any: true }, names: [{ match_pattern: '*.ok.test' }] }], stat_prefix: '' }) } }] }));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.problems.map((p) => p.path), ['listener_filters[0].typed_config.stat_prefix']);
  });
});
