// Differential test: the built-in proxy's RBAC against meshd's policy engine.
//
// Policies are loaded by the real loader, resolved by the Repository, translated by xds's
// translateNode for the built-in proxy, and the RBAC filters are pulled out of every generated
// filter chain (HTTP RBAC out of the HCM, network RBAC out of tcp_proxy chains) and compiled with
// this folder's compiler. Then many generated requests — peers from the ipcache (pods, CIDR
// identities, the host, the world; IPv4 and IPv6), ports across each redirect's range, methods,
// paths, hosts and header sets — are decided twice: by the compiled filters (in chain order: the
// DENY filter, then ALLOW) and by the engine (policy traceFlow → lookupFlow with its own L7
// evaluator). Every disagreement is a failure, printed with the request.
//
// A second mode sends the same requests through the whole decision path instead: the listeners and
// routes compiled by proxylib/config, listener.selectFilterChain, then the HCM's decideRequest (path
// normalization, RBAC filters, route) or the network RBAC filters; there the engine judges the path
// as normalization gives it, and paths normalization rejects must be answered locally.
//
// Policy sets: hand-written ones covering every rule kind, docs/examples, the shared corpus, and
// randomly generated ones (seeded, so a failure reproduces).
//
// Chains that select on TLS (terminatingTLS / serverNames) are compared one-sided: the engine does
// not look at SNI, and serverNames only narrow what a rule allows, so whatever the proxy allows
// there the engine must allow too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicyText, traceFlow, type EndpointSpec, type L7Request, type Policy } from '../../policy/index.js';
import { envoy, unpackAny, type RedirectKey, type Translation } from '../../xds/index.js';
import { cnp, ports, sel, selIn, yamlText, type Doc } from '../../test/fixtures/policy-builders.js';
import { buildCorpusNode, CORPUS_NODE_IP, corpusEndpoints, docsExamples, loadableCorpusInputs, translateCorpusNode } from '../../test/xds/corpus-node.js';
import { seededRandom } from '../../test/fuzz/prng.js';
import { compileListener, compileRouteConfiguration, type ConnectionFacts, type ListenerConfig, type RouteTable } from '../config/index.js';
import { decideRequest, type DownstreamFacts, type HttpRequestHead } from '../hcm/index.js';
import { normalizeRequestPath } from '../http/index.js';
import { compileHttpRbac, compileNetworkRbac, rbacContextOfRequest, type RbacContext, type RbacFilter } from './index.js';

// ---- the node: policies, endpoints, identities, ipcache, translation ----------------------------

interface Peer {
  /** Address the proxy sees. */
  ip: string;
  /** How traceFlow names the same peer. */
  ref: string;
}

interface Node {
  policies: Policy[];
  endpoints: EndpointSpec[];
  translation: Translation;
  peers: Peer[];
}

/** The policies and endpoints on a node with CIDR identities, translated for the built-in proxy, and the peers worth trying. */
function buildNode(policies: Policy[], endpoints: EndpointSpec[], extraPeers: string[]): Node {
  const node = buildCorpusNode(policies, endpoints, { cidrIdentities: true });
  const peers: Peer[] = [{ ip: CORPUS_NODE_IP, ref: 'entity:host' }];
  for (const ip of node.endpointAddresses) peers.push({ ip, ref: ip });
  // The first, last and a middle address of every policy prefix are peers worth trying.
  for (const prefix of node.cidrPrefixes) for (const ip of sampleAddresses(prefix)) peers.push({ ip, ref: ip });
  for (const ip of extraPeers) peers.push({ ip, ref: ip });
  const translation = translateCorpusNode(node, 'builtin');
  const unique = new Map(peers.map((p) => [`${p.ip} ${p.ref}`, p]));
  return { policies, endpoints, translation, peers: [...unique.values()] };
}

/** A few addresses of a prefix: IPv4 first, second, middle and last; IPv6 the first two. */
function sampleAddresses(prefix: string): string[] {
  const [address = '', lengthText = '0'] = prefix.split('/');
  const length = Number(lengthText);
  if (address.includes(':')) return length === 128 || !address.endsWith('::') ? [address] : [`${address}1`, `${address}ff`];
  const n = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - length);
  const pick = [0, 1, Math.floor(size / 2), size - 1].filter((o) => o < size).map((o) => n + o);
  return [...new Set(pick)].map((v) => [24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join('.'));
}

// ---- RBAC filters of each generated chain ------------------------------------------------------

interface ChainUnderTest {
  key: RedirectKey;
  chain: string;
  kind: 'http' | 'tcp';
  filters: RbacFilter[];
  /**
   * SNIs to try on a chain that selects on TLS. The engine does not look at SNI (rules with
   * serverNames only narrow what their peers may do), so there the check is one-sided: whatever the
   * proxy allows, the engine must allow.
   */
  serverNames: string[] | undefined;
}

function typedConfigOf(filter: { configType: { case: string | undefined; value?: unknown } }): { typeName: string; message: unknown } | undefined {
  if (filter.configType.case !== 'typedConfig') return undefined;
  const { message } = unpackAny(filter.configType.value as never);
  return { typeName: message.$typeName, message };
}

