// Shared pieces of the datapath integration tests: pods with a Datapath of their own (own pin
// root, removed afterwards), policies written as YAML and installed through the real chain
// (loader → Repository → SelectorCache → translateEndpointPolicy → replacePolicy), a probe
// program run inside pods, and a plain-socket proxy in the node proxy's cgroup.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import {
  Datapath,
  probeKernel,
  translateEndpointPolicy,
  type DatapathEvent,
  type DatapathOptions,
  type EventStream,
  type PolicyMapContent,
} from '../../bpf/index.js';
import { unpinDatapath, withPods, type NodeNetwork, type Pod } from '../../agent/index.js';
import { RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText, type Direction, type L7Type } from '../../policy/index.js';

export const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));
export const HOST_IDENTITY = 1;
export const FIRST_POD_IDENTITY = 1000;

let pinRoots = 0;
/** A pin root of this test process, never the agent's /sys/fs/bpf/meshd. */
export function testPinRoot(): string {
  return `/sys/fs/bpf/meshd-test-${process.pid}-${pinRoots++}`;
}

/** Fails with the missing kernel feature's name instead of a confusing error later. */
export function assertKernelReady(): void {
  if (process.getuid?.() !== 0) throw new Error('the datapath tests need root (BPF, netns, cgroups)');
  const facts = probeKernel();
  if (!facts.btf) throw new Error('kernel BTF (/sys/kernel/btf/vmlinux) is missing: the datapath needs CONFIG_DEBUG_INFO_BTF');
  if (!facts.cgroup2Mount) throw new Error('no cgroup v2 mount: the datapath attaches to cgroup v2 directories');
}

/** Detaches every link pinned under the root and removes it (also when a Datapath never opened). */
export function removePinRoot(pinRoot: string): void {
  // Links already gone are fine here; only a root that stayed is worth failing the test for.
  const { problems } = unpinDatapath(pinRoot);
  if (existsSync(pinRoot)) throw new Error(`pin root ${pinRoot} was not removed: ${problems.join('; ')}`);
}

/** What a test knows about a pod besides the Pod itself. */
export interface PodMember {
  /** The `app` label, also the spec name. */
  app: string;
  endpointId: number;
  identity: number;
  ipv4: string;
  ipv6: string;
  cgroupPath: string;
  auditMode?: boolean;
}

export interface TestCluster {
  dp: Datapath;
  pods: Pod[];
  members: PodMember[];
  node: NodeNetwork;
  pinRoot: string;
  /** Installs the policies of `yaml` for every pod; returns each pod's trie content. */
  applyPolicy(yaml: string, proxyPorts?: Partial<Record<L7Type, number>>): PolicyMapContent[];
}

export function datapathOptions(node: NodeNetwork, pinRoot: string, extra: Partial<DatapathOptions> = {}): DatapathOptions {
  return {
    pinRoot,
    proxyCgroup: node.proxyCgroup,
    podsCgroup: node.podsCgroup,
    nodeProxyAddress: { ipv4: node.gateway4, ipv6: node.gateway6 },
    ...extra,
  };
}

/** Endpoints, ipcache (pods and the node's gateway addresses as host) for the members. */
export function registerMembers(dp: Datapath, node: NodeNetwork, members: readonly PodMember[]): void {
  dp.ipcache.replaceAll([
    [`${node.gateway4}/32`, HOST_IDENTITY],
    [`${node.gateway6}/128`, HOST_IDENTITY],
    ...members.flatMap((m) => [[`${m.ipv4}/32`, m.identity], [`${m.ipv6}/128`, m.identity]] as Array<[string, number]>),
  ]);
  for (const m of members) {
    dp.attachEndpoint({
      id: m.endpointId,
      cgroupPath: m.cgroupPath,
      identity: m.identity,
      ingressEnforced: false,
      egressEnforced: false,
      ipv4: m.ipv4,
      ipv6: m.ipv6,
      ...(m.auditMode ? { auditMode: true } : {}),
    });
  }
}

/** YAML → Repository → per-pod EndpointPolicy → trie → replacePolicy, as the agent will. */
export function applyPolicyYaml(dp: Datapath, members: readonly PodMember[], yaml: string, proxyPorts: Partial<Record<L7Type, number>> = {}): PolicyMapContent[] {
  const loaded = loadPolicyText('test-policy.yaml', yaml);
  if (loaded.problems.length > 0) throw new Error(`test policy does not load: ${JSON.stringify(loaded.problems)}`);
  const repo = new Repository();
  const cache = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) cache.addIdentity(r.id, r.labels);
  for (const m of members) {
    const ep = repo.upsertEndpoint({ name: m.app, namespace: 'default', labels: { app: m.app }, ips: [m.ipv4, m.ipv6], namedPorts: [] });
    cache.addIdentity(m.identity, ep.identityLabels);
  }
  for (const p of loaded.policies) repo.upsertPolicy(p);
  return members.map((m) => {
    const content = translateEndpointPolicy(repo.endpointPolicy(`default/${m.app}`)!, {
      identitiesOf: (s) => cache.register(s).selections(),
      proxyPortOf: (type: L7Type, _direction: Direction) => proxyPorts[type],
    });
    dp.replacePolicy(m.endpointId, content);
    return content;
  });
}

