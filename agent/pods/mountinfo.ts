// Where the cgroup v2 hierarchy is mounted. Hosts differ: pure v2 mounts it at /sys/fs/cgroup,
// systemd's hybrid layout at /sys/fs/cgroup/unified (this VM), containers elsewhere; so the path
// is read from /proc/self/mountinfo (proc(5)), never assumed.

import { readFileSync } from 'node:fs';
import { PodError } from './errors.js';

export interface MountEntry {
  mountId: number;
  /** Path of the mount's root inside its filesystem (`/` unless a subtree is bind-mounted). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/**
 * Parses /proc/<pid>/mountinfo. Each line is
 * `id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions`;
 * the optional fields vary in number, so the line is split at the ` - ` separator. Paths escape
 * space, tab, newline and backslash as octal (`\040`). Malformed lines are skipped.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    const [id, , , root, mountPoint] = before;
    const [fsType, source] = after;
    if (id === undefined || root === undefined || mountPoint === undefined || fsType === undefined || fsType === '') continue;
    const mountId = Number(id);
    if (!Number.isInteger(mountId)) continue;
    entries.push({ mountId, root: unescapeOctal(root), mountPoint: unescapeOctal(mountPoint), fsType, source: unescapeOctal(source ?? '') });
  }
  return entries;
}

function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount point of the cgroup v2 hierarchy in `mountinfo` text, or undefined. The last
 *  cgroup2 mount wins, as a later mount over the same place hides an earlier one. */
export function findCgroup2Mount(mountinfo: string): string | undefined {
  const mounts = parseMountinfo(mountinfo).filter((m) => m.fsType === 'cgroup2');
  return mounts[mounts.length - 1]?.mountPoint;
}

let cachedMount: string | undefined;

/** The cgroup v2 mount point of this process's mount namespace (read once). */
export function cgroup2Mount(): string {
  if (cachedMount !== undefined) return cachedMount;
  const mount = findCgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
  if (mount === undefined) {
    throw new PodError(
      'MESHD_ERR_POD_CGROUP2_MISSING',
      'no cgroup2 filesystem in /proc/self/mountinfo: pods need a cgroup v2 directory each',
      'mount it, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified` (kernel config CGROUPS, CGROUP_BPF)',
    );
  }
  cachedMount = mount;
  return mount;
}
