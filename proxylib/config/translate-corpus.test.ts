// Everything meshd's own xDS translation produces for the built-in proxy compiles with zero
// problems: every Listener, RouteConfiguration, Cluster, ClusterLoadAssignment and Secret that
// translateNode gives for each policy of the shared corpus and for docs/examples. The only
// expected refusals are meshd's Kafka and DNS filters, which the built-in proxy does not implement
// yet: those listeners must be refused exactly at the filter's typed_config (the NACK rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  IdentityAllocator,
  RESERVED_IDENTITIES,
  Repository,
  SelectorCache,
  loadPolicyText,
  parseEndpoints,
  type EndpointSpec,
  type LabelSelector,
  type Policy,
} from '../../policy/index.js';
import { translateNode, type envoy, type IpCacheEntry, type RedirectKey, type Translation } from '../../xds/index.js';
import { REPO_ROOT } from '../../test/fixtures/policy-builders.js';
import { corpusDir, isTemplate, listCorpusFiles } from '../../test/corpus/corpus-files.js';
import { renderCorpusTemplate, renderedKey, templateVariants } from '../../test/corpus/template-data.js';
import { compileCluster, compileListener, compileLoadAssignment, compileRouteConfiguration, compileSecret, referencesOfCluster, referencesOfListener, type ConfigProblem, type ConnectionFacts } from './index.js';

const NODE_IP = '192.0.2.250';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const MESHD_FILTER = /^meshd\.filters\.(kafka|dns)\./;

