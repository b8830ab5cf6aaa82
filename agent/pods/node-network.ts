// The node side every pod relies on: the gateway addresses on `meshd0`, the blackhole routes for
// the cluster ranges, and the cgroup directories that hold the pods and the node proxy.
// Shared by every process on the node (tests run in parallel), so each step is idempotent and
// nothing here is removed while any pod exists.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLUSTER_CIDR4,
  CLUSTER_CIDR6,
  DEFAULT_PREFIX,
  GATEWAY_INTERFACE,
  resolvePodRanges,
  validatePodName,
  type PodRangeOptions,
  type PodRanges,
} from './addresses.js';
import { PodCommandError, PodError } from './errors.js';
import { linkExists, listPodVeths } from './links.js';
import { cgroup2Mount } from './mountinfo.js';
import { ipBatch, ipBatchForce, runCommand } from './run-command.js';

export interface NodeNetwork {
  /** Prefix of every netns, cgroup and veth alias this process creates (run-unique in tests). */
  prefix: string;
  /** The interface holding the gateway addresses (a dummy, or an ifb where the kernel has no dummy). */
  gatewayInterface: string;
  gateway4: string;
  gateway6: string;
  podCidr4: string;
  podCidr6: string;
  clusterCidr4: string;
  clusterCidr6: string;
  /** Parent of podsCgroup and proxyCgroup: one attach point covering pods and proxy (sockops). */
  nodeCgroup: string;
  /** Contains every pod's cgroup directory. */
  podsCgroup: string;
  /** For the node proxy's processes (its own cgroup, so pod hooks never catch it). */
  proxyCgroup: string;
}

let configuredPrefix: string | undefined;
/** Prefix → the ranges its gateway addresses were installed for. */
const preparedPrefixes = new Map<string, string>();
/** Prefix → the pod ranges the last setupNode of that prefix chose (one node per process,
 *  or per prefix: a test may run several nodes' pods from one process). */
const configuredRanges = new Map<string, PodRanges>();

/** The prefix set by the last setupNode, if any. */
export function currentPrefix(): string | undefined {
  return configuredPrefix;
}

export function nodeCgroupPath(prefix: string): string {
  return join(cgroup2Mount(), `${prefix}node`);
}

/** The pod ranges of `prefix`: the ones its last setupNode chose, else the defaults. */
export function rangesOf(prefix: string): PodRanges {
  return configuredRanges.get(prefix) ?? resolvePodRanges();
}

/**
 * The node of `prefix`, without touching the system. Ranges given here win; omitted ones are
 * those setupNode chose for the prefix in this process, else the defaults.
 */
export function describeNode(prefix: string, ranges: PodRangeOptions = {}): NodeNetwork {
  const known = rangesOf(prefix);
  const r = resolvePodRanges({ podCidr4: ranges.podCidr4 ?? known.podCidr4, podCidr6: ranges.podCidr6 ?? known.podCidr6 });
  const nodeCgroup = nodeCgroupPath(prefix);
  return {
    prefix,
    gatewayInterface: GATEWAY_INTERFACE,
    gateway4: r.gateway4,
    gateway6: r.gateway6,
    podCidr4: r.podCidr4,
    podCidr6: r.podCidr6,
    clusterCidr4: CLUSTER_CIDR4,
    clusterCidr6: CLUSTER_CIDR6,
    nodeCgroup,
    podsCgroup: join(nodeCgroup, 'pods'),
    proxyCgroup: join(nodeCgroup, 'proxy'),
  };
}

/**
 * Prepares the node for pods (idempotent; cheap when already done). The blackhole routes go in
 * first, so from the first pod on a packet to an address without a pod is dropped here rather
 * than sent to the default gateway. Host forwarding is not switched on globally: each pod's
 * host veth gets forwarding of its own (pod.ts), so the host's other interfaces keep behaving
 * as a host.
 */
export interface SetupNodeOptions extends PodRangeOptions {
  /** Default: the prefix of the last setupNode, else DEFAULT_PREFIX. */
  prefix?: string;
}

