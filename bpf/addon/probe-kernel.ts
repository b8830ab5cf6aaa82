import { existsSync, readFileSync, statfsSync } from 'node:fs';

// statfs(2) f_type of bpffs (linux/magic.h BPF_FS_MAGIC).
const BPF_FS_MAGIC = 0xcafe4a11;

export interface KernelFacts {
  /** /sys/kernel/btf/vmlinux exists (CONFIG_DEBUG_INFO_BTF): CO-RE and BTF-typed maps work. */
  btf: boolean;
  /** /sys/fs/bpf is a mounted bpffs, where pins live. */
  bpffs: boolean;
  /** Mount point of the cgroup v2 hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
  cgroup2Mount: string | undefined;
}

/** What the kernel offers, for clear failures before anything is loaded. No addon needed. */
export function probeKernel(): KernelFacts {
  return { btf: existsSync('/sys/kernel/btf/vmlinux'), bpffs: isBpffs('/sys/fs/bpf'), cgroup2Mount: findCgroup2Mount() };
}

function isBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

// /proc/self/mountinfo: "36 25 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw"; the mount
// point is field 5, the file system type is the first field after " - ". Spaces in paths are
// written as \040 (octal escapes).
function findCgroup2Mount(): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = before?.split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  }
  return undefined;
}