/** Labels that satisfy a selector's positive requirements (In: the first value, Exists: "x"). */
function endpointFor(selector: LabelSelector, name: string, namedPorts: EndpointSpec['namedPorts'], ip: string): EndpointSpec | undefined {
  const spec: EndpointSpec = { name, namespace: 'default', labels: {}, ips: [ip], namedPorts, namespaceLabels: {} };
  for (const r of selector.requirements) {
    if (r.source !== 'k8s' && r.source !== 'any') return undefined;
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

function endpointsOf(policies: Policy[]): EndpointSpec[] {
  const selectors: LabelSelector[] = [];
  const portNames = new Set<string>();
  for (const p of policies) {
    for (const rule of p.rules) {
      if (rule.subject.kind === 'endpoints') selectors.push(rule.subject.selector);
      for (const pr of [...rule.ingress, ...rule.ingressDeny, ...rule.egress, ...rule.egressDeny]) {
        if (pr.peers.kind === 'endpoints') selectors.push(...pr.peers.selectors);
        for (const port of pr.toPorts) for (const pp of port.ports) if (typeof pp.port === 'string') portNames.add(pp.port);
      }
    }
  }
  const namedPorts = [...portNames].sort().map((name, i) => ({ name, port: 8000 + i, protocol: 'TCP' as const }));
  return selectors.flatMap((s, i) => endpointFor(s, `ep${i}`, namedPorts, `10.244.${Math.floor(i / 200)}.${10 + (i % 200)}`) ?? []);
}

function translate(policies: Policy[], endpoints: EndpointSpec[], target: 'builtin' | 'envoy' = 'builtin'): Translation {
  const repo = new Repository({ allowLocalhost: true });
  for (const p of policies) repo.upsertPolicy(p);
  for (const e of endpoints) repo.upsertEndpoint(e);
  const allocator = new IdentityAllocator();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [{ prefix: `${NODE_IP}/32`, identity: 1 }];
  for (const ep of repo.listEndpoints()) {
    const { id } = allocator.allocate(ep.identityLabels);
    cache.addIdentity(id, ep.identityLabels);
    for (const ip of ep.ips) ipcache.push({ prefix: `${ip}/${ip.includes(':') ? 128 : 32}`, identity: id });
  }
  return translateNode({
    target,
    endpoints: repo.resolveAll(),
    identitiesOf: (s) => cache.register(s).selections(),
    ipcache,
    proxyAddresses: ['10.244.0.1', 'fd44:244::1'],
    proxyPortOf: (key: RedirectKey) => 15000 + (key.direction === 'ingress' ? 0 : 100) + ['http', 'kafka', 'dns', 'none'].indexOf(key.l7) + (key.protocol === 'UDP' ? 50 : 0),
    secretData: () => ({ 'tls.crt': PEM, 'tls.key': PEM, 'ca.crt': PEM }),
  });
}

interface Tally {
  listeners: number;
  routes: number;
  clusters: number;
  endpoints: number;
  secrets: number;
  meshdFilterListeners: number;
  tlsChains: number;
  selections: number;
  problems: string[];
}

function newTally(): Tally {
  return { listeners: 0, routes: 0, clusters: 0, endpoints: 0, secrets: 0, meshdFilterListeners: 0, tlsChains: 0, selections: 0, problems: [] };
}

/** A connection the chain's match accepts: its first destination/source prefix address, port, SNI. */
function factsFor(m: envoy.FilterChainMatch | undefined): ConnectionFacts {
  const first = (ranges: readonly envoy.CidrRange[] | undefined, fallback: string) => ranges?.[0]?.addressPrefix ?? fallback;
  const sni = m?.serverNames[0]?.replace(/^\*\./, 'x.') ?? '';
  return {
    destinationIp: first(m?.prefixRanges, '10.99.0.1'),
    destinationPort: m?.destinationPort ?? 80,
    sourceIp: first(m?.sourcePrefixRanges, '10.98.0.1'),
    sourcePort: m?.sourcePorts[0] ?? 40000,
    serverName: sni,
    transportProtocol: m?.transportProtocol === 'tls' || sni !== '' ? 'tls' : 'raw_buffer',
    applicationProtocols: m?.applicationProtocols ?? [],
  };
}

const fmt = (where: string, ps: readonly ConfigProblem[]) => ps.map((p) => `${where}: ${p.path}: ${p.message}`);

function compileAll(key: string, t: Translation, tally: Tally): void {
  const routeNames = new Set(t.routes.map((r) => r.name));
  const clusterNames = new Set(t.clusters.map((c) => c.name));
  const secretNames = new Set(t.secrets.map((s) => s.name));
  for (const l of t.listeners) {
    tally.listeners++;
    const r = compileListener(l);
    const usesMeshdFilter =
      l.listenerFilters.some((f) => f.configType.case === 'typedConfig' && MESHD_FILTER.test(f.configType.value.typeUrl.split('/').pop() ?? '')) ||
      l.filterChains.some((c) => c.filters.some((f) => f.configType.case === 'typedConfig' && MESHD_FILTER.test(f.configType.value.typeUrl.split('/').pop() ?? '')));
    if (usesMeshdFilter) {
      tally.meshdFilterListeners++;
      // Refused, and only where meshd's filters (or the UDP listener they need) sit.
      if (r.ok) tally.problems.push(`${key}: Listener ${l.name} carries a Kafka/DNS filter but compiled`);
      else {
        const stray = r.problems.filter((p) => !/^(filter_chains\[\d+\]\.filters\[\d+\]\.typed_config|listener_filters\[\d+\]\.typed_config|udp_listener_config|(additional_addresses\[\d+\]\.)?address\.socket_address\.protocol)$/.test(p.path));
        tally.problems.push(...fmt(`${key}: Listener ${l.name}`, stray));
      }
      continue;
    }
    if (!r.ok) {
      tally.problems.push(...fmt(`${key}: Listener ${l.name}`, r.problems));
      continue;
    }
    tally.tlsChains += r.value.filterChains.filter((c) => c.downstreamTls).length;
    // Each generated chain is what selection picks for a connection built from its own match.
    l.filterChains.forEach((chain, i) => {
      tally.selections++;
      const facts = factsFor(chain.filterChainMatch);
      const picked = r.value.selectFilterChain(facts);
      if (picked !== r.value.filterChains[i]) tally.problems.push(`${key}: Listener ${l.name}: ${JSON.stringify(facts)} selects ${picked?.name ?? 'no chain'}, not ${chain.name}`);
    });
    const refs = referencesOfListener(r.value);
    for (const name of refs.routes) if (!routeNames.has(name)) tally.problems.push(`${key}: Listener ${l.name} refers to route ${name}, not in the translation`);
    for (const name of refs.clusters) if (!clusterNames.has(name)) tally.problems.push(`${key}: Listener ${l.name} refers to cluster ${name}, not in the translation`);
    for (const name of refs.secrets) if (!secretNames.has(name)) tally.problems.push(`${key}: Listener ${l.name} refers to secret ${name}, not in the translation`);
  }
  for (const rc of t.routes) {
    tally.routes++;
    const r = compileRouteConfiguration(rc);
    if (!r.ok) tally.problems.push(...fmt(`${key}: RouteConfiguration ${rc.name}`, r.problems));
  }
  for (const c of t.clusters) {
    tally.clusters++;
    const r = compileCluster(c);
    if (!r.ok) tally.problems.push(...fmt(`${key}: Cluster ${c.name}`, r.problems));
    else for (const name of referencesOfCluster(r.value).secrets) if (!secretNames.has(name)) tally.problems.push(`${key}: Cluster ${c.name} refers to secret ${name}`);
  }
  for (const e of t.endpoints) {
    tally.endpoints++;
    const r = compileLoadAssignment(e);
    if (!r.ok) tally.problems.push(...fmt(`${key}: ClusterLoadAssignment ${e.clusterName}`, r.problems));
  }
  for (const s of t.secrets) {
    tally.secrets++;
    const r = compileSecret(s);
    if (!r.ok) tally.problems.push(...fmt(`${key}: Secret ${s.name}`, r.problems));
  }
}

function assertNone(findings: readonly string[], header: string): void {
  if (findings.length > 0) assert.fail(`${header} (${findings.length}):\n${findings.slice(0, 40).join('\n')}`);
}

test('every resource translateNode gives the built-in proxy for the shared policy corpus compiles with zero problems', () => {
  const tally = newTally();
  const envoyTally = newTally();
  let inputs = 0;
  for (const f of listCorpusFiles(corpusDir())) {
    const variants = isTemplate(f.text)
      ? templateVariants(f.rel).map((v) => ({ key: renderedKey(f.rel, v), text: renderCorpusTemplate(f.rel, f.text, v.data) }))
      : [{ key: f.rel, text: f.text }];
    for (const input of variants) {
      const loaded = loadPolicyText(input.key, input.text);
      if (loaded.problems.length > 0 || loaded.policies.length === 0) continue;
      inputs++;
      let t: Translation;
      let forEnvoy: Translation;
      try {
        const endpoints = endpointsOf(loaded.policies);
        t = translate(loaded.policies, endpoints);
        forEnvoy = translate(loaded.policies, endpoints, 'envoy');
      } catch {
        continue; // translation failures are test/xds/translate-corpus.test.ts's subject
      }
      compileAll(input.key, t, tally);
      // What meshd gives a real Envoy is a config users could hand the built-in proxy too.
      compileAll(`${input.key} [envoy target]`, forEnvoy, envoyTally);
    }
  }
  console.log(
    `config translate-corpus: ${inputs} inputs; compiled ${tally.listeners} listeners (${tally.meshdFilterListeners} with Kafka/DNS filters, refused as expected; ${tally.tlsChains} TLS chains), ` +
      `${tally.routes} routes, ${tally.clusters} clusters, ${tally.endpoints} endpoint sets, ${tally.secrets} secrets; ${tally.selections} chains selected by their own match; ` +
      `envoy target: ${envoyTally.listeners} listeners, ${envoyTally.routes} routes, ${envoyTally.clusters} clusters, ${envoyTally.secrets} secrets`,
  );
  assertNone(tally.problems, 'resources the built-in proxy refuses');
  assertNone(envoyTally.problems, 'Envoy-target resources the built-in proxy refuses');
  assert.equal(envoyTally.meshdFilterListeners, 0, 'the Envoy target never carries meshd filters');
  assert.ok(envoyTally.listeners >= 50, `only ${envoyTally.listeners} Envoy-target listeners`);
  // Guard against a vacuous pass: the corpus has dozens of HTTP and TLS policies.
  assert.ok(tally.listeners - tally.meshdFilterListeners >= 50, `only ${tally.listeners - tally.meshdFilterListeners} listeners compiled`);
  assert.ok(tally.routes >= 50 && tally.clusters >= 50, `too few routes (${tally.routes}) or clusters (${tally.clusters})`);
  assert.ok(tally.tlsChains > 0 && tally.secrets > 0, 'expected TLS chains and secrets in the corpus');
  assert.ok(tally.meshdFilterListeners > 0, 'expected Kafka/DNS listeners in the corpus');
});

test('every resource translateNode gives the built-in proxy for docs/examples compiles with zero problems', () => {
  const dir = join(REPO_ROOT, 'docs', 'examples');
  const policies: Policy[] = [];
  for (const file of readdirSync(join(dir, 'policies')).filter((f) => f.endsWith('.yaml')).sort()) {
    const r = loadPolicyText(file, readFileSync(join(dir, 'policies', file), 'utf8'));
    assert.deepEqual(r.problems, [], file);
    policies.push(...r.policies);
  }
  const eps = parseEndpoints('endpoints.yaml', readFileSync(join(dir, 'endpoints.yaml'), 'utf8'));
  assert.deepEqual(eps.problems, []);
  const tally = newTally();
  compileAll('docs/examples', translate(policies, eps.endpoints), tally);
  assertNone(tally.problems, 'docs/examples resources the built-in proxy refuses');
  assert.ok(tally.listeners - tally.meshdFilterListeners >= 1 && tally.routes >= 1 && tally.clusters >= 1, JSON.stringify(tally));
});
