// Removing everything a prefix left behind: after a test run that was SIGKILLed (no hook ran),
// or synchronously from this process's exit and signal hooks.

import { existsSync, readdirSync } from 'node:fs';
import { hostVethName } from './addresses.js';
import { PodError } from './errors.js';
import { cgroup2Mount } from './mountinfo.js';
import { linkExists, listPodVeths } from './links.js';
import { forgetPrefix, nodeCgroupPath } from './node-network.js';
import { forgetPod, livePodsOfThisProcess } from './pod.js';
import { endPodProcesses, endPodProcessesSync, removeCgroupTree, removeCgroupTreeSync } from './processes.js';
import { ipBatchForce, ipBatchForceSync } from './run-command.js';

/** Prefixes that carry the pid of the process that made them: `meshdt<pid>-` (tests),
 *  `meshdb<pid>-` (bench). Their leftovers are stale once that process is gone. */
const PID_PREFIX = /^(meshd[a-z](\d+)-)/;

export function testPrefix(kind: 't' | 'b' = 't', pid = process.pid): string {
  return `meshd${kind}${pid}-`;
}

function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pid-carrying prefixes found on the node whose process no longer runs. */
async function stalePrefixes(): Promise<string[]> {
  const names = [...listNetns(), ...(await listPodVeths()).map((v) => v.alias), ...readdirSync(cgroup2Mount())];
  const stale = new Set<string>();
  for (const name of names) {
    const m = PID_PREFIX.exec(name);
    if (m && Number(m[2]) !== process.pid && !isAlive(Number(m[2]))) stale.add(m[1]!);
  }
  return [...stale];
}

interface Leftovers {
  netns: string[];
  veths: string[];
  nodeCgroup: string;
}

async function findLeftovers(prefix: string): Promise<Leftovers> {
  const netns = listNetns().filter((n) => n.startsWith(prefix));
  return {
    netns,
    // By alias, and by name for each netns (in case the alias was never set).
    veths: [
      ...new Set([
        ...(await listPodVeths())
          .filter((v) => v.alias.startsWith(prefix))
          .map((v) => v.name),
        ...netns.map(hostVethName).filter(linkExists),
      ]),
    ],
    nodeCgroup: nodeCgroupPath(prefix),
  };
}

/**
 * Removes every pod, netns, veth, cgroup and process left by `prefix`; without a prefix, those of
 * test and bench runs whose process has died (safe while other test files run: their pids live).
 * The gateway interface and blackhole routes stay (destroyNode removes them).
 */
export async function cleanupAll(prefix?: string): Promise<void> {
  const problems: string[] = [];
  for (const p of prefix === undefined ? await stalePrefixes() : [prefix]) {
    const found = await findLeftovers(p);
    if (existsSync(found.nodeCgroup)) await endPodProcesses(found.nodeCgroup, undefined);
    for (const ns of found.netns) await endPodProcesses(undefined, `/run/netns/${ns}`);
    await ipBatchForce([...found.veths.map((v) => `link del ${v}`), ...found.netns.map((ns) => `netns del ${ns}`)]);
    problems.push(...(await removeCgroupTree(found.nodeCgroup)));
    for (const pod of livePodsOfThisProcess()) if (pod.nsName.startsWith(p)) forgetPod(pod.nsName);
    forgetPrefix(p);
    const after = await findLeftovers(p);
    problems.push(...after.netns.map((n) => `netns ${n}`), ...after.veths.map((v) => `veth ${v}`));
  }
  if (problems.length > 0) throw new PodError('MESHD_ERR_POD_CLEANUP', `cleanupAll: still there: ${problems.join(', ')}`);
}

/** The synchronous last resort of the exit and signal hooks: this process's live pods, then
 *  the cgroup trees of `prefixes`. Never throws (nothing could report it any more). */
export function removeLivePodsSync(prefixes: Iterable<string>): void {
  for (const pod of livePodsOfThisProcess()) {
    try {
      endPodProcessesSync(pod.cgroupPath, existsSync(pod.netns) ? pod.netns : undefined);
      ipBatchForceSync([`link del ${hostVethName(pod.nsName)}`, `netns del ${pod.nsName}`]);
      removeCgroupTreeSync(pod.cgroupPath);
      forgetPod(pod.nsName);
    } catch {
      // keep going: the other pods still need removing
    }
  }
  for (const prefix of prefixes) {
    try {
      const dir = nodeCgroupPath(prefix);
      endPodProcessesSync(dir, undefined);
      removeCgroupTreeSync(dir);
      forgetPrefix(prefix);
    } catch {
      // as above
    }
  }
}
