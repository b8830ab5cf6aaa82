// bench/bpf: what meshd's kernel datapath costs and saves, against no policy and against
// iptables, printed as ratios in one run (research/bpf.md §4 has the method and earlier
// numbers; docs/bench.md the results on this machine). Knobs: bench/bpf/flags.ts.
//
//   npx tsc -p tsconfig.json && node dist/bench/bpf.js          (root; make build first)
//   REPS=3 SECS=1 SCENARIOS=policy POLICY_SIZES=10,1000 node dist/bench/bpf.js
//
// The whole bench runs in a network namespace of its own that plays the node: the pods'
// veths, the gateway, routes and the relays live there, so nothing on the host is touched
// (no iptables table, no conntrack, no route), and removing that namespace removes it all.
// This process creates it and runs the bench in a child entered into it; it cleans up after
// the child however the child ends.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupAll, setupNode, testPrefix, withPods, type Pod } from '../agent/index.js';
import { describeLoad, describeMachine } from './bench-report.js';
import { BenchDatapath } from './bpf/ebpf.js';
import { BenchUsageError, readFlags } from './bpf/flags.js';
import { Loadgen } from './bpf/loadgen.js';
import { measureInterleaved } from './bpf/measure.js';
import { renderScenario } from './bpf/report.js';
import { SERVER_POD, scenarioPlans, type ScenarioContext } from './bpf/scenarios.js';

const INNER_ENV = 'MESHD_BENCH_BPF_PREFIX';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function pinRootOf(prefix: string): string {
  return `/sys/fs/bpf/${prefix}datapath`;
}

function buildDirOf(prefix: string): string {
  return join(tmpdir(), `${prefix}loadgen`);
}

function requireTools(): void {
  const missing = ['ip', 'nsenter', 'taskset', 'cc', 'iptables-nft', 'iptables-legacy'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new BenchUsageError(`missing tools: ${missing.join(', ')} (make setup installs them)`);
  if (process.getuid?.() !== 0) throw new BenchUsageError('bench/bpf needs root (netns, cgroups, BPF, iptables)');
}

/** Pin roots and build directories of bench runs whose process is gone (SIGKILLed). */
function removeStaleBenchFiles(): void {
  for (const dir of ['/sys/fs/bpf', tmpdir()]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = /^meshdb(\d+)-(datapath|loadgen)$/.exec(name)?.[1];
      if (pid === undefined || Number(pid) === process.pid) continue;
      try {
        process.kill(Number(pid), 0);
      } catch {
        rmSync(join(dir, name), { recursive: true, force: true });
      }
    }
  }
}

