// What the pod tests of toFQDNs share: test addresses on the node's loopback served by a TCP echo
// server (the "answer IPs"), the agent's learning chain on a state directory as a (re)started
// agent builds it, and the datapath hooks the built-in proxy gets. Both the echo server and the
// addresses go, also when the test fails.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EndpointPolicyRegenerator, FqdnManager, UdpPeerActivity } from '../../agent/index.js';
import type { BuiltinProxyOptions, DnsAnswerEvent, DnsAnswerObserver } from '../../proxylib/index.js';
import { IdentityAllocator, RESERVED_IDENTITIES, Repository, SelectorCache, type loadPolicyText } from '../../policy/index.js';
import type { TestCluster } from '../datapath/datapath-harness.js';
import { ProxyHarness } from '../proxy/harness.js';

export interface TestAgent {
  manager: FqdnManager;
  /** Every answer the learning side finished, with its time and the kernel's view when done. */
  observed: Array<{ event: DnsAnswerEvent; ms: number; kernelIdentities: number[] }>;
  /** The proxy's observer; after stop() it releases answers at once (the agent is away). */
  observer: DnsAnswerObserver;
  stop(): Promise<void>;
}

/** `ips` (IPv4 and IPv6) on lo and a TCP echo server on every address; `fn` gets its port. */
export async function withLoopbackEcho(ips: readonly string[], o: { dualStack: boolean }, fn: (serverPort: number) => Promise<void>): Promise<void> {
  const sockets = new Set<Socket>();
  let echo: Server | undefined;
  const added: string[] = [];
  try {
    for (const ip of ips) {
      const v6 = ip.includes(':');
      execFileSync('ip', [...(v6 ? ['-6'] : []), 'addr', 'add', `${ip}/${v6 ? 128 : 32}`, 'dev', 'lo', ...(v6 ? ['nodad'] : [])]);
      added.push(ip);
    }
    echo = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(d));
    });
    const listen = o.dualStack ? { port: 0, host: '::', ipv6Only: false } : { port: 0, host: '0.0.0.0' };
    await new Promise<void>((resolve, reject) => echo!.once('error', reject).listen(listen, resolve));
    await fn((echo.address() as { port: number }).port);
  } finally {
    for (const s of sockets) s.destroy();
    if (echo) await new Promise<void>((resolve) => echo!.close(() => resolve()));
    for (const ip of added) {
      const v6 = ip.includes(':');
      try {
        execFileSync('ip', [...(v6 ? ['-6'] : []), 'addr', 'del', `${ip}/${v6 ? 128 : 32}`, 'dev', 'lo']);
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * The learning chain of the cluster's first pod ("client"), as a (re)started agent builds it:
 * policies → Repository → SelectorCache, the allocator on the state directory, and FqdnManager
 * restored before anything answers; then every endpoint's policy written.
 */
async function startLearningAgent(o: {
  cluster: TestCluster;
  stateDir: string;
  policies: ReturnType<typeof loadPolicyText>['policies'];
  proxyPort: number;
  fqdn?: { udpFlowIdleMs?: number };
}): Promise<TestAgent> {
  const { dp, members, pinRoot } = o.cluster;
  const client = members[0]!;
  const { allocator } = await IdentityAllocator.open(o.stateDir);
  const selectorCache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
  const repository = new Repository();
  const ep = repository.upsertEndpoint({ name: 'client', namespace: 'default', labels: { app: 'client' }, ips: [client.ipv4, client.ipv6], namedPorts: [] });
  selectorCache.addIdentity(client.identity, ep.identityLabels);
  for (const p of o.policies) repository.upsertPolicy(p);
  const regenerator = new EndpointPolicyRegenerator({
    repository,
    selectorCache,
    datapath: dp,
    endpointIdOf: (name) => (name === 'default/client' ? client.endpointId : undefined),
    proxyPortOf: (type) => (type === 'dns' ? o.proxyPort : undefined),
  });
  const { manager, warnings } = await FqdnManager.open({
    stateDir: o.stateDir,
    allocator,
    selectorCache,
    ipcache: dp.ipcache,
    policyUpdater: regenerator,
    policies: o.policies,
    gcIntervalMs: 100,
    flowActivity: new UdpPeerActivity(pinRoot),
    ...o.fqdn,
  });
  assert.deepEqual(warnings, []);
  regenerator.regenerateAll();
  const observed: TestAgent['observed'] = [];
  let stopped = false;
  return {
    manager,
    observed,
    observer: {
      onAnswer: async (event) => {
        // An agent that is away: the proxy releases the answer at once (as proxy-link does).
        if (stopped) return;
        const t0 = performance.now();
        await manager.onAnswer(event);
        observed.push({ event, ms: performance.now() - t0, kernelIdentities: event.addresses.map((a) => dp.ipcache.identityOf(a.ip)) });
      },
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await manager.close();
      } finally {
        await allocator.flush();
      }
    },
  };
}

/**
 * A proxy harness (xDS server, cleanup) for node `nodeId`; `fn` starts learning agents through
 * `startAgent`. Afterwards, also on failure, every agent started is stopped, then the harness closed.
 */
export async function withFqdnProxy(
  nodeId: string,
  fn: (h: ProxyHarness, startAgent: (o: Parameters<typeof startLearningAgent>[0]) => Promise<TestAgent>) => Promise<void>,
): Promise<void> {
  const h = await ProxyHarness.start({ nodeId });
  const agents: TestAgent[] = [];
  try {
    await fn(h, async (o) => {
      const agent = await startLearningAgent(o);
      agents.push(agent);
      return agent;
    });
  } finally {
    try {
      for (const a of agents) await a.stop().catch(() => undefined);
    } finally {
      await h.close();
    }
  }
}

/** The datapath hooks of a built-in proxy on the cluster's node: original destinations and identities. */
export function datapathProxyOptions(cluster: TestCluster): Pick<BuiltinProxyOptions, 'originalDestination' | 'identityOf'> {
  const { dp } = cluster;
  return {
    originalDestination: (tuple) => {
      const o = dp.originalDestination(tuple);
      return o ? { address: o.address, port: o.port } : undefined;
    },
    identityOf: (ip) => dp.ipcache.identityOf(ip),
  };
}
