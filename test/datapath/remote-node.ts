// A "remote node" for the BPF TPROXY tests: a network namespace that is NOT a pod of this node,
// joined to the node (the test's root netns, where the pods' veths and the proxy live) by a veth
// pair, with routes to the node's pod ranges through it. Clients run in it with nsenter (no
// cgroup hooks of ours apply: exactly like a process on another machine). Two source addresses
// per family, so a test can give them different identities. Forwarding is switched on for the
// node-side device only (pod veths have theirs from createPod), never globally: writing
// net.ipv{4,6}.conf.all.forwarding would reset every interface's own setting under the tests
// that run at the same time.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { NodeNetwork } from '../../agent/index.js';

export interface RemoteNode {
  nsName: string;
  netns: string;
  /** The node-side end of the veth: the device the tc program is attached to. */
  nodeDevice: string;
  /** Client source addresses: [first, second] per family. */
  ipv4: [string, string];
  ipv6: [string, string];
  /** The node-side addresses of the link. */
  nodeIpv4: string;
  nodeIpv6: string;
  /** Runs a command in the remote netns; resolves with its output and exit code. */
  exec(command: string, args: readonly string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function run(args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(args: string[]): void {
  try {
    run(args);
  } catch {
    // Already gone.
  }
}

/** Creates the remote node, runs `fn`, removes it whatever happens. */
export async function withRemoteNode<T>(node: NodeNetwork, fn: (remote: RemoteNode) => Promise<T>): Promise<T> {
  const tag = `${process.pid % 100000}`;
  const nsName = `mdcremote${tag}`;
  const nodeDevice = `mdr${tag}n`;
  const peerDevice = `mdr${tag}p`;
  const octet = (process.pid % 200) + 20;
  const remote: RemoteNode = {
    nsName,
    netns: `/run/netns/${nsName}`,
    nodeDevice,
    ipv4: [`10.251.${octet}.2`, `10.251.${octet}.3`],
    ipv6: [`fd51:0:0:${octet.toString(16)}::2`, `fd51:0:0:${octet.toString(16)}::3`],
    nodeIpv4: `10.251.${octet}.1`,
    nodeIpv6: `fd51:0:0:${octet.toString(16)}::1`,
    exec: (command, args, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const child = spawn('nsenter', [`--net=/run/netns/${nsName}`, '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      }),
  };
  try {
    run(['ip', 'netns', 'add', nsName]);
    run(['ip', 'link', 'add', nodeDevice, 'type', 'veth', 'peer', 'name', peerDevice, 'netns', nsName]);
    run(['ip', 'addr', 'add', `${remote.nodeIpv4}/24`, 'dev', nodeDevice]);
    run(['ip', '-6', 'addr', 'add', `${remote.nodeIpv6}/64`, 'dev', nodeDevice, 'nodad']);
    // A direct connection from the other node is forwarded to the pod (force_forwarding: 6.17+).
    writeFileSync(`/proc/sys/net/ipv4/conf/${nodeDevice}/forwarding`, '1');
    writeFileSync(`/proc/sys/net/ipv6/conf/${nodeDevice}/force_forwarding`, '1');
    run(['ip', 'link', 'set', nodeDevice, 'up']);
    const inNs = (args: string[]) => run(['ip', '-n', nsName, ...args]);
    inNs(['link', 'set', 'lo', 'up']);
    for (const a of remote.ipv4) inNs(['addr', 'add', `${a}/24`, 'dev', peerDevice]);
    for (const a of remote.ipv6) inNs(['-6', 'addr', 'add', `${a}/64`, 'dev', peerDevice, 'nodad']);
    inNs(['link', 'set', peerDevice, 'up']);
    inNs(['route', 'add', node.podCidr4, 'via', remote.nodeIpv4]);
    inNs(['-6', 'route', 'add', node.podCidr6, 'via', remote.nodeIpv6]);
    return await fn(remote);
  } finally {
    tryRun(['ip', 'link', 'del', nodeDevice]);
    tryRun(['ip', 'netns', 'del', nsName]);
  }
}
