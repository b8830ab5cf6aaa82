// Resolved policy → Envoy resources for one node. For each redirect (endpoint, direction, ports,
// protocol, L7 kind) that got a proxy port, the entries of the endpoint's policy that cover those
// ports become one access policy evaluated the way policy/resolve/endpoint-policy.ts lookupFlow
// evaluates a flow:
//   - deny entries → a DENY RBAC filter, checked first (deny beats allow);
//   - a direction without default-deny → everything else is allowed;
//   - each allow entry → one ALLOW RBAC policy for its peers (and ports, when the redirect covers
//     more ports than the entry): any request when it has no L7 rules (Cilium's L7 wildcard: an
//     L3/L4 allow on the same port and peers wins), or when it only observes (enableDefaultDeny:
//     false); otherwise its HTTP rules. RBAC ORs policies, which is lookupFlow's "any entry allows".
// See docs/adr/0004-xds-translation.md for the decisions and what does not map.
import { isIP } from 'node:net';
import { parseKafkaApiKeyArg, policyDisplayName, worldIdentityOf } from '../../policy/index.js';
import type { DirectionPolicy, EndpointPolicy, HttpRule, PolicyEntry, TlsContext } from '../../policy/index.js';
import {
  buildCluster,
  buildListener,
  buildRouteConfiguration,
  buildSecret,
  envoyServerNames,
  formatProblems,
  meshdTypesInListener,
  validateCluster,
  validateListener,
  validateRouteConfiguration,
  validateSecret,
} from '../resources/index.js';
import type {
  AccessPolicyPlan,
  AccessRulePlan,
  ChainFilterPlan,
  ClusterPlan,
  DnsNamePlan,
  DnsPolicyPlan,
  FilterChainMatchPlan,
  FilterChainPlan,
  HttpRequestPlan,
  KafkaRequestPlan,
  ListenerPlan,
  PeerPolicyPlan,
  PeerRulePlan,
  PortRangePlan,
  RemotesPlan,
  RouteConfigPlan,
  SecretPlan,
  UpstreamTlsPlan,
  DownstreamTlsPlan,
} from '../resources/index.js';
import { findConsistencyProblems } from '../cache/index.js';
import { XdsTranslateError } from './errors.js';
import { hostPrefix, IpCacheIndex } from './ip-sets.js';
import type { RedirectKey, RedirectOutcome, Skipped, Translation, TranslationInput } from './input.js';
import { redirectKeyString, redirectKeysOf } from './redirects.js';

const ORIGINAL_DST_CLUSTER = 'meshd/original-dst';
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

interface Context {
  input: TranslationInput;
  ipcache: IpCacheIndex;
  identities: Map<string, ReadonlySet<number>>;
  clusters: Map<string, ClusterPlan>;
  routes: Map<string, RouteConfigPlan>;
  secrets: Map<string, SecretPlan>;
  warnings: string[];
}

