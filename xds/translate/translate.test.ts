// Semantics of the translation: what each kind of policy becomes in Envoy terms, read back from the
// generated messages (decoded from their Any typed configs, as Envoy would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { IdentityAllocator, LabelSet, RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText, type EndpointSpec } from '../../policy/index.js';
import { unpackAny } from '../codec/index.js';
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { FilterChain } from '../generated/envoy/config/listener/v3/listener_components_pb.js';
import type { HttpConnectionManager } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { RBAC as HttpRbac } from '../generated/envoy/extensions/filters/http/rbac/v3/rbac_pb.js';
import type { RBAC as NetworkRbac } from '../generated/envoy/extensions/filters/network/rbac/v3/rbac_pb.js';
import type { Permission, Principal } from '../generated/envoy/config/rbac/v3/rbac_pb.js';
import { RBAC_Action } from '../generated/envoy/config/rbac/v3/rbac_pb.js';
import type { DownstreamTlsContext, UpstreamTlsContext } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import { Cluster_DiscoveryType, Cluster_LbPolicy } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { HttpConnectionManager_PathWithEscapedSlashesAction } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { KafkaPolicy } from '../generated/meshd/filters/kafka/v1/kafka_pb.js';
import { ACCESS_DENIED_BODY, buildKafkaPolicy, envoyServerNames, meshdTypesInListener, serverNameRegex, validateKafkaPolicy } from '../resources/index.js';
import { translateNode, XdsTranslateError, type IpCacheEntry, type Translation, type TranslationTarget } from './index.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

interface NodeOptions {
  target?: TranslationTarget;
  extraIpcache?: Array<{ prefix: string; labels: string[] }>;
  secrets?: boolean;
  noPorts?: boolean;
  transparentIngress?: boolean;
}

function ep(name: string, labels: Record<string, string>, ip: string): EndpointSpec {
  return { name, namespace: 'default', labels, ips: [ip], namedPorts: [] };
}

/** Loads the YAML, resolves the endpoints, allocates identities and translates the node. */
function translateYaml(yaml: string, endpoints: EndpointSpec[], opts: NodeOptions = {}): Translation {
  const loaded = loadPolicyText('test.yaml', yaml);
  assert.deepEqual(loaded.problems, [], 'the test policy must load');
  const repo = new Repository();
  for (const p of loaded.policies) repo.upsertPolicy(p);
  for (const e of endpoints) repo.upsertEndpoint(e);
  const allocator = new IdentityAllocator();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [{ prefix: '192.0.2.250/32', identity: 1 }];
  for (const e of repo.listEndpoints()) {
    const { id } = allocator.allocate(e.identityLabels);
    cache.addIdentity(id, e.identityLabels);
    if (e.ips[0] !== undefined) ipcache.push({ prefix: `${e.ips[0]}/32`, identity: id });
  }
  for (const extra of opts.extraIpcache ?? []) {
    const labels = LabelSet.parse(extra.labels);
    const { id } = allocator.allocate(labels);
    cache.addIdentity(id, labels);
    ipcache.push({ prefix: extra.prefix, identity: id });
  }
  return translateNode({
    target: opts.target ?? 'envoy',
    endpoints: repo.resolveAll(),
    identitiesOf: (s) => cache.register(s).selections(),
    ipcache,
    proxyAddresses: ['fd44:244::1', '10.244.0.1'],
    proxyPortOf: (key) => (opts.noPorts ? undefined : key.direction === 'ingress' ? 15001 : 15002),
    ...(opts.secrets === false ? {} : { secretData: () => ({ 'tls.crt': PEM, 'tls.key': PEM, 'ca.crt': PEM }) }),
    ...(opts.transparentIngress === undefined ? {} : { options: { transparentIngress: opts.transparentIngress } }),
  });
}

function unpack<T>(any: { typeUrl: string; value: Uint8Array } | undefined): T {
  assert.ok(any, 'typed_config present');
  return unpackAny(any as never).message as T;
}

function chainsOf(t: Translation): FilterChain[] {
  return t.listeners.flatMap((l: Listener) => l.filterChains);
}

function hcmOf(chain: FilterChain): HttpConnectionManager {
  const f = chain.filters[0]!;
  assert.equal(f.configType.case, 'typedConfig');
  return unpack<HttpConnectionManager>(f.configType.value as never);
}

