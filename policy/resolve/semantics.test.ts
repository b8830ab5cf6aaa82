// Cilium's policy semantics as tables of traced flows (../shared/research/cilium.md §1.3–1.16).
// Each row: the policies (as YAML through the real loader), the endpoints, one flow, and the
// verdict with the stage and deciding policy per side. Rows marked `todo` are engine bugs.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadEndpointsFile, loadPolicySources } from '../index.js';
import {
  DEFAULT_DENY,
  KAFKA,
  NOT_ENFORCED,
  REPO_ROOT,
  allowedAt,
  ccnp,
  cnp,
  deniedAt,
  dnsQuery,
  dnsRules,
  endpoint,
  httpRequest,
  httpRules,
  kafkaRequest,
  kafkaRules,
  knp,
  ports,
  sel,
  selIn,
  traceTable,
  traceTableOf,
  type Doc,
} from '../../test/fixtures/policy-builders.js';

const GET = (path: string) => httpRequest('GET', path);

// ---- Star Wars ---------------------------------------------------------------------------

describe("Star Wars, as in Cilium's getting-started guide", () => {
  const endpoints = [
    endpoint('default/deathstar', { org: 'empire', class: 'deathstar' }),
    endpoint('default/tiefighter', { org: 'empire', class: 'tiefighter' }),
    endpoint('default/xwing', { org: 'alliance', class: 'xwing' }),
  ];
  const rule1 = cnp('rule1', {
    description: 'L7 policy to restrict access to specific HTTP call',
    endpointSelector: sel({ org: 'empire', class: 'deathstar' }),
    ingress: [{ fromEndpoints: [sel({ org: 'empire' })], toPorts: [ports('80/TCP', httpRules({ method: 'POST', path: '/v1/request-landing' }))] }],
  });
  const l3l4Rule1 = cnp('rule1', {
    endpointSelector: sel({ org: 'empire', class: 'deathstar' }),
    ingress: [{ fromEndpoints: [sel({ org: 'empire' })], toPorts: [ports('80/TCP')] }],
  });
  const flow = { from: 'default/tiefighter', to: 'default/deathstar', port: '80/tcp' };

  traceTable([rule1], endpoints, [
    {
      name: 'a tiefighter may POST /v1/request-landing: allowed at L7 by rule1',
      ...flow,
      request: httpRequest('POST', '/v1/request-landing'),
      expect: { verdict: 'allowed', egress: NOT_ENFORCED, ingress: allowedAt('l7', 'default/rule1') },
    },
    {
      name: 'a tiefighter PUT /v1/exhaust-port is denied at L7 by rule1',
      ...flow,
      request: httpRequest('PUT', '/v1/exhaust-port'),
      expect: { verdict: 'denied', egress: NOT_ENFORCED, ingress: deniedAt('l7', 'default/rule1') },
    },
    {
      name: 'method and path of one HTTP rule are ANDed: GET on the landing path is denied',
      ...flow,
      request: GET('/v1/request-landing'),
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/rule1') },
    },
    {
      name: 'the path regex matches the whole path, so a query string makes it miss',
      ...flow,
      request: httpRequest('POST', '/v1/request-landing?fast=1'),
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/rule1') },
    },
    {
      name: 'an xwing (org=alliance) is dropped at L3/L4 by default-deny before any HTTP is seen',
      ...flow,
      from: 'default/xwing',
      request: httpRequest('POST', '/v1/request-landing'),
      expect: { verdict: 'denied', egress: NOT_ENFORCED, ingress: DEFAULT_DENY },
    },
    {
      name: 'ports the rule does not name stay closed to the tiefighter',
      ...flow,
      port: '443/tcp',
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'without a request to check, a tiefighter connection is allowed and handed to the proxy',
      ...flow,
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/rule1') },
    },
    {
      name: 'the deathstar itself is not restricted on egress: rule1 has no egress section',
      from: 'default/deathstar',
      to: 'default/xwing',
      port: '80/tcp',
      expect: { verdict: 'allowed', egress: NOT_ENFORCED, ingress: NOT_ENFORCED },
    },
    {
      name: 'with the L3/L4-only version of rule1 every tiefighter request is allowed at L3/L4',
      ...flow,
      docs: [l3l4Rule1],
      request: httpRequest('PUT', '/v1/exhaust-port'),
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/rule1') },
    },
    {
      name: 'with the L3/L4-only version of rule1 the xwing is still denied',
      ...flow,
      from: 'default/xwing',
      docs: [l3l4Rule1],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
  ]);
});

// The scenario of docs/examples, read from the files the demo uses.
const examplePolicies = await loadPolicySources([join(REPO_ROOT, 'docs/examples/policies')]);
const exampleEndpoints = await loadEndpointsFile(join(REPO_ROOT, 'docs/examples/endpoints.yaml'));

describe('the docs/examples scenario', () => {
  test('every example policy loads without a problem', () => {
    assert.deepEqual(examplePolicies.problems, []);
    assert.deepEqual(
      examplePolicies.policies.map((p) => `${p.origin.namespace}/${p.origin.name}`).sort(),
      ['alliance/alliance-egress', 'empire/deathstar-landing', 'empire/empire-kafka', 'empire/tiefighter-egress'],
    );
  });

  const toDeathstar = { from: 'empire/tiefighter', to: 'empire/deathstar', port: '80/tcp' };
  const hqToKafka = { from: 'empire/empire-hq', to: 'empire/kafka', port: '9092/tcp' };
  const outpostToKafka = { from: 'empire/empire-outpost', to: 'empire/kafka', port: '9092/tcp' };
  const toDns = { from: 'empire/tiefighter', to: 'kube-system/coredns', port: '53/udp' };
  traceTableOf(() => examplePolicies.policies, exampleEndpoints, [
    {
      name: 'a tiefighter may request landing: its egress names the deathstar’s "http" port, the deathstar allows it at L7',
      ...toDeathstar,
      request: httpRequest('POST', '/v1/request-landing'),
      expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'empire/tiefighter-egress'), ingress: allowedAt('l7', 'empire/deathstar-landing') },
    },
    {
      name: 'a tiefighter may read a status page under /v1/status/',
      ...toDeathstar,
      request: GET('/v1/status/shields'),
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'empire/deathstar-landing') },
    },
    {
      name: 'a tiefighter PUT /v1/exhaust-port is denied at L7',
      ...toDeathstar,
      request: httpRequest('PUT', '/v1/exhaust-port'),
      expect: { verdict: 'denied', egress: allowedAt('l3l4'), ingress: deniedAt('l7', 'empire/deathstar-landing') },
    },
    {
      name: 'an xwing gets out of its namespace but the deathstar’s ingressDeny drops it at L3/L4',
      ...toDeathstar,
      from: 'alliance/xwing',
      request: httpRequest('POST', '/v1/request-landing'),
      expect: { verdict: 'denied', egress: allowedAt('l3l4', 'alliance/alliance-egress'), ingress: deniedAt('l3l4', 'empire/deathstar-landing') },
    },
    {
      name: 'headquarters may produce to deathstar-plans',
      ...hqToKafka,
      request: kafkaRequest(KAFKA.produce, ['deathstar-plans']),
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'empire/empire-kafka') },
    },
    {
      name: 'headquarters may not produce to empire-announce',
      ...hqToKafka,
      request: kafkaRequest(KAFKA.produce, ['empire-announce']),
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'empire/empire-kafka') },
    },
    {
      name: 'headquarters may consume empire-announce',
      ...hqToKafka,
      request: kafkaRequest(KAFKA.fetch, ['empire-announce']),
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'empire/empire-kafka') },
    },
    {
      name: 'an outpost may not produce to deathstar-plans',
      ...outpostToKafka,
      request: kafkaRequest(KAFKA.produce, ['deathstar-plans']),
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'empire/empire-kafka') },
    },
    {
      name: 'an outpost fetching deathstar-plans is allowed',
      ...outpostToKafka,
      request: kafkaRequest(KAFKA.fetch, ['deathstar-plans']),
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'empire/empire-kafka') },
    },
    {
      name: 'a tiefighter may not reach the Kafka broker at all',
      from: 'empire/tiefighter',
      to: 'empire/kafka',
      port: '9092/tcp',
      expect: { verdict: 'denied', egress: DEFAULT_DENY, ingress: DEFAULT_DENY },
    },
    {
      name: 'a tiefighter may resolve names under empire.gov',
      ...toDns,
      request: dnsQuery('api.empire.gov'),
      expect: { verdict: 'allowed', egress: allowedAt('l7', 'empire/tiefighter-egress'), ingress: NOT_ENFORCED },
    },
    {
      name: 'a tiefighter’s lookup of an alliance domain is refused by the DNS proxy',
      ...toDns,
      request: dnsQuery('www.alliance.org'),
      expect: { verdict: 'denied', egress: deniedAt('l7', 'empire/tiefighter-egress') },
    },
    {
      name: 'a tiefighter may reach api.empire.gov on 443 through toFQDNs',
      from: 'empire/tiefighter',
      to: 'fqdn:api.empire.gov',
      port: '443/tcp',
      expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'empire/tiefighter-egress'), ingress: allowedAt('none', null) },
    },
    {
      name: 'a tiefighter may not reach another outside address',
      from: 'empire/tiefighter',
      to: '192.0.2.1',
      port: '443/tcp',
      expect: { verdict: 'denied', egress: DEFAULT_DENY },
    },
  ]);
});

