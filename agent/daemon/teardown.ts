// `meshd teardown`: removes everything an agent made on the node, in the order that leaves no
// half-enforced state behind: the agent itself (SIGTERM, so it drains), the proxy process(es),
// every pod of the prefix (processes, netns, veths, cgroups), the pinned BPF links (detached) and
// maps under the pin root, and the runtime files of the state directory. The identity, policy,
// endpoint and FQDN state files stay unless `purge` is set (then the state directory goes).
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { join } from 'node:path';
import { BpfLink, teardownTproxyRouting } from '../../bpf/index.js';
import { cleanupAll } from '../pods/index.js';
import { proxyRecordPath, readProxyRecord, stopProcess } from '../proxy-supervisor/index.js';
import { AgentError } from './errors.js';
import { isProcessAlive, lockHolder } from './lock.js';
import { removeRuntimeFiles } from './agent.js';
import { CLUSTER_RECORD_FILE, type ClusterRecord } from './cluster-link.js';

export interface TeardownOptions {
  stateDir: string;
  pinRoot: string;
  nodePrefix: string;
  /** Also remove the state directory with its identities, policies, endpoints and FQDN cache. */
  purge?: boolean;
  /** How long a running agent gets to drain after SIGTERM; default 15 s. */
  agentGraceMs?: number;
}

export interface TeardownReport {
  agentStopped: number | undefined;
  proxiesStopped: number[];
  podsOf: string;
  pinRootRemoved: boolean;
  linksDetached: number;
  stateDirRemoved: boolean;
  /** Cluster mode: the node's etcd lease was revoked (its pod IPs, node record and identity
   *  references vanished from every node at once); undefined when the agent ran on its own. */
  clusterLeaseRevoked: boolean | undefined;
  /** --ingress-device: devices whose tcx link was detached; the BPF TPROXY routing rule and
   *  route were then removed (tproxyRoutingRemoved). Absent when no device was attached. */
  ingressDevicesDetached?: string[];
  tproxyRoutingRemoved?: boolean;
  problems: string[];
}

export async function teardown(o: TeardownOptions): Promise<TeardownReport> {
  const problems: string[] = [];
  const report: TeardownReport = { agentStopped: undefined, proxiesStopped: [], podsOf: o.nodePrefix, pinRootRemoved: false, linksDetached: 0, stateDirRemoved: false, clusterLeaseRevoked: undefined, problems };

  const agentPid = lockHolder(o.stateDir);
  if (agentPid !== undefined && agentPid !== process.pid) {
    process.kill(agentPid, 'SIGTERM');
    const deadline = Date.now() + (o.agentGraceMs ?? 15_000);
    while (isProcessAlive(agentPid) && Date.now() < deadline) await sleep(50);
    if (isProcessAlive(agentPid)) {
      process.kill(agentPid, 'SIGKILL');
      await sleep(100);
    }
    report.agentStopped = agentPid;
  }

  // After the agent stopped (it releases its lease without revoking, as on a restart): the node
  // leaves the cluster for good, so its records go now rather than after the lease TTL.
  const clusterRecord = readClusterRecord(o.stateDir);
  if (clusterRecord) {
    // Not a teardown problem when it fails: etcd drops the records after the lease TTL anyway.
    report.clusterLeaseRevoked = (await revokeLease(clusterRecord)).ok;
  }

  for (const role of ['', 'builtin']) {
    const record = readProxyRecord(proxyRecordPath(o.stateDir, role));
    if (!record) continue;
    await stopProcess(record);
    report.proxiesStopped.push(record.pid);
  }

  try {
    // Also ends whatever still runs in the node's cgroup tree (a proxy without a record).
    await cleanupAll(o.nodePrefix);
  } catch (err) {
    problems.push((err as Error).message);
  }

  const unpinned = unpinDatapath(o.pinRoot);
  report.linksDetached = unpinned.linksDetached;
  if (unpinned.devicesDetached.length > 0) {
    // The routing came with the devices (agent/daemon/tproxy-ingress.ts): an agent that never
    // attached one leaves a rule another agent of this network namespace may rely on.
    report.ingressDevicesDetached = unpinned.devicesDetached;
    try {
      teardownTproxyRouting();
      report.tproxyRoutingRemoved = true;
    } catch (err) {
      report.tproxyRoutingRemoved = false;
      problems.push((err as Error).message);
    }
  }
  report.pinRootRemoved = !existsSync(o.pinRoot);
  problems.push(...unpinned.problems);

  if (existsSync(o.stateDir)) {
    if (o.purge) {
      rmSync(o.stateDir, { recursive: true, force: true });
      report.stateDirRemoved = !existsSync(o.stateDir);
    } else {
      removeRuntimeFiles(o.stateDir);
    }
  }
  return report;
}

