// Several meshd nodes on one machine, for the cluster tests and bench/cluster-enforce: each node a
// network namespace joined to a fabric (a bridge in a namespace of its own), with its own agent
// process, state directory, BPF pin root, node prefix, pod ranges and node IP. Every address here
// lives in namespaces this file creates; the host's own interfaces and routes are never touched.
//
//   fabric netns meshdf<pid>-fab:  br0 192.168.250.1/24 fd25:250::1/64 (+ the etcd relay on :2379)
//        |  veth fab<i> (fabric side, in br0)  <->  fab0 (node side)
//   node netns meshdf<pid>-n<i>:   fab0 192.168.250.<10+i>/24 fd25:250::<10+i>/64,
//        meshd0 10.244.<i>.1 fd44:244:0:<i>::1 (setupNode), blackhole 10.244.0.0/16 fd44:244::/48,
//        10.244.<j>.0/24 via 192.168.250.<10+j>, fd44:244:0:<j>::/64 via fd25:250::<10+j> (j ≠ i)
//
// etcd (EtcdHarness) listens on the host's loopback; the node namespaces reach it through two
// relays: a TCP listener on 192.168.250.1:2379 in the fabric netns (a child process there) that
// forwards to a unix socket, which this process forwards to etcd. A unix socket belongs to no
// network namespace, which is what lets one path cross from the fabric netns to the host's loopback.
//
// Agents run with `nsenter --net=<netns path>` (never `ip netns exec`: it remounts /sys, and the
// agent would no longer see /sys/fs/bpf). Teardown (dispose, also after a failure) stops the
// agents, runs `meshd teardown` for each node inside its netns, removes leftovers by prefix
// (cleanupAll), the pins, the state dirs, every netns of the fabric, the relays and etcd. An exit
// hook does the synchronous part when the test process ends early; a later fabric removes what a
// SIGKILLed one left (its pid is in every name).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgroup2Mount, cleanupAll } from '../../agent/index.js';
import { PinnedDatapathView } from '../../bpf/index.js';
import { EtcdHarness, spliceSockets } from './etcd-harness.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MESHD_BIN = join(REPO_ROOT, 'bin/meshd.js');
const NSENTER = '/usr/bin/nsenter';
/** The script that creates pods inside a node netns for tests without agents. */
const POD_SCRIPT = join(REPO_ROOT, 'dist/test/cluster/fabric-pods-cli.js');

export const FABRIC_NET4 = '192.168.250';
export const FABRIC_NET6 = 'fd25:250:';
const ROUTER4 = `${FABRIC_NET4}.1`;
const ROUTER6 = `${FABRIC_NET6}:1`;
const ETCD_RELAY_PORT = 2379;
const AGENT_READY_TIMEOUT_MS = 90_000;
const COMMAND_TIMEOUT_MS = 30_000;
const MAX_NODES = 20;

export interface FabricNode {
  /** 1-based; pod ranges 10.244.<index>.0/24 and fd44:244:0:<index>::/64. */
  readonly index: number;
  readonly name: string;
  readonly netnsName: string;
  /** /run/netns/<netnsName>, for nsenter --net. */
  readonly netns: string;
  /** `meshdf<pid>-n<i>-`: the node's pods, cgroup tree and veth aliases. */
  readonly prefix: string;
  readonly podCidr4: string;
  readonly podCidr6: string;
  readonly gateway4: string;
  readonly gateway6: string;
  readonly nodeIp: string;
  readonly nodeIp6: string;
  readonly stateDir: string;
  readonly pinRoot: string;
  readonly proxyPortBase: number;
  /** The running agent, if any. */
  agent: RunningAgent | undefined;
  /** Removed from the fabric by removeNode. */
  removed: boolean;
}

