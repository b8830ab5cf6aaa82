// A pod's cgroup removed while no agent ran (pod deleted, reboot of its cgroup, an admin's
// rmdir) severs its pinned links: the next Datapath.open must treat that endpoint as stale and
// clean its kernel state instead of failing on bpf_link_update's ENOLINK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfLink, BpfMap, Datapath, MAP_NAMES } from '../../bpf/index.js';
import { cgroup2Mount, testPrefix, withPods } from '../../agent/index.js';
import { FIRST_POD_IDENTITY, assertKernelReady, cnp, datapathOptions, applyPolicyYaml, registerMembers, removePinRoot, testPinRoot, timedConnect, type PodMember } from './datapath-harness.js';

/** The kernel releases a removed cgroup's BPF state asynchronously: wait (bounded) until the
 *  pinned link reports no cgroup any more. */
async function waitUntilSevered(linkPath: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const link = BpfLink.openPinned(linkPath);
    const { cgroupId } = link.info();
    link.close();
    if (cgroupId === 0n || cgroupId === undefined) return;
    if (Date.now() > deadline) throw new Error(`the link ${linkPath} still names cgroup ${cgroupId} ${timeoutMs} ms after its cgroup was removed`);
    await sleep(50);
  }
}

test('Datapath.open after an endpoint cgroup vanished removes that endpoint as stale and keeps the others enforced', { timeout: 120_000 }, async () => {
  assertKernelReady();
  await withPods([{ name: 'client' }, { name: 'server' }], async (pods, node) => {
    const pinRoot = testPinRoot();
    // The vanishing endpoint: a cgroup of its own that the test removes (no process in it).
    const goneCgroup = join(cgroup2Mount(), `${testPrefix()}stale`); // swept by cleanupAll if this run is killed
    mkdirSync(goneCgroup, { recursive: true });
    const members: PodMember[] = [
      { app: 'client', endpointId: 1, identity: FIRST_POD_IDENTITY, ipv4: pods[0]!.ipv4, ipv6: pods[0]!.ipv6, cgroupPath: pods[0]!.cgroupPath },
      { app: 'server', endpointId: 2, identity: FIRST_POD_IDENTITY + 1, ipv4: pods[1]!.ipv4, ipv6: pods[1]!.ipv6, cgroupPath: pods[1]!.cgroupPath },
      { app: 'gone', endpointId: 3, identity: FIRST_POD_IDENTITY + 2, ipv4: '10.244.250.250', ipv6: 'fd44:244::fa:fa', cgroupPath: goneCgroup },
    ];
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) };
    let dp: Datapath | undefined;
    try {
      dp = Datapath.open(datapathOptions(node, pinRoot));
      registerMembers(dp, node, members);
      applyPolicyYaml(
        dp,
        members,
        cnp('client', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }] }]`) +
          cnp('gone', `  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]`),
      );
      const goneCgroupId = dp.attachedEndpoints().find((e) => e.id === 3)!.cgroupId.toString();
      assert.ok(dp.readPolicy(3), 'the vanishing endpoint had a policy trie');
      dp.close(); // the agent stops; pins and links stay
      dp = undefined;

      rmdirSync(goneCgroup);
      await waitUntilSevered(join(pinRoot, 'links', goneCgroupId, 'meshd_connect4'));

      dp = Datapath.open(datapathOptions(node, pinRoot, { logger }));
      assert.deepEqual(dp.staleEndpoints, [3], 'the endpoint of the removed cgroup is reported stale');
      assert.deepEqual(dp.attachedEndpoints().map((e) => e.id).sort(), [1, 2]);
      assert.equal(existsSync(join(pinRoot, 'links', goneCgroupId)), false, 'its links were unpinned');
      assert.equal(dp.readPolicy(3), undefined, 'its policy trie is gone');
      assert.ok(dp.readPolicy(1), "the others' policies stay");
      assert.ok(warnings.some((w) => w.includes('endpoint 3 is stale')), `a warning names it: ${JSON.stringify(warnings)}`);
      const addrs = BpfMap.openPinned(join(pinRoot, MAP_NAMES.endpointAddrs));
      try {
        assert.equal(addrs.entries().length, 4, 'only the two live endpoints keep their address entries (v4 + v6 each)');
      } finally {
        addrs.close();
      }
      for (const pod of pods) assert.ok(readdirSync(join(pinRoot, 'links')).includes(pod.cgroupId.toString()), 'the live pods keep their links');
      assert.equal((await timedConnect(pods[0]!, members[1]!.ipv4, 7002)).code, 'EPERM', "the live client's policy is still enforced after the reopen");

      // A second open finds nothing stale.
      dp.close();
      dp = undefined;
      dp = Datapath.open(datapathOptions(node, pinRoot));
      assert.deepEqual(dp.staleEndpoints, []);
    } finally {
      try {
        dp?.unload();
      } finally {
        removePinRoot(pinRoot);
        if (existsSync(goneCgroup)) rmdirSync(goneCgroup);
      }
    }
  });
});
