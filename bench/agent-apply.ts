// bench/agent-apply: how long a `policy apply` takes to be enforced in the kernel for every
// affected pod, at 100 and at 1,000 pods (issue 8). The agent's own chain runs in-process:
// PolicyStore.apply (validate, save under the state dir, Repository) → reconciler
// (EndpointPolicyRegenerator: resolve + translate + replace the LPM trie of every endpoint) →
// kernel. Two numbers per size and repetition:
//   - apply → kernel written: until apply() resolves (the reconciler has written every trie);
//   - apply → allowed in the last pod: a loop inside the client pod — the endpoint the
//     reconciler rewrites last — tries to connect to the server pod every ~1 ms and reports when
//     the first connect succeeds, i.e. when the kernel's verdict flipped from denied to allowed
//     as the pod sees it (resolution: one attempt, at most 20 ms).
// The policy selects every bench pod, so each apply rewrites the policy of all N endpoints.
//
// The node pod range is a /24 (245 pods), so at most REAL_PODS (default 100) are real pods
// (agent/pods: netns + veth + cgroup); above that, the rest are cgroup-only endpoints: a cgroup
// directory with the datapath attached, an identity and an ipcache address in the cluster range —
// the same kernel and policy work per endpoint (the datapath keys endpoints by cgroup), without
// the network namespace the probe does not need.
//
//   npx tsc -p tsconfig.json && node dist/bench/agent-apply.js          (root; make build first)
//   SIZES=100 REPS=3 node dist/bench/agent-apply.js
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Datapath } from '../bpf/index.js';
import { IdentityAllocator, RESERVED_IDENTITIES, Repository, SelectorCache } from '../policy/index.js';
import { EndpointPolicyRegenerator, setupNode, testPrefix, withPods, type Pod } from '../agent/index.js';
import { PolicyStore } from '../agent/index.js';
import { describeLoad, describeMachine, renderTable, summarize, type BenchRow } from './bench-report.js';
import { envFlagReaders } from './env-flags.js';

class BenchUsageError extends Error {}
const { readList, readCount } = envFlagReaders(BenchUsageError);

const PORT = 8080;
const HOST_IDENTITY = 1;
/** Pods of the same app share an identity, as a Deployment's replicas do. */
const APPS = 10;
const FLIP_TIMEOUT_S = 30;

const SERVER_SCRIPT = `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", ${PORT})); s.listen(128)
print("listening", flush=True)
while True:
    c, _ = s.accept(); c.close()
`;

/** Tries to connect every ~1 ms (20 ms connect timeout); prints the wall time of the first success. */
const WATCH_SCRIPT = `
import socket, sys, time
ip = sys.argv[1]
print("ready", flush=True)
deadline = time.time() + ${FLIP_TIMEOUT_S}
while time.time() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.02)
    try:
        s.connect((ip, ${PORT}))
        print("ok %.6f" % time.time(), flush=True)
        sys.exit(0)
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.001)
print("timeout", flush=True)
sys.exit(1)
`;

