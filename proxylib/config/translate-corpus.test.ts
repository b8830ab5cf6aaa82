// Everything meshd's own xDS translation produces for the built-in proxy compiles with zero
// problems: every Listener, RouteConfiguration, Cluster, ClusterLoadAssignment and Secret that
// translateNode gives for each policy of the shared corpus and for docs/examples. The only
// expected refusals are meshd's Kafka and DNS filters, which the built-in proxy does not implement
// yet: those listeners must be refused exactly at the filter's typed_config (the NACK rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSpec, Policy } from '../../policy/index.js';
import type { envoy, Translation } from '../../xds/index.js';
import { buildCorpusNode, corpusEndpoints, docsExamples, loadableCorpusInputs, translateCorpusNode } from '../../test/xds/corpus-node.js';
import { compileCluster, compileListener, compileLoadAssignment, compileRouteConfiguration, compileSecret, referencesOfCluster, referencesOfListener, type ConfigProblem, type ConnectionFacts } from './index.js';

// Importing the Kafka and DNS entries registers meshd's own filters (and the UDP listener filter), so
// every translated Kafka and DNS listener must compile like the others.
import '../kafka/index.js';
import '../dns/index.js';

const MESHD_FILTER = /^meshd\.filters\.(kafka|dns)\./;

/** The translation for a node holding the policies and endpoints (no CIDR identities). */
function translate(policies: Policy[], endpoints: EndpointSpec[], target: 'builtin' | 'envoy' = 'builtin'): Translation {
  return translateCorpusNode(buildCorpusNode(policies, endpoints, { cidrIdentities: false }), target);
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
    if (usesMeshdFilter) tally.meshdFilterListeners++;
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
  for (const input of loadableCorpusInputs()) {
    inputs++;
    let t: Translation;
    let forEnvoy: Translation;
    try {
      const endpoints = corpusEndpoints(input.policies);
      t = translate(input.policies, endpoints);
      forEnvoy = translate(input.policies, endpoints, 'envoy');
    } catch {
      continue; // translation failures are test/xds/translate-corpus.test.ts's subject
    }
    compileAll(input.key, t, tally);
    // What meshd gives a real Envoy is a config users could hand the built-in proxy too.
    compileAll(`${input.key} [envoy target]`, forEnvoy, envoyTally);
  }
  console.log(
    `config translate-corpus: ${inputs} inputs; compiled ${tally.listeners} listeners (${tally.meshdFilterListeners} with Kafka/DNS filters; ${tally.tlsChains} TLS chains), ` +
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
  const { policies, endpoints } = docsExamples();
  const tally = newTally();
  compileAll('docs/examples', translate(policies, endpoints), tally);
  assertNone(tally.problems, 'docs/examples resources the built-in proxy refuses');
  assert.ok(tally.listeners - tally.meshdFilterListeners >= 1 && tally.routes >= 1 && tally.clusters >= 1, JSON.stringify(tally));
});
