// Every policy of the shared corpus, translated for a node whose endpoints it selects (and the
// peers it names), for both targets: every resource survives the real Envoy protos unchanged
// (binary and proto3 JSON round trips), every snapshot built from them is consistent, and an
// Envoy node never receives meshd's own types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { equals, fromBinary, toBinary, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  IdentityAllocator,
  LabelSet,
  RESERVED_IDENTITIES,
  Repository,
  SelectorCache,
  loadPolicyText,
  type EndpointSpec,
  type LabelSelector,
  type Policy,
} from '../../policy/index.js';
import {
  ClusterSchema,
  ListenerSchema,
  RouteConfigurationSchema,
  SecretSchema,
  Snapshot,
  messageFromJson,
  meshdTypesInListener,
  translateNode,
  xdsRegistry,
  type IpCacheEntry,
  type RedirectKey,
  type Translation,
  type TranslationTarget,
} from '../../xds/index.js';
import { corpusDir, isTemplate, listCorpusFiles } from '../corpus/corpus-files.js';
import { renderCorpusTemplate, renderedKey, templateVariants } from '../corpus/template-data.js';

const NODE_IP = '192.0.2.250';
const PROXY_ADDRESSES = ['10.244.0.1', 'fd44:244::1'];
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

interface Case {
  key: string;
  policies: Policy[];
}

function corpusCases(): Case[] {
  const cases: Case[] = [];
  for (const f of listCorpusFiles(corpusDir())) {
    const inputs = isTemplate(f.text)
      ? templateVariants(f.rel).map((v) => ({ key: renderedKey(f.rel, v), text: renderCorpusTemplate(f.rel, f.text, v.data) }))
      : [{ key: f.rel, text: f.text }];
    for (const input of inputs) {
      const result = loadPolicyText(input.key, input.text);
      if (result.problems.length === 0 && result.policies.length > 0) cases.push({ key: input.key, policies: result.policies });
    }
  }
  return cases;
}

/** Labels that satisfy a selector's positive requirements (In: the first value, Exists: "x"). */
function endpointFor(selector: LabelSelector, name: string, namedPorts: EndpointSpec['namedPorts'], ip: string): EndpointSpec | undefined {
  const spec: EndpointSpec = { name, namespace: 'default', labels: {}, ips: [ip], namedPorts, namespaceLabels: {} };
  for (const r of selector.requirements) {
    if (r.source !== 'k8s' && r.source !== 'any') return undefined; // reserved:, cidr:, fqdn: are not pods
    if (r.operator !== 'In' && r.operator !== 'Exists') continue;
    const value = r.operator === 'In' ? r.values[0]! : 'x';
    if (r.key === 'io.kubernetes.pod.namespace') spec.namespace = value;
    else if (r.key.startsWith('io.cilium.k8s.namespace.labels.')) spec.namespaceLabels![r.key.slice('io.cilium.k8s.namespace.labels.'.length)] = value;
    else if (r.key === 'io.cilium.k8s.policy.serviceaccount') spec.serviceAccount = value;
    else if (r.key === 'io.cilium.k8s.policy.cluster') continue;
    else spec.labels[r.key] = value;
  }
  return spec;
}

interface Node {
  repo: Repository;
  identitiesOf: (s: LabelSelector) => Iterable<number>;
  ipcache: IpCacheEntry[];
}