function httpRbac(hcm: HttpConnectionManager): { names: string[]; deny?: HttpRbac; allow: HttpRbac } {
  const names = hcm.httpFilters.map((f) => f.name);
  const byName = (n: string) => {
    const f = hcm.httpFilters.find((x) => x.name === n);
    return f && f.configType.case === 'typedConfig' ? unpack<HttpRbac>(f.configType.value as never) : undefined;
  };
  const allow = byName('meshd.rbac.allow');
  assert.ok(allow);
  const deny = byName('meshd.rbac.deny');
  return deny ? { names, deny, allow } : { names, allow };
}

/** A readable form of a permission, to compare against tables. */
function show(p: Permission | Principal): string {
  const x = 'rule' in p ? p.rule : p.identifier;
  switch (x.case) {
    case 'any':
      return 'any';
    case 'andRules':
      return `and(${x.value.rules.map(show).join(', ')})`;
    case 'orRules':
      return `or(${x.value.rules.map(show).join(', ')})`;
    case 'andIds':
      return `and(${x.value.ids.map(show).join(', ')})`;
    case 'orIds':
      return `or(${x.value.ids.map(show).join(', ')})`;
    case 'notRule':
    case 'notId':
      return `not(${show(x.value)})`;
    case 'header': {
      const h = x.value.headerMatchSpecifier;
      if (h.case === 'presentMatch') return `${x.value.name} present`;
      if (h.case === 'stringMatch') return h.value.matchPattern.case === 'safeRegex' ? `${x.value.name} ~ ${h.value.matchPattern.value.regex}` : `${x.value.name} = ${String(h.value.matchPattern.value)}`;
      return `${x.value.name} ?`;
    }
    case 'directRemoteIp':
      return `src ${x.value.addressPrefix}/${x.value.prefixLen}`;
    case 'destinationIp':
      return `dst ${x.value.addressPrefix}/${x.value.prefixLen}`;
    case 'destinationPort':
      return `port ${x.value}`;
    case 'destinationPortRange':
      return `ports [${x.value.start},${x.value.end})`;
    case 'requestedServerName':
      return `sni ~ ${x.value.matchPattern.case === 'safeRegex' ? x.value.matchPattern.value.regex : '?'}`;
    default:
      return String(x.case);
  }
}

/** A CiliumNetworkPolicy in namespace default selecting the endpoints labelled app=`app`; `rules` are the YAML lines below `spec:`. */
function cnp(name: string, app: string, rules: string): string {
  return `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: ${app}}}${rules}`;
}

const WEB = ep('web', { app: 'web' }, '10.244.0.10');
const CLIENT = ep('client', { app: 'client' }, '10.244.0.11');
const OTHER = ep('other', { app: 'other' }, '10.244.0.12');

function ingressHttp(rules: string): string {
  return cnp('web', 'web', `
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http:
${rules}`);
}

const HTTP_TABLE: Array<{ name: string; rules: string; permission: string }> = [
  { name: 'method and path become :method and :path RE2 matchers (full match, query string included)', rules: '        - {method: GET, path: "/v1/.*"}', permission: 'and(:method ~ GET, :path ~ /v1/.*)' },
  { name: 'a host regex matches :authority', rules: '        - {host: "api\\\\.example\\\\.com"}', permission: ':authority ~ api\\.example\\.com' },
  { name: 'rules of one list are ORed, fields of one rule ANDed', rules: '        - {method: POST, path: /a}\n        - {method: GET}', permission: 'or(and(:method ~ POST, :path ~ /a), :method ~ GET)' },
  { name: 'a header without a value only needs to be present', rules: '        - headers: ["X-My-Header"]', permission: 'x-my-header present' },
  { name: 'a header with a value needs exactly that value', rules: '        - headers: ["X-My-Header: true"]', permission: 'x-my-header = true' },
  { name: 'an empty rule matches every request', rules: '        - {}', permission: 'any' },
  { name: 'a headerMatch without a mismatch action is a hard requirement', rules: '        - headerMatches: [{name: Authorization, value: "Bearer 1"}]', permission: 'authorization = Bearer 1' },
  { name: 'a headerMatch with a mismatch action never denies, so it adds no requirement', rules: '        - {path: /x, headerMatches: [{name: Authorization, value: "Bearer 1", mismatch: REPLACE}]}', permission: ':path ~ /x' },
  { name: 'a headerMatch on a secret meshd cannot read can never match', rules: '        - headerMatches: [{name: Authorization, secret: {namespace: default, name: token}}]', permission: 'not(any)' },
];