export interface RunningAgent {
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface FabricPod {
  name: string;
  nsName: string;
  netns: string;
  ipv4: string;
  ipv6: string;
  cgroupPath: string;
}

export interface FabricOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Start an etcd reachable from the nodes at etcdUrl (default false). */
  etcd?: boolean;
  /** true: the fabric installs only the IPv6 pod routes; the agents (`--node-ip`) install the
   *  IPv4 ones from etcd's node list. Default false: the fabric installs both families. */
  agentRoutes?: boolean;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, bounded; never rejects for a non-zero exit. */
export function run(command: string, args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
    const timeoutMs = o.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${String(e)}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(command: string, args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(command, args, o);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}\n${o.input ?? ''}`);
  return r.stdout;
}

function ipBatchIn(netnsName: string, lines: readonly string[]): Promise<string> {
  return mustRun('ip', ['-n', netnsName, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

const FABRIC_NAME = /^meshdf(\d+)-/;

/** What fabrics of dead test processes left: netns (with their processes), node cgroup trees, pins. */
async function removeStaleFabrics(): Promise<void> {
  const stale = new Set<number>();
  const cgroupNames = existsSync(cgroup2Mount()) ? readdirSync(cgroup2Mount()) : [];
  let pinNames: string[] = [];
  try {
    pinNames = readdirSync('/sys/fs/bpf');
  } catch {
    // no bpffs: nothing pinned
  }
  for (const name of [...listNetns(), ...cgroupNames, ...pinNames]) {
    const m = FABRIC_NAME.exec(name);
    if (m && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))) stale.add(Number(m[1]));
  }
  for (const pid of stale) {
    for (const name of cgroupNames) {
      const m = /^(meshdf\d+-n\d+-)node$/.exec(name);
      if (m && name.startsWith(`meshdf${pid}-`)) await cleanupAll(m[1]!).catch(() => {});
    }
    await cleanupAll(`meshdf${pid}-`).catch(() => {});
    for (const name of pinNames) if (name.startsWith(`meshdf${pid}-`)) rmSync(join('/sys/fs/bpf', name), { recursive: true, force: true });
  }
}

export class Fabric {
  readonly prefix: string;
  readonly fabricNetns: string;
  readonly nodes: FabricNode[] = [];
  readonly agentRoutes: boolean;
  etcd: EtcdHarness | undefined;
  readonly #workDir: string;
  #unixRelay: Server | undefined;
  readonly #unixSockets = new Set<Socket>();
  #tcpRelay: ChildProcess | undefined;
  #disposed = false;
  readonly #onExit = (): void => this.#disposeSync();

  private constructor(agentRoutes: boolean) {
    this.prefix = `meshdf${process.pid}-`;
    this.fabricNetns = `${this.prefix}fab`;
    this.agentRoutes = agentRoutes;
    this.#workDir = mkdtempSync(join(tmpdir(), 'meshd-fabric-'));
  }

  /** Builds the fabric (and etcd when asked); on failure removes what it made and rethrows. */
  static async create(o: FabricOptions = {}): Promise<Fabric> {
    const count = o.nodes ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) throw new RangeError(`fabric: 1..${MAX_NODES} nodes, not ${count}`);
    await removeStaleFabrics();
    const fabric = new Fabric(o.agentRoutes ?? false);
    if (listNetns().includes(fabric.fabricNetns)) await fabric.#removeNamespaces(); // an earlier fabric of this process
    process.once('exit', fabric.#onExit);
    try {
      await fabric.#buildRouter();
      for (let i = 1; i <= count; i++) await fabric.#addNode(i);
      await fabric.#installRoutes();
      if (o.etcd) await fabric.#startEtcd();
    } catch (error) {
      await fabric.dispose().catch(() => {});
      throw error;
    }
    return fabric;
  }

  /** etcd as the nodes see it (through the relay in the fabric netns). */
  get etcdUrl(): string {
    if (!this.etcd) throw new Error('fabric: created without etcd');
    return `http://${ROUTER4}:${ETCD_RELAY_PORT}`;
  }

  node(index: number): FabricNode {
    const node = this.nodes[index - 1];
    if (!node) throw new RangeError(`fabric: no node ${index}`);
    return node;
  }

