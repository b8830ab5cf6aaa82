// `meshd policy trace`: answers offline whether a flow is allowed, and why, by resolving the
// policies for the endpoints involved and looking the flow up on both sides: the source's
// egress policy and the destination's ingress policy. Both must allow.

import { PolicyUsageError } from '../errors.js';
import { policyDisplayName } from '../policy-ref.js';
import type { CidrGroup, Policy } from '../model.js';
import { LabelSet, type Label } from '../labels/index.js';
import { parseCidr, parseIp, prefixContains, type Prefix } from '../cidr/index.js';
import { IdentityAllocator, cidrIdentityLabels, reservedIdentityByName, RESERVED_IDENTITIES } from '../identity/index.js';
import { compileFqdnMatcher, fqdnSelectorString } from '../fqdn/index.js';
import { matchDnsRules, matchHttpRules, matchKafkaRules, kafkaApiKeyName, type KafkaRequestFacts } from '../l7/index.js';
import { Repository, type Endpoint, type EndpointSpec } from '../resolve/repository.js';
import { entryMatches, lookupFlow, type FlowKey, type L7Evaluator, type L7Request, type LookupResult, type PolicyEntry } from '../resolve/endpoint-policy.js';
import { CIDR_GROUP_NAME_KEY, peerPrefixes } from '../resolve/peer-selectors.js';

export interface TraceOptions {
  policies: Policy[];
  cidrGroups?: CidrGroup[];
  endpoints: EndpointSpec[];
  /** `NAMESPACE/NAME`, an IP, `fqdn:NAME` or `entity:NAME`. */
  from: string;
  to: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  request?: L7Request;
  allowLocalhost?: boolean;
}

export interface TracePeer {
  ref: string;
  kind: 'endpoint' | 'ip' | 'fqdn' | 'entity';
  identity: number;
  labels: string[];
}

export interface TraceSide {
  verdict: 'allowed' | 'denied';
  stage: 'l3l4' | 'l7' | 'none';
  /** `namespace/name` of the deciding policy, `default-deny`, an agent default, or null. */
  policy: string | null;
  /** `file:line` of the deciding rule. */
  source: string | null;
  reason: string;
}

export interface TraceResult {
  verdict: 'allowed' | 'denied';
  from: TracePeer;
  to: TracePeer;
  port: string;
  /** The L7 request traced, in words (`HTTP POST /v1/request-landing`), or null for an L3/L4 trace. */
  request: string | null;
  egress: TraceSide;
  ingress: TraceSide;
  /** Things worth knowing that do not change the verdict (e.g. how FQDN IPs get learned). */
  notes: string[];
}

interface ResolvedRef {
  peer: TracePeer;
  labels: LabelSet;
  endpoint?: Endpoint;
}

export function traceFlow(opts: TraceOptions): TraceResult {
  const repo = new Repository({ allowLocalhost: opts.allowLocalhost ?? true });
  for (const p of opts.policies) repo.upsertPolicy(p);
  for (const e of opts.endpoints) repo.upsertEndpoint(e);
  const allocator = new IdentityAllocator();
  const ctx = { repo, allocator, policies: opts.policies, cidrGroups: opts.cidrGroups ?? [] };
  const from = resolveRef(opts.from, ctx);
  const to = resolveRef(opts.to, ctx);
  const notes: string[] = [];
  const flow = (remote: LabelSet): FlowKey => ({ remote, protocol: opts.protocol, port: opts.port, destinationNamedPorts: to.endpoint?.namedPorts ?? [] });

  const egress = from.endpoint
    ? describeLookup(lookupFlow(repo.endpointPolicy(from.endpoint.id)!.egress, flow(to.labels), opts.request, evaluator), 'egress', opts.request)
    : notManaged(from, 'egress');
  const ingress = to.endpoint
    ? describeLookup(lookupFlow(repo.endpointPolicy(to.endpoint.id)!.ingress, flow(from.labels), opts.request, evaluator), 'ingress', opts.request)
    : notManaged(to, 'ingress');

  if (to.peer.kind === 'fqdn' && from.endpoint) notes.push(...fqdnLearningNotes(to.peer.ref.slice('fqdn:'.length), from.endpoint, repo));
  return {
    verdict: egress.verdict === 'allowed' && ingress.verdict === 'allowed' ? 'allowed' : 'denied',
    from: from.peer,
    to: to.peer,
    port: `${opts.port}/${opts.protocol.toLowerCase()}`,
    request: opts.request ? describeRequest(opts.request) : null,
    egress,
    ingress,
    notes,
  };
}