for (const row of HTTP_TABLE) {
  test(`HTTP rules to RBAC: ${row.name}`, () => {
    const t = translateYaml(ingressHttp(row.rules), [WEB, CLIENT]);
    const [chain] = chainsOf(t);
    assert.ok(chain);
    const { allow } = httpRbac(hcmOf(chain));
    const policy = allow.rules!.policies['allow CiliumNetworkPolicy default/web spec.ingress[0] TCP/80'];
    assert.ok(policy, `policies: ${Object.keys(allow.rules!.policies).join(', ')}`);
    assert.equal(show(policy.permissions[0]!), row.permission);
    assert.equal(show(policy.principals[0]!), 'src 10.244.0.11/32');
  });
}

test('the RE2 regexes Envoy gets match whole values only, as the policy engine does', () => {
  // Envoy's safe_regex is RE2 FullMatch: the same source must not match a longer value.
  const path = RE2JS.compile('/public');
  assert.equal(path.matches('/public'), true);
  assert.equal(path.matches('/public?x=1'), false);
});

test('an ingress HTTP redirect is an HCM with deny RBAC, allow RBAC, then the router, on the endpoint\'s address and port', () => {
  const yaml = `${ingressHttp('        - {method: GET}')}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: other}}]
`;
  const t = translateYaml(yaml, [WEB, CLIENT, OTHER]);
  const [chain] = chainsOf(t);
  assert.ok(chain);
  assert.equal(chain.filterChainMatch?.destinationPort, 80);
  assert.deepEqual(chain.filterChainMatch?.prefixRanges.map((c) => `${c.addressPrefix}/${c.prefixLen}`), ['10.244.0.10/32']);
  const hcm = hcmOf(chain);
  const { names, deny, allow } = httpRbac(hcm);
  assert.deepEqual(names, ['meshd.rbac.deny', 'meshd.rbac.allow', 'envoy.filters.http.router']);
  assert.equal(deny?.rules?.action, RBAC_Action.DENY);
  assert.equal(allow.rules?.action, RBAC_Action.ALLOW);
  assert.deepEqual(Object.values(deny!.rules!.policies).map((p) => show(p.principals[0]!)), ['src 10.244.0.12/32']);
  assert.equal(hcm.normalizePath, true);
  assert.equal(hcm.mergeSlashes, true);
  assert.equal(hcm.pathWithEscapedSlashesAction, HttpConnectionManager_PathWithEscapedSlashesAction.REJECT_REQUEST);
  assert.equal(hcm.useRemoteAddress, true);
  assert.equal(hcm.routeSpecifier.case, 'rds');
});

test('a denied request gets 403 with the body "Access denied" instead of RBAC\'s own text', () => {
  const t = translateYaml(ingressHttp('        - {method: GET}'), [WEB, CLIENT]);
  const hcm = hcmOf(chainsOf(t)[0]!);
  const mapper = hcm.localReplyConfig?.mappers[0];
  assert.ok(mapper);
  const filter = mapper.filter?.filterSpecifier;
  assert.equal(filter?.case, 'statusCodeFilter');
  assert.equal(filter.value.comparison?.value?.defaultValue, 403);
  assert.deepEqual(mapper.body?.specifier, { case: 'inlineString', value: ACCESS_DENIED_BODY });
  assert.equal(ACCESS_DENIED_BODY.trimEnd(), 'Access denied');
});

test('an L3/L4 allow for the same peers and port makes every request allowed (Cilium\'s L7 wildcard)', () => {
  const yaml = `${ingressHttp('        - {method: GET}')}
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
`;
  const t = translateYaml(yaml, [WEB, CLIENT]);
  const { allow } = httpRbac(hcmOf(chainsOf(t)[0]!));
  const shown = Object.entries(allow.rules!.policies).map(([name, p]) => `${name}: ${show(p.principals[0]!)} → ${show(p.permissions[0]!)}`);
  assert.ok(shown.includes('allow CiliumNetworkPolicy default/web spec.ingress[1] TCP/80: src 10.244.0.11/32 → any'), shown.join('\n'));
  assert.ok(shown.includes('allow CiliumNetworkPolicy default/web spec.ingress[0] TCP/80: src 10.244.0.11/32 → :method ~ GET'), shown.join('\n'));
});