export function translateNode(input: TranslationInput): Translation {
  const options = input.options ?? {};
  const ctx: Context = {
    input,
    ipcache: new IpCacheIndex(input.ipcache, options.worldIdentity ?? { ipv4: worldIdentityOf(4).id, ipv6: worldIdentityOf(6).id }),
    identities: new Map(),
    clusters: new Map(),
    routes: new Map(),
    secrets: new Map(),
    warnings: [],
  };
  const addresses = proxyAddresses(input.proxyAddresses);
  const listeners = new Map<string, ListenerPlan>();
  const ingressTcpListeners = new Set<string>();
  const redirects: RedirectOutcome[] = [];
  const skipped: Skipped[] = [];

  const endpoints = [...input.endpoints].sort((a, b) => compare(a.endpoint.id, b.endpoint.id));
  for (const ep of endpoints) {
    for (const note of unresolvedNamedPorts(ep)) ctx.warnings.push(note);
    for (const key of redirectKeysOf(ep)) {
      const proxyPort = input.proxyPortOf(key);
      if (proxyPort === undefined) {
        skipped.push({ key, reason: 'no proxy port is allocated for this redirect' });
        continue;
      }
      if (!Number.isInteger(proxyPort) || proxyPort < 1 || proxyPort > 65535) {
        throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `proxy port ${proxyPort} for ${redirectKeyString(key)} is outside 1–65535`);
      }
      if (input.target === 'envoy' && (key.l7 === 'kafka' || key.l7 === 'dns')) {
        skipped.push({ key, reason: `upstream Envoy has no meshd ${key.l7} filter; this redirect needs the built-in proxy` });
        continue;
      }
      const built = translateRedirect(ctx, ep, key);
      if ('skip' in built) {
        skipped.push({ key, reason: built.skip });
        continue;
      }
      const listenerName = `meshd/${key.protocol.toLowerCase()}/${proxyPort}`;
      if (key.direction === 'ingress' && key.protocol === 'TCP') ingressTcpListeners.add(listenerName);
      let listener = listeners.get(listenerName);
      if (!listener) {
        listener = { name: listenerName, protocol: key.protocol, addresses, port: proxyPort, chains: [], udpFilters: [] };
        listeners.set(listenerName, listener);
      }
      const names: string[] = [];
      if (key.protocol === 'UDP') {
        for (const dns of built.udp) {
          listener.udpFilters.push({ name: `meshd.filters.dns/${redirectKeyString(key)}`, config: dns });
          names.push(redirectKeyString(key));
        }
      }
      for (const chain of built.chains) {
        const clash = listener.chains.find((c) => sameMatch(c.match, chain.match));
        if (clash) {
          ctx.warnings.push(`${chain.name}: left out, its filter chain match equals the one of ${clash.name} on ${listenerName}`);
          continue;
        }
        listener.chains.push(chain);
        names.push(chain.name);
      }
      redirects.push({ key, proxyPort, listener: listenerName, filterChains: names });
    }
  }

  const plan = {
    listeners: [...listeners.values()].filter((l) => l.chains.length > 0 || l.udpFilters.length > 0).sort(byName),
    routes: [...ctx.routes.values()].sort(byName),
    clusters: [...ctx.clusters.values()].sort(byName),
    secrets: [...ctx.secrets.values()].sort(byName),
  };
  const translation: Translation = {
    target: input.target,
    listeners: plan.listeners.map((l) => {
      const built = buildListener(l);
      // Ingress listeners accept connections BPF TPROXY assigned to them (clients on other
      // nodes): the local address is then a pod's, which needs IP_TRANSPARENT.
      if (input.options?.transparentIngress === true && ingressTcpListeners.has(l.name)) built.transparent = true;
      return built;
    }),
    routes: plan.routes.map(buildRouteConfiguration),
    clusters: plan.clusters.map(buildCluster),
    endpoints: [],
    secrets: plan.secrets.map(buildSecret),
    secretNames: plan.secrets.map((s) => s.name),
    redirects,
    skipped,
    warnings: ctx.warnings,
    plan,
  };
  const problems = checkTranslation(translation);
  if (problems.length > 0) {
    throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INVALID_OUTPUT', `the translation produced ${problems.length} invalid field(s): ${problems.slice(0, 3).join('; ')}`, problems);
  }
  return translation;
}

/**
 * Every resource's own validation plus the snapshot consistency the cache checks on setSnapshot
 * (xds/cache/consistency.ts), so a translation that the cache would refuse never leaves here.
 */
function checkTranslation(t: Translation): string[] {
  const problems: string[] = [];
  for (const l of t.listeners) {
    problems.push(...formatProblems(`Listener ${l.name}`, validateListener(l)));
    if (t.target === 'envoy') for (const type of meshdTypesInListener(l)) problems.push(`Listener ${l.name}: carries ${type}, which an Envoy node must never receive`);
  }
  for (const r of t.routes) problems.push(...formatProblems(`RouteConfiguration ${r.name}`, validateRouteConfiguration(r)));
  for (const c of t.clusters) problems.push(...formatProblems(`Cluster ${c.name}`, validateCluster(c)));
  for (const s of t.secrets) problems.push(...formatProblems(`Secret ${s.name}`, validateSecret(s)));
  problems.push(
    ...findConsistencyProblems({
      listeners: t.listeners,
      routes: t.routes,
      clusters: t.clusters,
      endpointNames: new Set(t.endpoints.map((e) => e.clusterName)),
      secretNames: new Set(t.secrets.map((s) => s.name)),
      decodeProblems: [],
    }),
  );
  return problems;
}

// ---- one redirect ----------------------------------------------------------------------------

interface Labeled {
  entry: PolicyEntry;
  label: string;
}

