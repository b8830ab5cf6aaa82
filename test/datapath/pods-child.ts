// A separate test process for pods.test.ts: creates `count` pods with withPods, starts a long
// sleep in each, prints one JSON line describing them, then waits to be killed. The parent kills
// it with a signal and checks that nothing of the pods is left.
//   node dist/test/datapath/pods-child.js <count>

import { withPods, type Pod } from '../../agent/index.js';

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

const count = Number(process.argv[2] ?? '1');
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
