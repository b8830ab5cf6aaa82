import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCgroup2Mount, parseMountinfo } from './mountinfo.js';

// Lines as the kernel writes them (proc(5)); optional fields vary in number before " - ".
const HYBRID = [
  '25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 master:2 - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

test('the cgroup2 mount of a hybrid layout is found under /sys/fs/cgroup/unified', () => {
  assert.equal(findCgroup2Mount(HYBRID), '/sys/fs/cgroup/unified');
});

test('a pure cgroup v2 host has its hierarchy at /sys/fs/cgroup', () => {
  assert.equal(findCgroup2Mount('29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n'), '/sys/fs/cgroup');
});

test('no cgroup2 line means no mount', () => {
  assert.equal(findCgroup2Mount(HYBRID.split('\n').slice(0, 3).join('\n')), undefined);
  assert.equal(findCgroup2Mount(''), undefined);
});

test('octal escapes in paths are decoded', () => {
  const [entry] = parseMountinfo('50 41 0:40 /a\\040dir /mnt/cg\\040two rw - cgroup2 none rw\n');
  assert.equal(entry?.mountPoint, '/mnt/cg two');
  assert.equal(entry?.root, '/a dir');
  assert.equal(entry?.fsType, 'cgroup2');
});

test('the last of several cgroup2 mounts wins, as it hides the earlier ones', () => {
  const text = '41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n60 41 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n';
  assert.equal(parseMountinfo(text).length, 2);
  assert.equal(findCgroup2Mount(text), '/sys/fs/cgroup/unified');
});

test('malformed lines are skipped, not fatal', () => {
  assert.deepEqual(parseMountinfo('garbage\nx y z - \n - cgroup2\n'), []);
});
