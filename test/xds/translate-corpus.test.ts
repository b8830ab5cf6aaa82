// Every policy of the shared corpus, translated for a node whose endpoints it selects (and the
// peers it names), for both targets: every resource survives the real Envoy protos unchanged
// (binary and proto3 JSON round trips), every snapshot built from them is consistent, and an
// Envoy node never receives meshd's own types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equals, fromBinary, toBinary, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  ClusterSchema,
  ListenerSchema,
  RouteConfigurationSchema,
  SecretSchema,
  Snapshot,
  messageFromJson,
  meshdTypesInListener,
  xdsRegistry,
  type Translation,
} from '../../xds/index.js';
import { buildCorpusNode, corpusEndpoints, loadableCorpusInputs, translateCorpusNode, type CorpusNode } from './corpus-node.js';

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

let cached: Array<{ key: string; node: CorpusNode; envoy?: Translation; builtin?: Translation; error?: string }> | undefined;

/** Each corpus input on a node holding the endpoints its policies select and name, with CIDR identities. */
function translatedCorpus() {
  cached ??= loadableCorpusInputs().map((c) => {
    const node = buildCorpusNode(c.policies, corpusEndpoints(c.policies), { cidrIdentities: true });
    try {
      return { key: c.key, node, envoy: translateCorpusNode(node, 'envoy'), builtin: translateCorpusNode(node, 'builtin') };
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
    const again = translateCorpusNode(c.node, 'builtin');
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
