import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityAllocator, LabelSet, RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';
import type { AgentServices } from '../daemon/index.js';
import type { XdsPublisherStatus } from '../xds-publish/index.js';
import type { ProxyInfo } from '../proxy-supervisor/index.js';
import { agentStatus, bpfPolicyOf, inspectRoutes, listIdentities, renderBpfPolicy, renderEndpoints, renderIdentities, renderStatus, renderXdsStatus } from './index.js';
import type { BpfPolicySources, InspectServices, StatusSources } from './index.js';

// The daemon hands its services to inspectRoutes: they must keep fitting the narrow interface.
const fits: (s: AgentServices) => InspectServices = (s) => s;
void fits;

const POLICY = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: deathstar-l7, namespace: empire }
spec:
  endpointSelector: { matchLabels: { app: deathstar } }
  ingress:
    - fromEndpoints: [{ matchLabels: { org: empire } }]
      toPorts:
        - ports: [{ port: "80", protocol: TCP }]
          rules: { http: [{ method: POST, path: /v1/request-landing }] }
    - fromEndpoints: [{ matchLabels: { org: empire } }]
      toPorts: [{ ports: [{ port: "8000", endPort: 8003, protocol: TCP }] }]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: no-xwing, namespace: empire }
spec:
  endpointSelector: { matchLabels: { app: deathstar } }
  ingressDeny:
    - fromEndpoints: [{ matchLabels: { org: alliance, k8s:io.kubernetes.pod.namespace: alliance } }]
  ingress:
    - fromEndpoints: [{ matchLabels: { org: alliance, k8s:io.kubernetes.pod.namespace: alliance } }]
      toPorts: [{ ports: [{ port: "443", protocol: TCP }] }]
`;

/** A small world: deathstar (empire/deathstar), tiefighter (org=empire), xwing (org=alliance). */
async function world(policyText = POLICY) {
  const loaded = loadPolicyText('policies.yaml', policyText);
  assert.deepEqual(loaded.problems, []);
  const repository = new Repository();
  const selectorCache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
  const { allocator } = await IdentityAllocator.open();
  const pods = [
    { name: 'deathstar', namespace: 'empire', labels: { app: 'deathstar', org: 'empire' }, ip: '10.244.0.10' },
    { name: 'tiefighter', namespace: 'empire', labels: { app: 'tiefighter', org: 'empire' }, ip: '10.244.0.11' },
    { name: 'xwing', namespace: 'alliance', labels: { app: 'xwing', org: 'alliance' }, ip: '10.244.0.12' },
  ];
  const endpoints = pods.map((p, i) => {
    const ep = repository.upsertEndpoint({ name: p.name, namespace: p.namespace, labels: p.labels, ips: [p.ip], namedPorts: [] });
    const { id } = allocator.allocate(ep.identityLabels);
    selectorCache.addIdentity(id, ep.identityLabels);
    return { id: `${p.namespace}/${p.name}`, endpointId: i + 1, identity: id, ip: p.ip, state: 'running' as const };
  });
  for (const p of loaded.policies) repository.upsertPolicy(p);
  const byName = (n: string) => endpoints.find((e) => e.id.endsWith(`/${n}`))!;
  const bpf: BpfPolicySources = {
    endpoint: (id) => endpoints.find((e) => e.id === id),
    endpointPolicy: (id) => repository.endpointPolicy(id),
    selectorCache,
    labelsOf: (id) => selectorCache.labelsOf(id),
    proxyPortOf: (l7, direction) => (l7 === 'http' ? (direction === 'egress' ? 15001 : 15002) : undefined),
  };
  return { repository, selectorCache, allocator, endpoints, byName, bpf };
}

describe('bpf policy get', () => {
  test('decodes the trie entries of a pod: peers with labels, ports, verdicts and the policies they come from', async () => {
    const w = await world();
    const tie = w.byName('tiefighter');
    const xwing = w.byName('xwing');
    const r = bpfPolicyOf(w.bpf, 'empire/deathstar');
    assert.equal(r.pod, 'empire/deathstar');
    assert.equal(r.source, 'computed');
    assert.equal(r.ingressEnforced, true);
    assert.equal(r.egressEnforced, false);
    const rows = r.entries.map((e) => [e.direction, e.peerIdentity, e.protocol, e.ports, e.verdict, e.proxyPort, e.policies.join(',')]);
    // The empire peers (deathstar itself and tiefighter) get the redirect on 80 and the allowed range.
    assert.deepEqual(
      rows.filter((r) => r[1] === tie.identity),
      [
        ['ingress', tie.identity, 'TCP', '80', 'redirect', 15002, 'empire/deathstar-l7'],
        ['ingress', tie.identity, 'TCP', '8000-8003', 'allow', undefined, 'empire/deathstar-l7'],
      ],
    );
    // xwing: denied on every port of every protocol, even 443 which an allow names: deny wins.
    const xw = rows.filter((r) => r[1] === xwing.identity);
    assert.ok(xw.length >= 3, JSON.stringify(xw));
    for (const row of xw) assert.equal(row[4], 'deny', JSON.stringify(row));
    assert.ok(xw.some((row) => row[3] === '*' && row[2] === 'TCP' && String(row[6]).includes('empire/no-xwing')));
    assert.ok(xw.some((row) => row[3] === '443' && row[6] === 'empire/no-xwing'));
    const peer = r.entries.find((e) => e.peerIdentity === tie.identity)!;
    assert.ok(peer.peerLabels.includes('k8s:app=tiefighter'), peer.peerLabels.join(','));

    const text = renderBpfPolicy(r);
    assert.match(text, /^pod empire\/deathstar {2}endpoint 1 {2}identity \d+$/m);
    assert.match(text, /^source: computed: the agent's translation/m);
    assert.match(text, /ingress: default deny/);
    assert.match(text, /^DIRECTION +PEER +PEER LABELS +PROTO +PORTS +VERDICT +POLICY$/m);
    assert.match(text, new RegExp(`^ingress +${tie.identity} +app=tiefighter,org=empire,ns=empire +TCP +80 +redirect:15002 +empire/deathstar-l7$`, 'm'));
  });

  test('names the rules whose peers select no identity yet, such as an unresolved toFQDNs name', async () => {
    const w = await world(`${POLICY}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: tie-egress, namespace: empire }