/** The endpoints the policies select plus the endpoint peers they name, with identities and an ipcache. */
function buildNode(policies: Policy[]): Node {
  const repo = new Repository();
  for (const p of policies) repo.upsertPolicy(p);
  const portNames = new Set<string>();
  const selectors: LabelSelector[] = [];
  const cidrs = new Set<string>();
  for (const p of policies) {
    for (const rule of p.rules) {
      if (rule.subject.kind === 'endpoints') selectors.push(rule.subject.selector);
      for (const pr of [...rule.ingress, ...rule.ingressDeny, ...rule.egress, ...rule.egressDeny]) {
        if (pr.peers.kind === 'endpoints') selectors.push(...pr.peers.selectors);
        if (pr.peers.kind === 'cidr') for (const c of pr.peers.cidrs) for (const prefix of [...(c.cidr ? [c.cidr] : []), ...c.except]) cidrs.add(prefix);
        for (const port of pr.toPorts) for (const pp of port.ports) if (typeof pp.port === 'string') portNames.add(pp.port);
      }
    }
  }
  const namedPorts = [...portNames].sort().map((name, i) => ({ name, port: 8000 + i, protocol: 'TCP' as const }));
  selectors.forEach((s, i) => {
    const spec = endpointFor(s, `ep${i}`, namedPorts, `10.244.${Math.floor(i / 200)}.${10 + (i % 200)}`);
    if (spec) repo.upsertEndpoint(spec);
  });
  const allocator = new IdentityAllocator();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [{ prefix: `${NODE_IP}/32`, identity: 1 }];
  for (const ep of repo.listEndpoints()) {
    const { id } = allocator.allocate(ep.identityLabels);
    cache.addIdentity(id, ep.identityLabels);
    for (const ip of ep.ips) ipcache.push({ prefix: `${ip}/${ip.includes(':') ? 128 : 32}`, identity: id });
  }
  // CIDR identities carry a cidr: label for every policy prefix containing them (Cilium's scheme),
  // so `except` carve-outs select a different identity than their enclosing prefix.
  const prefixes = [...cidrs].sort();
  for (const prefix of prefixes) {
    const [address = '', length = '0'] = prefix.split('/');
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    const containing = prefixes.filter((outer) => {
      const [oa = '', ol = '0'] = outer.split('/');
      if (oa.includes(':') !== address.includes(':') || Number(ol) > Number(length)) return false;
      const block = new BlockList();
      block.addSubnet(oa, Number(ol), family);
      return block.check(address, family);
    });
    const labels = LabelSet.parse(['reserved:world', `reserved:world-${family}`, ...containing.map((c) => `cidr:${c}`)]);
    const { id } = allocator.allocate(labels);
    cache.addIdentity(id, labels);
    ipcache.push({ prefix, identity: id });
  }
  return { repo, identitiesOf: (s) => cache.register(s).selections(), ipcache };
}

// Cilium-style allocation: one proxy port per direction, protocol and L7 kind, shared by every endpoint.
function proxyPortOf(key: RedirectKey): number {
  const kinds = ['http', 'kafka', 'dns', 'none'];
  return 15000 + (key.direction === 'ingress' ? 0 : 100) + (key.protocol === 'UDP' ? 50 : 0) + kinds.indexOf(key.l7);
}

function translate(node: Node, target: TranslationTarget): Translation {
  return translateNode({
    target,
    endpoints: node.repo.resolveAll(),
    identitiesOf: node.identitiesOf,
    ipcache: node.ipcache,
    proxyAddresses: PROXY_ADDRESSES,
    proxyPortOf,
    secretData: () => ({ 'tls.crt': PEM, 'tls.key': PEM, 'ca.crt': PEM }),
  });
}

/** Problems with one message's binary and JSON round trips (empty = unchanged both ways). */
function roundTripProblems<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, where: string): string[] {
  const bytes = toBinary(schema, message);
  const decoded = fromBinary(schema, bytes);
  if (!equals(schema, message, decoded)) return [`${where}: fromBinary(toBinary(m)) differs from m`];
  const json = toJson(schema, message, { registry: xdsRegistry });
  let back: MessageShape<Desc>;
  try {
    back = messageFromJson(schema, json);
  } catch (err) {
    return [`${where}: its own JSON does not parse back: ${(err as Error).message}`];
  }
  return Buffer.from(toBinary(schema, back)).equals(Buffer.from(bytes)) ? [] : [`${where}: toJson → messageFromJson → toBinary gives different bytes`];
}

function assertNone(findings: readonly string[], header: string): void {
  if (findings.length > 0) assert.fail(`${header} (${findings.length}):\n${findings.slice(0, 40).join('\n')}`);
}

let cached: Array<{ key: string; node: Node; envoy?: Translation; builtin?: Translation; error?: string }> | undefined;

function translatedCorpus() {
  cached ??= corpusCases().map((c) => {
    const node = buildNode(c.policies);
    try {
      return { key: c.key, node, envoy: translate(node, 'envoy'), builtin: translate(node, 'builtin') };
    } catch (err) {
      const e = err as Error & { problems?: string[] };
      return { key: c.key, node, error: `${e.message}${e.problems ? `\n    ${e.problems.slice(0, 5).join('\n    ')}` : ''}` };
    }
  });
  return cached;
}

