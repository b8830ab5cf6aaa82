// Run by the fabric inside a node netns (nsenter --net): creates pods there with the node's prefix
// and pod ranges, prints them as JSON and exits. The pods outlive this process (createPod installs
// no exit hooks; the fabric's teardown removes them by prefix).
//   node fabric-pods-cli.js PREFIX PODCIDR4 PODCIDR6 NAME...
import { createPod, setupNode } from '../../agent/index.js';

const [prefix, podCidr4, podCidr6, ...names] = process.argv.slice(2);
if (prefix === undefined || podCidr4 === undefined || podCidr6 === undefined) {
  process.stderr.write('usage: fabric-pods-cli PREFIX PODCIDR4 PODCIDR6 NAME...\n');
  process.exit(2);
}
await setupNode({ prefix, podCidr4, podCidr6 });
const pods = [];
for (const name of names) {
  const pod = await createPod({ name });
  pods.push({ name: pod.name, nsName: pod.nsName, netns: pod.netns, ipv4: pod.ipv4, ipv6: pod.ipv6, cgroupPath: pod.cgroupPath });
}
process.stdout.write(`${JSON.stringify(pods)}\n`);
