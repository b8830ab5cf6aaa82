// Kernel prerequisites and throwaway kernel objects for the addon's tests: a cgroup v2 directory,
// a bpffs pin directory, a child process that connects from inside a cgroup. Everything created
// here has a remover, and the names carry the pid so that parallel test processes never collide.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { probeKernel } from '../index.js';

export interface BpfTestKernel {
  cgroup2Mount: string;
}

/**
 * Fails (never skips) with the name of what is missing: root, BTF, bpffs, cgroup v2. A kernel that
 * has bpffs but nothing mounted at /sys/fs/bpf gets it mounted, as systemd does at boot.
 */
export function requireBpfKernel(): BpfTestKernel {
  if (process.getuid?.() !== 0) throw new Error('the bpf suite needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)');
  let facts = probeKernel();
  if (!facts.btf) throw new Error('the kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)');
  if (!facts.bpffs) {
    if (!/\tbpf$/m.test(readFileSync('/proc/filesystems', 'utf8'))) {
      throw new Error('the kernel has no bpffs (CONFIG_BPF_SYSCALL): nothing can be pinned');
    }
    execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    facts = probeKernel();
    if (!facts.bpffs) throw new Error('bpffs is not mounted at /sys/fs/bpf and mounting it failed');
  }
  if (!facts.cgroup2Mount) throw new Error('no cgroup v2 hierarchy is mounted (cgroup2 in /proc/self/mountinfo)');
  return { cgroup2Mount: facts.cgroup2Mount };
}

let counter = 0;

/** A fresh cgroup v2 directory under the cgroup2 mount. */
export function createTestCgroup(kernel: BpfTestKernel, label: string): string {
  const path = join(kernel.cgroup2Mount, `meshd-test-${process.pid}-${label}-${counter++}`);
  mkdirSync(path);
  return path;
}

/** Removes a test cgroup; retries while exited children are still being taken out of it (EBUSY). */
export async function removeTestCgroup(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(path);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 40) throw error;
      await sleep(50);
    }
  }
}

/** A bpffs directory path for this process's pins (not created: libbpf creates pin roots). */
export function testPinDir(label: string): string {
  return `/sys/fs/bpf/meshd-test-${process.pid}-${label}-${counter++}`;
}

export function removePinDir(path: string): void {
  if (existsSync(path)) rmSync(path, { recursive: true, force: true });
}

export interface ConnectOutcome {
  /** 'connected', or the error code of connect(): 'EPERM' when a connect4 program refused it. */
  result: string;
  pid: number;
}

const CHILD_CONNECT = fileURLToPath(new URL('./child-connect.js', import.meta.url));

/** Runs a child that joins `cgroupPath` first and then connects to 127.0.0.1:port. At most 10 s. */
export async function connectFromCgroup(cgroupPath: string, port: number): Promise<ConnectOutcome> {
  const child = spawn(process.execPath, [CHILD_CONNECT, cgroupPath, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (status !== 0) throw new Error(`child-connect exited with ${status}: ${stderr}`);
    return JSON.parse(stdout) as ConnectOutcome;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** This process's open fds as "fd -> target" (for leak checks: a diff names what leaked). */
export function openFds(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [`${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`];
    } catch {
      return []; // the fd readdir itself used, closed by now
    }
  });
}