const evaluator: L7Evaluator = {
  http: (rules, req) => matchHttpRules(rules, { method: req.method, path: req.path, headers: req.headers, ...(req.host !== undefined ? { host: req.host } : {}) }).matched,
  kafka: (rules, req) => matchKafkaRules(rules, kafkaFacts(req)).allowed,
  dns: (rules, req) => matchDnsRules(rules, req.query).allowed,
};

function kafkaFacts(req: Extract<L7Request, { type: 'kafka' }>): KafkaRequestFacts {
  return {
    apiKey: req.apiKey,
    apiVersion: req.apiVersion,
    topics: req.topics,
    ...(req.clientID !== undefined ? { clientID: req.clientID } : {}),
    ...(req.groups !== undefined ? { groups: req.groups } : {}),
  };
}

interface RefContext {
  repo: Repository;
  allocator: IdentityAllocator;
  policies: Policy[];
  cidrGroups: CidrGroup[];
}

const SINGLE_ENTITIES = RESERVED_IDENTITIES.map((r) => r.name);

function resolveRef(ref: string, ctx: RefContext): ResolvedRef {
  if (ref.startsWith('entity:')) {
    const name = ref.slice('entity:'.length);
    const reserved = reservedIdentityByName(name);
    if (!reserved) {
      throw new PolicyUsageError('MESHD_ERR_TRACE_BAD_REF', `"${ref}" does not name one identity`, `use one of ${SINGLE_ENTITIES.map((n) => `entity:${n}`).join(', ')}`);
    }
    return { peer: peer(ref, 'entity', reserved.id, reserved.labels), labels: reserved.labels };
  }
  if (ref.startsWith('fqdn:')) {
    const name = ref.slice('fqdn:'.length).toLowerCase().replace(/\.$/, '');
    if (!/^[-a-z0-9_]+(\.[-a-z0-9_]+)*$/.test(name)) throw new PolicyUsageError('MESHD_ERR_TRACE_BAD_REF', `"${ref}" is not a DNS name`, 'write fqdn:api.example.com');
    // An IP learned from NAME carries an fqdn: label for every toFQDNs selector that matches NAME.
    // Start from world's labels (reserved:world and the /0 CIDRs), as any outside IP has.
    const labels: Label[] = [...reservedIdentityByName('world')!.labels];
    for (const sel of allFqdnSelectors(ctx.policies)) {
      if (compileFqdnMatcher(sel).matches(name)) labels.push({ source: 'fqdn', key: fqdnSelectorString(sel), value: '' });
    }
    const set = LabelSet.from(labels);
    return { peer: peer(`fqdn:${name}`, 'fqdn', ctx.allocator.allocate(set).id, set), labels: set };
  }
  const ip = parseIp(ref);
  if (ip.ok) {
    const address = ip.prefix.canonical.replace(/\/(32|128)$/, '');
    const owner = ctx.repo.listEndpoints().find((e) => e.ips.includes(address));
    if (owner) return endpointRef(ref, owner, ctx);
    const labels = ipLabels(ip.prefix, ctx);
    return { peer: peer(ref, 'ip', ctx.allocator.allocate(labels).id, labels), labels };
  }
  const slash = ref.indexOf('/');
  if (slash > 0) {
    const ep = ctx.repo.getEndpoint(ref);
    if (!ep) {
      const known = ctx.repo.listEndpoints().map((e) => e.id);
      throw new PolicyUsageError('MESHD_ERR_TRACE_BAD_REF', `no endpoint "${ref}" in the endpoints file`, known.length ? `known endpoints: ${known.join(', ')}` : 'the endpoints file lists no endpoint');
    }
    return endpointRef(ref, ep, ctx);
  }
  throw new PolicyUsageError('MESHD_ERR_TRACE_BAD_REF', `cannot read "${ref}" as an endpoint, IP, fqdn: or entity: reference`, 'use NAMESPACE/NAME, an IP address, fqdn:NAME or entity:NAME');
}

function endpointRef(ref: string, ep: Endpoint, ctx: RefContext): ResolvedRef {
  return { peer: peer(ref, 'endpoint', ctx.allocator.allocate(ep.identityLabels).id, ep.identityLabels), labels: ep.identityLabels, endpoint: ep };
}

function peer(ref: string, kind: TracePeer['kind'], identity: number, labels: LabelSet): TracePeer {
  return { ref, kind, identity, labels: [...labels].map((l) => `${l.source}:${l.key}${l.value ? `=${l.value}` : ''}`) };
}

