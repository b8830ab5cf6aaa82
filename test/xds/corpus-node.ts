// A node for the shared policy corpus: the corpus inputs that load, endpoints made up to satisfy
// the selectors a policy set names, identities and an ipcache for them (and, optionally, CIDR
// identities for the policy prefixes), translated by translateNode. Shared by the tests that take
// the corpus through the translation: test/xds/translate-corpus (protos, snapshots),
// proxylib/config/translate-corpus (the built-in proxy compiles it) and proxylib/rbac/rbac-vs-engine
// (the proxy's RBAC decides like the engine).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  IdentityAllocator,
  RESERVED_IDENTITIES,
  Repository,
  SelectorCache,
  cidrIdentityLabels,
  loadPolicyText,
  parseCidr,
  parseEndpoints,
  type EndpointSpec,
  type LabelSelector,
  type Policy,
  type Prefix,
} from '../../policy/index.js';
import { translateNode, type IpCacheEntry, type RedirectKey, type Translation, type TranslationTarget } from '../../xds/index.js';
import { corpusDir, isTemplate, listCorpusFiles } from '../corpus/corpus-files.js';
import { REPO_ROOT } from '../fixtures/policy-builders.js';
import { renderCorpusTemplate, renderedKey, templateVariants } from '../corpus/template-data.js';

/** The node's own address: identity 1 (host) in the ipcache. */
export const CORPUS_NODE_IP = '192.0.2.250';
const PROXY_ADDRESSES = ['10.244.0.1', 'fd44:244::1'];
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

export interface CorpusInput {
  /** The corpus file, or `file [variant]` for a rendered template. */
  key: string;
  policies: Policy[];
}

/** Every corpus file and template variant that loads without problems and yields policies. */
export function loadableCorpusInputs(): CorpusInput[] {
  const cases: CorpusInput[] = [];
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

/** docs/examples: every policy file (in name order) and endpoints.yaml, asserted to load without problems. */
export function docsExamples(): { policies: Policy[]; endpoints: EndpointSpec[] } {
  const dir = join(REPO_ROOT, 'docs', 'examples');
  const policies: Policy[] = [];
  for (const file of readdirSync(join(dir, 'policies')).filter((f) => f.endsWith('.yaml')).sort()) {
    const r = loadPolicyText(file, readFileSync(join(dir, 'policies', file), 'utf8'));
    assert.deepEqual(r.problems, [], file);
    policies.push(...r.policies);
  }
  const eps = parseEndpoints('endpoints.yaml', readFileSync(join(dir, 'endpoints.yaml'), 'utf8'));
  assert.deepEqual(eps.problems, []);
  return { policies, endpoints: eps.endpoints };
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

export interface CorpusEndpointOptions {
  /**
   * Keep only the first endpoint of each identity (namespace, labels, namespace labels, service
   * account), so a set of peers holds one address per identity.
   */
  onePerIdentity?: boolean;
}

/**
 * One endpoint per selector the policies use (subjects and endpoint peers), one address each
 * (10.244.x.y), with every named port the policies mention (8000 upwards, in name order).
 */
export function corpusEndpoints(policies: Policy[], options: CorpusEndpointOptions = {}): EndpointSpec[] {
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
  const out: EndpointSpec[] = [];
  const seen = new Set<string>();
  selectors.forEach((s, i) => {
    const spec = endpointFor(s, `ep${i}`, namedPorts, `10.244.${Math.floor(i / 200)}.${10 + (i % 200)}`);
    if (!spec) return;
    if (options.onePerIdentity) {
      const identity = JSON.stringify([spec.namespace, spec.labels, spec.namespaceLabels, spec.serviceAccount]);
      if (seen.has(identity)) return;
      seen.add(identity);
    }
    out.push(spec);
  });
  return out;
}

/** Every CIDR (and `except` carve-out) the policies' peers name, sorted. */
export function policyPrefixes(policies: Policy[]): string[] {
  const cidrs = new Set<string>();
  for (const p of policies) {
    for (const rule of p.rules) {
      for (const pr of [...rule.ingress, ...rule.ingressDeny, ...rule.egress, ...rule.egressDeny]) {
        if (pr.peers.kind !== 'cidr') continue;
        for (const c of pr.peers.cidrs) for (const prefix of [...(c.cidr ? [c.cidr] : []), ...c.except]) cidrs.add(prefix);
      }
    }
  }
  return [...cidrs].sort();
}

export interface CorpusNodeOptions {
  /** Give every policy prefix a CIDR identity in the ipcache (Cilium's scheme), or leave them out. */
  cidrIdentities: boolean;
}

export interface CorpusNode {
  repo: Repository;
  identitiesOf: (s: LabelSelector) => Iterable<number>;
  ipcache: IpCacheEntry[];
  /** Every address of the node's endpoints, in the repository's order. */
  endpointAddresses: string[];
  /** The policy prefixes that got a CIDR identity (empty without `cidrIdentities`). */
  cidrPrefixes: string[];
}

/** The policies and endpoints in a Repository, with identities and an ipcache for them. */
export function buildCorpusNode(policies: Policy[], endpoints: readonly EndpointSpec[], options: CorpusNodeOptions): CorpusNode {
  const repo = new Repository({ allowLocalhost: true });
  for (const p of policies) repo.upsertPolicy(p);
  for (const e of endpoints) repo.upsertEndpoint(e);
  const allocator = new IdentityAllocator();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [{ prefix: `${CORPUS_NODE_IP}/32`, identity: 1 }];
  const endpointAddresses: string[] = [];
  for (const ep of repo.listEndpoints()) {
    const { id } = allocator.allocate(ep.identityLabels);
    cache.addIdentity(id, ep.identityLabels);
    for (const ip of ep.ips) {
      ipcache.push({ prefix: `${ip}/${ip.includes(':') ? 128 : 32}`, identity: id });
      endpointAddresses.push(ip);
    }
  }
  // CIDR identities carry world labels plus a cidr: label for every policy prefix containing them
  // (Cilium's scheme, as the engine computes it), so `except` carve-outs select a different
  // identity than their enclosing prefix.
  const cidrPrefixes = options.cidrIdentities ? policyPrefixes(policies) : [];
  const parsedPrefixes = cidrPrefixes.map(parsePolicyPrefix);
  for (const prefix of parsedPrefixes) {
    const labels = cidrIdentityLabels(prefix, parsedPrefixes);
    const { id } = allocator.allocate(labels);
    cache.addIdentity(id, labels);
    ipcache.push({ prefix: prefix.canonical, identity: id });
  }
  return { repo, identitiesOf: (s) => cache.register(s).selections(), ipcache, endpointAddresses, cidrPrefixes };
}

/** A prefix the loader already checked and canonicalised; anything else is a loader bug. */
function parsePolicyPrefix(text: string): Prefix {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(`the loader returned an invalid CIDR ${text}: ${r.error}`);
  return r.prefix;
}

/** Cilium-style allocation: one proxy port per direction, protocol and L7 kind, shared by every endpoint. */
function proxyPortOf(key: RedirectKey): number {
  const kinds = ['http', 'kafka', 'dns', 'none'];
  return 15000 + (key.direction === 'ingress' ? 0 : 100) + (key.protocol === 'UDP' ? 50 : 0) + kinds.indexOf(key.l7);
}

/** translateNode for the node; every secret it asks for exists (with placeholder PEM). */
export function translateCorpusNode(node: CorpusNode, target: TranslationTarget): Translation {
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
