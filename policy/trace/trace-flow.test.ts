import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshdError } from '../index.js';
import {
  assertTrace,
  cnp,
  dnsQuery,
  dnsRules,
  endpoint,
  httpRequest,
  httpRules,
  kafkaRequest,
  kafkaRules,
  loadPolicies,
  loadText,
  ports,
  sel,
  selIn,
  trace,
  type Flow,
} from '../../test/fixtures/policy-builders.js';
import type { L7Request } from '../index.js';

// A shop with known line numbers, so `source` (file:line of the deciding rule) can be checked.
// Line 13 is the toPorts entry with the HTTP rule, 16 the L3-only rule, 19 the deny.
const SHOP_YAML = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
  endpointSelector:
    matchLabels: {app: web}
  ingress:
    - fromEndpoints:
        - matchLabels: {app: client}
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http: [{method: GET}]
    - fromEndpoints:
        - matchLabels: {app: admin}
  ingressDeny:
    - fromEndpoints:
        - matchLabels: {app: banned}
`;
const shop = loadText(SHOP_YAML, 'shop.yaml');
const shopEndpoints = [
  endpoint('shop/web', { app: 'web' }, { ips: ['10.1.0.1'] }),
  endpoint('shop/client', { app: 'client' }, { ips: ['10.1.0.2'] }),
  endpoint('shop/admin', { app: 'admin' }, { ips: ['10.1.0.3'] }),
  endpoint('shop/banned', { app: 'banned' }, { ips: ['10.1.0.4'] }),
];
const traceShop = (flow: Partial<Flow>) => trace(shop, shopEndpoints, { from: 'shop/client', to: 'shop/web', port: '80/tcp', ...flow });

function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MeshdError);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.ok(e.hint, 'every trace usage error carries a hint');
    return true;
  });
}

// ---- the result --------------------------------------------------------------------------

test('a trace names both peers with their identity and labels, and the port', () => {
  const r = traceShop({ request: httpRequest('GET', '/') });
  assert.equal(r.verdict, 'allowed');
  assert.equal(r.port, '80/tcp');
  assert.equal(r.from.ref, 'shop/client');
  assert.equal(r.from.kind, 'endpoint');
  assert.ok(r.from.identity >= 256, 'endpoint identities start at 256');
  assert.ok(r.from.labels.includes('k8s:app=client'));
  assert.ok(r.from.labels.includes('k8s:io.kubernetes.pod.namespace=shop'));
  assert.equal(r.to.kind, 'endpoint');
  assert.notEqual(r.to.identity, r.from.identity);
  assert.deepEqual(r.notes, []);
});

test('the deciding L7 rule is named by policy and file:line of its toPorts entry', () => {
  const r = traceShop({ request: httpRequest('POST', '/') });
  assert.deepEqual(
    { verdict: r.ingress.verdict, stage: r.ingress.stage, policy: r.ingress.policy, source: r.ingress.source },
    { verdict: 'denied', stage: 'l7', policy: 'shop/web', source: 'shop.yaml:13' },
  );
  assert.match(r.ingress.reason, /POST \/ matches none of the 1 HTTP rule/);
  assert.match(r.ingress.reason, /403/);
});

test('an L3-only allow is named by the file:line of its rule element', () => {
  const r = traceShop({ from: 'shop/admin', port: '5432/tcp' });
  assert.deepEqual([r.ingress.verdict, r.ingress.stage, r.ingress.policy, r.ingress.source], ['allowed', 'l3l4', 'shop/web', 'shop.yaml:16']);
  assert.match(r.ingress.reason, /allowed by an ingress rule/);
});

test('a deny is named by its ingressDeny rule and says deny takes precedence', () => {
  const r = traceShop({ from: 'shop/banned' });
  assert.deepEqual([r.verdict, r.ingress.stage, r.ingress.policy, r.ingress.source], ['denied', 'l3l4', 'shop/web', 'shop.yaml:19']);
  assert.match(r.ingress.reason, /ingressDeny rule \(deny takes precedence over allow\)/);
});

test('default-deny names no rule and no source', () => {
  const r = traceShop({ from: '192.0.2.1' });
  assert.deepEqual(r.ingress, {
    verdict: 'denied',
    stage: 'l3l4',
    policy: 'default-deny',
    source: null,
    reason: 'the endpoint is selected by ingress policies and none allows this peer and port',
  });
});

test('a side with no policy says so', () => {
  const r = traceShop({ request: httpRequest('GET', '/') });
  assert.deepEqual([r.egress.verdict, r.egress.stage, r.egress.policy, r.egress.source], ['allowed', 'l3l4', null, null]);
  assert.match(r.egress.reason, /no policy puts this endpoint in egress default-deny/);
});

test('a peer that is not a local endpoint has no policy on its side (stage none)', () => {
  const r = traceShop({ from: '192.0.2.1' });
  assert.deepEqual([r.egress.verdict, r.egress.stage, r.egress.policy], ['allowed', 'none', null]);
  assert.match(r.egress.reason, /192\.0\.2\.1 is not a local endpoint/);
});

test('without an L7 request the trace says the proxy decides and which options to give', () => {
  const r = traceShop({});
  assertTrace(r, { verdict: 'allowed', ingress: { verdict: 'allowed', stage: 'l7', policy: 'shop/web' } });
  assert.match(r.ingress.reason, /redirected to the proxy/);
  assert.match(r.ingress.reason, /--http-method/);
});

test('the overall verdict is denied when either side denies', () => {
  const policies = [...shop, ...loadPolicies(cnp('egress-lock', { endpointSelector: sel({ app: 'client' }), egress: [{ toEndpoints: [sel({ app: 'nobody' })] }] }, 'shop'))];
  const r = trace(policies, shopEndpoints, { from: 'shop/client', to: 'shop/web', port: '80/tcp', request: httpRequest('GET', '/') });
  assertTrace(r, { verdict: 'denied', egress: { verdict: 'denied', policy: 'default-deny' }, ingress: { verdict: 'allowed', stage: 'l7' } });
});

// ---- references --------------------------------------------------------------------------

test('an IP that belongs to an endpoint is traced as that endpoint', () => {
  const r = traceShop({ from: '10.1.0.3' });
  assert.equal(r.from.kind, 'endpoint');
  assert.equal(r.from.ref, '10.1.0.3');
  assert.ok(r.from.labels.includes('k8s:app=admin'));
  assert.equal(r.ingress.verdict, 'allowed', 'the admin’s L3 allow applies');
});

test('an outside IP carries world and the CIDR labels of the policy prefixes that hold it', () => {
  const policies = loadPolicies(cnp('nets', { endpointSelector: sel({ app: 'web' }), ingress: [{ fromCIDR: ['192.0.2.0/24', '198.51.100.0/24'] }] }, 'shop'));
  const r = trace(policies, shopEndpoints, { from: '192.0.2.1', to: 'shop/web', port: '80/tcp' });
  assert.equal(r.from.kind, 'ip');
  assert.ok(r.from.identity >= 1 << 24, 'local CIDR identities are in the local scope');
  assert.ok(r.from.labels.includes('reserved:world'));
  assert.ok(r.from.labels.includes('cidr:192.0.2.0/24'));
  assert.ok(!r.from.labels.includes('cidr:198.51.100.0/24'));
  assert.equal(r.verdict, 'allowed');
});

test('an entity reference takes the reserved identity', () => {
  assert.equal(traceShop({ from: 'entity:host' }).from.identity, 1);
  assert.equal(traceShop({ from: 'entity:world' }).from.identity, 2);
  assert.equal(traceShop({ from: 'entity:remote-node' }).from.identity, 6);
});

test('an entity that is not one identity is a usage error', () => {
  throwsCode(() => traceShop({ from: 'entity:cluster' }), 'MESHD_ERR_TRACE_BAD_REF', /does not name one identity/);
});

test('an unknown endpoint is a usage error that lists the known ones', () => {
  assert.throws(() => traceShop({ to: 'shop/nope' }), (e: unknown) => e instanceof MeshdError && e.code === 'MESHD_ERR_TRACE_BAD_REF' && /shop\/web/.test(e.hint ?? ''));
});

test('a reference that is neither endpoint, IP, fqdn nor entity is a usage error', () => {
  throwsCode(() => traceShop({ from: 'nonsense' }), 'MESHD_ERR_TRACE_BAD_REF', /cannot read "nonsense"/);
});

test('an fqdn reference must be a DNS name', () => {
  throwsCode(() => traceShop({ to: 'fqdn:not a name' }), 'MESHD_ERR_TRACE_BAD_REF', /is not a DNS name/);
});

// ---- L7 reasons --------------------------------------------------------------------------

const dnsEndpoints = [endpoint('default/client', { app: 'client' }), endpoint('kube-system/coredns', { 'k8s-app': 'kube-dns' }), endpoint('default/broker', { app: 'kafka' })];
const toKubeDns = (...rules: Parameters<typeof dnsRules>) => ({ toEndpoints: [selIn('kube-system', { 'k8s-app': 'kube-dns' })], toPorts: [ports('53/UDP', dnsRules(...rules))] });

test('a refused DNS query is denied at L7 with REFUSED in the reason', () => {
  const policies = loadPolicies(cnp('dns', { endpointSelector: sel({ app: 'client' }), egress: [toKubeDns({ matchName: 'api.empire.gov' })] }));
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'kube-system/coredns', port: '53/udp', request: dnsQuery('www.rebel.org') });
  assertTrace(r, { verdict: 'denied', egress: { verdict: 'denied', stage: 'l7', policy: 'default/dns' } });
  assert.match(r.egress.reason, /DNS query www\.rebel\.org matches none/);
  assert.match(r.egress.reason, /REFUSED/);
});

test('a denied Kafka request names the API key and topic and the authorization error', () => {
  const policies = loadPolicies(
    cnp('kafka', { endpointSelector: sel({ app: 'kafka' }), ingress: [{ fromEndpoints: [sel({ app: 'client' })], toPorts: [ports('9092/TCP', kafkaRules({ role: 'produce', topic: 'orders' }))] }] }),
  );
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'default/broker', port: '9092/tcp', request: kafkaRequest(1, ['orders']) });
  assertTrace(r, { verdict: 'denied', ingress: { verdict: 'denied', stage: 'l7', policy: 'default/kafka' } });
  assert.match(r.ingress.reason, /Kafka fetch v0 topics orders/);
  assert.match(r.ingress.reason, /authorization error/);
});

const consumerGroupPolicy = () =>
  loadPolicies(
    cnp('kafka', {
      endpointSelector: sel({ app: 'kafka' }),
      ingress: [{ fromEndpoints: [sel({ app: 'client' })], toPorts: [ports('9092/TCP', { kafka: [{ role: 'consume', topicPrefix: 'orders.', groupID: 'billing' }] })] }],
    }),
  );
const toBroker = (request: L7Request) => trace(consumerGroupPolicy(), dnsEndpoints, { from: 'default/client', to: 'default/broker', port: '9092/tcp', request });
const offsetCommit = (groups: string[], topics: string[]): L7Request => ({ type: 'kafka', apiKey: 8, apiVersion: 8, topics, groups });

test('a Kafka request of an allowed consumer group names the group and is allowed', () => {
  const r = toBroker(offsetCommit(['billing'], ['orders.eu']));
  assertTrace(r, { verdict: 'allowed', ingress: { verdict: 'allowed', stage: 'l7', policy: 'default/kafka' } });
  assert.equal(r.request, 'Kafka offsetcommit v8 topics orders.eu groups billing');
});

test('a denied consumer group is named in the reason with GROUP_AUTHORIZATION_FAILED', () => {
  const r = toBroker(offsetCommit(['fraud'], ['orders.eu']));
  assertTrace(r, { verdict: 'denied', ingress: { verdict: 'denied', stage: 'l7', policy: 'default/kafka' } });
  assert.match(r.ingress.reason, /Kafka offsetcommit v8 topics orders\.eu groups fraud matches none of the 1 KAFKA rule\(s\) for this port: group\(s\) fraud not allowed/);
  assert.match(r.ingress.reason, /\(the proxy answers with an authorization error, GROUP_AUTHORIZATION_FAILED\)$/);
});

test('a topic outside the prefix is named in the reason with TOPIC_AUTHORIZATION_FAILED', () => {
  const r = toBroker(offsetCommit(['billing'], ['orders.eu', 'audit']));
  assert.equal(r.verdict, 'denied');
  assert.match(r.ingress.reason, /topic\(s\) audit not allowed/);
  assert.match(r.ingress.reason, /TOPIC_AUTHORIZATION_FAILED/);
});

test('a group rule does not constrain Kafka requests that carry no group', () => {
  assert.equal(toBroker({ type: 'kafka', apiKey: 1, apiVersion: 12, topics: ['orders.us'] }).verdict, 'allowed');
  assert.equal(toBroker({ type: 'kafka', apiKey: 1, apiVersion: 12, topics: ['orders.us'], groups: ['fraud'] }).verdict, 'allowed');
  assert.equal(toBroker({ type: 'kafka', apiKey: 11, apiVersion: 9, topics: [], groups: ['fraud'] }).verdict, 'denied');
});

test('the L7 hint of an untraced Kafka port names the group option', () => {
  const r = trace(consumerGroupPolicy(), dnsEndpoints, { from: 'default/client', to: 'default/broker', port: '9092/tcp' });
  assert.match(r.ingress.reason, /--kafka-group/);
});

test('an L3/L4 rule that overrides L7 says every request is allowed', () => {
  const policies = loadPolicies(
    cnp('l7', { endpointSelector: sel({ app: 'kafka' }), ingress: [{ fromEndpoints: [sel({ app: 'client' })], toPorts: [ports('80/TCP', httpRules({ method: 'GET' }))] }] }),
    cnp('l4', { endpointSelector: sel({ app: 'kafka' }), ingress: [{ fromEndpoints: [sel({ app: 'client' })], toPorts: [ports('80/TCP')] }] }),
  );
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'default/broker', port: '80/tcp', request: httpRequest('DELETE', '/') });
  assertTrace(r, { verdict: 'allowed', ingress: { verdict: 'allowed', stage: 'l7', policy: 'default/l4' } });
  assert.match(r.ingress.reason, /every request is allowed/);
  assert.match(r.ingress.reason, /default\/l7 only observe/);
});

test('an L7 rule of a policy with enableDefaultDeny false says it only observes', () => {
  const policies = loadPolicies(
    cnp('observe', {
      endpointSelector: sel({ app: 'kafka' }),
      enableDefaultDeny: { ingress: false },
      ingress: [{ fromEndpoints: [sel({ app: 'client' })], toPorts: [ports('80/TCP', httpRules({ method: 'GET' }))] }],
    }),
  );
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'default/broker', port: '80/tcp', request: httpRequest('DELETE', '/') });
  assert.equal(r.verdict, 'allowed');
  assert.match(r.ingress.reason, /enableDefaultDeny: false/);
});

// ---- toFQDNs and DNS learning ------------------------------------------------------------

const fqdnEgress = (name: string) => ({ toFQDNs: [{ matchName: name }], toPorts: [ports('443/TCP')] });

test('an fqdn destination that a DNS rule lets the source resolve gets a note that its IPs are learned', () => {
  const policies = loadPolicies(cnp('out', { endpointSelector: sel({ app: 'client' }), egress: [toKubeDns({ matchPattern: '*.empire.gov' }), fqdnEgress('api.empire.gov')] }));
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:api.empire.gov', port: '443/tcp' });
  assert.equal(r.verdict, 'allowed');
  assert.equal(r.to.kind, 'fqdn');
  assert.ok(r.to.labels.includes('reserved:world'));
  assert.equal(r.notes.length, 1);
  assert.match(r.notes[0]!, /learned when default\/client resolves it through the DNS proxy/);
});

test('an fqdn destination whose lookup no DNS rule allows gets a note that nothing is learned', () => {
  const policies = loadPolicies(cnp('out', { endpointSelector: sel({ app: 'client' }), egress: [toKubeDns({ matchPattern: '*.empire.gov' }), fqdnEgress('www.rebel.org')] }));
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:www.rebel.org', port: '443/tcp' });
  assert.equal(r.verdict, 'allowed', 'the L3/L4 verdict assumes the IP is known');
  assert.match(r.notes.join('\n'), /no DNS rule of default\/client allows looking up www\.rebel\.org/);
});

test(
  'the learning note agrees with the DNS verdict when DNS rules only observe (enableDefaultDeny false)',
  () => {
    const policies = loadPolicies(
      cnp('out', { endpointSelector: sel({ app: 'client' }), enableDefaultDeny: { egress: false }, egress: [toKubeDns({ matchName: 'api.empire.gov' }), { toFQDNs: [{ matchPattern: '*.rebel.org' }], toPorts: [ports('443/TCP')] }] }),
    );
    const lookup = trace(policies, dnsEndpoints, { from: 'default/client', to: 'kube-system/coredns', port: '53/udp', request: dnsQuery('x.rebel.org') });
    assert.equal(lookup.verdict, 'allowed', 'the lookup itself is allowed');
    const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:x.rebel.org', port: '443/tcp' });
    assert.doesNotMatch(r.notes.join('\n'), /refuses the query/);
    assert.match(r.notes.join('\n'), /learned when default\/client resolves it/);
  },
);

test(
  'the learning note agrees with the DNS verdict when an L3/L4 rule makes the DNS port allow-all',
  () => {
    const policies = loadPolicies(
      cnp('out', {
        endpointSelector: sel({ app: 'client' }),
        egress: [toKubeDns({ matchName: 'api.empire.gov' }), { toEndpoints: [selIn('kube-system', { 'k8s-app': 'kube-dns' })] }, { toFQDNs: [{ matchPattern: '*.rebel.org' }], toPorts: [ports('443/TCP')] }],
      }),
    );
    const lookup = trace(policies, dnsEndpoints, { from: 'default/client', to: 'kube-system/coredns', port: '53/udp', request: dnsQuery('x.rebel.org') });
    assert.equal(lookup.verdict, 'allowed', 'the lookup itself is allowed');
    const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:x.rebel.org', port: '443/tcp' });
    assert.doesNotMatch(r.notes.join('\n'), /refuses the query/);
  },
);

test('an fqdn destination of a source without DNS rules gets a note that toFQDNs cannot work', () => {
  const policies = loadPolicies(cnp('out', { endpointSelector: sel({ app: 'client' }), egress: [fqdnEgress('api.empire.gov')] }));
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:api.empire.gov', port: '443/tcp' });
  assert.match(r.notes.join('\n'), /has no DNS rules/);
});

test('an fqdn destination carries an fqdn label only for the selectors that match its name', () => {
  const policies = loadPolicies(
    cnp('out', { endpointSelector: sel({ app: 'client' }), egress: [{ toFQDNs: [{ matchName: 'api.empire.gov' }, { matchPattern: '*.rebel.org' }], toPorts: [ports('443/TCP')] }] }),
  );
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:API.Empire.GOV.', port: '443/tcp' });
  assert.equal(r.to.ref, 'fqdn:api.empire.gov', 'the name is normalized');
  assert.equal(r.to.labels.filter((l) => l.startsWith('fqdn:')).length, 1);
});

test('toCIDR 0.0.0.0/0 allows an IP learned from DNS, like toEntities world does', () => {
  const policies = loadPolicies(cnp('internet', { endpointSelector: sel({ app: 'client' }), egress: [{ toCIDR: ['0.0.0.0/0'] }] }));
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:example.com', port: '443/tcp' });
  assert.equal(r.verdict, 'allowed');
});

test('toEntities world allows an IP learned from DNS', () => {
  const policies = loadPolicies(cnp('internet', { endpointSelector: sel({ app: 'client' }), egress: [{ toEntities: ['world'] }] }));
  const r = trace(policies, dnsEndpoints, { from: 'default/client', to: 'fqdn:example.com', port: '443/tcp' });
  assert.equal(r.verdict, 'allowed');
});

test('tracing does not change the policies it is given', () => {
  const before = JSON.stringify(shop);
  traceShop({ request: httpRequest('GET', '/') });
  traceShop({ from: 'shop/banned' });
  assert.equal(JSON.stringify(shop), before);
});