/** Pods named by `apps` (label app=<name>), a Datapath on its own pin root, and cleanup of
 *  both whatever happens. */
export async function withCluster(apps: string[], fn: (c: TestCluster) => Promise<void>, extra: Partial<DatapathOptions> = {}): Promise<void> {
  assertKernelReady();
  await withPods(
    apps.map((name) => ({ name })),
    async (pods, node) => {
      const pinRoot = testPinRoot();
      let dp: Datapath | undefined;
      try {
        dp = Datapath.open(datapathOptions(node, pinRoot, extra));
        const members = pods.map((p, i) => ({
          app: apps[i]!,
          endpointId: i + 1,
          identity: FIRST_POD_IDENTITY + i,
          ipv4: p.ipv4,
          ipv6: p.ipv6,
          cgroupPath: p.cgroupPath,
        }));
        registerMembers(dp, node, members);
        const opened = dp;
        await fn({ dp: opened, pods, members, node, pinRoot, applyPolicy: (yaml, ports) => applyPolicyYaml(opened, members, yaml, ports) });
      } finally {
        try {
          dp?.unload();
        } finally {
          removePinRoot(pinRoot);
        }
      }
    },
  );
}

export const cnp = (app: string, spec: string): string => `---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: policy-of-${app}-${Math.random().toString(36).slice(2, 8)}, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: ${app} } }
${spec}
`;

/** Collects events until `count` match `pick` or the time is up (then what matched so far). */
export async function collectEvents(stream: EventStream, pick: (e: DatapathEvent) => boolean, count: number, timeoutMs = 5000): Promise<DatapathEvent[]> {
  const out: DatapathEvent[] = [];
  const deadline = setTimeout(() => stream.close(), timeoutMs);
  try {
    for await (const e of stream) {
      if (pick(e)) out.push(e);
      if (out.length >= count) break;
    }
  } finally {
    clearTimeout(deadline);
  }
  return out;
}

/** JSON of events for assertion messages (bigints as text). */
export const showEvents = (events: DatapathEvent[]): string => JSON.stringify(events, (_, v) => (typeof v === 'bigint' ? String(v) : v));

// ---- processes ---------------------------------------------------------------------------

export type ProbeResult = {
  ok: boolean;
  code?: string;
  elapsedMs?: number;
  connectMs?: number;
  peer?: { address: string; port: number };
  from?: { address: string; port: number };
  local?: { address: string; port: number };
  response?: string;
};

/** Runs the probe in the pod and returns its one JSON line. */
export async function probe(pod: Pod, args: string[], env: Record<string, string> = {}): Promise<ProbeResult> {
  const r = await pod.exec('/usr/bin/env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, PROBE, ...args], { timeoutMs: 15_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ProbeResult;
  } catch {
    throw new Error(`probe ${args.join(' ')} in ${pod.name} printed no result: code ${r.code}, stdout ${r.stdout}, stderr ${r.stderr}`);
  }
}

/** timedConnect from a child cgroup of the pod's (as a container runtime makes them): the
 *  programs on the pod cgroup run for it, and the endpoint is found through its ancestor. */
