// findPodCgroup on cgroup trees laid out the way the kubelet lays them out (both cgroup drivers,
// nested under a kubelet's own cgroup, every QoS class), made by the test in a directory of its own.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPodCgroup, listPodCgroups } from './k8s-registry.js';

const UID = '3f6c1a2e-0b7d-4c1e-9a51-000000000011';
const UID_ = UID.replace(/-/g, '_');

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A fresh tree with these directories (relative paths) in it. */
function tree(dirs: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'meshd-cgtree-'));
  roots.push(root);
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  return root;
}

describe('finding a Kubernetes pod\'s cgroup by its uid', () => {
  const cases: Array<{ layout: string; dir: string; qos?: string }> = [
    { layout: 'cgroupfs, Guaranteed', dir: `kubepods/pod${UID}`, qos: 'Guaranteed' },
    { layout: 'cgroupfs, Burstable', dir: `kubepods/burstable/pod${UID}`, qos: 'Burstable' },
    { layout: 'cgroupfs, BestEffort', dir: `kubepods/besteffort/pod${UID}`, qos: 'BestEffort' },
    { layout: 'systemd, Guaranteed', dir: `kubepods.slice/kubepods-pod${UID_}.slice`, qos: 'Guaranteed' },
    { layout: 'systemd, Burstable', dir: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`, qos: 'Burstable' },
    { layout: 'systemd, BestEffort', dir: `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice`, qos: 'BestEffort' },
    { layout: 'systemd under kubelet.slice (kind)', dir: `kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice` },
    { layout: 'cgroupfs under the kubelet\'s cgroup (k3s, kind)', dir: `kubelet/kubepods/burstable/pod${UID}` },
    { layout: 'systemd with the uid\'s dashes kept', dir: `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID}.slice` },
  ];
  for (const c of cases) {
    test(`the pod's cgroup is found in the ${c.layout} layout`, () => {
      const root = tree([
        c.dir,
        // Other pods, containers of the pod and unrelated cgroups around it.
        'kubepods/besteffort/pod11111111-2222-3333-4444-555555555555',
        `system.slice/containerd.service`,
        `user.slice/user-0.slice/pod${UID}`,
        `${c.dir}/cri-containerd-0123456789abcdef.scope`,
      ]);
      assert.equal(findPodCgroup(root, UID, c.qos), join(root, c.dir));
    });
  }

  test('nothing is found when the pod has no cgroup yet, nor outside the kubelet\'s tree', () => {
    const root = tree([`user.slice/pod${UID}`, `system.slice/kubepods-pod${UID_}.slice`, 'kubepods/burstable/pod99999999-0000-0000-0000-000000000000']);
    assert.equal(findPodCgroup(root, UID, 'Burstable'), undefined);
  });

  test('a root that does not exist finds nothing and throws nothing', () => {
    assert.equal(findPodCgroup(join(tmpdir(), 'meshd-no-such-cgroup-root'), UID), undefined);
  });

  test('the search stays within its depth bound', () => {
    const root = tree([`kubepods/a-kubepods/b-kubepods/c-kubepods/d-kubepods/pod${UID}`]);
    assert.equal(findPodCgroup(root, UID), undefined, 'six levels down is further than any kubelet puts a pod');
  });

  test('every pod cgroup of the kubelet\'s tree is listed, in both layouts, and nothing else', () => {
    const other = '11111111-2222-3333-4444-555555555555';
    const root = tree([
      `kubepods/burstable/pod${UID}/0123456789abcdef`,
      `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${other.replace(/-/g, '_')}.slice`,
      `user.slice/pod${UID}`,
    ]);
    assert.deepEqual(listPodCgroups(root).sort(), [
      join(root, `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${other.replace(/-/g, '_')}.slice`),
      join(root, `kubepods/burstable/pod${UID}`),
    ].sort());
  });
});