test('L7 rules of a rule with enableDefaultDeny false only observe: every request is allowed', () => {
  const yaml = `${ingressHttp('        - {method: GET}')}
  enableDefaultDeny: {ingress: false}
`;
  const t = translateYaml(yaml, [WEB, CLIENT]);
  const { allow } = httpRbac(hcmOf(chainsOf(t)[0]!));
  assert.deepEqual(Object.values(allow.rules!.policies).map((p) => `${show(p.principals[0]!)} → ${show(p.permissions[0]!)}`), ['any → any']);
});

test('egress peers are original destinations: destination_ip permissions, chains picked by the endpoint as source', () => {
  const yaml = cnp('client', 'client', `
  egress:
  - toEndpoints: [{matchLabels: {app: web}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET}]
`);
  const t = translateYaml(yaml, [WEB, CLIENT]);
  const [chain] = chainsOf(t);
  assert.ok(chain);
  assert.deepEqual(chain.filterChainMatch?.sourcePrefixRanges.map((c) => `${c.addressPrefix}/${c.prefixLen}`), ['10.244.0.11/32']);
  assert.deepEqual(chain.filterChainMatch?.prefixRanges, []);
  const { allow } = httpRbac(hcmOf(chain));
  const [policy] = Object.values(allow.rules!.policies);
  assert.equal(show(policy!.principals[0]!), 'any');
  assert.equal(show(policy!.permissions[0]!), 'and(dst 10.244.0.10/32, :method ~ GET)');
});

test('a CIDR peer with an except carves out the longer prefix; a pod inside keeps its own identity', () => {
  const yaml = cnp('client', 'client', `
  egress:
  - toCIDRSet: [{cidr: 192.0.2.0/24, except: [192.0.2.128/25]}]
    toPorts:
    - ports: [{port: "443", protocol: TCP}]
      rules:
        http: [{method: GET}]
`);
  const t = translateYaml(yaml, [CLIENT], {
    extraIpcache: [
      { prefix: '192.0.2.0/24', labels: ['reserved:world', 'reserved:world-ipv4', 'cidr:192.0.2.0/24'] },
      { prefix: '192.0.2.128/25', labels: ['reserved:world', 'reserved:world-ipv4', 'cidr:192.0.2.0/24', 'cidr:192.0.2.128/25'] },
    ],
  });
  const { allow } = httpRbac(hcmOf(chainsOf(t)[0]!));
  const [policy] = Object.values(allow.rules!.policies);
  // The host (192.0.2.250/32, identity host) sits inside the /25 already carved out.
  assert.equal(show(policy!.permissions[0]!), 'and(and(dst 192.0.2.0/24, not(dst 192.0.2.128/25)), :method ~ GET)');
});

test('a redirect covering a port range restricts each entry to its own ports', () => {
  const yaml = cnp('web', 'web', `
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8000", endPort: 8010, protocol: TCP}]
      rules:
        http: [{method: GET}]
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "8005", protocol: TCP}]
`);
  const t = translateYaml(yaml, [WEB, CLIENT]);
  const chain = chainsOf(t).find((c) => c.filterChainMatch?.destinationPort === undefined);
  assert.ok(chain, 'the 8000-8010 redirect has no single destination port');
  const { allow } = httpRbac(hcmOf(chain));
  // allow-localhost (the node may always reach its pods) covers every port, so it needs no restriction.
  const shown = Object.entries(allow.rules!.policies).map(([name, p]) => `${name.includes('allow-localhost') ? 'host' : 'client'}: ${show(p.permissions[0]!)}`);
  assert.deepEqual(shown.sort(), ['client: :method ~ GET', 'client: port 8005', 'host: any']);
});

