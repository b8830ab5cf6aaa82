// Runs one load generator (kcat, the kafkajs child) to completion, pinned to the load vCPU, killed
// (SIGKILL, by its pid) when it overruns `timeoutMs`. Unlike bench/http's ProcessRegistry.run, the
// whole stdout and stderr are kept (kcat's protocol log is the measurement). Every child still
// running is tracked, so the bench can end them however it stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { renice } from '../http/processes.js';

const running = new Set<ChildProcess>();

export interface LoadRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Captured output is bounded (a runaway log must not take the bench's memory). */
const MAX_CAPTURE = 64 * 1_048_576;

export function runLoad(cpu: number, nice: number, command: string, args: string[], timeoutMs: number): Promise<LoadRun> {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', String(cpu), command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) {
      resolve({ code: null, stdout: '', stderr: `could not start ${command}`, timedOut: false });
      return;
    }
    running.add(child);
    renice(child.pid, nice);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout!.on('data', (b: Buffer) => {
      if (outBytes < MAX_CAPTURE) out.push(b);
      outBytes += b.length;
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (errBytes < MAX_CAPTURE) err.push(b);
      errBytes += b.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = (code: number | null) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    };
    child.once('error', () => finish(null));
    child.once('close', (code) => finish(code));
  });
}

/** Kills every load generator still running (the bench is stopping). */
export function killRunningLoads(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}
