// Builds bench/bpf/loadgen.c and runs its servers and clients where the bench needs them: in a
// pod (its cgroup and netns) or in a cgroup of the node, pinned to one vCPU.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Pod } from '../../agent/index.js';

/** From dist/bench/bpf/ back to the sources (tsc does not copy .c files). */
const SOURCE = fileURLToPath(new URL('../../../bench/bpf/loadgen.c', import.meta.url));
const READY_TIMEOUT_MS = 5000;

export interface LoadResult {
  mode: 'crr' | 'rr' | 'tput';
  ops: number;
  seconds: number;
  /** Operations per second (connections, transactions, or writes for tput). */
  rate: number;
  p50_us: number;
  p99_us: number;
  bytes: number;
  errors: number;
  first_error: string;
}

/** Where a process runs: inside a pod, or in a cgroup of the node's own netns. */
export type Placement = { pod: Pod } | { cgroup: string };

export class Loadgen {
  readonly binary: string;
  readonly #dir: string;
  readonly #pinCpu: number | 'none';
  readonly #nice: number;
  readonly #servers = new Set<ChildProcess>();

  private constructor(dir: string, pinCpu: number | 'none', nice: number) {
    this.#dir = dir;
    this.binary = join(dir, 'loadgen');
    this.#pinCpu = pinCpu;
    this.#nice = nice;
  }

  /** Compiles into `dir` (created; removed by dispose, or by whoever owns the run if this
   *  process dies first). */
  static async build(o: { dir: string; pinCpu: number | 'none'; nice: number }): Promise<Loadgen> {
    mkdirSync(o.dir, { recursive: true });
    const lg = new Loadgen(o.dir, o.pinCpu, o.nice);
    try {
      await promisify(execFile)('cc', ['-O2', '-Wall', '-o', lg.binary, SOURCE]);
    } catch (error) {
      lg.dispose();
      throw new Error(`cc ${SOURCE} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
    }
    return lg;
  }

  #argv(args: readonly string[]): [string, string[]] {
    const pinned = this.#pinCpu === 'none' ? [this.binary, ...args] : ['taskset', '-c', String(this.#pinCpu), this.binary, ...args];
    const argv = this.#nice === 0 ? pinned : ['nice', '-n', String(this.#nice), ...pinned];
    return [argv[0]!, argv.slice(1)];
  }

  #spawn(where: Placement, args: readonly string[]): ChildProcess {
    const [command, argv] = this.#argv(args);
    if ('pod' in where) return where.pod.spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Into the cgroup before exec, as pod.spawn does, so the sockets belong to that cgroup.
    return spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" || exit 126; exec "$@"', where.cgroup, command, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts `srv` or `relay` and waits for its "ready". Stopped by stopServers (or with its pod). */
  async startServer(where: Placement, args: readonly string[]): Promise<ChildProcess> {
    const child = this.#spawn(where, args);
    this.#servers.add(child);
    child.once('exit', () => this.#servers.delete(child));
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`loadgen ${args.join(' ')} not ready after ${READY_TIMEOUT_MS} ms: ${err}`)), READY_TIMEOUT_MS);
      child.stdout!.on('data', (d: string) => {
        out += d;
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`loadgen ${args.join(' ')} exited (${code}) before ready: ${err}`));
      });
    });
    // Keep draining, so a chatty server never blocks on a full pipe.
    child.stdout!.resume();
    return child;
  }

  /** Runs one client to completion (bounded by its own SECS / MAX_OPS; killed at `timeoutMs`). */
  async runClient(where: Placement, args: readonly string[], timeoutMs: number): Promise<LoadResult> {
    const child = this.#spawn(where, args);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    const line = out.trim().split('\n').pop() ?? '';
    let result: LoadResult;
    try {
      result = JSON.parse(line) as LoadResult;
    } catch {
      throw new Error(`loadgen ${args.join(' ')} ended (${code ?? signal}) without a result: ${out}${err}`);
    }
    if (result.errors > 0 || code !== 0) {
      throw new Error(`loadgen ${args.join(' ')}: ${result.errors} errors (first: ${result.first_error || 'none'}), exit ${code ?? signal}; ${err}`);
    }
    return result;
  }

  stopServers(): void {
    for (const child of this.#servers) child.kill('SIGKILL');
    this.#servers.clear();
  }

  dispose(): void {
    this.stopServers();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