test('an SNI allow list without L7 rules is a TLS pass-through chain: tcp_proxy, network RBAC on the exact SNI pattern', () => {
  const yaml = cnp('client', 'client', `
  egress:
  - toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: ["*.cilium.io", "one.one.one.one"]
`);
  const t = translateYaml(yaml, [CLIENT]);
  const [chain] = chainsOf(t);
  assert.ok(chain);
  assert.equal(chain.filterChainMatch?.transportProtocol, 'tls');
  assert.deepEqual(chain.filterChainMatch?.serverNames, ['*.cilium.io', 'one.one.one.one']);
  assert.equal(chain.transportSocket, undefined, 'pass-through: no TLS termination');
  assert.deepEqual(chain.filters.map((f) => f.name), ['meshd.rbac.allow', 'envoy.filters.network.tcp_proxy']);
  const rbac = unpack<NetworkRbac>(chain.filters[0]!.configType.value as never);
  const [policy] = Object.values(rbac.rules!.policies);
  assert.match(show(policy!.permissions[0]!), /^or\(sni ~ .*, sni ~ .*\)$/);
  assert.ok(t.listeners[0]!.listenerFilters.some((f) => f.name === 'envoy.filters.listener.tls_inspector'));
  assert.equal(t.clusters[0]!.name, 'meshd/original-dst');
});

test('SNI patterns keep Cilium\'s meaning: * is one label, a leading **. any number of labels', () => {
  const one = RE2JS.compile(serverNameRegex('*.cilium.io'));
  assert.equal(one.matches('docs.cilium.io'), true);
  assert.equal(one.matches('a.b.cilium.io'), false);
  assert.equal(one.matches('cilium.io'), false);
  const many = RE2JS.compile(serverNameRegex('**.cilium.io'));
  assert.equal(many.matches('a.b.cilium.io'), true);
  assert.equal(many.matches('cilium.io'), false);
  const mid = RE2JS.compile(serverNameRegex('sub*.cilium.io'));
  assert.equal(mid.matches('subdomain.cilium.io'), true);
  assert.equal(mid.matches('x.sub.cilium.io'), false);
  assert.equal(RE2JS.compile(serverNameRegex('API.github.com')).matches('api.github.com'), true);
  // Envoy's chain names are a superset; a wildcard in the last label cannot be narrowed at all.
  assert.deepEqual(envoyServerNames(['sub*.cilium.io', '**.k8s.io', 'one.one.one.one.']), ['*.cilium.io', '*.k8s.io', 'one.one.one.one']);
  assert.deepEqual(envoyServerNames(['cilium.*']), []);
});

test('TLS termination and origination use SDS secrets: tls chain with SNI list, ORIGINAL_DST cluster with trust from SDS', () => {
  const yaml = cnp('client', 'client', `
  egress:
  - toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: ["one.one.one.one"]
      terminatingTLS: {secret: {namespace: kube-system, name: intercept}}
      originatingTLS: {secret: {namespace: kube-system, name: cabundle}}
      rules:
        http: [{method: GET, path: "/"}]
`);
  const t = translateYaml(yaml, [CLIENT]);
  const [chain] = chainsOf(t);
  assert.ok(chain);
  assert.equal(chain.filterChainMatch?.transportProtocol, 'tls');
  assert.deepEqual(chain.filterChainMatch?.serverNames, ['one.one.one.one']);
  assert.equal(chain.transportSocket?.configType.case, 'typedConfig');
  const down = unpack<DownstreamTlsContext>(chain.transportSocket.configType.value as never);
  assert.deepEqual(down.commonTlsContext?.tlsCertificateSdsSecretConfigs.map((s) => s.name), ['secret/kube-system/intercept/tls.crt+tls.key']);
  assert.equal(down.commonTlsContext?.tlsCertificateSdsSecretConfigs[0]?.sdsConfig?.configSourceSpecifier.case, 'ads');
  const hcm = hcmOf(chain);
  assert.equal(hcm.routeSpecifier.case === 'rds' && hcm.routeSpecifier.value.routeConfigName, 'meshd/route/meshd/original-dst/tls/secret/kube-system/cabundle/ca.crt');
  const [cluster] = t.clusters;
  assert.ok(cluster);
  assert.equal(cluster.clusterDiscoveryType.case === 'type' && cluster.clusterDiscoveryType.value, Cluster_DiscoveryType.ORIGINAL_DST);
  assert.equal(cluster.lbPolicy, Cluster_LbPolicy.CLUSTER_PROVIDED);
  const up = unpack<UpstreamTlsContext>(cluster.transportSocket?.configType.value as never);
  const validation = up.commonTlsContext?.validationContextType;
  assert.equal(validation?.case === 'validationContextSdsSecretConfig' && validation.value.name, 'secret/kube-system/cabundle/ca.crt');
  assert.deepEqual(t.secretNames, ['secret/kube-system/cabundle/ca.crt', 'secret/kube-system/intercept/tls.crt+tls.key']);
  assert.deepEqual(t.secrets.map((s) => s.type.case), ['validationContext', 'tlsCertificate']);
});