/**
 * Pod ranges (`podCidr4`, `podCidr6`): omitted ones keep what an earlier setupNode of the same
 * prefix chose in this process (so `setupNode({ prefix })` from a second module does not reset a
 * node's ranges), else the defaults. The blackhole routes always cover the cluster ranges, so
 * packets to another node's pods leave only through a more specific route (the fabric's).
 */
export async function setupNode(opts: SetupNodeOptions = {}): Promise<NodeNetwork> {
  const prefix = opts.prefix ?? configuredPrefix ?? DEFAULT_PREFIX;
  validatePodName('x', prefix);
  const node = describeNode(prefix, opts); // validates the ranges before anything is changed
  configuredPrefix = prefix;
  configuredRanges.set(prefix, { podCidr4: node.podCidr4, podCidr6: node.podCidr6, gateway4: node.gateway4, gateway6: node.gateway6 });
  const rangesKey = `${node.podCidr4} ${node.podCidr6}`;
  if (preparedPrefixes.get(prefix) !== rangesKey || !linkExists(GATEWAY_INTERFACE)) {
    await ensureGatewayInterface();
    await ipBatch([
      `route replace blackhole ${CLUSTER_CIDR4}`,
      `route replace blackhole ${CLUSTER_CIDR6}`,
      `addr replace ${node.gateway4}/32 dev ${GATEWAY_INTERFACE}`,
      `addr replace ${node.gateway6}/128 dev ${GATEWAY_INTERFACE} nodad`,
      `link set ${GATEWAY_INTERFACE} up`,
    ]);
    mkdirSync(node.podsCgroup, { recursive: true });
    mkdirSync(node.proxyCgroup, { recursive: true });
    preparedPrefixes.set(prefix, rangesKey);
  }
  enableTcpMigrateReq();
  return node;
}

/** The host sysctl that moves connections queued on a closing listener to another listener of
 *  the same SO_REUSEPORT group. */
export const TCP_MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * net.ipv4.tcp_migrate_req=1 in the node's (host) network namespace: when the proxy restarts with
 * port handover, the connections the old proxy's listeners had queued (or half-open) move to the
 * new proxy's listeners instead of being reset or left hanging (docs/pods.md). Idempotent; a
 * kernel before 5.14 has no such sysctl, and then a restart may cost a queued connection.
 */
function enableTcpMigrateReq(): void {
  let current: string;
  try {
    current = readFileSync(TCP_MIGRATE_REQ, 'utf8').trim();
  } catch {
    return; // kernel before 5.14
  }
  if (current !== '1') writeFileSync(TCP_MIGRATE_REQ, '1');
}

/** Forgets that `prefix` was prepared (its cgroup tree was removed). */
export function forgetPrefix(prefix: string): void {
  preparedPrefixes.delete(prefix);
}

async function ensureGatewayInterface(): Promise<void> {
  if (linkExists(GATEWAY_INTERFACE)) return;
  // A dummy is the usual holder of addresses that belong to the host and no wire; kernels built
  // without CONFIG_DUMMY (this VM's) have ifb, which behaves the same for local addresses: the
  // packets to them are delivered locally and never transmitted through the device.
  for (const type of ['dummy', 'ifb']) {
    const r = await runCommand('ip', ['link', 'add', GATEWAY_INTERFACE, 'type', type]);
    if (r.code === 0 || linkExists(GATEWAY_INTERFACE)) return; // ours, or a parallel process's
    if (!/Unknown device type|not supported/i.test(r.stderr)) {
      throw new PodCommandError(`ip link add ${GATEWAY_INTERFACE} type ${type}`, r);
    }
  }
  throw new PodError('MESHD_ERR_POD_COMMAND', `ip link add ${GATEWAY_INTERFACE}: neither dummy nor ifb links are available`, 'the kernel needs CONFIG_DUMMY or CONFIG_IFB');
}

/**
 * Removes the gateway interface and the blackhole routes, but only when no pod of any prefix
 * exists on the node (another process's pods still need them). Returns whether it removed them.
 */
export async function destroyNode(): Promise<boolean> {
  if ((await listPodVeths()).length > 0) return false;
  await ipBatchForce([`link del ${GATEWAY_INTERFACE}`, `route del blackhole ${CLUSTER_CIDR4}`, `route del blackhole ${CLUSTER_CIDR6}`]);
  preparedPrefixes.clear();
  return true;
}