/** The parent: creates the node namespace, runs the bench inside it, always cleans up. */
async function runOuter(): Promise<number> {
  readFlags(); // usage errors before anything is created
  requireTools();
  const prefix = testPrefix('b');
  const nodeNs = `${prefix}node`;
  await cleanupAll(); // pods and netns that killed runs left behind (their pid is gone)
  removeStaleBenchFiles();
  execFileSync('ip', ['netns', 'add', nodeNs]);
  let child: ReturnType<typeof spawn> | undefined;
  const forward = (signal: NodeJS.Signals) => child?.kill(signal);
  for (const s of SIGNALS) process.on(s, forward);
  try {
    execFileSync('ip', ['-n', nodeNs, 'link', 'set', 'lo', 'up']);
    const script = fileURLToPath(import.meta.url);
    child = spawn('nsenter', [`--net=/run/netns/${nodeNs}`, '--', process.execPath, ...process.execArgv, script], {
      stdio: 'inherit',
      env: { ...process.env, [INNER_ENV]: prefix },
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child!.once('exit', (c, s) => resolve([c, s])));
    return code ?? 128 + (signal ? constants.signals[signal] : 0);
  } finally {
    for (const s of SIGNALS) process.removeListener(s, forward);
    child?.kill('SIGKILL');
    // Pods (netns, cgroups, processes), then the pins, then the node namespace with everything
    // in it (veth ends, gateway, routes, iptables tables, conntrack).
    await cleanupAll(prefix).catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
    rmSync(pinRootOf(prefix), { recursive: true, force: true });
    rmSync(buildDirOf(prefix), { recursive: true, force: true });
    try {
      execFileSync('ip', ['netns', 'del', nodeNs], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

function describeKernelAndTools(): string {
  const version = (cmd: string) => {
    try {
      return execFileSync(cmd, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0];
    } catch {
      return `${cmd}: not found`;
    }
  };
  let idle = 'unknown';
  try {
    idle = readFileSync('/sys/devices/system/cpu/cpuidle/current_driver', 'utf8').trim();
  } catch {
    // no cpuidle
  }
  return `kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}; ${version('iptables-nft')}; ${version('iptables-legacy')}; cc: ${version('cc')}; cpuidle driver ${idle}`;
}

/** The child, inside the node namespace. */
async function runInner(prefix: string): Promise<void> {
  const flags = readFlags();
  const output: string[] = [];
  const print = (line: string) => {
    output.push(line);
    console.log(line);
  };
  const log = (line: string) => console.error(line);
  print(`# bench/bpf — ${new Date().toISOString()}`);
  print('');
  print(`- ${describeMachine()}`);
  print(`- ${describeKernelAndTools()}`);
  print(`- ${describeLoad()} at start`);
  print(`- REPS=${flags.REPS} SECS=${flags.SECS} MAX_OPS=${flags.MAX_OPS} PIN_CPU=${flags.PIN_CPU} NICE=${flags.NICE} POLICY_SIZES=${flags.POLICY_SIZES.join(',')} IPTABLES=${flags.IPTABLES.join(',')} EBPF=${flags.EBPF ? 1 : 0} SCENARIOS=${flags.SCENARIOS.join(',')}`);
  print(`- every process (clients, servers, relays) pinned to ${flags.PIN_CPU === 'none' ? 'no CPU' : `vCPU ${flags.PIN_CPU}`}, nice ${flags.NICE}; variants interleaved, order rotating per repetition; ratios paired per repetition`);

  await setupNode({ prefix });
  const plans = scenarioPlans(flags);
  const podNames = [...new Set([SERVER_POD, ...plans.flatMap((p) => p.podNames)])];
  await withPods(
    podNames.map((name) => ({ name })),
    async (podList, node) => {
      const pods = new Map<string, Pod>(podList.map((p) => [p.name, p]));
      const loadgen = await Loadgen.build({ dir: buildDirOf(prefix), pinCpu: flags.PIN_CPU, nice: flags.NICE });
      let datapath: BenchDatapath | undefined;
      const ctx: ScenarioContext = {
        node,
        pods,
        loadgen,
        flags,
        log,
        datapath() {
          if (!datapath) {
            datapath = BenchDatapath.open(node, pinRootOf(prefix));
            datapath.setIdentity(pods.get(SERVER_POD)!, 50_000);
          }
          return datapath;
        },
      };
      try {
        await loadgen.startServer({ pod: pods.get(SERVER_POD)! }, ['srv', '::', '7000']);
        for (const plan of plans) {
          log(`${plan.name}: setting up`);
          const run = await plan.setup(ctx);
          log(`${plan.name}: measuring ${run.variants.length} variants × ${run.workloads.length} workloads × ${flags.REPS} repetitions × ${flags.SECS} s`);
          const samples = await measureInterleaved(loadgen, run.variants, run.workloads, { reps: flags.REPS, secs: flags.SECS, maxOps: flags.MAX_OPS, log });
          print('');
          print(`## ${plan.title}`);
          print('');
          print(renderScenario({ labels: run.labels, workloads: run.workloads, samples, baseline: run.baseline, comparisons: run.comparisons }));
          print('');
          for (const note of run.notes) print(`- ${note}`);
        }
        print('');
        print(`- ${describeLoad()} at end`);
      } finally {
        loadgen.dispose();
        datapath?.unload();
      }
    },
  );
  if (flags.OUT) writeFileSync(flags.OUT, `${output.join('\n')}\n`);
}

async function main(): Promise<void> {
  try {
    const prefix = process.env[INNER_ENV];
    if (prefix) await runInner(prefix);
    else process.exitCode = await runOuter();
  } catch (error) {
    if (error instanceof BenchUsageError) {
      console.error(`bench/bpf: ${error.message}`);
      process.exitCode = 2;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  }
}

await main();
