// A small in-process agent for the endpoints and policy-store tests: the real Datapath (own pin
// root), IdentityAllocator and Repository on a temporary state directory, EndpointManager and
// PolicyStore, the local API on the state directory's socket (so the CLI can be run against it),
// and a reconciler that regenerates every endpoint's kernel policy on each change (the daemon's
// own reconciler is CORE's; this one is the same chain, EndpointPolicyRegenerator). `restart()`
// closes everything but the pods and the pins and opens it again, as an agent restart does.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Datapath } from '../../bpf/index.js';
import { RESERVED_IDENTITIES, IdentityAllocator, Repository, SelectorCache } from '../../policy/index.js';
import { cleanupAll, EndpointPolicyRegenerator, setupNode, testPrefix, withPods, type NodeNetwork } from '../../agent/index.js';
import { EndpointManager, spawnInPod, type EndpointInfo } from '../../agent/index.js';
import { PolicyStore } from '../../agent/index.js';
import { agentSocketPath, startApiServer, type ApiServer } from '../../agent/index.js';
import { collectOutput } from './agent-harness.js';
import { assertKernelReady, datapathOptions, HOST_IDENTITY, PROBE, removePinRoot, testPinRoot, type ProbeResult } from '../datapath/datapath-harness.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

export interface TestAgent {
  stateDir: string;
  pinRoot: string;
  node: NodeNetwork;
  dp: Datapath;
  allocator: IdentityAllocator;
  repository: Repository;
  selectorCache: SelectorCache;
  endpoints: EndpointManager;
  policies: PolicyStore;
  logs: LogLine[];
  /** Kernel policy regenerations so far (one per onChange). */
  reconciles: number;
  restart(): Promise<void>;
}

export interface TestAgentOptions {
  policyDir?: string;
  policyDirDebounceMs?: number;
}

/** Runs `fn` with a fresh in-process agent; removes pods, pins and state dir whatever happens. */
export async function withTestAgent(fn: (agent: TestAgent) => Promise<void>, options: TestAgentOptions = {}): Promise<void> {
  assertKernelReady();
  // withPods installs the exit hooks that remove this process's pods even when it is killed by a signal.
  await withPods([], async () => {
    const prefix = testPrefix();
    const node = await setupNode({ prefix });
    const stateDir = mkdtempSync(join(tmpdir(), 'meshd-ep-'));
    const pinRoot = testPinRoot();
    const logs: LogLine[] = [];
    const logger = {
      info: (obj: object, msg: string) => logs.push({ level: 'info', obj, msg }),
      warn: (obj: object, msg: string) => logs.push({ level: 'warn', obj, msg }),
      error: (obj: object, msg: string) => logs.push({ level: 'error', obj, msg }),
    };
    let opened: { agent: TestAgent; server: ApiServer } | undefined;
    // One object for the whole test: restart() swaps its components in place.
    const agent = { reconciles: 0 } as TestAgent;
    const open = async (): Promise<{ agent: TestAgent; server: ApiServer }> => {
      const dp = Datapath.open(datapathOptions(node, pinRoot));
      dp.ipcache.upsert(`${node.gateway4}/32`, HOST_IDENTITY);
      dp.ipcache.upsert(`${node.gateway6}/128`, HOST_IDENTITY);
      const { allocator } = await IdentityAllocator.open(stateDir);
      const selectorCache = new SelectorCache();
      for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);
      const repository = new Repository();
      let endpoints: EndpointManager | undefined;
      const regenerator = new EndpointPolicyRegenerator({
        repository,
        selectorCache,
        datapath: dp,
        endpointIdOf: (id) => endpoints?.endpointIdOf(id),
        proxyPortOf: () => undefined,
      });
      const reconcile = async (): Promise<void> => {
        regenerator.regenerateAll();
        for (const ep of endpoints?.list() ?? []) endpoints!.refreshAuditMode(ep.id);
        agent.reconciles++;
      };
      const policies = await PolicyStore.open({
        stateDir,
        repository,
        logger,
        onChange: reconcile,
        ...(options.policyDir === undefined ? {} : { policyDir: options.policyDir, policyDirDebounceMs: options.policyDirDebounceMs ?? 100 }),
      });
      endpoints = await EndpointManager.open({
        stateDir,
        node,
        datapath: dp,
        allocator,
        selectorCache,
        repository,
        logger,
        onChange: reconcile,
        auditModeOf: (id) => policies.selectsInAuditMode(repository.endpointPolicy(id)),
      });
      regenerator.regenerateAll();
      const server = await startApiServer({ socketPath: agentSocketPath(stateDir), routes: [...endpoints.routes(), ...policies.routes()] });
      Object.assign(agent, { stateDir, pinRoot, node, dp, allocator, repository, selectorCache, endpoints, policies, logs, restart });
      return { agent, server };
    };
    const close = async (): Promise<void> => {
      if (!opened) return;
      const { agent, server } = opened;
      opened = undefined;
      await server.close();
      await agent.policies.close();
      await agent.endpoints.close();
      await agent.allocator.flush();
      agent.dp.close();
    };
    async function restart(this: void): Promise<void> {
      await close();
      opened = await open();
    }
    try {
      opened = await open();
      await fn(opened.agent);
    } finally {
      await close().catch(() => undefined);
      await cleanupAll(prefix).catch(() => undefined);
      // Detaches every pinned link and removes the maps.
      removePinRoot(pinRoot);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
}

/** Runs the datapath probe inside a pod (as the pod: its cgroup and netns). */
export async function probeFrom(pod: EndpointInfo, args: string[]): Promise<ProbeResult> {
  const r = await execIn(pod, [process.execPath, PROBE, ...args], 15_000);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ProbeResult;
  } catch {
    throw new Error(`probe ${args.join(' ')} in ${pod.id} printed no result: code ${r.code}, stdout ${r.stdout}, stderr ${r.stderr}`);
  }
}

export function execIn(pod: { netns: string; cgroupPath: string }, argv: string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnInPod(pod, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    collectOutput(child, timeoutMs).then(resolve, reject);
  });
}

/** The meshd CLI as a user runs it (bin/meshd.js), against the test agent's state directory. */
export function meshd(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = new URL('../../../bin/meshd.js', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const output = collectOutput(child, opts.timeoutMs ?? 30_000);
    child.stdin.end(opts.input ?? '');
    output.then(resolve, reject);
  });
}

/** A policy that lets only app=`from` reach app=server on TCP `port`. */
export function serverIngressOnlyFrom(from: string, port: number): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-ingress, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: ${from} } }]
    toPorts: [{ ports: [{ port: "${port}", protocol: TCP }] }]
`;
}

/** Polls `check` until it returns true (bounded). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