test('a TLS redirect whose secret is unknown is skipped (fail closed), not sent half-configured', () => {
  const yaml = cnp('client', 'client', `
  egress:
  - toPorts:
    - ports: [{port: "443", protocol: TCP}]
      terminatingTLS: {secret: {namespace: kube-system, name: intercept}}
      rules:
        http: [{method: GET}]
`);
  const t = translateYaml(yaml, [CLIENT], { secrets: false });
  assert.deepEqual(t.listeners, []);
  assert.equal(t.skipped.length, 1);
  assert.match(t.skipped[0]!.reason, /secret kube-system\/intercept is not known/);
});

const KAFKA = cnp('kafka', 'web', `
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka:
        - {role: produce, topic: deathstar-plans}
        - {apiKey: fetch, apiVersion: 2, clientID: c1}
        - {role: consume, topicPrefix: empire., groupID: imperial-archive}
        - {apiKey: DescribeProducers, groupID: "team #1"}
`);

test('Kafka redirects carry meshd\'s KafkaPolicy for the built-in proxy and are skipped for Envoy', () => {
  const builtin = translateYaml(KAFKA, [WEB, CLIENT], { target: 'builtin' });
  const [chain] = chainsOf(builtin);
  assert.ok(chain);
  assert.deepEqual(meshdTypesInListener(builtin.listeners[0]!), ['meshd.filters.kafka.v1.KafkaPolicy']);
  const kafka = unpack<KafkaPolicy>(chain.filters[0]!.configType.value as never);
  assert.equal(kafka.endpoint, 'default/web');
  assert.equal(kafka.defaultDeny, true);
  assert.equal(kafka.upstream?.cluster, 'meshd/original-dst');
  const rule = kafka.rules.find((r) => r.name.includes('spec.ingress[0]'));
  assert.ok(rule);
  assert.equal(rule.remotes?.any, false);
  assert.equal(rule.remotes?.identities.length, 1);
  assert.deepEqual(
    rule.requests.map((q) => ({ role: q.role, apiKeys: q.apiKeys, apiVersion: q.apiVersion, clientId: q.clientId, topic: q.topic, topicPrefix: q.topicPrefix, groupId: q.groupId })),
    [
      { role: 'produce', apiKeys: [], apiVersion: undefined, clientId: '', topic: 'deathstar-plans', topicPrefix: '', groupId: '' },
      { role: '', apiKeys: [1], apiVersion: 2, clientId: 'c1', topic: '', topicPrefix: '', groupId: '' },
      { role: 'consume', apiKeys: [], apiVersion: undefined, clientId: '', topic: '', topicPrefix: 'empire.', groupId: 'imperial-archive' },
      { role: '', apiKeys: [61], apiVersion: undefined, clientId: '', topic: '', topicPrefix: '', groupId: 'team #1' },
    ],
  );
  // The frame limit is left to the proxy's default (0 = Kafka's 100 MiB socket.request.max.bytes).
  assert.equal(kafka.maxFrameBytes, 0);
  assert.deepEqual(validateKafkaPolicy(kafka), []);
  const envoy = translateYaml(KAFKA, [WEB, CLIENT], { target: 'envoy' });
  assert.deepEqual(envoy.listeners, []);
  assert.match(envoy.skipped[0]!.reason, /built-in proxy/);
});

test('a KafkaPolicy with both topic and topic_prefix in one request rule is refused by its validator', () => {
  const policy = buildKafkaPolicy({
    statPrefix: 'kafka',
    endpoint: 'default/web',
    endpointIps: ['10.0.0.1'],
    direction: 'ingress',
    destinationPorts: { start: 9092, end: 9092 },
    defaultDeny: true,
    denyRules: [],
    rules: [{ name: 'r', remotes: { any: true, identities: [] }, l3l4Only: false, visibilityOnly: false, requests: [{ apiKeys: [], topic: 'orders', topicPrefix: 'orders.' }] }],
    upstreamCluster: 'meshd/original-dst',
  });
  assert.equal(policy.rules[0]!.requests[0]!.topicPrefix, 'orders.');
  assert.deepEqual(
    validateKafkaPolicy(policy).map((p) => [p.path, p.message]),
    [['rules[0].requests[0]', 'topic and topic_prefix are exclusive']],
  );
});

