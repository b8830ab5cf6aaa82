// Loading the objects and the filesystems they need: the compiled *.bpf.o files, a bpffs for
// the pins, and cgroup ids of cgroup v2 directories.
import { existsSync, statSync, statfsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { BpfObject, type BpfLogger, type BpfProgram } from '../addon/index.js';
import { DatapathError } from './errors.js';

const BPF_FS_MAGIC = 0xcafe4a11;
const BPFFS_MOUNT = '/sys/fs/bpf';

export interface LoadedObject {
  object: BpfObject;
  programs: Map<string, BpfProgram>;
}

export function loadObject(path: string, pinRoot: string, logger: BpfLogger | undefined): LoadedObject {
  if (!existsSync(path)) {
    throw new DatapathError('MESHD_ERR_DATAPATH_OBJECT_MISSING', `${path} does not exist`, { hint: 'run make build (bpf/progs/Makefile builds the objects)' });
  }
  let object: BpfObject;
  try {
    object = BpfObject.open(path, logger ? { pinRoot, logger } : { pinRoot });
  } catch (err) {
    // The addon's own "not built" error already says what to do.
    if (String((err as { code?: unknown }).code).startsWith('MESHD_ERR_BPF_')) throw err;
    throw new DatapathError('MESHD_ERR_DATAPATH_LOAD', `opening ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    object.load();
  } catch (err) {
    object.close();
    throw new DatapathError('MESHD_ERR_DATAPATH_LOAD', `loading ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { object, programs: new Map(object.programs.map((name) => [name, object.program(name)])) };
}

/** cgroup id of a cgroup v2 directory = its inode number. */
export function cgroupIdOf(cgroupPath: string): bigint {
  return statSync(cgroupPath, { bigint: true }).ino;
}

/** Pins need a bpffs. On a machine where /sys/fs/bpf is not mounted (some minimal VMs), mount
 *  it, as Cilium's agent does; any other place must already be on a bpffs. */
export function ensureBpffs(pinRoot: string): void {
  let dir = pinRoot;
  while (!existsSync(dir)) dir = dirname(dir);
  if (statfsSync(dir).type === BPF_FS_MAGIC) return;
  if ((pinRoot === BPFFS_MOUNT || pinRoot.startsWith(`${BPFFS_MOUNT}/`)) && dir === BPFFS_MOUNT) {
    try {
      execFileSync('mount', ['-t', 'bpf', 'bpf', BPFFS_MOUNT], { stdio: 'pipe' });
    } catch (err) {
      throw new DatapathError('MESHD_ERR_DATAPATH_NO_BPFFS', `${BPFFS_MOUNT} is not a bpffs and mounting one failed: ${(err as Error).message}`, {
        hint: 'mount -t bpf bpf /sys/fs/bpf (as root)',
        cause: err,
      });
    }
    if (statfsSync(BPFFS_MOUNT).type === BPF_FS_MAGIC) return;
  }
  throw new DatapathError('MESHD_ERR_DATAPATH_NO_BPFFS', `${pinRoot} is not on a BPF filesystem`, { hint: 'mount -t bpf bpf /sys/fs/bpf, or choose a pin root on a bpffs' });
}