test('every loadable corpus policy translates for both targets without an error', () => {
  const all = translatedCorpus();
  assert.ok(all.length >= 200, `expected the corpus's loadable policies, found ${all.length}`);
  assertNone(
    all.filter((c) => c.error !== undefined).map((c) => `${c.key}: ${c.error}`),
    'translation failed',
  );
  const withListeners = all.filter((c) => (c.builtin?.listeners.length ?? 0) > 0).length;
  const redirects = all.reduce((n, c) => n + (c.builtin?.redirects.length ?? 0), 0);
  console.log(`translate-corpus: ${all.length} inputs, ${withListeners} with proxy listeners, ${redirects} redirects (builtin target)`);
  // The corpus has dozens of HTTP, DNS, Kafka and TLS policies; a translation yielding nothing would pass vacuously.
  assert.ok(withListeners >= 50, `only ${withListeners} corpus inputs produced listeners`);
});

test('every generated resource round-trips through the Envoy protos unchanged, binary and JSON', () => {
  const problems: string[] = [];
  for (const c of translatedCorpus()) {
    for (const t of [c.envoy, c.builtin]) {
      if (!t) continue;
      const at = `${c.key} [${t.target}]`;
      for (const l of t.listeners) problems.push(...roundTripProblems(ListenerSchema, l, `${at} Listener ${l.name}`));
      for (const r of t.routes) problems.push(...roundTripProblems(RouteConfigurationSchema, r, `${at} RouteConfiguration ${r.name}`));
      for (const cl of t.clusters) problems.push(...roundTripProblems(ClusterSchema, cl, `${at} Cluster ${cl.name}`));
      for (const s of t.secrets) problems.push(...roundTripProblems(SecretSchema, s, `${at} Secret ${s.name}`));
    }
  }
  assertNone(problems, 'resources that change in a round trip');
});

test('every snapshot built from a translation passes the consistency check', () => {
  const problems: string[] = [];
  for (const c of translatedCorpus()) {
    for (const t of [c.envoy, c.builtin]) {
      if (!t) continue;
      const snapshot = Snapshot.fromMessages({ listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets });
      for (const p of snapshot.consistencyProblems()) problems.push(`${c.key} [${t.target}]: ${p}`);
    }
  }
  assertNone(problems, 'inconsistent snapshots');
});

test('the Envoy target never carries meshd types, and leaves Kafka and DNS redirects to the built-in proxy', () => {
  const problems: string[] = [];
  let kafkaOrDns = 0;
  for (const c of translatedCorpus()) {
    if (!c.envoy || !c.builtin) continue;
    for (const l of c.envoy.listeners) for (const type of meshdTypesInListener(l)) problems.push(`${c.key}: Listener ${l.name} carries ${type}`);
    for (const r of c.builtin.redirects) {
      if (r.key.l7 !== 'kafka' && r.key.l7 !== 'dns') continue;
      kafkaOrDns++;
      if (!c.envoy.skipped.some((s) => JSON.stringify(s.key) === JSON.stringify(r.key))) problems.push(`${c.key}: ${r.key.l7} redirect not reported as skipped for Envoy`);
    }
  }
  assertNone(problems, 'meshd types in Envoy translations');
  assert.ok(kafkaOrDns > 10, `expected Kafka and DNS redirects in the corpus, found ${kafkaOrDns}`);
});

test('translating the same node twice gives byte-identical resources', () => {
  const problems: string[] = [];
  for (const c of translatedCorpus().slice(0, 400)) {
    if (!c.builtin) continue;
    const again = translate(c.node, 'builtin');
    const bytes = (t: Translation) =>
      JSON.stringify([
        t.listeners.map((l) => Buffer.from(toBinary(ListenerSchema, l)).toString('base64')),
        t.routes.map((r) => Buffer.from(toBinary(RouteConfigurationSchema, r)).toString('base64')),
        t.clusters.map((x) => Buffer.from(toBinary(ClusterSchema, x)).toString('base64')),
      ]);
    if (bytes(again) !== bytes(c.builtin)) problems.push(c.key);
  }
  assertNone(problems, 'translations that differ between two runs');
});
