// Finding and ending a pod's processes, and removing its cgroup directory. A pod's processes are
// those in its cgroup (pod.spawn puts them there) plus any other process that entered its netns
// (a test's own nsenter, say): both are killed before the netns goes, because a live process
// (or socket) keeps a netns, and with it the veth pair, alive after `ip netns del`.

import { existsSync, readFileSync, readdirSync, readlinkSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 5;
const REMOVE_DEADLINE_MS = 3000;

/** Pids in the cgroup `dir` and every cgroup below it. */
function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const visit = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
      for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.push(Number(line));
    } catch {
      return; // gone already
    }
    for (const e of entries) if (e.isDirectory()) visit(join(d, e.name));
  };
  visit(dir);
  return pids;
}

/** Pids of every process whose network namespace is the one bind-mounted at `netnsPath`. */
function netnsPids(netnsPath: string): number[] {
  let target: string;
  try {
    target = `net:[${statSync(netnsPath).ino}]`;
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/net`) === target) pids.push(Number(name));
    } catch {
      // exited while scanning, or a kernel thread
    }
  }
  return pids;
}

function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    if (pid === process.pid || pid <= 1) continue; // never this process (it may have entered a pod's netns or cgroup)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * SIGKILLs everything in the cgroup subtree and in the netns, except this process. cgroup.kill
 * (Linux 5.14+) also catches tasks forking while it runs, but it kills every member, the writer
 * included: it is used only when this process is not in the subtree; otherwise (and on older
 * kernels) the pids are killed one by one, as for the netns.
 */
function killPodProcesses(cgroupDir: string | undefined, netnsPath: string | undefined): void {
  if (cgroupDir !== undefined && existsSync(cgroupDir)) {
    const pids = cgroupPids(cgroupDir);
    if (pids.includes(process.pid)) {
      killPids(pids);
    } else {
      try {
        writeFileSync(join(cgroupDir, 'cgroup.kill'), '1');
      } catch {
        killPids(pids);
      }
    }
  }
  if (netnsPath !== undefined) killPids(netnsPids(netnsPath));
}

/** Depth-first rmdir of a cgroup tree. Returns the directories that could not be removed yet
 *  (EBUSY while killed tasks finish exiting). */
function removeCgroupTreeOnce(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const left: string[] = [];
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) left.push(...removeCgroupTreeOnce(join(dir, e.name)));
    rmdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
  }
  return left;
}

function isSettled(cgroupDir: string | undefined, netnsPath: string | undefined): boolean {
  if (cgroupDir !== undefined && cgroupPids(cgroupDir).some((p) => p !== process.pid)) return false;
  return netnsPath === undefined || netnsPids(netnsPath).every((p) => p === process.pid);
}

/** Kills the processes and waits (bounded) until none is left. Returns whether none is. */
export async function endPodProcesses(cgroupDir: string | undefined, netnsPath: string | undefined): Promise<boolean> {
  const deadline = Date.now() + REMOVE_DEADLINE_MS;
  for (;;) {
    killPodProcesses(cgroupDir, netnsPath);
    if (isSettled(cgroupDir, netnsPath)) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
}

export function endPodProcessesSync(cgroupDir: string | undefined, netnsPath: string | undefined): boolean {
  const deadline = Date.now() + REMOVE_DEADLINE_MS;
  for (;;) {
    killPodProcesses(cgroupDir, netnsPath);
    if (isSettled(cgroupDir, netnsPath)) return true;
    if (Date.now() > deadline) return false;
    sleepSync(POLL_MS);
  }
}

/** Removes the cgroup tree, retrying while the kernel finishes tearing down killed tasks.
 *  Returns the directories still there at the deadline. */
export async function removeCgroupTree(dir: string): Promise<string[]> {
  const deadline = Date.now() + REMOVE_DEADLINE_MS;
  for (;;) {
    const left = removeCgroupTreeOnce(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(POLL_MS);
  }
}

export function removeCgroupTreeSync(dir: string): string[] {
  const deadline = Date.now() + REMOVE_DEADLINE_MS;
  for (;;) {
    const left = removeCgroupTreeOnce(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    sleepSync(POLL_MS);
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread: only for exit and signal hooks, where no event loop turn will come. */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