/** Labels of an IP outside every endpoint: world plus the policy CIDRs and CIDR groups holding it. */
function ipLabels(ip: Prefix, ctx: RefContext): LabelSet {
  const prefixes: Prefix[] = [];
  for (const p of ctx.policies) {
    for (const r of p.rules) {
      for (const pr of [...r.ingress, ...r.ingressDeny, ...r.egress, ...r.egressDeny]) {
        for (const c of peerPrefixes(pr.peers)) {
          const parsed = parseCidr(c);
          if (parsed.ok) prefixes.push(parsed.prefix);
        }
      }
    }
  }
  const extra: Label[] = [];
  for (const g of ctx.cidrGroups) {
    const inGroup = g.cidrs.some((c) => {
      const parsed = parseCidr(c);
      return parsed.ok && prefixContains(parsed.prefix, ip);
    });
    if (!inGroup) continue;
    extra.push({ source: 'cidrgroup', key: `${CIDR_GROUP_NAME_KEY}/${g.name}`, value: '' });
    for (const [k, v] of Object.entries(g.labels)) extra.push({ source: 'cidrgroup', key: k, value: v });
  }
  return LabelSet.from([...cidrIdentityLabels(ip, prefixes), ...extra]);
}

function* allFqdnSelectors(policies: Policy[]) {
  for (const p of policies) for (const r of p.rules) for (const pr of r.egress) if (pr.peers.kind === 'fqdns') yield* pr.peers.fqdns;
}

function notManaged(ref: ResolvedRef, direction: 'egress' | 'ingress'): TraceSide {
  const who = direction === 'egress' ? 'source' : 'destination';
  return { verdict: 'allowed', stage: 'none', policy: null, source: null, reason: `${who} ${ref.peer.ref} is not a local endpoint: no ${direction} policy applies` };
}

function where(e: PolicyEntry): string | null {
  if (e.origin.kind !== 'rule') return null;
  const pos = e.origin.portRule?.position ?? e.origin.peerRule.position;
  return `${pos.file}:${pos.line}`;
}

function entryPolicy(e: PolicyEntry): string {
  return e.origin.kind === 'rule' ? policyDisplayName(e.origin.rule.origin) : 'allow-localhost (agent default)';
}

function sectionName(e: PolicyEntry): string {
  return e.origin.kind === 'rule' ? `${e.direction}${e.isDeny ? 'Deny' : ''} rule` : 'agent default';
}

function describeRequest(req: L7Request): string {
  switch (req.type) {
    case 'http':
      return `HTTP ${req.method} ${req.path}${req.host ? ` (host ${req.host})` : ''}`;
    case 'kafka': {
      const groups = req.groups?.length ? ` groups ${req.groups.join(',')}` : '';
      return `Kafka ${kafkaApiKeyName(req.apiKey) ?? `api key ${req.apiKey}`}${req.apiVersion >= 0 ? ` v${req.apiVersion}` : ''}${req.topics === 'all' ? ' (all topics)' : req.topics.length ? ` topics ${req.topics.join(',')}` : ''}${groups}`;
    }
    case 'dns':
      return `DNS query ${req.query}`;
  }
}

/** A side decided by an entry: its policy and the file:line of its rule. */
function decidedBy(verdict: TraceSide['verdict'], stage: TraceSide['stage'], entry: PolicyEntry, reason: string): TraceSide {
  return { verdict, stage, policy: entryPolicy(entry), source: where(entry), reason };
}

function describeLookup(r: LookupResult, direction: 'egress' | 'ingress', req: L7Request | undefined): TraceSide {
  const request = req ? describeRequest(req) : 'the request';
  switch (r.by) {
    case 'deny-rule':
      return decidedBy('denied', 'l3l4', r.entry, `denied by an ${sectionName(r.entry)} (deny takes precedence over allow)`);
    case 'default-deny':
      return { verdict: 'denied', stage: 'l3l4', policy: 'default-deny', source: null, reason: `the endpoint is selected by ${direction} policies and none allows this peer and port` };
    case 'not-enforced':
      return { verdict: 'allowed', stage: 'l3l4', policy: null, source: null, reason: `no policy puts this endpoint in ${direction} default-deny` };
    case 'allow-rule':
      return decidedBy('allowed', 'l3l4', r.entry, `allowed by an ${sectionName(r.entry)} (no L7 rules on this port)`);
    case 'l3l4-overrides-l7':
      return decidedBy(
        'allowed',
        'l7',
        r.entry,
        `an L3/L4 rule allows this peer and port without L7 rules, so every request is allowed (L7 rules of ${[...new Set(r.l7Entries.map(entryPolicy))].join(', ')} only observe)`,
      );
    case 'l7-pending':
      return decidedBy(
        'allowed',
        'l7',
        r.entries[0]!,
        `allowed at L3/L4 and redirected to the proxy: each ${r.l7Type.toUpperCase()} request is checked against ${countRules(r.entries)} rule(s); ${l7Hint(r.l7Type)} to check one`,
      );
    case 'l7-visibility-only':
      return decidedBy('allowed', 'l7', r.entry, `${request} is allowed: the L7 rules come from a policy with enableDefaultDeny: false, so they only observe`);
    case 'l7-rule':
      return decidedBy('allowed', 'l7', r.entry, `${request} matches an L7 rule`);
    case 'no-l7-match':
      return decidedBy(
        'denied',
        'l7',
        r.entries[0]!,
        `${request} matches none of the ${countRules(r.entries)} ${r.l7Type.toUpperCase()} rule(s) for this port${kafkaDenials(r.entries, req)} (${l7DenyAnswer(r.l7Type, r.entries, req)})`,
      );
  }
}