/** Compiles every RBAC filter of every chain (zero problems required) and returns the chains to compare. */
function chainsUnderTest(t: Translation): { chains: ChainUnderTest[]; skipped: string[]; compiled: number } {
  const chains: ChainUnderTest[] = [];
  const skipped: string[] = [];
  const problems: string[] = [];
  let compiled = 0;
  for (const r of t.redirects) {
    const listener = t.listeners.find((l) => l.name === r.listener);
    assert.ok(listener, `listener ${r.listener}`);
    for (const name of r.filterChains) {
      const index = listener.filterChains.findIndex((c) => c.name === name);
      const chain = listener.filterChains[index];
      if (!chain) continue;
      const filters: RbacFilter[] = [];
      let kind: 'http' | 'tcp' | undefined;
      chain.filters.forEach((f, fi) => {
        const typed = typedConfigOf(f);
        const at = `${listener.name}: filter_chains[${index}].filters[${fi}].typed_config`;
        if (!typed) return;
        if (typed.typeName === 'envoy.extensions.filters.network.rbac.v3.RBAC') {
          const c = compileNetworkRbac(typed.message as envoy.NetworkRbac, at, f.name);
          compiled++;
          if (c.ok) filters.push(c.value);
          else problems.push(...c.problems.map((p) => `${p.path}: ${p.message}`));
        } else if (typed.typeName === 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy') {
          kind = 'tcp';
        } else if (typed.typeName === 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager') {
          kind = 'http';
          const hcm = typed.message as envoy.HttpConnectionManager;
          hcm.httpFilters.forEach((hf, hi) => {
            const inner = typedConfigOf(hf as never);
            if (inner?.typeName !== 'envoy.extensions.filters.http.rbac.v3.RBAC') return;
            const c = compileHttpRbac(inner.message as envoy.HttpRbac, `${at}.http_filters[${hi}].typed_config`, hf.name);
            compiled++;
            if (c.ok) filters.push(c.value);
            else problems.push(...c.problems.map((p) => `${p.path}: ${p.message}`));
          });
        }
      });
      const match = chain.filterChainMatch;
      if (kind === undefined) {
        skipped.push(`${name}: neither HTTP nor TCP`);
        continue;
      }
      const tls = match !== undefined && (match.transportProtocol === 'tls' || match.serverNames.length > 0);
      if (tls) skipped.push(`${name}: selects on TLS/SNI, compared one-sided`);
      const serverNames = tls ? [...new Set([...match.serverNames.flatMap((n) => (n.startsWith('*.') ? [`a${n.slice(1)}`, `a.b${n.slice(1)}`] : [n])), 'other.invalid'])] : undefined;
      chains.push({ key: r.key, chain: name, kind, filters, serverNames });
    }
  }
  assert.deepEqual(problems, [], 'every RBAC filter translateNode generates compiles without problems');
  return { chains, skipped, compiled };
}

// ---- the whole request path: filter chain selection, then decideRequest or network RBAC ---------

/**
 * The node's listeners and routes compiled by proxylib/config, deciding a request the way the proxy
 * does: listener.selectFilterChain (no chain → the connection is closed), then for HTTP the HCM's
 * decideRequest (normalization, RBAC filters, route), for TCP the network RBAC filters.
 */
class Pipeline {
  readonly #listeners = new Map<string, ListenerConfig>();
  readonly #routes = new Map<string, RouteTable>();
  readonly #tlsChains = new Set<string>();
  /** Listeners that did not compile (Kafka and DNS listeners: their filters are not part of this proxy yet). */
  readonly #rejected = new Map<string, string[]>();

  constructor(t: Translation) {
    const problems: string[] = [];
    for (const l of t.listeners) {
      const c = compileListener(l);
      if (c.ok) this.#listeners.set(l.name, c.value);
      else this.#rejected.set(l.name, c.problems.map((p) => `${p.path}: ${p.message}`));
      for (const chain of l.filterChains) {
        const m = chain.filterChainMatch;
        if (m && (m.transportProtocol === 'tls' || m.serverNames.length > 0)) this.#tlsChains.add(chain.name);
      }
    }
    for (const r of t.routes) {
      const c = compileRouteConfiguration(r);
      if (c.ok) this.#routes.set(r.name, c.value);
      else problems.push(...c.problems.map((p) => `RouteConfiguration ${r.name}: ${p.path}: ${p.message}`));
    }
    assert.deepEqual(problems, [], 'proxylib/config compiles every route translateNode generates');
  }

