// Starting programs inside a pod without holding a Pod object: the agent restarted since the pod
// was made (agent/pods' handles live in the process that created them), or the CLI enters a pod
// for `meshd pod exec`. Same two steps as agent/pods' Pod.spawn (docs/pods.md): the process
// writes its own pid into the pod's cgroup before it execs anything, then nsenter enters only
// the network namespace — so every socket it opens belongs to the pod.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Names arrive as positional parameters, never inside the script text. */
const ENTER_POD_SCRIPT = 'echo $$ > "$0" || exit 126; netns=$1; shift; exec nsenter --net="$netns" -- "$@"';

export interface PodPlace {
  /** /run/netns/<name>. */
  netns: string;
  /** The pod's cgroup v2 directory. */
  cgroupPath: string;
}

export interface SpawnInPodOptions {
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /** A session of its own (setsid): no signal of the spawner's terminal or process group reaches it. */
  detached?: boolean;
  cwd?: string;
}

export function spawnInPod(place: PodPlace, argv: readonly string[], opts: SpawnInPodOptions = {}): ChildProcess {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('spawnInPod: empty command');
  return spawn('/bin/sh', ['-c', ENTER_POD_SCRIPT, join(place.cgroupPath, 'cgroup.procs'), place.netns, command, ...args], {
    env: opts.env ?? process.env,
    stdio: opts.stdio ?? 'pipe',
    detached: opts.detached ?? false,
    cwd: opts.cwd ?? '/',
  });
}

/** Whether the pod's kernel objects are still there (a restarted agent re-adopts it then). */
export function podExists(place: PodPlace): boolean {
  return existsSync(place.netns) && existsSync(join(place.cgroupPath, 'cgroup.procs'));
}

/**
 * Where `command` would be found: a path with a slash must be an executable file, a bare name
 * is looked up in PATH. The pod shares the agent's mount namespace, so the agent's answer holds
 * inside the pod too; checking first turns a typo into an error instead of a pod whose only
 * process died with "not found" in its log.
 */
export function resolveExecutable(command: string, path: string | undefined): string | undefined {
  const candidates = command.includes('/') ? [command] : (path ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).filter((d) => d !== '').map((d) => join(d, command));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The start time of a process (field 22 of /proc/<pid>/stat, clock ticks since boot): with the
 * pid it names one process across pid reuse. undefined when the process is gone.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return undefined;
  return fields[19];
}

export function isSameProcessRunning(pid: number | undefined, startTime: string | undefined): boolean {
  if (pid === undefined || startTime === undefined) return false;
  return processStartTime(pid) === startTime;
}