test('DNS redirects become a TCP chain and a UDP listener filter for the built-in proxy', () => {
  const yaml = cnp('dns', 'client', `
  egress:
  - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, "k8s:k8s-app": kube-dns}}]
    toPorts:
    - ports: [{port: "53", protocol: ANY}]
      rules:
        dns: [{matchPattern: "*"}]
`);
  const t = translateYaml(yaml, [CLIENT], { target: 'builtin' });
  assert.deepEqual(t.listeners.map((l) => l.name), ['meshd/tcp/15002', 'meshd/udp/15002']);
  const udp = t.listeners[1]!;
  assert.ok(udp.udpListenerConfig);
  assert.deepEqual(meshdTypesInListener(udp), ['meshd.filters.dns.v1.DnsPolicy']);
  assert.equal(translateYaml(yaml, [CLIENT], { target: 'envoy' }).listeners.length, 0);
});

test('the listener restores the original destination and listens on every proxy address, IPv4 first', () => {
  const t = translateYaml(ingressHttp('        - {method: GET}'), [WEB, CLIENT]);
  const [listener] = t.listeners;
  assert.ok(listener);
  assert.equal(listener.listenerFilters[0]?.name, 'envoy.filters.listener.original_dst');
  const addr = (a: typeof listener.address) => (a?.address.case === 'socketAddress' ? `${a.address.value.address}:${a.address.value.portSpecifier.value}` : '?');
  assert.equal(addr(listener.address), '10.244.0.1:15001');
  assert.deepEqual(listener.additionalAddresses.map((a) => addr(a.address)), ['fd44:244::1:15001']);
  assert.equal(listener.defaultFilterChain, undefined, 'unmatched connections are closed');
});

test('with transparentIngress, ingress listeners are transparent (BPF TPROXY) and egress listeners are not; off by default', () => {
  const egress = cnp('client', 'client', `
  egress:
  - toEndpoints: [{matchLabels: {app: web}}]
    toPorts:
    - ports: [{port: "8080", protocol: TCP}]
      rules:
        http: [{method: GET}]
`);
  const yaml = `${ingressHttp('        - {method: GET}')}\n---\n${egress}`;
  const on = translateYaml(yaml, [WEB, CLIENT], { transparentIngress: true });
  assert.deepEqual(
    on.listeners.map((l) => [l.name, l.transparent]),
    [
      ['meshd/tcp/15001', true],
      ['meshd/tcp/15002', undefined],
    ],
  );
  const off = translateYaml(yaml, [WEB, CLIENT]);
  assert.deepEqual(off.listeners.map((l) => l.transparent), [undefined, undefined]);
});

test('a redirect without an allocated proxy port is reported, not guessed', () => {
  const t = translateYaml(ingressHttp('        - {method: GET}'), [WEB, CLIENT], { noPorts: true });
  assert.deepEqual(t.listeners, []);
  assert.deepEqual(t.skipped.map((s) => `${s.key.endpoint} ${s.key.direction} ${s.key.portStart} ${s.key.l7}`), ['default/web ingress 80 http']);
});

test('an endpoint without an address is skipped and leaves no route or cluster behind', () => {
  const t = translateYaml(ingressHttp('        - {method: GET}'), [{ ...WEB, ips: [] }, CLIENT]);
  assert.deepEqual(t.skipped.map((s) => `${s.key.endpoint} ${s.key.direction} ${s.key.portStart}: ${s.reason}`), [
    'default/web ingress 80: endpoint default/web has no address, so no filter chain can select its traffic',
  ]);
  assert.deepEqual(t.listeners, []);
  assert.deepEqual(t.routes, [], 'a route nothing refers to is an inconsistent snapshot');
  assert.deepEqual(t.clusters, []);
});

test('a malformed ipcache prefix is an input error with its code', () => {
  assert.throws(
    () =>
      translateNode({
        target: 'envoy',
        endpoints: [],
        identitiesOf: () => [],
        ipcache: [{ prefix: '10.0.0.300/32', identity: 5 }],
        proxyAddresses: ['10.244.0.1'],
        proxyPortOf: () => 15001,
      }),
    (err: unknown) => err instanceof XdsTranslateError && err.code === 'MESHD_ERR_XDS_TRANSLATE_INPUT',
  );
});