  decide(listener: string, facts: DownstreamFacts, head: HttpRequestHead | undefined): { allowed: boolean; by: string; oneSided: boolean; matchedPath?: string } {
    const config = this.#listeners.get(listener);
    if (!config) assert.fail(`listener ${listener} of an HTTP/TCP chain did not compile: ${(this.#rejected.get(listener) ?? ['missing']).join('; ')}`);
    const connection: ConnectionFacts = {
      destinationIp: facts.destinationIp,
      destinationPort: facts.destinationPort,
      sourceIp: facts.sourceIp,
      sourcePort: facts.sourcePort,
      serverName: facts.serverName,
      transportProtocol: facts.serverName === '' ? 'raw_buffer' : 'tls',
      applicationProtocols: [],
    };
    const chain = config.selectFilterChain(connection);
    if (!chain) return { allowed: false, by: 'no filter chain (connection closed)', oneSided: false };
    const oneSided = this.#tlsChains.has(chain.name);
    for (const f of chain.networkFilters) {
      if (f.kind === 'rbac') {
        const d = f.rbac.evaluate({
          directRemoteIp: facts.sourceIp,
          directRemotePort: facts.sourcePort,
          remoteIp: facts.sourceIp,
          destinationIp: facts.destinationIp,
          destinationPort: facts.destinationPort,
          requestedServerName: facts.serverName,
        });
        if (!d.allowed) return { allowed: false, by: `${chain.name} network ${f.name} ${d.policy ?? '(no policy matched)'}`, oneSided };
      } else if (f.kind === 'http_connection_manager') {
        assert.ok(head, `${chain.name} is HTTP but a TCP connection was generated`);
        const table = f.hcm.routes.kind === 'inline' ? f.hcm.routes.table : this.#routes.get(f.hcm.routes.name);
        const d = decideRequest(f.hcm, table, head, facts);
        if (d.kind === 'forward') return { allowed: true, by: `${chain.name} forward (${d.policy ?? '-'})`, oneSided, matchedPath: d.matchedPath };
        return { allowed: false, by: `${chain.name} local reply ${d.status} ${d.reason} ${d.policy ?? ''}`, oneSided, matchedPath: d.matchedPath };
      } else {
        return { allowed: true, by: `${chain.name} ${f.kind}`, oneSided };
      }
    }
    return { allowed: true, by: chain.name, oneSided };
  }
}

// ---- requests -------------------------------------------------------------------------------

