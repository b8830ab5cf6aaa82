// A separate test process for pods.test.ts. Two modes:
//   node dist/test/datapath/pods-child.js <count>
//     creates `count` pods with withPods, starts a long sleep in each, prints one JSON line
//     describing them (ChildReport), then waits to be killed. The parent kills it with a signal
//     and checks that nothing of the pods is left.
//   node dist/test/datapath/pods-child.js self-in-cgroup
//     moves itself into its pod's cgroup, deletes the pod (which must not kill this process),
//     moves back, lets withPods finish, and prints one JSON line (SelfInCgroupReport).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Mount, deletePod, withPods, type Pod } from '../../agent/index.js';

export interface ChildPodInfo {
  name: string;
  netns: string;
  hostVeth: string;
  cgroupPath: string;
  ipv4: string;
  ipv6: string;
  sleeperPid: number;
}

export interface ChildReport {
  pid: number;
  nodeCgroup: string;
  pods: ChildPodInfo[];
}

export interface SelfInCgroupReport {
  pid: number;
  pod: { netns: string; hostVeth: string; cgroupPath: string };
  /** What the deletePod run from inside the pod's cgroup ended with: 'removed' or an error code. */
  deleteFromInside: string;
}

/** This process's cgroup v2 directory, from the `0::` line of /proc/self/cgroup. */
function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  if (line === undefined) throw new Error('no cgroup v2 line in /proc/self/cgroup');
  return join(cgroup2Mount(), line.slice(3));
}

async function selfInCgroup(): Promise<void> {
  await withPods([{ name: 'self' }], async ([pod]) => {
    const p = pod!;
    const home = ownCgroup();
    writeFileSync(join(p.cgroupPath, 'cgroup.procs'), String(process.pid));
    let deleteFromInside: string;
    try {
      await deletePod(p);
      deleteFromInside = 'removed';
    } catch (error) {
      deleteFromInside = (error as { code?: string }).code ?? String(error);
    } finally {
      writeFileSync(join(home, 'cgroup.procs'), String(process.pid));
    }
    const report: SelfInCgroupReport = { pid: process.pid, pod: { netns: p.netns, hostVeth: p.hostVeth, cgroupPath: p.cgroupPath }, deleteFromInside };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  });
}

async function podsUntilKilled(count: number): Promise<void> {
  const specs = Array.from({ length: count }, (_, i) => ({ name: `child${i}` }));
  await withPods(specs, async (pods: Pod[], node) => {
    const infos = pods.map((pod) => {
      const sleeper = pod.spawn('sleep', ['300'], { stdio: 'ignore' });
      return { name: pod.name, netns: pod.netns, hostVeth: pod.hostVeth, cgroupPath: pod.cgroupPath, ipv4: pod.ipv4, ipv6: pod.ipv6, sleeperPid: sleeper.pid! };
    });
    const report: ChildReport = { pid: process.pid, nodeCgroup: node.nodeCgroup, pods: infos };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    // Bounded: the parent kills this process well before; if it does not, end anyway.
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  });
}

const mode = process.argv[2] ?? '1';
if (mode === 'self-in-cgroup') await selfInCgroup();
else await podsUntilKilled(Number(mode));