/** Throws MESHD_ERR_AGENT_TEARDOWN when something stayed. */
export function assertTornDown(report: TeardownReport): void {
  if (report.problems.length > 0) {
    throw new AgentError('MESHD_ERR_AGENT_TEARDOWN', `teardown left things behind: ${report.problems.join('; ')}`, { hint: 'run it again; if a pod process ignores SIGKILL, look at it with ps' });
  }
}

/**
 * Detaches every link pinned under links/<cgroup id>/ (unpinning alone would leave an attached
 * program in the cgroup for as long as the cgroup lives), then removes the maps and the root.
 */
export function unpinDatapath(pinRoot: string): { linksDetached: number; devicesDetached: string[]; problems: string[] } {
  const problems: string[] = [];
  // --ingress-device links (tcx, devices/<ifname>/): detached explicitly, like the cgroup links.
  const devices = detachPinnedLinks(join(pinRoot, 'devices'), (ifname, name, message) => {
    // The device is gone already: the kernel severed the link with it.
    if (!LINK_GONE.test(message)) problems.push(`link devices/${ifname}/${name}: ${message}`);
  });
  const cgroups = detachPinnedLinks(join(pinRoot, 'links'), (cg, name, message) => {
    // The cgroup is gone already: the kernel detached the link with it.
    if (!LINK_GONE.test(message)) problems.push(`link ${cg}/${name}: ${message}`);
  });
  const linksDetached = devices.detached + cgroups.detached;
  const devicesDetached = devices.groups;
  try {
    rmSync(pinRoot, { recursive: true, force: true });
  } catch (err) {
    problems.push(`pin root ${pinRoot}: ${(err as Error).message}`);
  }
  return { linksDetached, devicesDetached, problems };
}

const LINK_GONE = /ENOENT|ENOLINK|no such/i;

/**
 * Detaches and closes every link pinned at dir/<group>/<name> (nothing when dir does not exist).
 * A link that fails to open or detach goes to onError and the walk goes on. Returns how many were
 * detached and the groups walked.
 */
function detachPinnedLinks(dir: string, onError: (group: string, name: string, message: string) => void): { detached: number; groups: string[] } {
  let detached = 0;
  const groups: string[] = [];
  if (!existsSync(dir)) return { detached, groups };
  for (const group of readdirSync(dir)) {
    for (const name of readdirSync(join(dir, group))) {
      try {
        const link = BpfLink.openPinned(join(dir, group, name));
        try {
          link.detach();
          detached++;
        } finally {
          link.close();
        }
      } catch (err) {
        onError(group, name, (err as Error).message);
      }
    }
    groups.push(group);
  }
  return { detached, groups };
}

function readClusterRecord(stateDir: string): ClusterRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(stateDir, CLUSTER_RECORD_FILE), 'utf8')) as Partial<ClusterRecord>;
    if (!Array.isArray(r.endpoints) || typeof r.leaseId !== 'string' || r.leaseId === '') return undefined;
    return { endpoints: r.endpoints.map(String), prefix: String(r.prefix ?? ''), nodeName: String(r.nodeName ?? ''), leaseId: r.leaseId };
  } catch {
    return undefined;
  }
}

/** Bounded (3 s): a teardown must not hang on an unreachable etcd. A lease already gone counts as revoked. */
async function revokeLease(record: ClusterRecord): Promise<{ ok: boolean }> {
  const client = new Etcd3({ hosts: record.endpoints, dialTimeout: 2000 });
  try {
    await client.leaseClient.leaseRevoke({ ID: record.leaseId }, { deadline: Date.now() + 3000 });
    return { ok: true };
  } catch (err) {
    return { ok: /not found|NotFound|requested lease/i.test((err as Error).message) };
  } finally {
    client.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
