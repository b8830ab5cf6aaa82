// Every knob of bench/bpf, one line each, with its default (STYLE.md: flags in one place).
// Read once at startup; a malformed value is a usage error, not a silent default.

export class BenchUsageError extends Error {
  // Bench-internal: printed as a usage error (exit 2) by bench/bpf.ts; never leaves the process.
  readonly code = 'ERR_BENCH_USAGE';
}

export type ScenarioName = 'policy' | 'redirect' | 'sockhash';
const SCENARIO_NAMES: readonly ScenarioName[] = ['policy', 'redirect', 'sockhash'];

export interface BpfBenchFlags {
  /** Interleaved repetitions: every variant is measured once per repetition, in rotating order. */
  REPS: number;
  /** Seconds per measurement (each also stops at MAX_OPS operations, whichever comes first). */
  SECS: number;
  MAX_OPS: number;
  /** The vCPU every bench process is pinned to (research/bpf.md §4: one vCPU gives repeatable
   *  rates); 'none' leaves scheduling to the kernel. */
  PIN_CPU: number | 'none';
  /** Nice value of every bench process: on a shared VM a negative one keeps other work from
   *  preempting the measurement as often (research/bpf.md §4: a busy neighbour swings rates by
   *  ±30–50 %); 0 leaves priorities alone. */
  NICE: number;
  /** Policy sizes compared in the policy scenario (eBPF map entries = iptables rules). */
  POLICY_SIZES: number[];
  SCENARIOS: ScenarioName[];
  /** iptables backends to compare: nft (Debian's default `iptables`) and legacy. */
  IPTABLES: Array<'nft' | 'legacy'>;
  /** 0 leaves meshd's datapath out (only direct and iptables; no sockhash scenario), e.g.
   *  while the addon is not built. */
  EBPF: boolean;
  /** Also write the results (markdown) to this file. */
  OUT: string | undefined;
}

export function readFlags(env: NodeJS.ProcessEnv = process.env): BpfBenchFlags {
  return {
    REPS: readCount(env, 'REPS', 5, 1),
    SECS: readNumber(env, 'SECS', 2),
    MAX_OPS: readCount(env, 'MAX_OPS', 2_000_000, 1),
    PIN_CPU: env.PIN_CPU === 'none' ? 'none' : readCount(env, 'PIN_CPU', 1, 0),
    NICE: readNice(env),
    POLICY_SIZES: readList(env, 'POLICY_SIZES', '10,100000').map((s) => toCount('POLICY_SIZES', s, 2)),
    SCENARIOS: readList(env, 'SCENARIOS', SCENARIO_NAMES.join(',')).map((s) => oneOf('SCENARIOS', s, SCENARIO_NAMES)),
    IPTABLES: readList(env, 'IPTABLES', 'nft,legacy').map((s) => oneOf('IPTABLES', s, ['nft', 'legacy'] as const)),
    EBPF: oneOf('EBPF', env.EBPF || '1', ['0', '1']) === '1',
    OUT: env.OUT || undefined,
  };
}

function readList(env: NodeJS.ProcessEnv, name: string, fallback: string): string[] {
  return (env[name] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new BenchUsageError(`${name}: ${value} is not one of ${allowed.join(', ')}`);
  return value as T;
}

function toCount(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new BenchUsageError(`${name}=${raw}: expected integers ≥ ${min}`);
  return n;
}

function readCount(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : toCount(name, raw, min);
}

function readNice(env: NodeJS.ProcessEnv): number {
  const raw = env.NICE;
  if (raw === undefined || raw === '') return -10;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new BenchUsageError(`NICE=${raw}: expected an integer in [-20, 19]`);
  return n;
}

function readNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new BenchUsageError(`${name}=${raw}: expected seconds in (0, 600]`);
  return n;
}