function translateRedirect(ctx: Context, ep: EndpointPolicy, key: RedirectKey): { chains: FilterChainPlan[]; udp: DnsPolicyPlan[] } | { skip: string } {
  // Checked before anything is added to ctx: a skipped redirect must leave no route, cluster or
  // secret behind, since nothing would refer to them. A UDP DNS filter selects by its own endpoint
  // list, not by a filter chain.
  const ips = ep.endpoint.ips.map(hostPrefix);
  if (ips.length === 0 && !(key.l7 === 'dns' && key.protocol === 'UDP')) return { skip: `endpoint ${key.endpoint} has no address, so no filter chain can select its traffic` };
  const direction = ep[key.direction];
  const entries = labeled(relevantEntries(direction, key));
  const allows = entries.filter((e) => !e.entry.isDeny);
  const termination = allows.find((e) => e.entry.terminatingTLS)?.entry.terminatingTLS;
  const origination = allows.find((e) => e.entry.originatingTLS)?.entry.originatingTLS;
  if (new Set(allows.flatMap((e) => (e.entry.terminatingTLS ? [secretLabel(ctx, e.entry.terminatingTLS)] : []))).size > 1) {
    ctx.warnings.push(`${redirectKeyString(key)}: several terminatingTLS secrets on one port; only ${secretLabel(ctx, termination!)} is used`);
  }

  let downstreamTls: DownstreamTlsPlan | undefined;
  if (termination) {
    const tls = downstreamTlsPlan(ctx, termination);
    if ('missing' in tls) return { skip: tls.missing };
    downstreamTls = tls;
  }
  let cluster = ORIGINAL_DST_CLUSTER;
  let upstreamTls: UpstreamTlsPlan | undefined;
  if (origination) {
    const tls = upstreamTlsPlan(ctx, origination);
    if ('missing' in tls) return { skip: tls.missing };
    upstreamTls = tls;
    cluster = `${ORIGINAL_DST_CLUSTER}/tls/${tls.validationSecret}${tls.clientCertificateSecret ? `+${tls.clientCertificateSecret}` : ''}`;
  }
  ctx.clusters.set(cluster, { name: cluster, connectTimeoutMs: ctx.input.options?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, ...(upstreamTls ? { upstreamTls } : {}) });

  const keyName = redirectKeyString(key);
  const statPrefix = `meshd.${key.direction}.${key.l7}`;
  let filter: ChainFilterPlan;
  switch (key.l7) {
    case 'http': {
      const routeConfigName = `meshd/route/${cluster}`;
      ctx.routes.set(routeConfigName, { name: routeConfigName, cluster });
      filter = { kind: 'http', access: accessPolicy(ctx, key, direction, entries, statPrefix), routeConfigName, statPrefix };
      break;
    }
    case 'none':
      filter = { kind: 'tcp', access: accessPolicy(ctx, key, direction, entries, statPrefix), cluster, statPrefix };
      break;
    case 'kafka':
      filter = { kind: 'kafka', config: peerPolicy(ctx, ep, key, direction, entries, cluster, statPrefix, kafkaRequests) };
      break;
    case 'dns': {
      const config = peerPolicy(ctx, ep, key, direction, entries, cluster, statPrefix, dnsNames);
      if (key.protocol === 'UDP') return { chains: [], udp: [config] };
      filter = { kind: 'dns', config };
      break;
    }
  }

  const base: FilterChainMatchPlan = {
    ...(key.portStart === key.portEnd ? { destinationPort: key.portStart } : {}),
    destinationPrefixes: key.direction === 'ingress' ? ips : [],
    sourcePrefixes: key.direction === 'egress' ? ips : [],
    serverNames: [],
  };
  const chains: FilterChainPlan[] = [];
  const terminating = allows.filter((e) => e.entry.terminatingTLS);
  const sniOnly = allows.filter((e) => !e.entry.terminatingTLS && e.entry.serverNames.length > 0);
  if (downstreamTls) {
    chains.push({ name: `${keyName}/tls`, match: { ...base, transportProtocol: 'tls', serverNames: envoyServerNames(terminating.flatMap((e) => e.entry.serverNames)) }, downstreamTls, filter });
  }
  if (sniOnly.length > 0) {
    chains.push({ name: `${keyName}/sni`, match: { ...base, transportProtocol: 'tls', serverNames: envoyServerNames(sniOnly.flatMap((e) => e.entry.serverNames)) }, filter });
  }
  const plainEntries = allows.some((e) => !e.entry.terminatingTLS && e.entry.serverNames.length === 0);
  if (plainEntries || chains.length === 0) chains.push({ name: keyName, match: base, filter });
  return { chains, udp: [] };
}

/** The entries of the direction that can apply to traffic of this redirect. */
function relevantEntries(direction: DirectionPolicy, key: RedirectKey): PolicyEntry[] {
  return direction.entries.filter((e) => {
    if (e.namedPort !== undefined) return false;
    if (e.protocol !== 'ANY' && e.protocol !== key.protocol) return false;
    const [start, end] = portsOf(e);
    return start <= key.portEnd && end >= key.portStart;
  });
}