spec:
  endpointSelector: { matchLabels: { app: tiefighter } }
  egress:
    - toFQDNs: [{ matchName: api.example.com }]
    - toEndpoints: [{ matchLabels: { app: db } }]
`);
    const r = bpfPolicyOf(w.bpf, 'empire/tiefighter');
    assert.equal(r.egressEnforced, true);
    assert.deepEqual(r.entries.filter((e) => e.direction === 'egress'), []);
    assert.deepEqual(r.unmatched, [
      { direction: 'egress', policy: 'empire/tie-egress', peers: ['fqdn:api.example.com'] },
      { direction: 'egress', policy: 'empire/tie-egress', peers: ['any:app=db & k8s:io.kubernetes.pod.namespace=empire'] },
    ]);
    assert.match(renderBpfPolicy(r), /^no peer identity yet \(egress, empire\/tie-egress\): fqdn:api\.example\.com$/m);
  });

  test('leaves no selector registered that was not registered before', async () => {
    const w = await world();
    let registered = 0;
    let unregistered = 0;
    const counting: BpfPolicySources = {
      ...w.bpf,
      selectorCache: {
        get: () => undefined,
        register: (s) => (registered++, w.selectorCache.register(s)),
        unregister: (s) => (unregistered++, w.selectorCache.unregister(s)),
      },
    };
    bpfPolicyOf(counting, 'empire/deathstar');
    assert.ok(registered > 0);
    assert.equal(unregistered, registered);
  });

  test('shows a pod no policy selects as not enforced, with no entries', async () => {
    const w = await world();
    const r = bpfPolicyOf(w.bpf, 'alliance/xwing');
    assert.equal(r.ingressEnforced, false);
    assert.equal(r.egressEnforced, false);
    assert.deepEqual(r.entries, []);
    assert.match(renderBpfPolicy(r), /\(no entries: no policy selects this pod\)/);
  });

  test('reads the live trie when the datapath offers a reader, and says so', async () => {
    const w = await world();
    const computed = bpfPolicyOf(w.bpf, 'empire/deathstar');
    const r = bpfPolicyOf({ ...w.bpf, readPolicy: () => [] }, 'empire/deathstar');
    assert.equal(r.source, 'kernel');
    assert.deepEqual(r.entries, []);
    assert.ok(computed.entries.length > 0);
  });

  test('refuses an unknown pod and a malformed reference with coded errors', async () => {
    const w = await world();
    assert.throws(() => bpfPolicyOf(w.bpf, 'empire/nope'), { code: 'MESHD_ERR_INSPECT_POD_NOT_FOUND' });
    assert.throws(() => bpfPolicyOf(w.bpf, 'a/b/c'), { code: 'MESHD_ERR_INSPECT_BAD_POD_REF' });
    assert.throws(() => bpfPolicyOf(w.bpf, 'deathstar'), { code: 'MESHD_ERR_INSPECT_POD_NOT_FOUND', message: /default\/deathstar/ });
  });
});

describe('identity list', () => {
  test('lists reserved, pod and local identities with labels, refcount, scope and users', async () => {
    const w = await world();
    const fqdnLabels = LabelSet.parse(['fqdn:api.example.com', 'cidr:192.0.2.7/32']);
    const local = w.allocator.allocate(fqdnLabels).id;
    w.selectorCache.addIdentity(local, fqdnLabels);
    const rows = listIdentities({
      endpoints: () => w.endpoints,
      ipcache: () => [...w.endpoints.map((e) => [`${e.ip}/32`, e.identity] as [string, number]), ['192.0.2.7/32', local], ['10.244.0.1/32', 1]],
      fqdnIdentities: () => [local],
      labelsOf: (id) => w.selectorCache.labelsOf(id),
      refCount: (id) => w.allocator.refCount(id),
    });
    const host = rows.find((r) => r.id === 1)!;
    assert.deepEqual([host.scope, host.refcount, host.labels, host.prefixes], ['reserved', null, ['reserved:host'], ['10.244.0.1/32']]);
    assert.equal(rows.filter((r) => r.scope === 'reserved').length, RESERVED_IDENTITIES.length);
    const tie = rows.find((r) => r.endpoints.includes('empire/tiefighter'))!;
    assert.equal(tie.scope, 'global');
    assert.equal(tie.refcount, 1);
    assert.ok(tie.labels.includes('k8s:org=empire'));
    const fq = rows.find((r) => r.id === local)!;
    assert.deepEqual([fq.scope, fq.refcount, fq.prefixes], ['local', 1, ['192.0.2.7/32']]);
    assert.deepEqual(rows.map((r) => r.id), [...rows.map((r) => r.id)].sort((a, b) => a - b));

    const text = renderIdentities(rows);
    assert.match(text, /^ID +SCOPE +REFS +LABELS +USED BY$/m);
    assert.match(text, /^1 +reserved +- +reserved:host +10\.244\.0\.1\/32$/m);
    assert.match(text, new RegExp(`^${local} +local +1 +cidr:192\\.0\\.2\\.7/32,fqdn:api\\.example\\.com +192\\.0\\.2\\.7/32$`, 'm'));
  });
});

const XDS: XdsPublisherStatus = {
  socket: '/var/lib/meshd/xds.sock',
  version: 7,
  lastPushAt: '2026-11-21T16:00:00.000Z',
  lastPushDurationMs: 1.25,
  proxies: [
    {
      nodeId: 'node-a',
      target: 'builtin',
      connected: true,
      streams: [{ id: 1, peer: 'unix', openedAt: '2026-11-21T15:59:00.000Z', variant: 'delta', userAgent: 'meshd' }],
      snapshotVersion: '7',
      inSync: true,
      types: [
        { typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener', sentVersion: '7', ackedVersion: '7', ackedAt: '2026-11-21T16:00:00.010Z' },
        {
          typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
          sentVersion: '7',
          ackedVersion: '7',
          ackedAt: '2026-11-21T16:00:00.011Z',
          lastNack: { version: '5', message: 'cluster x: unsupported field\n  lb_policy', at: '2026-11-21T15:59:30.000Z' },
        },
      ],
      nacks: 1,
    },
  ],
};

const PROXY: ProxyInfo = { mode: 'builtin', nodeId: 'node-a', pid: 4242, startTime: 1, adopted: true, alive: true, restarts: 0, logFile: '/var/lib/meshd/proxy.log', command: ['meshd', 'proxy'] };

function statusSources(over: Partial<StatusSources> = {}): StatusSources {
  return {
    version: '0.8.0',
    pid: 100,
    startedAt: new Date('2026-11-21T15:00:00.000Z'),
    options: { stateDir: '/var/lib/meshd', pinRoot: '/sys/fs/bpf/meshd', nodeName: 'node-a', nodePrefix: 'meshd-', proxy: 'builtin', policyAuditMode: false },
    mapStats: () => [
      { name: 'meshd_ipcache_v1', id: 11, type: 'lpm_trie', maxEntries: 524288, entries: 12 },
      { name: 'meshd_events_v1', id: 12, type: 'ringbuf', maxEntries: 1048576, entries: null },
    ],
    proxies: () => [PROXY],
    xds: () => XDS,
    endpoints: () => [{ state: 'running' }, { state: 'exited' }],
    policies: () => [{ auditMode: true }, { auditMode: false }],
    identities: () => 15,
    fqdn: () => ({ names: 2, ips: 3, zombies: 0 }),
    flows: () => ({ capacity: 16384, stored: 4096, added: 5000, followerLost: 0, followers: 1 }),
    reconciler: () => ({ runs: 9, failures: 0, lastError: undefined, lastRunAt: new Date('2026-11-21T16:00:00.000Z') }),
    ...over,
  };
}

describe('status', () => {
  test('sums up every component with its health, and renders an aligned table', () => {
    const s = agentStatus(statusSources(), new Date('2026-11-21T16:01:02.000Z'));
    assert.equal(s.health, 'ok');
    assert.equal(s.uptimeSeconds, 3662);
    assert.equal(s.proxies[0]!.ackedVersion, '7');
    assert.deepEqual(s.endpoints, { total: 2, running: 1 });
    assert.deepEqual(s.policies, { total: 2, audit: 1 });
    assert.deepEqual(s.xds, { socket: XDS.socket, version: 7, clients: 1, lastPushAt: XDS.lastPushAt, nacks: 1 });
    const text = renderStatus(s);
    assert.match(text, /^meshd agent 0\.8\.0 {2}pid 100 {2}up 1h 01m 02s \(since 2026-11-21T15:00:00\.000Z\)$/m);
    assert.match(text, /^health: ok$/m);
    assert.match(text, /^COMPONENT +HEALTH +DETAILS$/m);
    assert.match(text, /^datapath +ok +2 maps pinned; ipcache 12\/524288$/m);
    assert.match(text, /^proxy \(builtin\) +ok +pid 4242 in sync; ACKed version 7 of 7; adopted$/m);
    assert.match(text, /^flows +ok +4096\/16384 \(25%\), 5000 seen, 1 following$/m);
    assert.match(text, /^policies +ok +2 \(1 in audit mode\)$/m);
    // Aligned: every row's HEALTH starts in the same column.
    const lines = text.split('\n').filter((l) => /^(COMPONENT|datapath|proxy|xds|flows) /.test(l));
    const col = lines[0]!.indexOf('HEALTH');
    for (const l of lines) assert.match(l.slice(col), /^(HEALTH|ok|degraded|down|off)\b/, l);
  });

  test('says degraded when the proxy is dead or a map is nearly full', () => {
    const dead = agentStatus(statusSources({ proxies: () => [{ ...PROXY, alive: false }] }));
    assert.equal(dead.health, 'degraded');
    assert.equal(dead.components.find((c) => c.name.startsWith('proxy'))!.health, 'down');
    const full = agentStatus(statusSources({ mapStats: () => [{ name: 'meshd_policy_v1', maxEntries: 100, entries: 95 }] }));
    assert.equal(full.components.find((c) => c.name === 'datapath')!.health, 'degraded');
    const noProxy = agentStatus(statusSources({ proxies: () => [] }));
    assert.equal(noProxy.components.find((c) => c.name === 'proxy')!.health, 'off');
    assert.equal(noProxy.health, 'ok');
  });

  test('shows the cluster in cluster mode, degraded while etcd is unreachable, and nothing on a single node', () => {
    const view = { etcd: ['http://192.168.250.1:2379'], prefix: 'meshd', connected: true, leaseId: '1', leaseGeneration: 1, revision: 42, nodes: [{ name: 'n1', nodeIp: '192.168.250.11', podCidrs: ['10.244.1.0/24'] }], identities: 3, remotePods: 4, policies: 1 };
    const up = agentStatus(statusSources({ cluster: () => view }));
    const component = up.components.find((c) => c.name === 'cluster')!;
    assert.equal(component.health, 'ok');
    assert.match(component.summary, /1 nodes, revision 42, 3 identities, 4 remote pods/);
    const down = agentStatus(statusSources({ cluster: () => ({ ...view, connected: false }) }));
    assert.equal(down.components.find((c) => c.name === 'cluster')!.health, 'degraded');
    assert.equal(down.health, 'degraded');
    assert.equal(agentStatus(statusSources()).components.find((c) => c.name === 'cluster'), undefined);
  });
});

describe('xds status', () => {
  test('shows each proxy node, when it connected, versions ACKed per type and the last NACK', () => {
    const text = renderXdsStatus(XDS);
    assert.match(text, /^xDS server \/var\/lib\/meshd\/xds\.sock {2}snapshot version 7/m);
    assert.match(text, /^NODE +TARGET +CONNECTED SINCE +STREAMS +SNAPSHOT +IN SYNC +NACKS$/m);
    assert.match(text, /^node-a +builtin +2026-11-21T15:59:00\.000Z +1 +7 +yes +1$/m);
    assert.match(text, /^ {2}Listener +7 +7 +2026-11-21T16:00:00\.010Z +-$/m);
    assert.match(text, /^ {2}Cluster +7 +7 +\S+ +version 5 at 2026-11-21T15:59:30\.000Z: cluster x: unsupported field lb_policy$/m);
    assert.doesNotMatch(text, / +$/m);
  });
});

describe('endpoint list', () => {
  test('renders endpoints sorted by id with enforcement, audit and labels', () => {
    const text = renderEndpoints([
      { id: 'empire/tiefighter', endpointId: 2, identity: 257, ipv4: '10.244.0.11', ipv6: 'fd44:244::b', labels: { org: 'empire', app: 'tiefighter' }, state: 'running', policyEnforcement: { ingress: false, egress: true }, auditMode: false },
      { id: 'empire/deathstar', endpointId: 1, identity: 256, ipv4: '10.244.0.10', ipv6: 'fd44:244::a', labels: { app: 'deathstar' }, state: 'exited', policyEnforcement: { ingress: true, egress: false }, auditMode: true },
    ]);
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0]!, /^ENDPOINT +POD +IDENTITY +IPV4 +IPV6 +INGRESS +EGRESS +AUDIT +STATE +LABELS$/);
    assert.match(lines[1]!, /^1 +empire\/deathstar +256 +10\.244\.0\.10 +fd44:244::a +enforced +- +yes +exited +app=deathstar$/);
    assert.match(lines[2]!, /^2 +empire\/tiefighter +257 +10\.244\.0\.11 +fd44:244::b +- +enforced +- +running +app=tiefighter,org=empire$/);
    assert.match(renderEndpoints([]), /no endpoints/);
  });
});

describe('the inspect routes', () => {
  test('are the five paths the CLI asks, and answer from the services', async () => {
    const w = await world();
    const services: InspectServices = {
      options: statusSources().options,
      startedAt: new Date(),
      datapath: { pinRoot: '/nonexistent', ipcache: { entries: () => w.endpoints.map((e) => [`${e.ip}/32`, e.identity]) } },
      allocator: w.allocator,
      selectorCache: w.selectorCache,
      repository: w.repository,
      endpoints: { list: () => w.endpoints, get: (id) => w.endpoints.find((e) => e.id === id) },
      policies: { list: () => [{ auditMode: false }] },
      fqdn: { snapshot: () => ({ savedAtMs: 0, names: [{ name: 'api.example.com', ips: [{ ip: '192.0.2.7', expiresAtMs: Date.now() + 60_000, lastSeenMs: 0 }] }], ips: [], zombies: [] }) },
      xds: { status: () => XDS },
      flows: { stats: () => ({ capacity: 10, stored: 1, added: 1, followerLost: 0, followers: 0 }) },
      proxy: { info: () => PROXY },
      ports: { kernel: () => 15002 },
    };
    const routes = inspectRoutes(services, { mapStats: () => [] });
    assert.deepEqual(routes.map((r) => `${r.method} ${r.path}`), ['GET /v1/status', 'GET /v1/identities', 'GET /v1/bpf/policy', 'GET /v1/xds/status', 'GET /v1/fqdn/cache']);
    const call = (path: string, query = '') => routes.find((r) => r.path === path)!.handler({ method: 'GET', path, query: new URLSearchParams(query), body: undefined, signal: new AbortController().signal }) as Promise<any>;
    const status = await call('/v1/status');
    assert.equal(status.endpoints.total, 3);
    assert.equal(status.fqdn.names, 1);
    assert.match(status.version, /^\d+\.\d+\.\d+/);
    assert.ok((await call('/v1/identities')).identities.length >= RESERVED_IDENTITIES.length + 3);
    assert.equal((await call('/v1/bpf/policy', 'pod=empire/deathstar')).pod, 'empire/deathstar');
    await assert.rejects(call('/v1/bpf/policy'), { code: 'MESHD_ERR_API_BAD_REQUEST' });
    assert.equal((await call('/v1/xds/status')).version, 7);
    const fqdn = await call('/v1/fqdn/cache');
    assert.equal(fqdn.source, 'agent');
    assert.equal(fqdn.names[0].name, 'api.example.com');
  });
});