// ---- deny precedence ---------------------------------------------------------------------

describe('deny beats allow (cilium.md §1.15)', () => {
  const endpoints = [
    endpoint('default/server', { app: 'server' }),
    endpoint('default/client', { app: 'client' }),
    endpoint('default/other', { app: 'other' }),
  ];
  const server = sel({ app: 'server' });
  const client = sel({ app: 'client' });
  // The docs' table: allow L3 from client, allow 80 and 81 from anyone, deny 80/TCP from client.
  const docsTable = cnp('p', {
    endpointSelector: server,
    ingress: [{ fromEndpoints: [client] }, { toPorts: [ports(['80/TCP', '81/TCP'])] }],
    ingressDeny: [{ fromEndpoints: [client], toPorts: [ports('80/TCP')] }],
  });
  const denyL3WithL7Allow = cnp('p', {
    endpointSelector: server,
    ingress: [{ fromEndpoints: [client], toPorts: [ports('80/TCP', httpRules({ method: 'GET' }))] }],
    ingressDeny: [{ fromEndpoints: [client] }],
  });
  const allowAllPods = cnp('allow', { endpointSelector: server, ingress: [{ fromEndpoints: [{}] }] });
  const ccnpDenyClient = ccnp('deny-client', { endpointSelector: {}, ingressDeny: [{ fromEndpoints: [client] }] });
  const knpAllow = knp('allow', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 80 }] }] });
  const cnpDeny = cnp('deny', { endpointSelector: server, ingressDeny: [{ fromEndpoints: [client], toPorts: [ports('80/TCP')] }] });
  const from = (who: string, port: string) => ({ from: `default/${who}`, to: 'default/server', port });

  traceTable([docsTable], endpoints, [
    { name: 'port 81 from the client is allowed: the deny names only 80/TCP', ...from('client', '81/tcp'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/p') } },
    { name: 'port 80 from the client is denied although two rules allow it', ...from('client', '80/tcp'), expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') } },
    { name: 'port 80/UDP from the client is allowed by the L3 rule: the deny is TCP only', ...from('client', '80/udp'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/p') } },
    { name: 'another peer on port 80 is allowed: the deny names only the client', ...from('other', '80/tcp'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/p') } },
    { name: 'another peer on an unnamed port stays default-denied', ...from('other', '82/tcp'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    {
      name: 'an L3 deny of the client drops it even on a port with L7 rules that would allow the request',
      ...from('client', '80/tcp'),
      docs: [denyL3WithL7Allow],
      request: GET('/'),
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'an L3 deny of the client drops every port',
      ...from('client', '8080/tcp'),
      docs: [denyL3WithL7Allow],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'a cluster-wide deny beats a namespaced allow',
      ...from('client', '80/tcp'),
      docs: [allowAllPods, ccnpDenyClient],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'deny-client') },
    },
    {
      name: 'a cluster-wide deny of the client leaves the namespaced allow in force for others',
      ...from('other', '80/tcp'),
      docs: [allowAllPods, ccnpDenyClient],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/allow') },
    },
    {
      name: 'a CiliumNetworkPolicy deny beats a Kubernetes NetworkPolicy allow',
      ...from('client', '80/tcp'),
      docs: [knpAllow, cnpDeny],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/deny') },
    },
    {
      name: 'the Kubernetes NetworkPolicy still allows the peers the deny does not name',
      ...from('other', '80/tcp'),
      docs: [knpAllow, cnpDeny],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/allow') },
    },
    {
      name: 'a deny of a port range covers an allowed port inside it',
      ...from('client', '85/tcp'),
      docs: [cnp('p', { endpointSelector: server, ingress: [{ toPorts: [ports('85/TCP')] }], ingressDeny: [{ toPorts: [ports('80-90/TCP')] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'a deny without protocol (ANY) covers a UDP allow of the same port',
      ...from('client', '53/udp'),
      docs: [cnp('p', { endpointSelector: server, ingress: [{ toPorts: [ports('53/UDP')] }], ingressDeny: [{ toPorts: [ports('53')] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'an ingress deny of the world covers addresses a CIDR rule allows',
      from: '192.0.2.5',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('p', { endpointSelector: server, ingress: [{ fromCIDR: ['192.0.2.0/24'] }], ingressDeny: [{ fromEntities: ['world'] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'a CIDR deny with except leaves the excepted addresses to the allow',
      from: '192.0.2.5',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('p', { endpointSelector: server, ingress: [{ fromEntities: ['world'] }], ingressDeny: [{ fromCIDRSet: [{ cidr: '0.0.0.0/0', except: ['192.0.2.0/24'] }] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/p') },
    },
    {
      name: 'a CIDR deny with except denies the addresses outside the except',
      from: '198.51.100.1',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('p', { endpointSelector: server, ingress: [{ fromEntities: ['world'] }], ingressDeny: [{ fromCIDRSet: [{ cidr: '0.0.0.0/0', except: ['192.0.2.0/24'] }] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'a deny of every entity beats allow-localhost',
      from: 'entity:host',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('p', { endpointSelector: server, ingress: [{}], ingressDeny: [{ fromEntities: ['all'] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/p') },
    },
    {
      name: 'an egress deny of the world beats an egress allow of 0.0.0.0/0',
      from: 'default/client',
      to: '192.0.2.1',
      port: '443/tcp',
      docs: [cnp('p', { endpointSelector: client, egress: [{ toCIDR: ['0.0.0.0/0'] }], egressDeny: [{ toEntities: ['world'] }] })],
      expect: { verdict: 'denied', egress: deniedAt('l3l4', 'default/p') },
    },
  ]);
});

// ---- default deny ------------------------------------------------------------------------

describe('when an endpoint becomes default-deny (cilium.md §1.14)', () => {
  const endpoints = [
    endpoint('default/server', { app: 'server' }),
    endpoint('default/server2', { app: 'server2' }),
    endpoint('default/client', { app: 'client' }),
    endpoint('default/other', { app: 'other' }),
    endpoint('kube-system/coredns', { 'k8s-app': 'kube-dns' }),
  ];
  const server = sel({ app: 'server' });
  const client = sel({ app: 'client' });
  const other = sel({ app: 'other' });
  const dnsVisibility = cnp('dns-visibility', {
    endpointSelector: client,
    enableDefaultDeny: { egress: false },
    egress: [{ toEndpoints: [selIn('kube-system', { 'k8s-app': 'kube-dns' })], toPorts: [ports('53/ANY', dnsRules({ matchName: 'api.empire.gov' }))] }],
  });
  const allowClient = cnp('allow-client', { endpointSelector: server, ingress: [{ fromEndpoints: [client] }] });
  const denyAllIngress = cnp('deny-all', { endpointSelector: server, ingress: [{}] });
  const denyOnlyOther = (extra: Doc = {}) => cnp('deny-other', { endpointSelector: server, ingressDeny: [{ fromEndpoints: [other] }], ...extra });
  const observeOnly = (name: string, selector: Doc, enableDefaultDeny?: Doc) =>
    cnp(name, {
      endpointSelector: selector,
      ...(enableDefaultDeny ? { enableDefaultDeny } : {}),
      ingress: [{ fromEndpoints: [client], toPorts: [ports('80/TCP', httpRules({ method: 'GET', path: '/public' }))] }],
    });
  const to = (target: string, who: string, port = '80/tcp') => ({ from: `default/${who}`, to: `default/${target}`, port });

  traceTable([allowClient], endpoints, [
    { name: 'an endpoint no policy selects allows everything', ...to('server', 'client'), docs: [], expect: { verdict: 'allowed', egress: NOT_ENFORCED, ingress: NOT_ENFORCED } },
    { name: 'an ingress rule makes its endpoint default-deny on ingress', ...to('server', 'other'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'an ingress rule leaves its endpoint’s egress open', from: 'default/server', to: 'default/other', port: '80/tcp', expect: { verdict: 'allowed', egress: NOT_ENFORCED, ingress: NOT_ENFORCED } },
    { name: 'ingress: [{}] denies all ingress', ...to('server', 'client'), docs: [denyAllIngress], expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    {
      name: 'ingress: [{}] still lets the local host in (allow-localhost)',
      from: 'entity:host',
      to: 'default/server',
      port: '80/tcp',
      docs: [denyAllIngress],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'allow-localhost (agent default)') },
    },
    {
      name: 'without allow-localhost the host is denied like any other peer',
      from: 'entity:host',
      to: 'default/server',
      port: '80/tcp',
      allowLocalhost: false,
      docs: [denyAllIngress],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    { name: 'a deny-only policy makes the direction default-deny for the peers it does not name', ...to('server', 'client'), docs: [denyOnlyOther()], expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'a deny-only policy denies the peer it names by its rule', ...to('server', 'other'), docs: [denyOnlyOther()], expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/deny-other') } },
    {
      name: 'enableDefaultDeny: {ingress: false} keeps other traffic allowed next to a deny',
      ...to('server', 'client'),
      docs: [denyOnlyOther({ enableDefaultDeny: { ingress: false } })],
      expect: { verdict: 'allowed', ingress: NOT_ENFORCED },
    },
    {
      name: 'enableDefaultDeny: {ingress: false} still applies the deny',
      ...to('server', 'other'),
      docs: [denyOnlyOther({ enableDefaultDeny: { ingress: false } })],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/deny-other') },
    },
    {
      name: 'one default-deny policy makes the endpoint default-deny even next to an enableDefaultDeny: false one',
      ...to('server', 'other'),
      docs: [denyOnlyOther({ enableDefaultDeny: { ingress: false } }), allowClient],
      expect: { verdict: 'denied', ingress: deniedAt('l3l4', 'default/deny-other') },
    },
    {
      name: 'with one default-deny policy among non-default-deny ones, unnamed peers are denied',
      from: 'entity:world',
      to: 'default/server',
      port: '80/tcp',
      docs: [denyOnlyOther({ enableDefaultDeny: { ingress: false } }), allowClient],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'enableDefaultDeny only changes the direction it names: egress rules still make egress default-deny',
      from: 'default/server',
      to: 'default/other',
      port: '80/tcp',
      docs: [cnp('p', { endpointSelector: server, enableDefaultDeny: { ingress: false }, egress: [{ toEndpoints: [client] }] })],
      expect: { verdict: 'denied', egress: DEFAULT_DENY },
    },
    {
      name: 'with enableDefaultDeny false, requests the L7 rules do not match are still allowed (cilium#38676)',
      ...to('server', 'client'),
      docs: [observeOnly('observe', server, { ingress: false })],
      request: httpRequest('POST', '/admin'),
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/observe') },
    },
    {
      name: 'with enableDefaultDeny false, requests the L7 rules match are allowed',
      ...to('server', 'client'),
      docs: [observeOnly('observe', server, { ingress: false })],
      request: GET('/public'),
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/observe') },
    },
    {
      name: 'the same L7 rules in a default-deny policy on another endpoint deny the unmatched request',
      ...to('server2', 'client'),
      docs: [observeOnly('observe', server, { ingress: false }), observeOnly('enforce', sel({ app: 'server2' }))],
      request: httpRequest('POST', '/admin'),
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/enforce') },
    },
    {
      name: 'an egress DNS visibility policy (enableDefaultDeny egress false) lets other lookups through',
      from: 'default/client',
      to: 'kube-system/coredns',
      port: '53/udp',
      request: dnsQuery('www.rebel.org'),
      docs: [dnsVisibility],
      expect: { verdict: 'allowed', egress: allowedAt('l7', 'default/dns-visibility') },
    },
    {
      name: 'an egress DNS visibility policy leaves other egress open',
      from: 'default/client',
      to: '192.0.2.1',
      port: '443/tcp',
      docs: [dnsVisibility],
      expect: { verdict: 'allowed', egress: NOT_ENFORCED },
    },
    {
      name: 'an egress-only policy leaves ingress open',
      ...to('server', 'other'),
      docs: [cnp('p', { endpointSelector: server, egress: [{ toEndpoints: [client] }] })],
      expect: { verdict: 'allowed', ingress: NOT_ENFORCED },
    },
    {
      name: 'a NetworkPolicy without policyTypes always restricts ingress, even with only egress rules',
      ...to('server', 'client'),
      docs: [knp('egress-only', { podSelector: { matchLabels: { app: 'server' } }, egress: [{ to: [{ podSelector: {} }] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a NetworkPolicy with policyTypes [Ingress] and no rules denies all ingress',
      ...to('server', 'client'),
      docs: [knp('deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a NetworkPolicy with policyTypes [Ingress] leaves egress open',
      from: 'default/server',
      to: '192.0.2.1',
      port: '443/tcp',
      docs: [knp('deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
      expect: { verdict: 'allowed', egress: NOT_ENFORCED },
    },
    {
      name: 'an explicitly empty fromEndpoints list selects no peer',
      ...to('server', 'client'),
      docs: [cnp('p', { endpointSelector: server, ingress: [{ fromEndpoints: [] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
  ]);
});

// ---- L7 merging --------------------------------------------------------------------------

describe('how L7 rules combine (cilium.md §1.13)', () => {
  const endpoints = [endpoint('default/server', { app: 'server' }), endpoint('default/client', { app: 'client' }), endpoint('default/other', { app: 'other' })];
  const server = sel({ app: 'server' });
  const client = sel({ app: 'client' });
  const other = sel({ app: 'other' });
  const l7From = (peer: Doc, path: string) => ({ fromEndpoints: [peer], toPorts: [ports('80/TCP', httpRules({ method: 'GET', path }))] });
  const allowA = cnp('a', { endpointSelector: server, ingress: [l7From(client, '/a')] });
  const allowB = cnp('b', { endpointSelector: server, ingress: [l7From(client, '/b')] });
  const l4Only = cnp('l4', { endpointSelector: server, ingress: [{ fromEndpoints: [client], toPorts: [ports('80/TCP')] }] });
  const l3Only = cnp('l3', { endpointSelector: server, ingress: [{ fromEndpoints: [client] }] });
  const perPeer = cnp('per-peer', { endpointSelector: server, ingress: [l7From(client, '/a'), l7From(other, '/b')] });
  const flow = (who: string, path: string, method = 'GET') => ({ from: `default/${who}`, to: 'default/server', port: '80/tcp', request: httpRequest(method, path) });

  traceTable([allowA, allowB], endpoints, [
    { name: 'two policies with different HTTP rules on the same port and peer are ORed: the first one’s path', ...flow('client', '/a'), expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/a') } },
    { name: 'two policies with different HTTP rules on the same port and peer are ORed: the second one’s path', ...flow('client', '/b'), expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/b') } },
    { name: 'a request neither HTTP rule matches is denied at L7', ...flow('client', '/c'), expect: { verdict: 'denied', ingress: deniedAt('l7') } },
    {
      name: 'two elements of one policy on the same port are ORed as well',
      ...flow('client', '/b'),
      docs: [cnp('both', { endpointSelector: server, ingress: [l7From(client, '/a'), l7From(client, '/b')] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/both') },
    },
    {
      name: 'a rule allowing the same peer and port without L7 makes every request allowed',
      ...flow('client', '/anything', 'DELETE'),
      docs: [allowA, l4Only],
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/l4') },
    },
    {
      name: 'an L3-only allow of the same peer (all ports) also makes the port’s L7 allow-all',
      ...flow('client', '/anything', 'DELETE'),
      docs: [allowA, l3Only],
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/l3') },
    },
    {
      name: 'an L4-only allow for every peer makes the port’s L7 allow-all for the client too',
      ...flow('client', '/anything', 'DELETE'),
      docs: [allowA, cnp('any-peer', { endpointSelector: server, ingress: [{ toPorts: [ports('80/TCP')] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/any-peer') },
    },
    {
      name: 'an L4-only allow of another peer leaves the client’s L7 rules in force',
      ...flow('client', '/anything'),
      docs: [allowA, cnp('other-l4', { endpointSelector: server, ingress: [{ fromEndpoints: [other], toPorts: [ports('80/TCP')] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/a') },
    },
    { name: 'different peers keep separate L7 sets: the other peer’s path is denied to the client', ...flow('client', '/b'), docs: [perPeer], expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/per-peer') } },
    { name: 'different peers keep separate L7 sets: the other peer gets its own path', ...flow('other', '/b'), docs: [perPeer], expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/per-peer') } },
    { name: 'different peers keep separate L7 sets: the client’s path is denied to the other peer', ...flow('other', '/a'), docs: [perPeer], expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/per-peer') } },
    {
      name: 'L7 rules of a broader peer selector also apply to a peer a narrower rule names',
      ...flow('client', '/b'),
      docs: [cnp('p', { endpointSelector: server, ingress: [l7From(client, '/a'), l7From({}, '/b')] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/p') },
    },
    {
      name: 'L7 rules on port 80 do not reach a port an L4 rule allows',
      from: 'default/client',
      to: 'default/server',
      port: '8080/tcp',
      request: httpRequest('DELETE', '/x'),
      docs: [cnp('p', { endpointSelector: server, ingress: [l7From(client, '/a'), { fromEndpoints: [client], toPorts: [ports('8080/TCP')] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/p') },
    },
    {
      name: 'a header requirement is ANDed with method and path',
      ...flow('client', '/a'),
      docs: [cnp('p', { endpointSelector: server, ingress: [{ fromEndpoints: [client], toPorts: [ports('80/TCP', httpRules({ method: 'GET', path: '/a', headers: ['X-Token: sith'] }))] }] })],
      expect: { verdict: 'denied', ingress: deniedAt('l7', 'default/p') },
    },
    {
      name: 'the request with the required header is allowed',
      from: 'default/client',
      to: 'default/server',
      port: '80/tcp',
      request: httpRequest('GET', '/a', { 'X-Token': 'sith' }),
      docs: [cnp('p', { endpointSelector: server, ingress: [{ fromEndpoints: [client], toPorts: [ports('80/TCP', httpRules({ method: 'GET', path: '/a', headers: ['X-Token: sith'] }))] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l7', 'default/p') },
    },
  ]);
});

// ---- entities ----------------------------------------------------------------------------

describe('entities select reserved identities (cilium.md §1.5)', () => {
  const endpoints = [
    endpoint('default/client', { app: 'client' }),
    endpoint('default/server', { app: 'server' }),
    endpoint('elsewhere/pod', { app: 'pod' }),
  ];
  const egressTo = (entity: string) => [cnp(`to-${entity}`, { endpointSelector: sel({ app: 'client' }), egress: [{ toEntities: [entity] }] })];
  const row = (entity: string, to: string, verdict: 'allowed' | 'denied', what: string) => ({
    name: `toEntities ${entity} ${verdict === 'allowed' ? 'allows' : 'does not allow'} ${what}`,
    from: 'default/client',
    to,
    port: '443/tcp',
    docs: egressTo(entity),
    expect: { verdict, egress: verdict === 'allowed' ? allowedAt('l3l4', `default/to-${entity}`) : DEFAULT_DENY },
  });

  traceTable([], endpoints, [
    row('world', '192.0.2.1', 'allowed', 'an external IPv4 address'),
    row('world', '2001:db8::1', 'allowed', 'an external IPv6 address'),
    row('world', 'default/server', 'denied', 'a pod'),
    row('world', 'entity:host', 'denied', 'the host'),
    row('world-ipv4', '192.0.2.1', 'allowed', 'an external IPv4 address'),
    row('world-ipv4', '2001:db8::1', 'denied', 'an external IPv6 address'),
    row('world-ipv6', '2001:db8::1', 'allowed', 'an external IPv6 address'),
    row('cluster', 'default/server', 'allowed', 'a pod of its namespace'),
    row('cluster', 'elsewhere/pod', 'allowed', 'a pod of another namespace'),
    row('cluster', 'entity:host', 'allowed', 'the host'),
    row('cluster', 'entity:remote-node', 'allowed', 'a remote node'),
    row('cluster', '192.0.2.1', 'denied', 'the world'),
    row('host', 'entity:host', 'allowed', 'the host'),
    row('host', 'default/server', 'denied', 'a pod'),
    row('host', 'entity:remote-node', 'denied', 'a remote node'),
    row('remote-node', 'entity:remote-node', 'allowed', 'a remote node'),
    row('remote-node', 'entity:host', 'denied', 'the local host'),
    row('kube-apiserver', 'entity:kube-apiserver', 'allowed', 'the API server'),
    row('all', '192.0.2.1', 'allowed', 'the world'),
    row('all', 'elsewhere/pod', 'allowed', 'a pod of another namespace'),
    row('all', 'entity:remote-node', 'allowed', 'a remote node'),
    {
      name: 'fromEntities world lets an external address in',
      from: '192.0.2.1',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('from-world', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromEntities: ['world'] }] })],
      expect: { verdict: 'allowed', egress: allowedAt('none', null), ingress: allowedAt('l3l4', 'default/from-world') },
    },
    {
      name: 'fromEntities world does not let a pod in',
      from: 'default/client',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('from-world', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromEntities: ['world'] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'fromEntities remote-node lets a remote node in',
      from: 'entity:remote-node',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('from-nodes', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromEntities: ['remote-node'] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/from-nodes') },
    },
    {
      name: 'fromEntities remote-node does not let the local host in',
      from: 'entity:host',
      to: 'default/server',
      port: '80/tcp',
      allowLocalhost: false,
      docs: [cnp('from-nodes', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromEntities: ['remote-node'] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
  ]);
});

// ---- CIDR --------------------------------------------------------------------------------

describe('CIDR rules select addresses outside the cluster (cilium.md §1.6)', () => {
  // The pods live in 10.244.0.0/16, inside the 10.0.0.0/8 the rules name.
  const endpoints = [endpoint('default/client', { app: 'client' }), endpoint('default/server', { app: 'server' }, { ips: ['10.244.9.9', 'fd00::9'] })];
  const client = sel({ app: 'client' });
  const except = [cnp('except', { endpointSelector: client, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.96.0.0/12'] }] }] })];
  const to = (address: string, port = '443/tcp') => ({ from: 'default/client', to: address, port });
  const allowed = { verdict: 'allowed' as const, egress: allowedAt('l3l4', 'default/except') };
  const denied = { verdict: 'denied' as const, egress: DEFAULT_DENY };

  traceTable(except, endpoints, [
    { name: 'toCIDRSet 10.0.0.0/8 allows 10.1.2.3', ...to('10.1.2.3'), expect: allowed },
    { name: 'toCIDRSet except 10.96.0.0/12 denies 10.96.0.1', ...to('10.96.0.1'), expect: denied },
    { name: 'the except covers the last address of 10.96.0.0/12', ...to('10.111.255.255'), expect: denied },
    { name: 'the address just past the except is allowed again', ...to('10.112.0.1'), expect: allowed },
    { name: 'an address outside the CIDR is denied', ...to('11.0.0.1'), expect: denied },
    { name: 'a pod whose IP lies inside the CIDR is not selected by it', ...to('default/server'), expect: denied },
    { name: 'a pod addressed by its IP is matched by its endpoint identity, not the CIDR', ...to('10.244.9.9'), expect: denied },
    {
      name: 'toCIDR with a bare IP allows exactly that address',
      ...to('192.0.2.10'),
      docs: [cnp('bare', { endpointSelector: client, egress: [{ toCIDR: ['192.0.2.10'] }] })],
      expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'default/bare') },
    },
    {
      name: 'toCIDR with a bare IP does not allow its neighbour',
      ...to('192.0.2.11'),
      docs: [cnp('bare', { endpointSelector: client, egress: [{ toCIDR: ['192.0.2.10'] }] })],
      expect: denied,
    },
    {
      name: 'an IPv6 CIDR allows an address inside it',
      ...to('2001:db8::1'),
      docs: [cnp('v6', { endpointSelector: client, egress: [{ toCIDRSet: [{ cidr: '2001:db8::/32', except: ['2001:db8:ff::/48'] }] }] })],
      expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'default/v6') },
    },
    {
      name: 'an IPv6 except denies an address inside it',
      ...to('2001:db8:ff::1'),
      docs: [cnp('v6', { endpointSelector: client, egress: [{ toCIDRSet: [{ cidr: '2001:db8::/32', except: ['2001:db8:ff::/48'] }] }] })],
      expect: denied,
    },
    {
      name: 'an IPv6 CIDR does not select a pod’s IPv6 address',
      ...to('fd00::9'),
      docs: [cnp('v6', { endpointSelector: client, egress: [{ toCIDR: ['fd00::/8'] }] })],
      expect: denied,
    },
    {
      name: 'toCIDR 0.0.0.0/0 allows any external IPv4 address',
      ...to('198.51.100.7'),
      docs: [cnp('all-v4', { endpointSelector: client, egress: [{ toCIDR: ['0.0.0.0/0'] }] })],
      expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'default/all-v4') },
    },
    {
      name: 'toCIDR 0.0.0.0/0 does not allow IPv6',
      ...to('2001:db8::1'),
      docs: [cnp('all-v4', { endpointSelector: client, egress: [{ toCIDR: ['0.0.0.0/0'] }] })],
      expect: denied,
    },
    {
      name: 'fromCIDR lets in an address of the prefix',
      from: '192.0.2.7',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('from-net', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromCIDR: ['192.0.2.0/24'] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/from-net') },
    },
    {
      name: 'fromCIDR does not let in a pod whose IP lies inside the prefix',
      from: 'default/client',
      to: 'default/server',
      port: '80/tcp',
      docs: [cnp('from-net', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromCIDR: ['10.0.0.0/8'] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a NetworkPolicy ipBlock except is honoured',
      from: '172.16.5.5',
      to: 'default/server',
      port: '80/tcp',
      docs: [knp('block', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ ipBlock: { cidr: '172.16.0.0/12', except: ['172.16.5.0/24'] } }] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a NetworkPolicy ipBlock allows the rest of its CIDR',
      from: '172.16.6.5',
      to: 'default/server',
      port: '80/tcp',
      docs: [knp('block', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ ipBlock: { cidr: '172.16.0.0/12', except: ['172.16.5.0/24'] } }] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/block') },
    },
  ]);
});

// ---- named ports, port ranges, protocols -------------------------------------------------

describe('named ports resolve against the destination endpoint (cilium.md §1.7)', () => {
  const endpoints = [
    endpoint('default/server', { app: 'server' }, { namedPorts: { http: 8080, dns: '53/udp' } }),
    endpoint('default/server2', { app: 'server' }, { namedPorts: { http: 9090 } }),
    endpoint('default/client', { app: 'client' }),
  ];
  const server = sel({ app: 'server' });
  const ingressNamed = (port: string) => [cnp('named', { endpointSelector: server, ingress: [{ toPorts: [ports(port)] }] })];
  const egressNamed = (port: string) => [cnp('named', { endpointSelector: sel({ app: 'client' }), egress: [{ toEndpoints: [server], toPorts: [ports(port)] }] })];
  const flow = (to: string, port: string) => ({ from: 'default/client', to: `default/${to}`, port });

  traceTable(ingressNamed('http/TCP'), endpoints, [
    { name: 'an ingress port "http" allows the destination’s http port 8080', ...flow('server', '8080/tcp'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/named') } },
    { name: 'an ingress port "http" does not allow port 80', ...flow('server', '80/tcp'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'an ingress port "http" resolves per endpoint: 9090 on the second server', ...flow('server2', '9090/tcp'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/named') } },
    { name: 'an ingress port "http" does not open the first server’s number on the second', ...flow('server2', '8080/tcp'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'an unknown port name allows nothing', ...flow('server', '8080/tcp'), docs: ingressNamed('metrics/TCP'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'a named UDP port without protocol in the rule allows UDP', ...flow('server', '53/udp'), docs: ingressNamed('dns'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'default/named') } },
    { name: 'a named UDP port does not allow TCP on the same number', ...flow('server', '53/tcp'), docs: ingressNamed('dns'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'a rule protocol that differs from the named port’s resolves to nothing', ...flow('server', '53/udp'), docs: ingressNamed('dns/TCP'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'an egress port "http" resolves against the destination: 8080 to the server', ...flow('server', '8080/tcp'), docs: egressNamed('http/TCP'), expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'default/named') } },
    { name: 'an egress port "http" resolves against the destination: 9090 to the second server', ...flow('server2', '9090/tcp'), docs: egressNamed('http/TCP'), expect: { verdict: 'allowed', egress: allowedAt('l3l4', 'default/named') } },
    { name: 'an egress port "http" does not allow another port of the destination', ...flow('server2', '8080/tcp'), docs: egressNamed('http/TCP'), expect: { verdict: 'denied', egress: DEFAULT_DENY } },
    { name: 'an unknown egress port name allows nothing', ...flow('server', '8080/tcp'), docs: egressNamed('metrics/TCP'), expect: { verdict: 'denied', egress: DEFAULT_DENY } },
    {
      name: 'an egress named port without protocol does not allow UDP to a TCP named port’s number',
      ...flow('server', '8080/udp'),
      docs: egressNamed('http'),
      expect: { verdict: 'denied', egress: DEFAULT_DENY },
    },
  ]);
});

describe('port ranges and protocols (cilium.md §1.7)', () => {
  const endpoints = [endpoint('default/server', { app: 'server' }), endpoint('default/client', { app: 'client' })];
  const only = (port: string) => [cnp('ports', { endpointSelector: sel({ app: 'server' }), ingress: [{ toPorts: [ports(port)] }] })];
  const flow = (port: string) => ({ from: 'default/client', to: 'default/server', port });
  const yes = { verdict: 'allowed' as const, ingress: allowedAt('l3l4', 'default/ports') };
  const no = { verdict: 'denied' as const, ingress: DEFAULT_DENY };

  traceTable(only('8000-8010/TCP'), endpoints, [
    { name: 'a range allows its first port', ...flow('8000/tcp'), expect: yes },
    { name: 'a range allows a port inside it', ...flow('8005/tcp'), expect: yes },
    { name: 'a range includes its endPort', ...flow('8010/tcp'), expect: yes },
    { name: 'a range does not allow the port below it', ...flow('7999/tcp'), expect: no },
    { name: 'a range does not allow the port past endPort', ...flow('8011/tcp'), expect: no },
    { name: 'a TCP range does not allow UDP', ...flow('8005/udp'), expect: no },
    { name: 'a port without protocol (ANY) allows TCP', ...flow('53/tcp'), docs: only('53'), expect: yes },
    { name: 'a port without protocol (ANY) allows UDP', ...flow('53/udp'), docs: only('53'), expect: yes },
    { name: 'a port without protocol (ANY) allows SCTP', ...flow('53/sctp'), docs: only('53'), expect: yes },
    { name: 'protocol ANY written out behaves the same', ...flow('53/udp'), docs: only('53/ANY'), expect: yes },
    { name: 'a UDP port does not allow TCP', ...flow('53/tcp'), docs: only('53/UDP'), expect: no },
    { name: 'a UDP port allows UDP', ...flow('53/udp'), docs: only('53/UDP'), expect: yes },
    { name: 'port 0 with TCP allows every TCP port', ...flow('31337/tcp'), docs: only('0/TCP'), expect: yes },
    { name: 'port 0 with TCP does not allow UDP', ...flow('31337/udp'), docs: only('0/TCP'), expect: no },
  ]);
});

describe('Kubernetes NetworkPolicy ports and peers', () => {
  const endpoints = [
    endpoint('a/server', { app: 'server' }, { namedPorts: { web: 8080 } }),
    endpoint('a/client', { app: 'client' }),
    endpoint('b/x', { app: 'x' }),
  ];
  const onServer = (ingress: Doc[]) => [knp('k', { podSelector: { matchLabels: { app: 'server' } }, ingress }, 'a')];
  const flow = (from: string, port: string) => ({ from, to: 'a/server', port, allowLocalhost: false });
  const yes = { verdict: 'allowed' as const, ingress: allowedAt('l3l4', 'a/k') };
  const no = { verdict: 'denied' as const, ingress: DEFAULT_DENY };

  traceTable(onServer([{ ports: [{ port: 53 }] }]), endpoints, [
    { name: 'a NetworkPolicy port without protocol means TCP', ...flow('a/client', '53/tcp'), expect: yes },
    { name: 'a NetworkPolicy port without protocol does not allow UDP', ...flow('a/client', '53/udp'), expect: no },
    { name: 'a NetworkPolicy rule without from admits every peer, the world included', ...flow('192.0.2.1', '53/tcp'), expect: yes },
    { name: 'a NetworkPolicy rule with neither from nor ports admits everything', ...flow('b/x', '9/udp'), docs: onServer([{}]), expect: yes },
    { name: 'namespaceSelector {} admits pods of every namespace', ...flow('b/x', '80/tcp'), docs: onServer([{ from: [{ namespaceSelector: {} }] }]), expect: yes },
    { name: 'namespaceSelector {} does not admit the world', ...flow('192.0.2.1', '80/tcp'), docs: onServer([{ from: [{ namespaceSelector: {} }] }]), expect: no },
    { name: 'a NetworkPolicy named port resolves against the pod', ...flow('a/client', '8080/tcp'), docs: onServer([{ ports: [{ port: 'web' }] }]), expect: yes },
    { name: 'a NetworkPolicy named port does not allow other ports', ...flow('a/client', '80/tcp'), docs: onServer([{ ports: [{ port: 'web' }] }]), expect: no },
    { name: 'a NetworkPolicy endPort range includes its end', ...flow('a/client', '8010/tcp'), docs: onServer([{ ports: [{ port: 8000, endPort: 8010 }] }]), expect: yes },
    { name: 'a NetworkPolicy endPort range stops at its end', ...flow('a/client', '8011/tcp'), docs: onServer([{ ports: [{ port: 8000, endPort: 8010 }] }]), expect: no },
  ]);
});

// ---- namespaces --------------------------------------------------------------------------

describe('namespace scoping of selectors (cilium.md §1.2)', () => {
  const endpoints = [
    endpoint('a/server', { app: 'server' }),
    endpoint('a/x', { app: 'x' }),
    endpoint('b/x', { app: 'x' }, { namespaceLabels: { team: 'blue' } }),
    endpoint('b/y', { app: 'y' }, { namespaceLabels: { team: 'blue' } }),
  ];
  const server = sel({ app: 'server' });
  const fromX = cnp('from-x', { endpointSelector: server, ingress: [{ fromEndpoints: [sel({ app: 'x' })] }] }, 'a');
  const flow = (from: string, to = 'a/server') => ({ from, to, port: '80/tcp' });

  traceTable([fromX], endpoints, [
    { name: 'a CNP’s fromEndpoints selects pods of its own namespace', ...flow('a/x'), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'a/from-x') } },
    { name: 'a CNP’s fromEndpoints does not select the same labels in another namespace', ...flow('b/x'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    {
      name: 'naming k8s:io.kubernetes.pod.namespace in the selector reaches into that namespace',
      ...flow('b/x'),
      docs: [cnp('from-b', { endpointSelector: server, ingress: [{ fromEndpoints: [selIn('b', { app: 'x' })] }] }, 'a')],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'a/from-b') },
    },
    {
      name: 'naming another namespace no longer selects the policy’s own one',
      ...flow('a/x'),
      docs: [cnp('from-b', { endpointSelector: server, ingress: [{ fromEndpoints: [selIn('b', { app: 'x' })] }] }, 'a')],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a selector on namespace labels reaches the namespaces that carry them',
      ...flow('b/y'),
      docs: [cnp('blue', { endpointSelector: server, ingress: [{ fromEndpoints: [sel({ 'k8s:io.cilium.k8s.namespace.labels.team': 'blue' })] }] }, 'a')],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'a/blue') },
    },
    {
      name: 'a CNP’s endpointSelector only selects endpoints of its namespace',
      ...flow('a/server', 'b/x'),
      docs: [cnp('lock-x', { endpointSelector: sel({ app: 'x' }), ingress: [{}] }, 'a')],
      expect: { verdict: 'allowed', ingress: NOT_ENFORCED },
    },
    {
      name: 'fromEndpoints [{}] in a CNP selects every pod of its namespace',
      ...flow('a/x'),
      docs: [cnp('ns', { endpointSelector: server, ingress: [{ fromEndpoints: [{}] }] }, 'a')],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'a/ns') },
    },
    {
      name: 'fromEndpoints [{}] in a CNP does not select pods of other namespaces',
      ...flow('b/x'),
      docs: [cnp('ns', { endpointSelector: server, ingress: [{ fromEndpoints: [{}] }] }, 'a')],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'fromEndpoints [{}] in a CCNP selects pods of every namespace',
      ...flow('b/y'),
      docs: [ccnp('all-pods', { endpointSelector: server, ingress: [{ fromEndpoints: [{}] }] })],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'all-pods') },
    },
    {
      name: 'fromEndpoints [{}] in a CCNP does not select the world',
      ...flow('192.0.2.1'),
      docs: [ccnp('all-pods', { endpointSelector: server, ingress: [{ fromEndpoints: [{}] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'fromEndpoints [{}] in a CCNP does not select the host',
      ...flow('entity:host'),
      allowLocalhost: false,
      docs: [ccnp('all-pods', { endpointSelector: server, ingress: [{ fromEndpoints: [{}] }] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a CCNP endpointSelector selects endpoints of every namespace',
      ...flow('a/server', 'b/x'),
      docs: [ccnp('lock-x', { endpointSelector: sel({ app: 'x' }), ingress: [{}] })],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a KNP namespaceSelector on kubernetes.io/metadata.name admits that namespace',
      ...flow('b/x'),
      docs: [knp('from-b', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } } }] }] }, 'a')],
      expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'a/from-b') },
    },
    {
      name: 'a KNP namespaceSelector on kubernetes.io/metadata.name excludes the policy’s own namespace',
      ...flow('a/x'),
      docs: [knp('from-b', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } } }] }] }, 'a')],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a KNP peer with namespaceSelector and podSelector needs both',
      ...flow('b/y'),
      docs: [knp('blue-x', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } }, podSelector: { matchLabels: { app: 'x' } } }] }] }, 'a')],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a KNP podSelector without namespaceSelector stays in the policy’s namespace',
      ...flow('b/x'),
      docs: [knp('pods', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'x' } } }] }] }, 'a')],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
  ]);
});

describe('identity labels Cilium derives cannot be claimed by pod labels', () => {
  // pkg/k8s/utils SanitizePodLabels: pod labels under io.cilium.k8s. are dropped, then the namespace,
  // its labels, the service account (or none) and the cluster are set from Kubernetes.
  const endpoints = [
    endpoint('prod/server', { app: 'server' }),
    endpoint('prod/worker', { app: 'worker' }, { serviceAccount: 'robot' }),
    endpoint('evil/spoof', {
      app: 'worker',
      'io.kubernetes.pod.namespace': 'prod',
      'io.cilium.k8s.policy.serviceaccount': 'robot',
      'io.cilium.k8s.namespace.labels.team': 'blue',
    }),
  ];
  const toServer = (from: string) => ({ from, to: 'prod/server', port: '80/tcp' });
  const bySelector = (name: string, selector: Doc) => [ccnp(name, { endpointSelector: selIn('prod', { app: 'server' }), ingress: [{ fromEndpoints: [selector] }] })];

  traceTable([], endpoints, [
    {
      name: 'a pod label io.kubernetes.pod.namespace does not move the pod into that namespace',
      ...toServer('evil/spoof'),
      docs: [cnp('workers', { endpointSelector: sel({ app: 'server' }), ingress: [{ fromEndpoints: [sel({ app: 'worker' })] }] }, 'prod')],
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    { name: 'a pod’s real service account is selectable', ...toServer('prod/worker'), docs: bySelector('robots', sel({ 'io.cilium.k8s.policy.serviceaccount': 'robot' })), expect: { verdict: 'allowed', ingress: allowedAt('l3l4', 'robots') } },
    {
      name: 'a pod label cannot claim a service account the pod does not run as',
      ...toServer('evil/spoof'),
      docs: bySelector('robots', sel({ 'io.cilium.k8s.policy.serviceaccount': 'robot' })),
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
    {
      name: 'a pod label cannot claim a label its namespace does not have',
      ...toServer('evil/spoof'),
      docs: bySelector('blue-team', sel({ 'k8s:io.cilium.k8s.namespace.labels.team': 'blue' })),
      expect: { verdict: 'denied', ingress: DEFAULT_DENY },
    },
  ]);
});

// ---- DNS ---------------------------------------------------------------------------------

describe('DNS rules match query names like Cilium’s DNS proxy (cilium.md §1.10, §1.12)', () => {
  const endpoints = [endpoint('default/client', { app: 'client' }), endpoint('kube-system/coredns', { 'k8s-app': 'kube-dns' })];
  const dnsPolicy = (...rules: Parameters<typeof dnsRules>) => [
    cnp('dns', {
      endpointSelector: sel({ app: 'client' }),
      egress: [{ toEndpoints: [selIn('kube-system', { 'k8s-app': 'kube-dns' })], toPorts: [ports('53/UDP', dnsRules(...rules))] }],
    }),
  ];
  const query = (name: string, port = '53/udp') => ({ from: 'default/client', to: 'kube-system/coredns', port, request: dnsQuery(name) });
  const yes = { verdict: 'allowed' as const, egress: allowedAt('l7', 'default/dns') };
  const no = { verdict: 'denied' as const, egress: deniedAt('l7', 'default/dns') };
  const exact = dnsPolicy({ matchName: 'api.empire.gov' });
  const oneLabel = dnsPolicy({ matchPattern: '*.empire.gov' });
  const anyDepth = dnsPolicy({ matchPattern: '**.empire.gov' });

  traceTable(exact, endpoints, [
    { name: 'matchName allows the exact name', ...query('api.empire.gov'), expect: yes },
    { name: 'matchName is case-insensitive', ...query('API.Empire.GOV'), expect: yes },
    { name: 'matchName ignores a trailing dot on the query', ...query('api.empire.gov.'), expect: yes },
    { name: 'matchName ignores a trailing dot in the rule', ...query('api.empire.gov'), docs: dnsPolicy({ matchName: 'api.empire.gov.' }), expect: yes },
    { name: 'matchName written in capitals matches a lower-case query', ...query('api.empire.gov'), docs: dnsPolicy({ matchName: 'API.Empire.GOV' }), expect: yes },
    { name: 'matchName does not allow a subdomain', ...query('x.api.empire.gov'), expect: no },
    { name: 'matchName does not allow a name that only starts with it', ...query('api.empire.gov.evil.com'), expect: no },
    { name: '* in a label allows one label', ...query('a.empire.gov'), docs: oneLabel, expect: yes },
    { name: '* in a label never crosses a dot', ...query('a.b.empire.gov'), docs: oneLabel, expect: no },
    { name: '*. needs a label: the bare domain is not allowed', ...query('empire.gov'), docs: oneLabel, expect: no },
    { name: '* patterns are case-insensitive and ignore the trailing dot', ...query('A.EMPIRE.GOV.'), docs: oneLabel, expect: yes },
    { name: '* inside a label matches the rest of that label', ...query('subnet.empire.gov'), docs: dnsPolicy({ matchPattern: 'sub*.empire.gov' }), expect: yes },
    { name: '* inside a label keeps the fixed prefix', ...query('xsub.empire.gov'), docs: dnsPolicy({ matchPattern: 'sub*.empire.gov' }), expect: no },
    { name: 'a **. prefix allows several labels', ...query('a.b.empire.gov'), docs: anyDepth, expect: yes },
    { name: 'a **. prefix allows one label', ...query('a.empire.gov'), docs: anyDepth, expect: yes },
    { name: 'a **. prefix needs at least one label', ...query('empire.gov'), docs: anyDepth, expect: no },
    { name: 'a bare * allows every name', ...query('anything.example.org'), docs: dnsPolicy({ matchPattern: '*' }), expect: yes },
    { name: 'a bare * allows a fully qualified name with its trailing dot', ...query('cilium.io.'), docs: dnsPolicy({ matchPattern: '*' }), expect: yes },
    { name: 'several DNS rules are ORed', ...query('www.rebel.org'), docs: dnsPolicy({ matchName: 'api.empire.gov' }, { matchPattern: '*.rebel.org' }), expect: yes },
    { name: 'a DNS rule on 53/UDP does not open 53/TCP', ...query('api.empire.gov', '53/tcp'), expect: { verdict: 'denied', egress: DEFAULT_DENY } },
  ]);
});

describe('toFQDNs allows the IPs learned for a name (cilium.md §1.12)', () => {
  const endpoints = [endpoint('default/client', { app: 'client' }), endpoint('kube-system/coredns', { 'k8s-app': 'kube-dns' })];
  const policy = cnp('fqdn', {
    endpointSelector: sel({ app: 'client' }),
    egress: [
      { toEndpoints: [selIn('kube-system', { 'k8s-app': 'kube-dns' })], toPorts: [ports('53/ANY', dnsRules({ matchPattern: '*' }))] },
      { toFQDNs: [{ matchName: 'api.empire.gov' }, { matchPattern: '**.rebel.org' }], toPorts: [ports('443/TCP')] },
    ],
  });
  const to = (name: string, port = '443/tcp') => ({ from: 'default/client', to: `fqdn:${name}`, port });
  const yes = { verdict: 'allowed' as const, egress: allowedAt('l3l4', 'default/fqdn') };
  const no = { verdict: 'denied' as const, egress: DEFAULT_DENY };

  traceTable([policy], endpoints, [
    { name: 'toFQDNs matchName allows the name’s IPs on the rule’s port', ...to('api.empire.gov'), expect: yes },
    { name: 'toFQDNs matchName is case-insensitive and ignores a trailing dot', ...to('API.Empire.GOV.'), expect: yes },
    { name: 'toFQDNs does not open other ports to the name', ...to('api.empire.gov', '80/tcp'), expect: no },
    { name: 'toFQDNs matchName does not allow a sibling name', ...to('www.empire.gov'), expect: no },
    { name: 'toFQDNs **. pattern allows a deep subdomain', ...to('a.b.rebel.org'), expect: yes },
    { name: 'toFQDNs **. pattern does not allow the bare domain', ...to('rebel.org'), expect: no },
    {
      name: 'HTTP rules on a toFQDNs port apply to the name’s IPs',
      ...to('api.empire.gov', '80/tcp'),
      request: httpRequest('POST', '/v1/launch'),
      docs: [cnp('fqdn', { endpointSelector: sel({ app: 'client' }), egress: [{ toFQDNs: [{ matchName: 'api.empire.gov' }], toPorts: [ports('80/TCP', httpRules({ method: 'GET', path: '/v1/.*' }))] }] })],
      expect: { verdict: 'denied', egress: deniedAt('l7', 'default/fqdn') },
    },
    {
      name: 'a request the HTTP rules of a toFQDNs port match is allowed',
      ...to('api.empire.gov', '80/tcp'),
      request: GET('/v1/status'),
      docs: [cnp('fqdn', { endpointSelector: sel({ app: 'client' }), egress: [{ toFQDNs: [{ matchName: 'api.empire.gov' }], toPorts: [ports('80/TCP', httpRules({ method: 'GET', path: '/v1/.*' }))] }] })],
      expect: { verdict: 'allowed', egress: allowedAt('l7', 'default/fqdn') },
    },
  ]);
});

// ---- Kafka -------------------------------------------------------------------------------

describe('Kafka rules as Cilium had them up to 1.19 (cilium.md §1.9)', () => {
  const endpoints = [endpoint('default/broker', { app: 'kafka' }), endpoint('default/producer', { app: 'producer' }), endpoint('default/other', { app: 'other' })];
  const policy = cnp('kafka', {
    endpointSelector: sel({ app: 'kafka' }),
    ingress: [
      {
        fromEndpoints: [sel({ app: 'producer' })],
        toPorts: [ports('9092/TCP', kafkaRules({ role: 'produce', topic: 'orders' }, { apiKey: 'fetch', apiVersion: '4', clientID: 'auditor', topic: 'audit' }))],
      },
    ],
  });
  const request = (apiKey: number, topics: string[], opts: { apiVersion?: number; clientID?: string } = {}, from = 'default/producer') => ({
    from,
    to: 'default/broker',
    port: '9092/tcp',
    request: kafkaRequest(apiKey, topics, opts),
  });
  const yes = { verdict: 'allowed' as const, ingress: allowedAt('l7', 'default/kafka') };
  const no = { verdict: 'denied' as const, ingress: deniedAt('l7', 'default/kafka') };
  const auditor = { apiVersion: 4, clientID: 'auditor' };
  const consumeOrders = [cnp('kafka', { endpointSelector: sel({ app: 'kafka' }), ingress: [{ fromEndpoints: [sel({ app: 'producer' })], toPorts: [ports('9092/TCP', kafkaRules({ role: 'consume', topic: 'orders' }))] }] })];

  traceTable([policy], endpoints, [
    { name: 'role produce allows Produce to the topic', ...request(KAFKA.produce, ['orders']), expect: yes },
    { name: 'role produce allows Metadata for the topic', ...request(KAFKA.metadata, ['orders']), expect: yes },
    { name: 'role produce does not allow Fetch', ...request(KAFKA.fetch, ['orders']), expect: no },
    { name: 'role produce does not allow OffsetCommit (a consume key)', ...request(KAFKA.offsetCommit, ['orders']), expect: no },
    { name: 'the topic must match', ...request(KAFKA.produce, ['payments']), expect: no },
    { name: 'a request with two topics is denied when one of them is not allowed', ...request(KAFKA.produce, ['orders', 'payments']), expect: no },
    { name: 'a request with two topics is allowed when rules cover both', ...request(KAFKA.metadata, ['orders', 'audit']), docs: [cnp('kafka', { endpointSelector: sel({ app: 'kafka' }), ingress: [{ fromEndpoints: [sel({ app: 'producer' })], toPorts: [ports('9092/TCP', kafkaRules({ role: 'produce', topic: 'orders' }, { role: 'produce', topic: 'audit' }))] }] })], expect: yes },
    { name: 'apiKey, apiVersion and clientID that all match allow the request', ...request(KAFKA.fetch, ['audit'], auditor), expect: yes },
    { name: 'apiVersion is an exact match: a newer version is denied', ...request(KAFKA.fetch, ['audit'], { ...auditor, apiVersion: 5 }), expect: no },
    { name: 'apiVersion is an exact match: an older version is denied', ...request(KAFKA.fetch, ['audit'], { ...auditor, apiVersion: 3 }), expect: no },
    { name: 'clientID is an exact match: another client is denied', ...request(KAFKA.fetch, ['audit'], { ...auditor, clientID: 'auditor-2' }), expect: no },
    { name: 'a clientID rule does not match a request without a client id', ...request(KAFKA.fetch, ['audit'], { apiVersion: 4 }), expect: no },
    { name: 'apiKey fetch does not allow Produce of the same topic', ...request(KAFKA.produce, ['audit'], auditor), expect: no },
    { name: 'a peer the rule does not name is dropped at L3/L4', ...request(KAFKA.produce, ['orders'], {}, 'default/other'), expect: { verdict: 'denied', ingress: DEFAULT_DENY } },
    { name: 'role consume allows Fetch', ...request(KAFKA.fetch, ['orders']), docs: consumeOrders, expect: yes },
    { name: 'role consume allows OffsetCommit', ...request(KAFKA.offsetCommit, ['orders']), docs: consumeOrders, expect: yes },
    { name: 'role consume does not allow Produce', ...request(KAFKA.produce, ['orders']), docs: consumeOrders, expect: no },
  ]);
});