const policy = (egressTo: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: bench, namespace: default }
spec:
  endpointSelector: { matchLabels: { group: bench } }
  ingress:
  - fromEndpoints: [{ matchLabels: { group: bench } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
  egress:
  - toEndpoints: [{ matchLabels: { app: ${egressTo} } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
`;
const DENY = policy('nobody');
const ALLOW = policy('server');

interface SizeResult {
  size: number;
  realPods: number;
  applyMs: number[];
  flipMs: number[];
}

function lines(pod: Pod, argv: string[]): { next(match: (l: string) => boolean, timeoutMs: number): Promise<string>; stop(): void } {
  const child = pod.spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const seen: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    seen.push(l);
    for (const w of waiters.splice(0)) w();
  });
  return {
    async next(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = seen.findIndex(match);
        if (i >= 0) return seen.splice(i, 1)[0]!;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${argv.join(' ')} in ${pod.name}: no matching line (saw ${JSON.stringify(seen)})`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

async function benchSize(size: number, realMax: number, reps: number): Promise<SizeResult> {
  const real = Math.min(size, realMax);
  const names = ['server', 'client', ...Array.from({ length: real - 2 }, (_, i) => `p${i}`)];
  return withPods(names.map((name) => ({ name })), async (pods, node) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'meshd-bench-apply-'));
    const pinRoot = `/sys/fs/bpf/${node.prefix}agent-apply`;
    let dp: Datapath | undefined;
    let store: PolicyStore | undefined;
    const stop: Array<() => void> = [];
    try {
      dp = Datapath.open({ pinRoot, proxyCgroup: node.proxyCgroup, podsCgroup: node.podsCgroup, nodeProxyAddress: { ipv4: node.gateway4, ipv6: node.gateway6 } });
      const { allocator } = await IdentityAllocator.open(stateDir);
      const selectorCache = new SelectorCache();
      for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
      const repository = new Repository();
      const endpointIds = new Map<string, number>();
      const regenerator = new EndpointPolicyRegenerator({ repository, selectorCache, datapath: dp, endpointIdOf: (id) => endpointIds.get(id), proxyPortOf: () => undefined });
      store = await PolicyStore.open({ stateDir, repository, logger: { info() {}, warn() {}, error() {} }, onChange: async () => regenerator.regenerateAll() });
      dp.ipcache.upsert(`${node.gateway4}/32`, HOST_IDENTITY);
      dp.ipcache.upsert(`${node.gateway6}/128`, HOST_IDENTITY);
      const register = (name: string, app: string, cgroupPath: string, ipv4: string, ipv6: string | undefined): void => {
        const ep = repository.upsertEndpoint({ name, namespace: 'default', labels: { app, group: 'bench' }, ips: ipv6 ? [ipv4, ipv6] : [ipv4], namedPorts: [] });
        const { id: identity } = allocator.allocate(ep.identityLabels);
        selectorCache.addIdentity(identity, ep.identityLabels);
        dp!.ipcache.upsert(`${ipv4}/32`, identity);
        if (ipv6) dp!.ipcache.upsert(`${ipv6}/128`, identity);
        const id = endpointIds.size + 1;
        endpointIds.set(ep.id, id);
        dp!.attachEndpoint({ id, cgroupPath, identity, ingressEnforced: false, egressEnforced: false, ipv4, ...(ipv6 ? { ipv6 } : {}) });
      };
      const [server, client, ...others] = pods as [Pod, Pod, ...Pod[]];
      register(server.name, 'server', server.cgroupPath, server.ipv4, server.ipv6);
      others.forEach((p, i) => register(p.name, `svc-${i % APPS}`, p.cgroupPath, p.ipv4, p.ipv6));
      for (let i = real; i < size; i++) {
        const cgroupPath = join(node.podsCgroup, `cg${i}`);
        mkdirSync(cgroupPath, { recursive: true });
        register(`cg${i}`, `svc-${i % APPS}`, cgroupPath, syntheticIpv4(i), undefined);
      }
      // The probing client last: the reconciler rewrites endpoints in registration order, so its
      // flip is when the last of the N endpoints got the new policy.
      register(client.name, 'client', client.cgroupPath, client.ipv4, client.ipv6);
      const serverProc = lines(server, ['python3', '-c', SERVER_SCRIPT]);
      stop.push(() => serverProc.stop());
      await serverProc.next((l) => l === 'listening', 10_000);

      const result: SizeResult = { size, realPods: real, applyMs: [], flipMs: [] };
      for (let rep = 0; rep < reps; rep++) {
        await store.apply([{ file: 'bench.yaml', text: DENY }]);
        const watcher = lines(client, ['python3', '-c', WATCH_SCRIPT, server.ipv4]);
        stop.push(() => watcher.stop());
        await watcher.next((l) => l === 'ready', 10_000);
        // Let the loop see "denied" a few times, so the flip is a change it observes.
        await new Promise((r) => setTimeout(r, 50));
        const t0 = Date.now();
        const a0 = process.hrtime.bigint();
        await store.apply([{ file: 'bench.yaml', text: ALLOW }]);
        result.applyMs.push(Number(process.hrtime.bigint() - a0) / 1e6);
        const ok = await watcher.next((l) => l.startsWith('ok ') || l === 'timeout', (FLIP_TIMEOUT_S + 5) * 1000);
        if (!ok.startsWith('ok ')) throw new Error(`size ${size}: the client pod never connected after the allowing apply`);
        result.flipMs.push(Math.max(0, Number(ok.slice(3)) * 1000 - t0));
        watcher.stop();
      }
      await allocator.flush();
      return result;
    } finally {
      for (const s of stop) s();
      await store?.close();
      try {
        dp?.unload();
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    }
  });
}

/** Cluster-range addresses outside the node's /24 (10.244.1.1 …): never a real pod's. */
function syntheticIpv4(i: number): string {
  return `10.244.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new BenchUsageError('bench/agent-apply needs root (netns, cgroups, BPF)');
  const sizes = readList(process.env, 'SIZES', ['100', '1000']).map((s) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 2 || n > 60_000) throw new BenchUsageError(`SIZES: ${s} is not a pod count in [2, 60000]`);
    return n;
  });
  const reps = readCount(process.env, 'REPS', 5, 1, 100);
  const realMax = readCount(process.env, 'REAL_PODS', 100, 2, 200);
  await setupNode({ prefix: testPrefix('b') });
  console.log(describeMachine());
  console.log(describeLoad());
  const rows: BenchRow[] = [];
  for (const size of sizes) {
    const r = await benchSize(size, realMax, reps);
    const pods = `${size} pods${r.realPods < size ? ` (${r.realPods} real + ${size - r.realPods} cgroup-only)` : ''}`;
    rows.push({ scenario: `${pods}: apply → kernel written`, summary: summarize(r.applyMs), unit: 'ms' });
    rows.push({ scenario: `${pods}: apply → allowed in the last pod`, summary: summarize(r.flipMs), unit: 'ms' });
    console.error(`size ${size} done`);
  }
  console.log(renderTable(rows));
}

void (async () => {
  try {
    await main();
  } catch (err) {
    console.error(err instanceof BenchUsageError ? `bench/agent-apply: ${err.message}` : err);
    process.exitCode = err instanceof BenchUsageError ? 2 : 1;
  }
})();

