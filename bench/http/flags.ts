// Every knob of bench/http, one line each, with its default (STYLE.md: flags in one place).
// Read once at startup; a malformed value is a usage error (exit 2), not a silent default.
import { envFlagReaders } from '../env-flags.js';

export class HttpBenchUsageError extends Error {
  // Bench-internal: printed as a usage error (exit 2) by bench/http.ts; never leaves the process.
  readonly code = 'ERR_BENCH_USAGE';
}

const { readList, oneOf, readCount, readNice } = envFlagReaders(HttpBenchUsageError);

export type ContenderName = 'direct' | 'meshd' | 'meshd-rules' | 'nginx' | 'haproxy';
export const CONTENDER_NAMES: readonly ContenderName[] = ['direct', 'meshd', 'meshd-rules', 'nginx', 'haproxy'];

export type ScenarioName = 'h1' | 'h1-c1' | 'h2' | 'grpc' | 'tls';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['h1', 'h1-c1', 'h2', 'grpc', 'tls'];

export interface HttpBenchFlags {
  /** Interleaved rounds: every contender is measured once per round, in rotating order. */
  REPS: number;
  /** Seconds per measured load run (h1, h2, grpc, tls). */
  SECS: number;
  /** Seconds per measured one-connection run (h1-c1: the added latency of one hop). */
  C1_SECS: number;
  /** Seconds of the unmeasured warm-up run of every contender × scenario (JIT, pools, TLS sessions). */
  WARMUP_SECS: number;
  /** wrk connections of the h1 and tls scenarios (the issue: 50 keep-alive connections). */
  CONNECTIONS: number;
  /** h2load: connections × streams per connection (the issue: 100 streams in flight). */
  H2_CONNECTIONS: number;
  H2_STREAMS: number;
  /** RBAC policies of the meshd-rules contender; the benchmarked request matches only the last. */
  RULES: number;
  /** The vCPU of the servers (upstream and proxy) and of the load generator (research/perf.md, layout A). */
  SERVER_CPU: number;
  LOAD_CPU: number;
  /** Nice value of every server and load generator: on a shared VM a negative one keeps other work
   *  from preempting the measurement as often (research/bpf.md §4); 0 leaves priorities alone. */
  NICE: number;
  CONTENDERS: ContenderName[];
  SCENARIOS: ScenarioName[];
  /** Also write the results (markdown) to this file. */
  OUT: string | undefined;
  /** Run `meshd proxy` under `node --cpu-prof` and write its profile (the whole run) to this directory. */
  PROFILE_DIR: string | undefined;
}

export function readFlags(env: NodeJS.ProcessEnv = process.env): HttpBenchFlags {
  return {
    REPS: readCount(env, 'REPS', 3, 1),
    SECS: readSeconds(env, 'SECS', 3),
    C1_SECS: readSeconds(env, 'C1_SECS', 2),
    WARMUP_SECS: readSeconds(env, 'WARMUP_SECS', 1),
    CONNECTIONS: readCount(env, 'CONNECTIONS', 50, 1),
    H2_CONNECTIONS: readCount(env, 'H2_CONNECTIONS', 10, 1),
    H2_STREAMS: readCount(env, 'H2_STREAMS', 10, 1),
    RULES: readCount(env, 'RULES', 100, 1),
    SERVER_CPU: readCount(env, 'SERVER_CPU', 0, 0),
    LOAD_CPU: readCount(env, 'LOAD_CPU', 1, 0),
    NICE: readNice(env),
    CONTENDERS: readList(env, 'CONTENDERS', CONTENDER_NAMES).map((s) => oneOf('CONTENDERS', s, CONTENDER_NAMES)),
    SCENARIOS: readList(env, 'SCENARIOS', SCENARIO_NAMES).map((s) => oneOf('SCENARIOS', s, SCENARIO_NAMES)),
    OUT: env.OUT || undefined,
    PROFILE_DIR: env.PROFILE_DIR || undefined,
  };
}

/** Wall time of the measured and warm-up runs (start-up and gaps not included). */
export function plannedSeconds(f: HttpBenchFlags): number {
  const perRound = f.SCENARIOS.reduce((s, sc) => s + (sc === 'h1-c1' ? f.C1_SECS : f.SECS), 0);
  return f.CONTENDERS.length * (f.REPS * perRound + f.SCENARIOS.length * f.WARMUP_SECS);
}

function readSeconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  // wrk and h2load take whole seconds.
  if (!Number.isSafeInteger(n) || n < 1 || n > 120) throw new HttpBenchUsageError(`${name}=${raw}: expected whole seconds in [1, 120]`);
  return n;
}