export async function timedConnectFromChildCgroup(pod: Pod, child: string, address: string, port: number): Promise<ProbeResult & { codes: string[] }> {
  const dir = join(pod.cgroupPath, child);
  const proc = spawn('/bin/sh', ['-c', 'mkdir -p "$0" && echo $$ > "$0/cgroup.procs" && exec nsenter --net="$1" python3 -c "$2" "$3" "$4" 1', dir, pod.netns, TIMED_CONNECT, address, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = new LineProcess(proc);
  try {
    return (await out.waitFor((l) => l['codes'] !== undefined, 10_000)) as unknown as ProbeResult & { codes: string[] };
  } finally {
    out.stop();
    if (proc.exitCode === null && proc.signalCode === null) await new Promise((resolve) => proc.once('exit', resolve));
    try {
      rmdirSync(dir);
    } catch {
      // Removed with the pod's cgroup tree anyway.
    }
  }
}

/** connect() timed around the syscall itself (Python's perf_counter_ns), so the number is the
 *  kernel's answer time, not a JavaScript runtime's warm-up. */
const TIMED_CONNECT = String.raw`
import errno, json, socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
codes, times = [], []
for _ in range(count):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    t0 = time.perf_counter_ns()
    try:
        s.connect((host, port))
        codes.append("OK")
    except OSError as e:
        codes.append(errno.errorcode.get(e.errno, "TIMEOUT") if e.errno else "TIMEOUT")
    times.append((time.perf_counter_ns() - t0) / 1e6)
    s.close()
print(json.dumps({"ok": codes[0] == "OK", "code": codes[0], "codes": codes, "elapsedMs": times[0], "timesMs": times}), flush=True)
`;

/** `count` connects in one process: their codes and syscall times. */
export async function timedConnect(pod: Pod, address: string, port: number, count = 1): Promise<ProbeResult & { codes: string[]; timesMs: number[] }> {
  const r = await pod.exec('python3', ['-c', TIMED_CONNECT, address, String(port), String(count)], { timeoutMs: 10_000 + count * 2500 });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as ProbeResult & { codes: string[]; timesMs: number[] };
}

/** A long-running process printing JSON lines: servers in pods, the proxy in its cgroup. */
export class LineProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly child: ChildProcess;
  readonly #waiters = new Set<() => void>();
  #stderr = '';

  constructor(child: ChildProcess) {
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ text: line });
      }
      for (const w of this.#waiters) w();
    });
    child.stderr?.on('data', (d: Buffer) => (this.#stderr += d.toString()));
  }

  /** Resolves with the first line matching, waiting at most `timeoutMs`. */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find(match);
        if (!line) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no matching line within ${timeoutMs} ms; lines ${JSON.stringify(this.lines)}; stderr ${this.#stderr}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  get stderr(): string {
    return this.#stderr;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export async function startPodServer(pod: Pod, kind: 'tcp' | 'udp4' | 'udp6', port: number): Promise<LineProcess> {
  const args = kind === 'tcp' ? ['tcp-server', String(port)] : ['udp-server', String(port), kind === 'udp6' ? '6' : '4'];
  const server = new LineProcess(pod.spawn(process.execPath, [PROBE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await untilReady(server);
  return server;
}

/** Accepts TCP connections, asks each for SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST
 *  through a plain getsockopt, as an unmodified proxy would, and prints what it learned. With
 *  `forward`, it then connects to that original destination itself (from the proxy's cgroup,
 *  as the node proxy does), passes the request on and returns the upstream's answer too. */
const PLAIN_PROXY = String.raw`
import errno, json, socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
forward = len(sys.argv) > 3 and sys.argv[3] == "forward"
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(64)
print(json.dumps({"listening": True, "port": s.getsockname()[1]}), flush=True)

def upstream(orig, data):
    u = socket.socket(socket.AF_INET6 if ":" in orig["address"] else socket.AF_INET, socket.SOCK_STREAM)
    u.settimeout(2)
    try:
        u.connect((orig["address"], orig["port"]))
        out = {"upstreamLocal": u.getsockname()[0]}
        u.sendall(data)
        u.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            d = u.recv(4096)
            if not d:
                break
            got += d
        out["upstream"] = got.decode()
        return out
    except OSError as e:
        return {"upstreamError": errno.errorcode.get(e.errno, "TIMEOUT") if e.errno else "TIMEOUT"}
    finally:
        u.close()

while True:
    c, peer = s.accept()
    try:
        if fam == socket.AF_INET:
            raw = c.getsockopt(socket.SOL_IP, 80, 16)
            orig = {"address": socket.inet_ntop(socket.AF_INET, raw[4:8]), "port": struct.unpack("!H", raw[2:4])[0]}
        else:
            raw = c.getsockopt(socket.IPPROTO_IPV6, 80, 28)  # SOL_IPV6 = IPPROTO_IPV6 = 41
            orig = {"address": socket.inet_ntop(socket.AF_INET6, raw[8:24]), "port": struct.unpack("!H", raw[2:4])[0]}
    except OSError as e:
        orig = {"errno": e.errno}
    local = c.getsockname()
    print(json.dumps({"peer": {"address": peer[0], "port": peer[1]}, "local": {"address": local[0], "port": local[1]}, "origDst": orig}), flush=True)
    c.settimeout(2)
    try:
        data = c.recv(4096)
        reply = {"proxy": True, "origDst": orig}
        if forward and "address" in orig:
            reply.update(upstream(orig, data))
        c.sendall(json.dumps(reply).encode())
    except OSError:
        pass
    c.close()
`;

/** The plain proxy, in the node proxy's cgroup (so getsockopt runs there, and pod hooks never
 *  see it); port 0 picks a free one (read it from the `listening` line). */
export async function startPlainProxy(node: NodeNetwork, host: string, options: { forward?: boolean } = {}): Promise<{ proxy: LineProcess; port: number }> {
  const args = ['python3', '-c', PLAIN_PROXY, host, '0', ...(options.forward ? ['forward'] : [])];
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', node.proxyCgroup, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proxy = new LineProcess(child);
  const ready = await untilReady(proxy);
  return { proxy, port: ready['port'] as number };
}

/** The process's `listening` line; a process that never prints it is killed here, since the
 *  caller gets no handle to stop it. */
async function untilReady(started: LineProcess): Promise<Record<string, unknown>> {
  try {
    return await started.waitFor((l) => l['listening'] === true, 10_000);
  } catch (err) {
    started.stop();
    throw err;
  }
}