  async #buildRouter(): Promise<void> {
    await mustRun('ip', ['netns', 'add', this.fabricNetns]);
    await ipBatchIn(this.fabricNetns, [
      'link set lo up',
      'link add br0 type bridge mcast_snooping 0',
      `addr add ${ROUTER4}/24 dev br0`,
      `addr add ${ROUTER6}/64 dev br0 nodad`,
      'link set br0 up',
    ]);
  }

  async #addNode(index: number): Promise<void> {
    const netnsName = `${this.prefix}n${index}`;
    const node: FabricNode = {
      index,
      name: `node${index}`,
      netnsName,
      netns: `/run/netns/${netnsName}`,
      prefix: `${netnsName}-`,
      podCidr4: `10.244.${index}.0/24`,
      podCidr6: `fd44:244:0:${index.toString(16)}::/64`,
      gateway4: `10.244.${index}.1`,
      gateway6: `fd44:244:0:${index.toString(16)}::1`,
      nodeIp: `${FABRIC_NET4}.${10 + index}`,
      nodeIp6: `${FABRIC_NET6}:${(10 + index).toString(16)}`,
      stateDir: mkdtempSync(join(this.#workDir, `${netnsName}-state-`)),
      pinRoot: `/sys/fs/bpf/${netnsName}`,
      // Ports are per netns: every node can use the same ones; spread anyway so a node that
      // ends up in the host netns by mistake does not collide with a parallel test.
      proxyPortBase: 21_000 + index * 8,
      agent: undefined,
      removed: false,
    };
    this.nodes.push(node);
    await mustRun('ip', ['netns', 'add', netnsName]);
    await ipBatchIn(this.fabricNetns, [
      `link add fab${index} type veth peer name fab0 netns ${netnsName}`,
      `link set fab${index} master br0 up`,
    ]);
    await ipBatchIn(netnsName, [
      'link set lo up',
      `addr add ${node.nodeIp}/24 dev fab0`,
      `addr add ${node.nodeIp6}/64 dev fab0 nodad`,
      'link set fab0 up',
      // The node's blackhole for the cluster ranges from the start (setupNode installs the same):
      // an address of no node never leaves the node, not even before its agent ran.
      'route replace blackhole 10.244.0.0/16',
      'route replace blackhole fd44:244::/48',
    ]);
    // The node netns is a router between its pods and the fabric. Only the fabric interface gets
    // forwarding here: pod veths get theirs from createPod, as on a real host.
    await mustRun(NSENTER, [
      `--net=${node.netns}`,
      '--',
      'sh',
      '-c',
      'echo 1 > /proc/sys/net/ipv4/conf/fab0/forwarding && echo 1 > /proc/sys/net/ipv6/conf/fab0/force_forwarding && echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter && echo 0 > /proc/sys/net/ipv4/conf/fab0/rp_filter',
    ]);
  }

  /** Routes to every other node's pod ranges, through the fabric. */
  async #installRoutes(): Promise<void> {
    for (const node of this.nodes) {
      if (node.removed) continue;
      const lines: string[] = [];
      for (const other of this.nodes) {
        if (other === node || other.removed) continue;
        if (!this.agentRoutes) lines.push(`route replace ${other.podCidr4} via ${other.nodeIp} dev fab0`);
        lines.push(`route replace ${other.podCidr6} via ${other.nodeIp6} dev fab0`);
      }
      if (lines.length > 0) await ipBatchIn(node.netnsName, lines);
    }
  }

  async #startEtcd(): Promise<void> {
    this.etcd = await EtcdHarness.start();
    const socketPath = join(this.#workDir, 'etcd.sock');
    const target = this.etcd.clientPort;
    const server = createServer((client) => {
      const upstream = createConnection(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#unixSockets.add(s);
        s.once('close', () => this.#unixSockets.delete(s));
      }
      spliceSockets(client, upstream);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, () => resolve()));
    this.#unixRelay = server;
    // The listener inside the fabric netns: plain node, no project code, so it starts in ~50 ms.
    const script = `const net = require('node:net');
const [host, port, path] = process.argv.slice(1);
net.createServer((c) => { const u = net.connect(path); c.pipe(u).pipe(c);
  const end = () => { c.destroy(); u.destroy(); };
  c.on('error', end).on('close', end); u.on('error', end).on('close', end);
}).listen(Number(port), host, () => console.log('ready'));`;
    const child = spawn(NSENTER, [`--net=/run/netns/${this.fabricNetns}`, '--', process.execPath, '-e', script, ROUTER4, String(ETCD_RELAY_PORT), socketPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#tcpRelay = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`etcd relay in ${this.fabricNetns} did not start: ${err}`)), 10_000);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`etcd relay exited (${code}): ${err}`));
      });
    });
  }

  /** Runs a command inside a node's netns (host mount namespace: /sys/fs/bpf stays visible). */
  inNode(node: FabricNode, command: string, args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    return run(NSENTER, [`--net=${node.netns}`, '--', command, ...args], o);
  }

  /** Runs a command inside a pod's netns. */
  inPod(pod: { netns: string }, command: string, args: readonly string[], o: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    return run(NSENTER, [`--net=${pod.netns}`, '--', command, ...args], o);
  }

  /** Pods without an agent (fabric tests): created by createPod inside the node netns. */
  async createPods(node: FabricNode, names: readonly string[]): Promise<FabricPod[]> {
    const out = await this.inNode(node, process.execPath, [POD_SCRIPT, node.prefix, node.podCidr4, node.podCidr6, ...names], { timeoutMs: 60_000 });
    if (out.code !== 0) throw new Error(`creating pods on ${node.name} failed (${out.code}): ${out.stderr.trim()}`);
    return JSON.parse(out.stdout) as FabricPod[];
  }

  /** `meshd agent` flags for a node (cluster flags when the fabric has etcd). */
  agentArgs(node: FabricNode, extra: readonly string[] = []): string[] {
    return [
      'agent',
      '--state-dir', node.stateDir,
      '--pin-root', node.pinRoot,
      '--node-prefix', node.prefix,
      '--node-name', node.name,
      '--proxy-port-base', String(node.proxyPortBase),
      '--metrics', 'off',
      '--pod-cidr4', node.podCidr4,
      '--pod-cidr6', node.podCidr6,
      ...(this.etcd ? ['--etcd', this.etcdUrl, '--etcd-prefix', `meshd-fabric-${process.pid}`, '--node-ip', node.nodeIp, '--etcd-lease-ttl', '5'] : []),
      ...extra,
    ];
  }

  /** Starts the node's agent inside its netns and waits for its ready line. */
  async startAgent(node: FabricNode, extra: readonly string[] = []): Promise<RunningAgent> {
    if (node.agent && node.agent.child.exitCode === null && node.agent.child.signalCode === null) throw new Error(`${node.name}: agent already running`);
    const child = spawn(NSENTER, [`--net=${node.netns}`, '--', process.execPath, MESHD_BIN, ...this.agentArgs(node, extra)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-200_000)));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-200_000)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const agent: RunningAgent = { child, stderr: () => err, stdout: () => out, exited };
    node.agent = agent;
    const deadline = Date.now() + AGENT_READY_TIMEOUT_MS;
    for (;;) {
      if (out.split('\n').some((l) => l.startsWith('meshd agent: ready'))) return agent;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${node.name}: meshd agent exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${err.split('\n').slice(-30).join('\n')}`);
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${node.name}: meshd agent not ready after ${AGENT_READY_TIMEOUT_MS} ms:\n${err.split('\n').slice(-30).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the node's agent (SIGTERM; SIGKILL after 20 s). Pods and pins stay, as with a real agent. */
  async stopAgent(node: FabricNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const agent = node.agent;
    node.agent = undefined;
    if (!agent) return;
    const { child } = agent;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await agent.exited;
    clearTimeout(timer);
  }

  /** `node bin/meshd.js ARGS --state-dir <node's>`; the CLI talks to the agent over its unix
   *  socket, but runs in the node netns anyway (teardown and pod exec need it). */
  meshd(node: FabricNode, args: readonly string[], o: { timeoutMs?: number } = {}): Promise<CommandResult> {
    // Before `--` (what follows it is a pod's command line).
    const dashes = args.indexOf('--');
    const withDir = dashes < 0 ? [...args, '--state-dir', node.stateDir] : [...args.slice(0, dashes), '--state-dir', node.stateDir, ...args.slice(dashes)];
    return this.inNode(node, process.execPath, [MESHD_BIN, ...withDir], { timeoutMs: o.timeoutMs ?? 60_000 });
  }

  /** The node's kernel ipcache (pinned map, read-only): [prefix, identity] pairs. */
  ipcache(node: FabricNode): Array<[string, number]> {
    const view = PinnedDatapathView.open({ pinRoot: node.pinRoot });
    try {
      return view.ipcache.entries();
    } finally {
      view.close();
    }
  }

  /** Takes a node out: agent stopped, its pods, pins, state and netns removed, the other nodes'
   *  fabric routes to it deleted. Its entries in etcd go with its lease, which `meshd teardown`
   *  revokes (else they expire with the lease TTL, 5 s here). */
  async removeNode(node: FabricNode): Promise<void> {
    await this.#teardownNode(node);
    node.removed = true;
    for (const other of this.nodes) {
      if (other.removed) continue;
      const lines = [`route del ${node.podCidr6}`, ...(this.agentRoutes ? [] : [`route del ${node.podCidr4}`])];
      await run('ip', ['-n', other.netnsName, '-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
    }
  }

  async #teardownNode(node: FabricNode): Promise<string[]> {
    const problems: string[] = [];
    await this.stopAgent(node).catch((e: unknown) => problems.push(`${node.name} agent: ${String(e)}`));
    if (existsSync(node.netns)) {
      const r = await this.inNode(node, process.execPath, [MESHD_BIN, 'teardown', '--state-dir', node.stateDir, '--pin-root', node.pinRoot, '--node-prefix', node.prefix], {
        timeoutMs: 60_000,
      });
      if (r.code !== 0 && existsSync(join(node.stateDir, 'endpoints.json'))) problems.push(`${node.name} meshd teardown (${r.code}): ${r.stderr.trim().slice(-500)}`);
    }
    await cleanupAll(node.prefix).catch((e: unknown) => problems.push(`${node.name}: ${String(e)}`));
    rmSync(node.pinRoot, { recursive: true, force: true });
    rmSync(node.stateDir, { recursive: true, force: true });
    await run('ip', ['netns', 'del', node.netnsName]);
    if (existsSync(node.netns)) problems.push(`netns ${node.netnsName}`);
    return problems;
  }

  async #removeNamespaces(): Promise<void> {
    // Kills whatever still runs in a netns of this fabric, then deletes them all.
    await cleanupAll(this.prefix).catch(() => {});
  }

  /** Removes everything; throws (after finishing) if something stayed. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const problems: string[] = [];
    for (const node of this.nodes) if (!node.removed) problems.push(...(await this.#teardownNode(node)));
    this.#tcpRelay?.kill('SIGKILL');
    for (const s of this.#unixSockets) s.destroy();
    if (this.#unixRelay) await new Promise<void>((resolve) => this.#unixRelay!.close(() => resolve()));
    await this.etcd?.dispose().catch((e: unknown) => problems.push(`etcd: ${String(e)}`));
    await this.#removeNamespaces();
    const left = listNetns().filter((n) => n.startsWith(this.prefix));
    problems.push(...left.map((n) => `netns ${n}`));
    rmSync(this.#workDir, { recursive: true, force: true });
    process.off('exit', this.#onExit);
    if (problems.length > 0) throw new Error(`fabric teardown: still there: ${problems.join('; ')}`);
  }

  /** The exit hook: synchronous last resort (kills, netns, pins, state); never throws. */
  #disposeSync(): void {
    if (this.#disposed) return;
    for (const node of this.nodes) node.agent?.child.kill('SIGKILL');
    this.#tcpRelay?.kill('SIGKILL');
    for (const ns of listNetns().filter((n) => n.startsWith(this.prefix))) spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });
    for (const node of this.nodes) rmSync(node.pinRoot, { recursive: true, force: true });
    rmSync(this.#workDir, { recursive: true, force: true });
  }
}