/** Stable, unique names for entries: policy, rule path and ports; the sort makes order independent of load order. */
function labeled(entries: PolicyEntry[]): Labeled[] {
  const items = entries.map((entry) => {
    const [start, end] = portsOf(entry);
    const ports = `${entry.protocol}/${start === end ? start : `${start}-${end}`}`;
    const where = entry.origin.kind === 'rule' ? `${entry.origin.rule.origin.kind} ${policyDisplayName(entry.origin.rule.origin)} ${entry.origin.peerRule.path}` : 'allow-localhost';
    return { entry, label: `${entry.isDeny ? 'deny' : 'allow'} ${where} ${ports}` };
  });
  items.sort((a, b) => compare(a.label, b.label));
  const seen = new Map<string, number>();
  for (const item of items) {
    const n = seen.get(item.label) ?? 0;
    seen.set(item.label, n + 1);
    if (n > 0) item.label = `${item.label} #${n + 1}`;
  }
  return items;
}

function portsOf(e: PolicyEntry): [number, number] {
  return e.portStart === 0 && e.portEnd === 0 ? [1, 65535] : [e.portStart, e.portEnd];
}

/** The entry's ports within the redirect, when narrower than the redirect. */
function portRestriction(e: PolicyEntry, key: RedirectKey): PortRangePlan | undefined {
  const [start, end] = portsOf(e);
  if (start <= key.portStart && end >= key.portEnd) return undefined;
  return { start: Math.max(start, key.portStart), end: Math.min(end, key.portEnd) };
}

function identitiesOf(ctx: Context, e: PolicyEntry): ReadonlySet<number> | 'any' {
  if (e.peers === undefined) return 'any';
  const all = new Set<number>();
  for (const selector of e.peers) {
    const key = JSON.stringify(selector);
    let ids = ctx.identities.get(key);
    if (!ids) {
      ids = new Set(ctx.input.identitiesOf(selector));
      ctx.identities.set(key, ids);
    }
    for (const id of ids) all.add(id);
  }
  return all;
}

/** What an allow entry contributes to a chain of kind `l7`; undefined = nothing (fail closed). */
function contribution(e: PolicyEntry, l7: RedirectKey['l7']): 'l3l4' | 'visibility' | 'rules' | undefined {
  if (!e.l7) return 'l3l4';
  if (e.isL7VisibilityOnly) return 'visibility';
  // Rules of another L7 protocol never match this chain's requests (lookupFlow judges a request
  // only against rules of its own protocol).
  return e.l7.type === l7 ? 'rules' : undefined;
}

function accessPolicy(ctx: Context, key: RedirectKey, direction: DirectionPolicy, entries: Labeled[], statPrefix: string): AccessPolicyPlan {
  const peersOf = (e: PolicyEntry) => {
    const ids = identitiesOf(ctx, e);
    return ids === 'any' ? ({ kind: 'any' } as const) : ctx.ipcache.ipSetOf(ids);
  };
  const deny: AccessRulePlan[] = entries
    .filter((e) => e.entry.isDeny)
    .map((e) => withPorts({ name: e.label, peers: peersOf(e.entry), serverNames: [], requests: 'any' }, portRestriction(e.entry, key)));
  if (!direction.isDefaultDeny) {
    return { direction: key.direction, deny, allow: [{ name: 'direction is not default-deny', peers: { kind: 'any' }, serverNames: [], requests: 'any' }], statPrefix };
  }
  const allow: AccessRulePlan[] = [];
  for (const { entry, label } of entries) {
    if (entry.isDeny) continue;
    const kind = contribution(entry, key.l7);
    if (kind === undefined) continue;
    let requests: AccessRulePlan['requests'] = 'any';
    if (kind === 'rules' && entry.l7?.type === 'http' && entry.l7.http.length > 0) requests = entry.l7.http.map(httpRequest);
    allow.push(withPorts({ name: label, peers: peersOf(entry), serverNames: [...entry.serverNames], requests }, portRestriction(entry, key)));
  }
  return { direction: key.direction, deny, allow, statPrefix };
}

function withPorts(rule: AccessRulePlan, ports: PortRangePlan | undefined): AccessRulePlan {
  return ports ? { ...rule, ports } : rule;
}

