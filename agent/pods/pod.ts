// A pod: a network namespace, a veth pair to the host and a cgroup v2 directory, with an IPv4 and
// an IPv6 address routed through the host (docs/pods.md has the picture). Created with two
// `ip -batch` runs (host side, then pod side) so a pod takes a few milliseconds.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  POD_INTERFACE,
  hostVethName,
  pickFreeHost,
  podAddressesForHost,
  resolveSpecAddresses,
  usedPodHosts,
  validatePodName,
  vethMacs,
  type PodAddresses,
  type PodRanges,
} from './addresses.js';
import { PodCommandError, PodError } from './errors.js';
import { ifindexFromLinkShow, linkExists } from './links.js';
import { currentPrefix, describeNode, setupNode } from './node-network.js';
import { endPodProcesses, removeCgroupTree } from './processes.js';
import { failedBatchLine, ipBatch, ipBatchForce } from './run-command.js';

export interface PodSpec {
  name: string;
  /** Default: allocated from the node range (10.244.0.10 … with the default ranges), the IPv6
   *  address from the same host number. */
  ipv4?: string;
  ipv6?: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface PodSpawnOptions {
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  cwd?: string;
}

export interface PodExecOptions {
  /** Default 10 s; then the process is SIGKILLed and exec rejects with MESHD_ERR_POD_EXEC_TIMEOUT. */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Pod {
  readonly name: string;
  /** /run/netns/<nsName>. */
  readonly netns: string;
  readonly nsName: string;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly hostVeth: string;
  readonly hostIfindex: number;
  /** Absolute directory under the cgroup2 mount. */
  readonly cgroupPath: string;
  /** The cgroup directory's inode number, which is what BPF calls the cgroup id. */
  readonly cgroupId: bigint;
  /** Spawns a process inside the pod: in the pod's cgroup before it execs (so every socket it
   *  opens belongs to the pod cgroup), in the pod netns via nsenter (never `ip netns exec`,
   *  which would hide /sys/fs/bpf behind a fresh /sys mount). */
  spawn(command: string, args: readonly string[], opts?: PodSpawnOptions): ChildProcess;
  /** Runs to completion with a timeout. */
  exec(command: string, args: readonly string[], opts?: PodExecOptions): Promise<ExecResult>;
}

const DEFAULT_EXEC_TIMEOUT_MS = 10_000;
const ALLOCATION_ATTEMPTS = 32;
/**
 * Writes its own pid into the cgroup ($0), then becomes nsenter, which enters the netns ($1) and
 * execs the program: one pid from start to end, in the pod cgroup before any program code runs.
 * Names arrive as positional parameters, never inside the script text.
 */
const SPAWN_SCRIPT = 'echo $$ > "$0" || exit 126; netns=$1; shift; exec nsenter --net="$netns" -- "$@"';

class PodHandle implements Pod {
  readonly children = new Set<ChildProcess>();
  constructor(
    readonly name: string,
    readonly nsName: string,
    readonly netns: string,
    readonly ipv4: string,
    readonly ipv6: string,
    readonly hostVeth: string,
    readonly hostIfindex: number,
    readonly cgroupPath: string,
    readonly cgroupId: bigint,
  ) {}

  spawn(command: string, args: readonly string[], opts: PodSpawnOptions = {}): ChildProcess {
    const child = spawn('/bin/sh', ['-c', SPAWN_SCRIPT, join(this.cgroupPath, 'cgroup.procs'), this.netns, command, ...args], {
      env: opts.env ?? process.env,
      stdio: opts.stdio ?? 'pipe',
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  exec(command: string, args: readonly string[], opts: PodExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const child = this.spawn(command, args, { stdio: 'pipe', ...(opts.env === undefined ? {} : { env: opts.env }) });
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input ?? '');
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(
            new PodError(
              'MESHD_ERR_POD_EXEC_TIMEOUT',
              `${[command, ...args].join(' ')} in pod ${this.name} ran longer than ${timeoutMs} ms and was killed; stdout: ${JSON.stringify(stdout.slice(-500))}, stderr: ${JSON.stringify(stderr.slice(-500))}`,
            ),
          );
        } else {
          resolve({ code, signal, stdout, stderr });
        }
      });
    });
  }
}

/** Pods this process created and has not deleted, by netns name (the exit hooks remove them). */
const livePods = new Map<string, PodHandle>();
/** Host numbers being set up by this process right now (not yet visible as routes). */
const reservedHosts = new Set<number>();