function countRules(entries: PolicyEntry[]): number {
  return entries.reduce((n, e) => n + (e.l7?.type === 'http' ? e.l7.http.length : e.l7?.type === 'kafka' ? e.l7.kafka.length : e.l7?.type === 'dns' ? e.l7.dns.length : 0), 0);
}

function l7Hint(type: string): string {
  return type === 'http' ? 'give --http-method and --http-path' : type === 'kafka' ? 'give --kafka-api-key, --kafka-topic and --kafka-group' : 'give --dns-query';
}

/** What the proxy's Kafka filter would say: which groups and topics no rule allows. */
function kafkaDenial(entries: PolicyEntry[], req: L7Request | undefined): { groups: string[]; topics: string[] } | undefined {
  if (req?.type !== 'kafka') return undefined;
  const m = matchKafkaRules(entries.flatMap((e) => (e.l7?.type === 'kafka' ? e.l7.kafka : [])), kafkaFacts(req));
  return { groups: m.deniedGroups, topics: m.deniedTopics };
}

function kafkaDenials(entries: PolicyEntry[], req: L7Request | undefined): string {
  const d = kafkaDenial(entries, req);
  if (!d) return '';
  const parts = [...(d.groups.length ? [`group(s) ${d.groups.join(',')}`] : []), ...(d.topics.length ? [`topic(s) ${d.topics.join(',')}`] : [])];
  return parts.length ? `: ${parts.join(' and ')} not allowed` : '';
}

function l7DenyAnswer(type: string, entries: PolicyEntry[], req: L7Request | undefined): string {
  if (type === 'kafka') {
    // The filter answers with the error of what it denies, as a broker's authorizer would.
    const d = kafkaDenial(entries, req);
    const error = d?.groups.length ? 'GROUP_AUTHORIZATION_FAILED' : d?.topics.length ? 'TOPIC_AUTHORIZATION_FAILED' : undefined;
    return `the proxy answers with an authorization error${error ? `, ${error}` : ''}`;
  }
  return type === 'http' ? 'the proxy answers 403' : 'the DNS proxy answers REFUSED';
}

/**
 * toFQDNs only allows IPs the DNS proxy has seen in an allowed answer: say whether the source can
 * resolve the name at all. The DNS flow is judged by the same lookup as any other flow, against
 * every known endpoint (and the world) that one of the source's DNS rules applies to.
 */
function fqdnLearningNotes(name: string, from: Endpoint, repo: Repository): string[] {
  const egress = repo.endpointPolicy(from.id)!.egress;
  const dnsEntries = egress.entries.filter((e) => e.l7?.type === 'dns');
  if (dnsEntries.length === 0) {
    return [`${from.id} has no DNS rules: its DNS queries are not seen by the DNS proxy, so no IP of ${name} is ever learned and toFQDNs rules cannot allow it`];
  }
  const servers = [...repo.listEndpoints().map((e) => ({ labels: e.identityLabels, namedPorts: e.namedPorts })), { labels: reservedIdentityByName('world')!.labels, namedPorts: [] }];
  const request: L7Request = { type: 'dns', query: name };
  const canResolve = dnsEntries.some((e) =>
    servers.some(({ labels, namedPorts }) =>
      (['UDP', 'TCP'] as const).some((protocol) => {
        const flow: FlowKey = { remote: labels, protocol, port: e.namedPort !== undefined ? (namedPorts.find((np) => np.name === e.namedPort)?.port ?? 0) : e.portStart, destinationNamedPorts: namedPorts };
        return entryMatches(e, flow) && lookupFlow(egress, flow, request, evaluator).verdict === 'allowed';
      }),
    ),
  );
  if (!canResolve) return [`no DNS rule of ${from.id} allows looking up ${name}: the DNS proxy refuses the query, so no IP of ${name} is learned`];
  return [`IPs of ${name} are learned when ${from.id} resolves it through the DNS proxy (the verdict assumes it did)`];
}
