// The processes of bench/http: servers pinned to one vCPU with taskset (research/perf.md, layout A),
// their CPU time read from /proc (all threads and child processes: nginx's worker is a child of its
// master), and a registry that stops every process it started — by its recorded pid, never by name —
// however the bench ends.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isSafeInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process (the kernel sums its threads there), in µs; 0 when it is gone. */
function cpuMicrosOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after the name (state is 3).
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The pid and every live descendant (nginx master → worker). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU time of a set of process trees, in µs. */
export function cpuMicros(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) for (const p of processTree(pid)) total += cpuMicrosOfPid(p);
  return total;
}

/** Sets the nice value of a process tree (0 = leave alone); a process that is gone is skipped. */
export function renice(pid: number, nice: number): void {
  if (nice === 0) return;
  for (const p of processTree(pid)) {
    try {
      setPriority(p, nice);
    } catch {
      // exited, or not ours to change
    }
  }
}

export class ProcessRegistry {
  private readonly running = new Map<number, { label: string; child: ChildProcess }>();

  /** Nice value given to load generators as they start (servers: renice() once they listen). */
  constructor(private readonly nice = 0) {}

  /** Starts `command` pinned to `cpu` (taskset execs it, so the pid is the program's own). */
  start(label: string, cpu: number | undefined, command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ManagedProcess {
    const log = openSync(logFile, 'a');
    const [cmd, argv] = cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, { stdio: ['ignore', log, log], env });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${label}: could not start ${command}`);
    this.running.set(pid, { label, child });
    const managed = new ManagedProcess(label, pid, child, logFile);
    child.once('exit', () => this.running.delete(pid));
    return managed;
  }

  /** Runs a load generator to completion (killed after `timeoutMs`); resolves with its stdout. */
  async run(label: string, cpu: number, command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
    const child = spawn('taskset', ['-c', String(cpu), command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${label}: could not start ${command}`);
    this.running.set(pid, { label, child });
    renice(pid, this.nice);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.once('error', () => resolve(-1));
      });
      return { stdout, stderr, code };
    } finally {
      clearTimeout(timer);
      this.running.delete(pid);
    }
  }

  /** Stops everything still running: SIGTERM, then SIGKILL of the process and its children. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running.entries()].map(([pid, { child }]) => stopChild(pid, child)));
    this.running.clear();
  }
}

export class ManagedProcess {
  constructor(
    readonly label: string,
    readonly pid: number,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-2000);
    } catch {
      return '';
    }
  }

  stop(): Promise<void> {
    return stopChild(this.pid, this.child);
  }
}

async function stopChild(pid: number, child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Recorded before the signal: a master killed hard would orphan its workers.
  const tree = processTree(pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
  for (const p of done ? tree.slice(1) : tree) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (!done) await Promise.race([exited, sleep(1000)]);
}

/** Free TCP ports on 127.0.0.1 (bound to port 0, then released; racy only against other binders). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** Waits until 127.0.0.1:port accepts a TCP connection; false after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, gaveUp: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await sleep(50);
  }
  return false;
}