export function livePodsOfThisProcess(): PodHandle[] {
  return [...livePods.values()];
}

export interface CreatePodOptions {
  /** Default: the prefix of the last setupNode (the node's prefix). */
  prefix?: string;
  /** The node's pod ranges; default: those setupNode chose for the prefix, else the defaults. */
  podCidr4?: string;
  podCidr6?: string;
}

export async function createPod(spec: PodSpec, opts: CreatePodOptions = {}): Promise<Pod> {
  const node = await setupNode(opts);
  const prefix = node.prefix;
  const ranges: PodRanges = { podCidr4: node.podCidr4, podCidr6: node.podCidr6, gateway4: node.gateway4, gateway6: node.gateway6 };
  validatePodName(spec.name, prefix);
  const nsName = prefix + spec.name;
  const netns = `/run/netns/${nsName}`;
  if (livePods.has(nsName) || existsSync(netns)) {
    throw new PodError('MESHD_ERR_POD_EXISTS', `pod ${spec.name} already exists (${netns})`, 'delete it first, or pick another name');
  }
  const hostVeth = hostVethName(nsName);
  const macs = vethMacs(nsName);
  const explicit = resolveSpecAddresses(spec, ranges);
  const cgroupPath = join(node.podsCgroup, spec.name);

  let addresses: PodAddresses | undefined;
  let hostIfindex = 0;
  const tried = new Set<number>();
  for (let attempt = 0; addresses === undefined; attempt++) {
    let host: number | undefined;
    let candidate = explicit;
    if (candidate === undefined) {
      host = pickFreeHost(new Set([...usedPodHosts(readFileSync('/proc/net/route', 'utf8'), ranges), ...reservedHosts, ...tried]));
      if (host === undefined) {
        throw new PodError('MESHD_ERR_POD_ADDRESS_EXHAUSTED', `no free address in ${node.podCidr4}: ${reservedHosts.size} being set up, the rest routed to pods`, 'delete pods, or run cleanupAll() for leftovers of killed test runs');
      }
      reservedHosts.add(host);
      candidate = podAddressesForHost(host, ranges);
    }
    try {
      hostIfindex = await createHostSide(nsName, hostVeth, macs, candidate, ranges);
      addresses = candidate;
    } catch (error) {
      await ipBatchForce([`link del ${hostVeth}`, `netns del ${nsName}`]);
      // Another process took the address between our look at the routes and our `route add`.
      const lostRace = error instanceof PodCommandError && /File exists/.test(error.stderr) && [4, 5].includes(failedBatchLine(error.stderr) ?? 0);
      if (!lostRace) throw error;
      if (host === undefined) {
        throw new PodError('MESHD_ERR_POD_ADDRESS_IN_USE', `pod ${spec.name}: ${candidate.ipv4} / ${candidate.ipv6} is already routed to another pod`);
      }
      tried.add(host);
      if (attempt >= ALLOCATION_ATTEMPTS) throw error;
    } finally {
      if (host !== undefined) reservedHosts.delete(host);
    }
  }

  try {
    // Per-interface forwarding: pods reach each other through the host without turning the
    // host's other interfaces into router interfaces (net.ipv6.conf.*.force_forwarding: 6.17+).
    writeSysctl(`net/ipv4/conf/${hostVeth}/forwarding`, '1');
    writeSysctl(`net/ipv6/conf/${hostVeth}/force_forwarding`, '1');
    await ipBatch(
      [
        'link set lo up',
        `link set ${POD_INTERFACE} up`,
        `addr add ${addresses.ipv4}/32 dev ${POD_INTERFACE}`,
        `addr add ${addresses.ipv6}/128 dev ${POD_INTERFACE} nodad`,
        `neigh add ${ranges.gateway4} lladdr ${macs.host} dev ${POD_INTERFACE} nud permanent`,
        `neigh add ${ranges.gateway6} lladdr ${macs.host} dev ${POD_INTERFACE} nud permanent`,
        `route add default via ${ranges.gateway4} dev ${POD_INTERFACE} onlink`,
        `route add default via ${ranges.gateway6} dev ${POD_INTERFACE} onlink`,
      ],
      ['-n', nsName],
    );
    mkdirSync(cgroupPath);
    const pod = new PodHandle(
      spec.name,
      nsName,
      netns,
      addresses.ipv4,
      addresses.ipv6,
      hostVeth,
      hostIfindex,
      cgroupPath,
      statSync(cgroupPath, { bigint: true }).ino,
    );
    livePods.set(nsName, pod);
    return pod;
  } catch (error) {
    await removePodObjects(nsName, hostVeth, cgroupPath).catch(() => {});
    throw error;
  }
}