function httpRequest(rule: HttpRule): HttpRequestPlan {
  const plan: HttpRequestPlan = { headers: [] };
  // Empty strings are absent fields, as in Cilium (`if h.Path != ""`) and meshd's engine.
  if (rule.method) plan.method = rule.method;
  if (rule.path) plan.path = rule.path;
  if (rule.host) plan.host = rule.host;
  for (const h of rule.headers) plan.headers.push(h.value === undefined ? { name: h.name.toLowerCase(), kind: 'present' } : { name: h.name.toLowerCase(), kind: 'exact', value: h.value });
  for (const m of rule.headerMatches) {
    // A mismatch action rewrites the header and never denies (policy/l7/match-http-rule.ts);
    // upstream Envoy's RBAC cannot rewrite, so the requirement is dropped (ADR 0004).
    if (m.mismatch !== undefined) continue;
    if (m.secret !== undefined && !m.value) {
      plan.neverMatches = `header ${m.name} must equal secret ${m.secret.namespace ?? ''}/${m.secret.name}, which meshd cannot read`;
      continue;
    }
    plan.headers.push(m.value ? { name: m.name.toLowerCase(), kind: 'exact', value: m.value } : { name: m.name.toLowerCase(), kind: 'present' });
  }
  return plan;
}

function peerPolicy<Request>(
  ctx: Context,
  ep: EndpointPolicy,
  key: RedirectKey,
  direction: DirectionPolicy,
  entries: Labeled[],
  cluster: string,
  statPrefix: string,
  requestsOf: (e: PolicyEntry) => Request[],
): PeerPolicyPlan<Request> {
  const remotes = (e: PolicyEntry): RemotesPlan => {
    const ids = identitiesOf(ctx, e);
    return ids === 'any' ? { any: true, identities: [] } : { any: false, identities: [...ids] };
  };
  const rules: Array<PeerRulePlan<Request>> = [];
  for (const { entry, label } of entries) {
    if (entry.isDeny) continue;
    const kind = contribution(entry, key.l7);
    if (kind === undefined) continue;
    const ports = portRestriction(entry, key);
    rules.push({
      name: label,
      remotes: remotes(entry),
      ...(ports ? { ports } : {}),
      l3l4Only: kind === 'l3l4',
      visibilityOnly: kind === 'visibility',
      requests: kind === 'rules' ? requestsOf(entry) : [],
    });
  }
  return {
    statPrefix,
    endpoint: ep.endpoint.id,
    endpointIps: [...ep.endpoint.ips],
    direction: key.direction,
    destinationPorts: { start: key.portStart, end: key.portEnd },
    defaultDeny: direction.isDefaultDeny,
    denyRules: entries
      .filter((e) => e.entry.isDeny)
      .map((e) => {
        const ports = portRestriction(e.entry, key);
        return { name: e.label, remotes: remotes(e.entry), ...(ports ? { ports } : {}) };
      }),
    rules,
    upstreamCluster: cluster,
  };
}

function kafkaRequests(e: PolicyEntry): KafkaRequestPlan[] {
  if (e.l7?.type !== 'kafka') return [];
  return e.l7.kafka.map((r) => {
    const plan: KafkaRequestPlan = { apiKeys: [] };
    if (r.role) plan.role = r.role;
    if (r.apiKey) {
      const apiKey = parseKafkaApiKeyArg(r.apiKey);
      // The loader rejects unknown names; an unknown one would allow no key rather than every key.
      plan.apiKeys = apiKey === undefined ? [32767] : [apiKey];
    }
    if (r.apiVersion !== undefined) plan.apiVersion = r.apiVersion;
    if (r.clientID) plan.clientId = r.clientID;
    if (r.topic) plan.topic = r.topic;
    if (r.topicPrefix) plan.topicPrefix = r.topicPrefix;
    if (r.groupID) plan.groupId = r.groupID;
    return plan;
  });
}

function dnsNames(e: PolicyEntry): DnsNamePlan[] {
  if (e.l7?.type !== 'dns') return [];
  return e.l7.dns.flatMap((r): DnsNamePlan[] => (r.matchName ? [{ matchName: r.matchName }] : r.matchPattern ? [{ matchPattern: r.matchPattern }] : []));
}

// ---- TLS -------------------------------------------------------------------------------------

function secretRef(ctx: Context, tls: TlsContext): { namespace: string; name: string } {
  return { namespace: tls.secret.namespace ?? ctx.input.options?.defaultSecretNamespace ?? 'default', name: tls.secret.name };
}