interface RequestPools {
  methods: string[];
  paths: string[];
  /** Paths that normalization changes or rejects; only sent through the whole pipeline. */
  bypassPaths?: string[];
  /** undefined: no Host / :authority at all. */
  hosts: Array<string | undefined>;
  headerSets: Array<Array<[string, string]>>;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Ports of the policies (every port and endPort, and their neighbours): where range edges are. */
function policyPorts(policies: Policy[]): number[] {
  const out = new Set<number>();
  for (const p of policies) {
    for (const rule of p.rules) {
      for (const pr of [...rule.ingress, ...rule.ingressDeny, ...rule.egress, ...rule.egressDeny]) {
        for (const tp of pr.toPorts) {
          for (const pp of tp.ports) {
            if (typeof pp.port !== 'number' || pp.port === 0) continue;
            for (const edge of [pp.port, pp.endPort ?? pp.port]) for (const d of [-1, 0, 1]) out.add(edge + d);
          }
        }
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Ports a connection on this chain can have: the chain's port, or for a range chain its edges, the
 * policies' port edges inside it and a random one — minus ports that have a chain of their own
 * (Envoy's filter chain match prefers the exact destination_port, so those never reach this chain).
 */
function portsToTry(key: RedirectKey, edges: number[], ownChains: ReadonlySet<number>, rand: () => number): number[] {
  if (key.portStart === key.portEnd) return [key.portStart];
  const span = key.portEnd - key.portStart;
  const candidates = [key.portStart, key.portStart + 1, key.portEnd - 1, key.portEnd, key.portStart + Math.floor(rand() * (span + 1)), ...edges];
  return [...new Set(candidates)].filter((p) => p >= key.portStart && p <= key.portEnd && !ownChains.has(p));
}

interface Outcome {
  /** Pipeline requests whose path normalization rejects (the proxy must answer them locally). */
  rejectedPaths: number;
  /** Decisions on TLS/SNI chains, where only "proxy allows ⇒ engine allows" is checked. */
  oneSided: number;
  chains: number;
  tcpChains: number;
  skipped: string[];
  compared: number;
  allowed: number;
  denied: number;
  mismatches: string[];
}

function sameFamily(a: string, b: string): boolean {
  return a.includes(':') === b.includes(':');
}

/**
 * Decides `perChain` generated requests (HTTP) or connections (TCP) for each chain both ways.
 * Every peer is tried on every chain at least once; the rest is random over the pools.
 */
function compare(node: Node, pools: RequestPools, perChain: number, seed: number, mode: 'rbac' | 'pipeline' = 'rbac'): Outcome {
  const { chains, skipped } = chainsUnderTest(node.translation);
  const pipeline = mode === 'pipeline' ? new Pipeline(node.translation) : undefined;
  const listenerOf = new Map(node.translation.redirects.flatMap((r) => r.filterChains.map((name) => [name, r.listener] as const)));
  const rand = seededRandom(seed);
  const out: Outcome = { rejectedPaths: 0, oneSided: 0, compared: 0, allowed: 0, denied: 0, mismatches: [], chains: chains.length, tcpChains: chains.filter((c) => c.kind === 'tcp').length, skipped };
  const endpointIps = new Map(node.endpoints.map((e) => [`${e.namespace}/${e.name}`, e.ips]));
  const edges = policyPorts(node.policies);
  for (const c of chains) {
    const singlePortChains = new Set(
      chains.filter((o) => o.key.endpoint === c.key.endpoint && o.key.direction === c.key.direction && o.key.portStart === o.key.portEnd).map((o) => o.key.portStart),
    );
    const chainPorts = portsToTry(c.key, edges, singlePortChains, rand);
    const ownIps = endpointIps.get(c.key.endpoint) ?? [];
    const peers = node.peers.filter((p) => ownIps.some((own) => sameFamily(own, p.ip)));
    const n = Math.max(perChain, peers.length);
    for (let i = 0; i < n; i++) {
      const peer = i < peers.length ? peers[i]! : pick(rand, peers);
      const own = pick(rand, ownIps.filter((ip) => sameFamily(ip, peer.ip)));
      const port = i < chainPorts.length ? chainPorts[i]! : pick(rand, chainPorts);
      const ingress = c.key.direction === 'ingress';
      const sni = c.serverNames ? pick(rand, c.serverNames) : '';
      const facts: DownstreamFacts = {
        sourceIp: ingress ? peer.ip : own,
        sourcePort: 40000 + i,
        destinationIp: ingress ? own : peer.ip,
        destinationPort: port,
        serverName: sni,
      };
      let ctx: RbacContext;
      let request: L7Request | undefined;
      let head: HttpRequestHead | undefined;
      let described: string;
      if (c.kind === 'http') {
        const method = pick(rand, pools.methods);
        const path = pipeline && pools.bypassPaths && rand() < 0.3 ? pick(rand, pools.bypassPaths) : pick(rand, pools.paths);
        const host = pick(rand, pools.hosts);
        // Sometimes two header sets at once, so repeated names get joined with ','.
        const headers = [...pick(rand, pools.headerSets), ...(rand() < 0.25 ? pick(rand, pools.headerSets) : [])];
        head = { method, target: path, authority: host ?? '', scheme: 'http', headers, version: 'HTTP/1.1' };
        ctx = rbacContextOfRequest(facts, head, path);
        // The engine judges the path the proxy matches: normalized as the translated HCM asks
        // (normalize_path, merge_slashes, escaped slashes rejected).
        const normalized = normalizeRequestPath(path, { normalizePath: true, mergeSlashes: true, escapedSlashes: 'reject' });
        request = normalized.ok ? { type: 'http', method, path: normalized.path, headers, ...(host !== undefined ? { host } : {}) } : undefined;
        described = `${method} ${path} host=${host ?? '(none)'} headers=${JSON.stringify(headers)}`;
      } else {
        ctx = {
          directRemoteIp: facts.sourceIp,
          directRemotePort: facts.sourcePort,
          remoteIp: facts.sourceIp,
          destinationIp: facts.destinationIp,
          destinationPort: port,
          requestedServerName: sni,
        };
        described = 'TCP connection';
      }
      let proxyAllows = decide(c.filters, ctx);
      let oneSided = c.serverNames !== undefined;
      if (pipeline) {
        const d = pipeline.decide(listenerOf.get(c.chain)!, facts, head);
        proxyAllows = d;
        // A TLS connection whose SNI no chain lists is closed: SNI narrowing the engine does not model.
        oneSided = oneSided || d.oneSided;
        if (c.kind === 'http' && request === undefined) {
          // Normalization rejects the path: the proxy must answer locally, whatever the rules say.
          out.rejectedPaths++;
          if (d.allowed) out.mismatches.push(`${c.chain}: ${described}: the path does not normalize, yet the proxy forwards it (${d.by})`);
          continue;
        }
        if (request?.type === 'http' && d.matchedPath !== undefined && d.matchedPath !== request.path) {
          out.mismatches.push(`${c.chain}: ${described}: RBAC matched ${JSON.stringify(d.matchedPath)}, normalization gives ${JSON.stringify(request.path)}`);
        }
      } else if (c.kind === 'http' && request === undefined) {
        continue;
      }
      const trace = traceFlow({
        policies: node.policies,
        endpoints: node.endpoints,
        from: ingress ? peer.ref : own,
        to: ingress ? own : peer.ref,
        port,
        protocol: 'TCP',
        allowLocalhost: true,
        ...(request ? { request } : {}),
      });
      const side = ingress ? trace.ingress : trace.egress;
      const engineAllows = side.verdict === 'allowed';
      out.compared++;
      if (oneSided) out.oneSided++;
      if (engineAllows) out.allowed++;
      else out.denied++;
      if (oneSided ? proxyAllows.allowed && !engineAllows : proxyAllows.allowed !== engineAllows) {
        out.mismatches.push(
          `${c.chain}: ${peer.ref} (${peer.ip}) ${ingress ? '→' : '←'} ${own}:${port} ${described}${sni ? ` sni=${sni}` : ''}: proxy ${proxyAllows.allowed ? 'allows' : 'denies'} (${proxyAllows.by}), engine ${side.verdict} (${side.reason})`,
        );
      }
    }
  }
  return out;
}

function decide(filters: RbacFilter[], ctx: RbacContext): { allowed: boolean; by: string } {
  for (const f of filters) {
    const d = f.evaluate(ctx);
    if (!d.allowed) return { allowed: false, by: `${f.name} ${d.policy ?? 'no policy matched'}` };
  }
  return { allowed: true, by: filters.map((f) => `${f.name}:${f.evaluate(ctx).policy ?? '-'}`).join(' ') };
}

function report(name: string, o: Outcome): void {
  console.log(
    `rbac-vs-engine ${name}: ${o.chains} chains (${o.tcpChains} TCP), ${o.compared} decisions compared, ${o.allowed} allowed, ${o.denied} denied, ${o.mismatches.length} mismatches; ${o.oneSided} of them on TLS/SNI chains (one-sided)${o.rejectedPaths ? `; ${o.rejectedPaths} requests with paths normalization rejects, all answered locally` : ''}`,
  );
  if (o.mismatches.length > 0) assert.fail(`${o.mismatches.length} disagreement(s) between the proxy's RBAC and the engine:\n${o.mismatches.slice(0, 30).join('\n')}`);
}

function load(docs: Doc[]): Policy[] {
  const r = loadPolicyText('differential.yaml', yamlText(...docs));
  assert.deepEqual(r.problems, [], 'the test policies load');
  return r.policies;
}

// ---- scenarios ---------------------------------------------------------------------------------

const ENDPOINTS: EndpointSpec[] = [
  { name: 'api', namespace: 'default', labels: { app: 'api' }, ips: ['10.244.1.10', 'fd00:244::10'], namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  { name: 'web', namespace: 'default', labels: { app: 'web' }, ips: ['10.244.1.11', 'fd00:244::11'], namedPorts: [] },
  { name: 'db', namespace: 'default', labels: { app: 'db' }, ips: ['10.244.1.12'], namedPorts: [] },
  { name: 'batch', namespace: 'jobs', labels: { app: 'batch' }, ips: ['10.244.1.13'], namedPorts: [] },
  { name: 'xwing', namespace: 'alliance', labels: { app: 'xwing' }, ips: ['10.244.1.14', 'fd00:244::14'], namedPorts: [] },
  { name: 'monitor', namespace: 'default', labels: { app: 'monitor', team: 'sre' }, ips: ['10.244.1.15'], namedPorts: [] },
];

const WORLD = ['203.0.113.9', '198.51.100.77', '2001:db8:ffff::1', '8.8.8.8'];

const POOLS: RequestPools = {
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'get'],
  paths: [
    '/',
    '/v1/items',
    '/v1/items/',
    '/v1/items/42',
    '/v1/items/abc',
    '/v1/items?x=1',
    '/v1/itemsX',
    '/public/a',
    '/public/',
    '/public',
    '/public/a?b=c',
    '/healthz',
    '/healthz?full=1',
    '/metrics',
    '/admin',
    '/admin/users',
    '/ext/a',
    '/ext',
    '/v1/status',
    '/v1/status/x',
    '/v1/request-landing',
  ],
  bypassPaths: [
    '/public/../admin',
    '/public/../v1/items',
    '//admin',
    '//v1//items',
    '/./v1/items',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/v1/items/7',
    '/v1/items/%34%32',
    '/%70ublic/a',
    '/public/a%2Fb',
    '/public/a%5cb',
    '/v1/items/../../v1/items?x=/..',
    '/healthz/.',
    '/public/./a',
    '/PUBLIC/a',
    '/public#frag',
    '*',
  ],
  hosts: ['api.example.com', 'api.example.com:8080', 'API.example.com', 'other.example', 'ext.example.org', undefined],
  headerSets: [
    [],
    [['x-request-id', 'r-1']],
    [['x-request-id', '']],
    [['x-token', 'secret123']],
    [['x-token', 'wrong']],
    [['x-batch', 'nightly']],
    [['x-batch', 'daily']],
    [['x-version', 'v2']],
    [['x-version', 'v2'], ['x-request-id', 'r-2']],
    [['authorization', 'Bearer abc']],
    // Repeated names: the value matched is all of them joined with ','.
    [['x-token', 'wrong'], ['x-token', 'secret123']],
    [['x-version', 'v2'], ['x-version', 'v2']],
    [['x-batch', 'nightly'], ['x-batch', 'nightly']],
  ],
};

const APP_POLICIES: Doc[] = [
  cnp('api-l7', {
    endpointSelector: sel({ app: 'api' }),
    ingress: [
      {
        fromEndpoints: [sel({ app: 'web' })],
        toPorts: [
          ports('8080/TCP', {
            http: [
              { method: 'GET', path: '/v1/items(/.*)?' },
              { method: 'POST', path: '/v1/items', headers: ['X-Request-Id'] },
              { method: 'PUT|PATCH', path: '/v1/items/[0-9]+', headerMatches: [{ name: 'x-token', value: 'secret123' }] },
              { host: 'api\\.example\\.com(:8080)?', path: '/public/.*' },
            ],
          }),
        ],
      },
      { fromEndpoints: [selIn('jobs', { app: 'batch' })], toPorts: [ports('8080/TCP', { http: [{ method: 'GET', headers: ['X-Batch: nightly'] }] })] },
      { fromCIDRSet: [{ cidr: '192.0.2.0/24', except: ['192.0.2.128/25'] }], toPorts: [ports('8080/TCP', { http: [{ method: 'GET', path: '/healthz' }] })] },
      { fromCIDR: ['2001:db8::/32'], toPorts: [ports('8080/TCP', { http: [{ path: '/public/.*' }] })] },
      { fromEntities: ['host'], toPorts: [ports('8080/TCP')] },
    ],
    ingressDeny: [{ fromEndpoints: [selIn('alliance')] }, { fromCIDR: ['192.0.2.7/32'], toPorts: [ports('8080/TCP')] }],
  }),
  cnp('api-metrics', {
    endpointSelector: sel({ app: 'api' }),
    ingress: [
      { fromEndpoints: [sel({ team: 'sre' })], toPorts: [ports('9000-9100/TCP', { http: [{ method: 'GET', path: '/metrics' }, { headerMatches: [{ name: 'x-version', value: 'v2' }] }] })] },
      { fromEndpoints: [sel({})], toPorts: [ports('9050/TCP', { http: [{ method: 'HEAD' }] })] },
    ],
    ingressDeny: [{ fromEndpoints: [sel({ app: 'web' })], toPorts: [ports('9099/TCP')] }, { fromEndpoints: [sel({ team: 'sre' })], toPorts: [ports('9020-9030/TCP')] }],
  }),
  cnp('web-egress', {
    endpointSelector: sel({ app: 'web' }),
    egress: [
      { toEndpoints: [sel({ app: 'api' })], toPorts: [ports('8080/TCP', { http: [{ method: 'GET' }, { method: 'POST', path: '/v1/items' }] })] },
      { toCIDR: ['203.0.113.0/24'], toPorts: [ports('80/TCP', { http: [{ path: '/ext/.*', host: 'ext\\.example\\.org' }] })] },
      { toEndpoints: [sel({ app: 'db' })], toPorts: [ports('5432/TCP')] },
    ],
    egressDeny: [{ toCIDR: ['203.0.113.66/32'], toPorts: [ports('80/TCP')] }],
  }),
  cnp('web-visibility', {
    endpointSelector: sel({ app: 'web' }),
    enableDefaultDeny: { ingress: false },
    ingress: [{ fromEndpoints: [sel({ app: 'monitor' })], toPorts: [ports('8081/TCP', { http: [{ method: 'GET', path: '/status' }] })] }],
  }),
];

test('HTTP RBAC from translated policies decides like the engine: L7 rules, headers, headerMatches, hosts, CIDR and entity peers, deny rules, port ranges, IPv6', () => {
  const node = buildNode(load(APP_POLICIES), ENDPOINTS, [...WORLD, '203.0.113.66', '192.0.2.7', '192.0.2.200']);
  const outcome = compare(node, POOLS, 2000, 42);
  report('app policies', outcome);
  assert.equal(outcome.chains, 6, 'api 8080, 9000-9100 and 9050 ingress; web 80 and 8080 egress; web 8081 ingress');
  assert.ok(outcome.compared >= 10000, `only ${outcome.compared} decisions`);
  assert.ok(outcome.allowed >= outcome.compared / 50, `too few allowed (${outcome.allowed}): the comparison would be vacuous`);
  assert.ok(outcome.denied >= outcome.compared / 50, `too few denied (${outcome.denied})`);
});

// ---- docs/examples and the shared corpus ---------------------------------------------------------

/** Sample strings for an RE2 rule field: the pattern with its common regex shapes made concrete. */
function samplesOfRegex(source: string): string[] {
  const concrete = (s: string) =>
    s
      .replace(/\(\/\.\*\)\?/g, '')
      .replace(/\.\*/g, 'x')
      .replace(/\.\+/g, 'x')
      .replace(/\[0-9\][+*]?/g, '1')
      .replace(/\\d[+*]?/g, '1')
      .replace(/\[[^\]]*\][+*]?/g, 'a')
      .replace(/\\(.)/g, '$1')
      .replace(/[()^$?]/g, '');
  const out = new Set<string>([concrete(source)]);
  for (const alt of source.split('|')) out.add(concrete(alt));
  return [...out];
}

/** Pools from the policies' own HTTP rules, on top of the generic ones. */
function poolsOf(policies: Policy[], base: RequestPools): RequestPools {
  const methods = new Set(base.methods);
  const paths = new Set(base.paths);
  const hosts = new Set(base.hosts);
  const headerSets = [...base.headerSets];
  for (const p of policies) {
    for (const rule of p.rules) {
      for (const pr of [...rule.ingress, ...rule.egress]) {
        for (const tp of pr.toPorts) {
          if (tp.rules?.type !== 'http') continue;
          for (const h of tp.rules.http) {
            if (h.method) for (const m of samplesOfRegex(h.method)) methods.add(m);
            if (h.path) for (const x of samplesOfRegex(h.path)) for (const q of ['', '?q=1']) paths.add(`${x}${q}`);
            if (h.host) for (const x of samplesOfRegex(h.host)) hosts.add(x);
            for (const hd of h.headers) {
              headerSets.push([[hd.name.toLowerCase(), hd.value ?? 'x']]);
              headerSets.push([[hd.name.toLowerCase(), `${hd.value ?? ''}-other`]]);
            }
            for (const hm of h.headerMatches) if (hm.value) headerSets.push([[hm.name.toLowerCase(), hm.value]]);
          }
        }
      }
    }
  }
  return { methods: [...methods], paths: [...paths], hosts: [...hosts], headerSets, ...(base.bypassPaths ? { bypassPaths: base.bypassPaths } : {}) };
}

test('the whole decision path (filter chain selection, decideRequest, network RBAC) agrees with the engine on the app policies', () => {
  const node = buildNode(load(APP_POLICIES), ENDPOINTS, [...WORLD, '203.0.113.66', '192.0.2.7', '192.0.2.200']);
  const outcome = compare(node, POOLS, 1000, 4242, 'pipeline');
  report('app policies through the pipeline', outcome);
  assert.ok(outcome.allowed >= outcome.compared / 50 && outcome.denied >= outcome.compared / 50);
});

test('HTTP RBAC decides like the engine on the docs/examples policies and endpoints (the Death Star demo)', () => {
  const { policies, endpoints } = docsExamples();
  const node = buildNode(policies, endpoints, WORLD);
  const pools = poolsOf(policies, { ...POOLS, paths: [...POOLS.paths, '/v1/exhaust-port', '/v1/status/landing-bay', '/v1/statusx'] });
  const outcome = compare(node, pools, 1500, 7);
  report('docs/examples', outcome);
  report('docs/examples through the pipeline', compare(node, pools, 500, 8, 'pipeline'));
  assert.ok(outcome.chains >= 1 && outcome.allowed > 0 && outcome.denied > 0, 'the demo has an HTTP chain with allowed and denied requests');
});

test('HTTP and network RBAC, alone and through the whole decision path, decide like the engine for every policy of the shared corpus that yields a comparable chain', () => {
  const started = Date.now();
  const total: Outcome = { rejectedPaths: 0, oneSided: 0, chains: 0, tcpChains: 0, skipped: [], compared: 0, allowed: 0, denied: 0, mismatches: [] };
  let inputs = 0;
  let withChains = 0;
  for (const [i, c] of loadableCorpusInputs().entries()) {
    inputs++;
    let node: Node;
    try {
      node = buildNode(c.policies, corpusEndpoints(c.policies, { onePerIdentity: true }), WORLD);
    } catch (err) {
      // translate-corpus.test.ts owns "every corpus policy translates"; here we only compare what does.
      total.skipped.push(`${c.key}: does not translate (${(err as Error).message.slice(0, 80)})`);
      continue;
    }
    const pools = poolsOf(c.policies, POOLS);
    const rbacOnly = compare(node, pools, 40, 1000 + i);
    const whole = compare(node, pools, 20, 5000 + i, 'pipeline');
    const o: Outcome = {
      ...rbacOnly,
      compared: rbacOnly.compared + whole.compared,
      rejectedPaths: rbacOnly.rejectedPaths + whole.rejectedPaths,
      oneSided: rbacOnly.oneSided + whole.oneSided,
      allowed: rbacOnly.allowed + whole.allowed,
      denied: rbacOnly.denied + whole.denied,
      mismatches: [...rbacOnly.mismatches, ...whole.mismatches.map((m) => `(pipeline) ${m}`)],
    };
    if (o.chains > 0) withChains++;
    total.chains += o.chains;
    total.tcpChains += o.tcpChains;
    total.compared += o.compared;
    total.rejectedPaths += o.rejectedPaths;
    total.oneSided += o.oneSided;
    total.allowed += o.allowed;
    total.denied += o.denied;
    total.skipped.push(...o.skipped);
    total.mismatches.push(...o.mismatches.map((m) => `${c.key}: ${m}`));
  }
  const untranslated = total.skipped.filter((s) => s.includes('does not translate')).length;
  console.log(`rbac-vs-engine corpus: ${inputs} inputs, ${withChains} with comparable chains, ${untranslated} not translatable, ${Math.round((Date.now() - started) / 1000)} s`);
  report('corpus', total);
  assert.ok(withChains >= 30, `only ${withChains} corpus inputs had a chain to compare`);
  assert.ok(total.allowed > 0 && total.denied > 0);
});

// ---- randomly generated policies -----------------------------------------------------------------

function randomPolicies(rand: () => number, index: number): Doc[] {
  const apps = ['api', 'web', 'db', 'monitor'];
  const peer = (): Doc => {
    const r = rand();
    if (r < 0.3) return { fromEndpoints: [sel({ app: pick(rand, [...apps, 'xwing', 'batch']) })] };
    if (r < 0.4) return { fromEndpoints: [selIn(pick(rand, ['jobs', 'alliance', 'default']))] };
    if (r < 0.5) return { fromEndpoints: [sel({})] };
    if (r < 0.6) return { fromCIDR: [pick(rand, ['192.0.2.0/24', '203.0.113.0/25', '2001:db8::/32', '10.244.1.0/28'])] };
    if (r < 0.7) return { fromCIDRSet: [{ cidr: '192.0.2.0/24', except: [pick(rand, ['192.0.2.128/25', '192.0.2.7/32'])] }] };
    if (r < 0.85) return { fromEntities: [pick(rand, ['world', 'host', 'cluster', 'all'])] };
    return {};
  };
  const httpRule = (): Doc => {
    const rule: Doc = {};
    if (rand() < 0.6) rule.method = pick(rand, ['GET', 'POST', 'GET|HEAD', 'PUT|PATCH', 'DELETE']);
    if (rand() < 0.6) rule.path = pick(rand, ['/v1/items(/.*)?', '/v1/items', '/public/.*', '/healthz', '/v1/items/[0-9]+', '/admin.*']);
    if (rand() < 0.25) rule.host = pick(rand, ['api\\.example\\.com', 'api\\.example\\.com(:8080)?', '.*\\.example\\.org']);
    if (rand() < 0.3) rule.headers = [pick(rand, ['X-Request-Id', 'X-Batch: nightly', 'x-version v2', 'Authorization'])];
    if (rand() < 0.25) rule.headerMatches = [pick(rand, [{ name: 'x-token', value: 'secret123' }, { name: 'X-Version', value: 'v2' }, { name: 'x-batch' }])];
    return rule;
  };
  const portRule = (): Doc => {
    const spec = pick(rand, ['80/TCP', '8080/TCP', '9000-9010/TCP', '8080/ANY']);
    // L7 rules need TCP (the loader refuses them on ANY).
    const n = spec.endsWith('/ANY') ? 0 : Math.floor(rand() * 3);
    return n === 0 ? ports(spec) : ports(spec, { http: Array.from({ length: n }, httpRule) });
  };
  const ingress = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({ ...peer(), toPorts: [portRule()] }));
  const spec: Doc = { endpointSelector: sel({ app: pick(rand, apps) }), ingress };
  if (rand() < 0.5) spec.ingressDeny = [{ ...peer(), ...(rand() < 0.5 ? { toPorts: [ports(pick(rand, ['8080/TCP', '9005/TCP', '9000-9003/TCP']))] } : {}) }];
  if (rand() < 0.15) spec.enableDefaultDeny = { ingress: false };
  const docs = [cnp(`random-${index}`, spec)];
  if (rand() < 0.5) {
    const to = (): Doc => {
      const p = peer();
      const out: Doc = {};
      for (const [k, v] of Object.entries(p)) out[k.replace(/^from/, 'to')] = v;
      return out;
    };
    const egress = Array.from({ length: 1 + Math.floor(rand() * 2) }, () => ({ ...to(), toPorts: [portRule()] }));
    docs.push(cnp(`random-egress-${index}`, { endpointSelector: sel({ app: pick(rand, apps) }), egress, ...(rand() < 0.4 ? { egressDeny: [{ ...to() }] } : {}) }));
  }
  return docs;
}

test('HTTP RBAC and the whole decision path decide like the engine on randomly generated policies (60 policy sets)', () => {
  const rand = seededRandom(20261121);
  const total: Outcome = { rejectedPaths: 0, oneSided: 0, chains: 0, tcpChains: 0, skipped: [], compared: 0, allowed: 0, denied: 0, mismatches: [] };
  let sets = 0;
  let unusable = 0;
  const reasons: string[] = [];
  for (let i = 0; i < 60; i++) {
    const docs = randomPolicies(rand, i);
    const loaded = loadPolicyText(`random-${i}.yaml`, yamlText(...docs));
    if (loaded.problems.length > 0) {
      unusable++;
      reasons.push(`set ${i}: ${loaded.problems[0]!.code} ${loaded.problems[0]!.message}`);
      continue;
    }
    let node: Node;
    try {
      node = buildNode(loaded.policies, ENDPOINTS, [...WORLD, '192.0.2.7', '192.0.2.200']);
    } catch (err) {
      unusable++;
      reasons.push(`set ${i}: ${(err as Error).message.slice(0, 200)}`);
      continue;
    }
    sets++;
    for (const o of [compare(node, POOLS, 150, 100 + i), compare(node, POOLS, 80, 200 + i, 'pipeline')]) {
      total.chains += o.chains;
      total.compared += o.compared;
      total.allowed += o.allowed;
      total.denied += o.denied;
      total.oneSided += o.oneSided;
      total.rejectedPaths += o.rejectedPaths;
      total.mismatches.push(...o.mismatches.map((m) => `set ${i}: ${m}\n    policies: ${JSON.stringify(docs.map((d) => d.spec))}`));
    }
  }
  console.log(`rbac-vs-engine random: ${sets} policy sets compared, ${unusable} generated sets unusable (load or translation refused)${reasons.length ? `:\n  ${reasons.join('\n  ')}` : ''}`);
  report('random policies', total);
  assert.ok(sets >= 50, `only ${sets} usable random policy sets`);
  assert.ok(total.allowed > 1000 && total.denied > 1000, 'both outcomes well represented');
});