function writeSysctl(path: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${path}`, value);
  } catch (error) {
    const hint = path.includes('force_forwarding') ? 'net.ipv6.conf.<if>.force_forwarding needs Linux 6.17 or later' : undefined;
    // Not a command: no exit status to report, the errno message says what went wrong.
    throw new PodError('MESHD_ERR_POD_COMMAND', `writing ${value} to /proc/sys/${path} failed: ${(error as Error).message}`, hint);
  }
}

/** The host side: netns, veth pair (pod end moved in as eth0), host routes with the pod's
 *  addresses as their leases, and permanent neighbour entries for the pod end. */
async function createHostSide(nsName: string, hostVeth: string, macs: { host: string; pod: string }, a: PodAddresses, ranges: PodRanges): Promise<number> {
  // Line numbers 4 and 5 (the routes) are what createPod reads as "address taken".
  const output = await ipBatch([
    `netns add ${nsName}`,
    `link add ${hostVeth} address ${macs.host} type veth peer name ${POD_INTERFACE} address ${macs.pod} netns ${nsName}`,
    // The alias names the owner, so cleanupAll finds the veths of a prefix (the kernel ignores
    // an alias given to `link add`).
    `link set ${hostVeth} alias ${nsName} up`,
    `route add ${a.ipv4}/32 dev ${hostVeth} src ${ranges.gateway4}`,
    `route add ${a.ipv6}/128 dev ${hostVeth}`,
    `neigh replace ${a.ipv4} lladdr ${macs.pod} dev ${hostVeth} nud permanent`,
    `neigh replace ${a.ipv6} lladdr ${macs.pod} dev ${hostVeth} nud permanent`,
    `link show dev ${hostVeth}`,
  ]);
  const ifindex = ifindexFromLinkShow(output, hostVeth);
  if (ifindex === undefined) throw new PodError('MESHD_ERR_POD_COMMAND', `ip link show dev ${hostVeth} printed no ifindex: ${output.trim() || 'no output'}`);
  return ifindex;
}

/** Ends the processes, then removes veth, netns and cgroup; throws if anything stayed. */
async function removePodObjects(nsName: string, hostVeth: string, cgroupPath: string): Promise<void> {
  const netns = `/run/netns/${nsName}`;
  const processesGone = await endPodProcesses(cgroupPath, existsSync(netns) ? netns : undefined);
  // The veth goes explicitly: a socket still holding the netns would otherwise keep the pair.
  await ipBatchForce([`link del ${hostVeth}`, `netns del ${nsName}`]);
  const cgroupsLeft = await removeCgroupTree(cgroupPath);
  const left = [
    ...(processesGone ? [] : ['processes']),
    ...(existsSync(netns) ? [netns] : []),
    ...(linkExists(hostVeth) ? [`veth ${hostVeth}`] : []),
    ...cgroupsLeft,
  ];
  if (left.length > 0) throw new PodError('MESHD_ERR_POD_CLEANUP', `pod ${nsName}: still there after removal: ${left.join(', ')}`);
}

/** Removes a pod (a Pod, or a name under the current prefix); idempotent; kills its processes. */
export async function deletePod(pod: Pod | string): Promise<void> {
  let nsName: string;
  let cgroupPath: string;
  if (typeof pod === 'string') {
    const prefix = currentPrefix();
    const known = livePods.get(pod) ?? (prefix === undefined ? undefined : livePods.get(prefix + pod));
    if (known) {
      nsName = known.nsName;
      cgroupPath = known.cgroupPath;
    } else {
      if (prefix === undefined) return; // no setupNode in this process: nothing of ours can exist
      validatePodName(pod, prefix);
      nsName = prefix + pod;
      cgroupPath = join(describeNode(prefix).podsCgroup, pod);
    }
  } else {
    nsName = pod.nsName;
    cgroupPath = pod.cgroupPath;
  }
  const handle = livePods.get(nsName);
  try {
    await removePodObjects(nsName, hostVethName(nsName), cgroupPath);
    livePods.delete(nsName); // kept on failure, so the exit hooks try once more
  } finally {
    for (const child of handle?.children ?? []) child.kill('SIGKILL');
  }
}

/** Forgets a pod that the exit hooks removed synchronously. */
export function forgetPod(nsName: string): void {
  livePods.delete(nsName);
}