function secretLabel(ctx: Context, tls: TlsContext): string {
  const ref = secretRef(ctx, tls);
  return `${ref.namespace}/${ref.name}`;
}

/** SDS name of items of a Kubernetes Secret: `secret/<namespace>/<name>/<item>[+<item>]`. */
function sdsName(ctx: Context, tls: TlsContext, items: string[]): string {
  return `secret/${secretLabel(ctx, tls)}/${items.join('+')}`;
}

function readItems(ctx: Context, tls: TlsContext, items: string[]): string[] | { missing: string } {
  const data = ctx.input.secretData?.(secretRef(ctx, tls));
  if (!data) return { missing: `secret ${secretLabel(ctx, tls)} is not known to the agent` };
  const values: string[] = [];
  for (const item of items) {
    const value = data[item];
    if (value === undefined || value === '') return { missing: `secret ${secretLabel(ctx, tls)} has no item "${item}"` };
    values.push(value);
  }
  return values;
}

function downstreamTlsPlan(ctx: Context, tls: TlsContext): DownstreamTlsPlan | { missing: string } {
  const certItem = tls.certificate ?? 'tls.crt';
  const keyItem = tls.privateKey ?? 'tls.key';
  const material = readItems(ctx, tls, [certItem, keyItem]);
  if ('missing' in material) return material;
  const certificateSecret = sdsName(ctx, tls, [certItem, keyItem]);
  ctx.secrets.set(certificateSecret, { name: certificateSecret, kind: 'tls-certificate', certificateChain: material[0]!, privateKey: material[1]! });
  const plan: DownstreamTlsPlan = { certificateSecret };
  // Client certificates are checked only when the rule names a CA item explicitly.
  if (tls.trustedCA !== undefined) {
    const ca = readItems(ctx, tls, [tls.trustedCA]);
    if ('missing' in ca) return ca;
    plan.validationSecret = sdsName(ctx, tls, [tls.trustedCA]);
    ctx.secrets.set(plan.validationSecret, { name: plan.validationSecret, kind: 'validation-context', trustedCa: ca[0]! });
  }
  return plan;
}

function upstreamTlsPlan(ctx: Context, tls: TlsContext): UpstreamTlsPlan | { missing: string } {
  const caItem = tls.trustedCA ?? 'ca.crt';
  const ca = readItems(ctx, tls, [caItem]);
  if ('missing' in ca) return ca;
  const validationSecret = sdsName(ctx, tls, [caItem]);
  ctx.secrets.set(validationSecret, { name: validationSecret, kind: 'validation-context', trustedCa: ca[0]! });
  const plan: UpstreamTlsPlan = { validationSecret };
  if (tls.certificate !== undefined) {
    const keyItem = tls.privateKey ?? 'tls.key';
    const cert = readItems(ctx, tls, [tls.certificate, keyItem]);
    if ('missing' in cert) return cert;
    plan.clientCertificateSecret = sdsName(ctx, tls, [tls.certificate, keyItem]);
    ctx.secrets.set(plan.clientCertificateSecret, { name: plan.clientCertificateSecret, kind: 'tls-certificate', certificateChain: cert[0]!, privateKey: cert[1]! });
  }
  return plan;
}

// ---- helpers ---------------------------------------------------------------------------------

function unresolvedNamedPorts(ep: EndpointPolicy): string[] {
  return ep.egress.entries
    .filter((e) => e.namedPort !== undefined && (e.l7 !== undefined || e.isDeny))
    .map((e) => `${ep.endpoint.id}: egress entry on named port "${e.namedPort}" left out of the proxy config (the port number depends on the destination)`);
}

function proxyAddresses(addresses: readonly string[]): string[] {
  if (addresses.length === 0) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', 'the proxy needs at least one address');
  for (const a of addresses) if (isIP(a) === 0) throw new XdsTranslateError('MESHD_ERR_XDS_TRANSLATE_INPUT', `proxy address "${a}" is not an IP address`);
  return [...new Set(addresses)].sort((a, b) => isIP(a) - isIP(b) || compare(a, b));
}

function sameMatch(a: FilterChainMatchPlan, b: FilterChainMatchPlan): boolean {
  const norm = (m: FilterChainMatchPlan) =>
    JSON.stringify([m.destinationPort ?? null, m.destinationPrefixes.map((p) => `${p.address}/${p.length}`).sort(), m.sourcePrefixes.map((p) => `${p.address}/${p.length}`).sort(), m.transportProtocol ?? '', [...m.serverNames].sort()]);
  return norm(a) === norm(b);
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return compare(a.name, b.name);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
