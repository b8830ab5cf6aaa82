// Every knob of bench/kafka, one line each, with its default (STYLE.md: flags in one place).
// Read once at startup; a malformed value is a usage error (exit 2), not a silent default.
import { envFlagReaders } from '../env-flags.js';

export class KafkaBenchUsageError extends Error {
  // Bench-internal: printed as a usage error (exit 2) by bench/kafka.ts; never leaves the process.
  readonly code = 'ERR_BENCH_USAGE';
}

const { readList, oneOf, readCount, readNice } = envFlagReaders(KafkaBenchUsageError);

/** `relay`: a plain Node TCP relay, the floor of any Node proxy on this layout (bench/kafka/tcp-relay.ts). */
export type ContenderName = 'direct' | 'meshd' | 'relay';
export const CONTENDER_NAMES: readonly ContenderName[] = ['direct', 'meshd', 'relay'];

export type ClientName = 'kafkajs' | 'kcat';
export const CLIENT_NAMES: readonly ClientName[] = ['kafkajs', 'kcat'];

/** `large`: produce requests carrying 1 MiB of records (the aim); `small`: 100-byte messages. */
export type ScenarioName = 'large' | 'small';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['large', 'small'];

export interface KafkaBenchFlags {
  /** Interleaved rounds: every contender is measured once per round, in rotating order; rows are medians. */
  REPS: number;
  /** Seconds of produce load per measured run (kafkajs: the loop's duration; kcat: sized to about this at direct speed). */
  SECS: number;
  /** Upper bound of MiB produced per measured run (bounds memory: the fixture broker keeps every record). */
  MAX_MB: number;
  /** Record bytes per produce request in the large scenario (the issue: 1 MB batches). */
  BATCH_BYTES: number;
  /** Value bytes of each message in the large scenario (BATCH_BYTES / this messages per request). */
  LARGE_MESSAGE_BYTES: number;
  /** Value bytes of each message in the small scenario. */
  SMALL_MESSAGE_BYTES: number;
  /** kafkajs produce requests in flight at once (large / small). */
  KAFKAJS_IN_FLIGHT_LARGE: number;
  KAFKAJS_IN_FLIGHT_SMALL: number;
  /** Messages per kcat run in the small scenario. */
  KCAT_SMALL_MESSAGES: number;
  /** librdkafka batch.num.messages in the small scenario: 1 = one message per produce request, many in
   *  flight (the proxy's per-request cost); 10000 = librdkafka's own batching. */
  KCAT_SMALL_BATCH_MESSAGES: number;
  /** librdkafka max.in.flight for kcat runs: produce requests outstanding per connection (the Java
   *  client's default is 5; librdkafka's, 1000000, turns every latency figure into queueing). */
  KCAT_IN_FLIGHT: number;
  /** librdkafka linger.ms for kcat runs (its 2.0 default is 5). */
  KCAT_LINGER_MS: number;
  /** The vCPU of the servers (broker and proxy) and of the load generators (research/perf.md, layout A). */
  SERVER_CPU: number;
  LOAD_CPU: number;
  /** The vCPU of the meshd proxy and the TCP relay (default: SERVER_CPU, sharing the broker's core as in bench/http). */
  PROXY_CPU: number;
  /** Nice value of every server and load generator; 0 leaves priorities alone. */
  NICE: number;
  CONTENDERS: ContenderName[];
  CLIENTS: ClientName[];
  SCENARIOS: ScenarioName[];
  /** Also write the results (markdown) to this file. */
  OUT: string | undefined;
  /** Run the meshd proxy process under `node --cpu-prof` and write its profile (the whole run) here. */
  PROFILE_DIR: string | undefined;
}

export function readFlags(env: NodeJS.ProcessEnv = process.env): KafkaBenchFlags {
  const flags: KafkaBenchFlags = {
    REPS: readCount(env, 'REPS', 3, 1, 50),
    SECS: readCount(env, 'SECS', 3, 1, 120),
    MAX_MB: readCount(env, 'MAX_MB', 256, 1, 8192),
    BATCH_BYTES: readCount(env, 'BATCH_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    LARGE_MESSAGE_BYTES: readCount(env, 'LARGE_MESSAGE_BYTES', 16_384, 1, 16 * 1_048_576),
    SMALL_MESSAGE_BYTES: readCount(env, 'SMALL_MESSAGE_BYTES', 100, 1, 65_536),
    KAFKAJS_IN_FLIGHT_LARGE: readCount(env, 'KAFKAJS_IN_FLIGHT_LARGE', 4, 1, 64),
    KAFKAJS_IN_FLIGHT_SMALL: readCount(env, 'KAFKAJS_IN_FLIGHT_SMALL', 1, 1, 64),
    KCAT_SMALL_MESSAGES: readCount(env, 'KCAT_SMALL_MESSAGES', 20_000, 1, 10_000_000),
    KCAT_SMALL_BATCH_MESSAGES: readCount(env, 'KCAT_SMALL_BATCH_MESSAGES', 1, 1, 1_000_000),
    KCAT_IN_FLIGHT: readCount(env, 'KCAT_IN_FLIGHT', 5, 1, 1_000_000),
    KCAT_LINGER_MS: readCount(env, 'KCAT_LINGER_MS', 5, 0, 1000),
    SERVER_CPU: readCount(env, 'SERVER_CPU', 0, 0, 1023),
    LOAD_CPU: readCount(env, 'LOAD_CPU', 1, 0, 1023),
    PROXY_CPU: readCount(env, 'PROXY_CPU', readCount(env, 'SERVER_CPU', 0, 0, 1023), 0, 1023),
    NICE: readNice(env),
    CONTENDERS: readList(env, 'CONTENDERS', CONTENDER_NAMES).map((s) => oneOf('CONTENDERS', s, CONTENDER_NAMES)),
    CLIENTS: readList(env, 'CLIENTS', CLIENT_NAMES).map((s) => oneOf('CLIENTS', s, CLIENT_NAMES)),
    SCENARIOS: readList(env, 'SCENARIOS', SCENARIO_NAMES).map((s) => oneOf('SCENARIOS', s, SCENARIO_NAMES)),
    OUT: env.OUT || undefined,
    PROFILE_DIR: env.PROFILE_DIR || undefined,
  };
  if (flags.LARGE_MESSAGE_BYTES > flags.BATCH_BYTES) throw new KafkaBenchUsageError(`LARGE_MESSAGE_BYTES=${flags.LARGE_MESSAGE_BYTES} is larger than BATCH_BYTES=${flags.BATCH_BYTES}`);
  return flags;
}

