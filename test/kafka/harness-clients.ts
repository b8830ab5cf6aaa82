// The real Kafka clients of the end-to-end suite, each run bounded in time and cleaned up:
// kafkajs 2.2.4 (in this process; its sockets bind a chosen source address through `socketFactory`,
// so a client can stand for a pod whose address is on loopback) and kcat 1.7.1 / librdkafka 2.0.2
// (a child process, killed on timeout). Shared with the golden and fuzz tests (G may import them).
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { connect, type Socket } from 'node:net';
import kafkajs from 'kafkajs';
import type { Consumer, ISocketFactory, Kafka as KafkaClient, KafkaConfig, LogEntry, Message, Producer } from 'kafkajs';

const { Kafka, Partitioners, logLevel: LOG_LEVEL } = kafkajs;
export { LOG_LEVEL };

export const KCAT_BIN = '/usr/bin/kcat';

/** Kafka's authorization error codes (the codes a denied request is answered with). */
export const KAFKA_AUTHORIZATION_ERRORS = {
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
} as const;
export type KafkaAuthorizationErrorType = keyof typeof KAFKA_AUTHORIZATION_ERRORS;

/** kafkajs's default request timeout; "at once" in the tests means well under it. */
export const KAFKAJS_REQUEST_TIMEOUT_MS = 30_000;

// ---- time bounds -------------------------------------------------------------------------------

export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no outcome within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** `promise`, or a DeadlineError after `ms` (the promise keeps running; callers clean up in finally). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `action` and reports how long it took and how it ended, never throwing. */
export async function timed<T>(action: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await action();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

// ---- kafkajs ----------------------------------------------------------------------------------

export interface KafkajsClientOptions {
  /** `host:port` the client bootstraps from (the proxy's listener in the policy tests). */
  bootstrap: string;
  clientId: string;
  /** Source address of every connection the client opens (a pod's loopback address). */
  localAddress?: string | undefined;
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /** kafkajs retries of retriable errors (default 2, short back-off, so every run stays bounded). */
  retries?: number;
  /** Log level collected into `logs` (default WARN). */
  logLevel?: number;
}

export interface KafkajsHandle {
  kafka: KafkaClient;
  /** What kafkajs logged (bounded), for assertions and failure messages. */
  logs: Array<{ level: number; namespace: string; message: string; error?: string | undefined; extra: Record<string, unknown> }>;
}

const MAX_LOG_ENTRIES = 2000;

/** A kafkajs client whose connections come from `localAddress`, its log collected in memory. */
export function kafkajsClient(opts: KafkajsClientOptions): KafkajsHandle {
  const logs: KafkajsHandle['logs'] = [];
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    // kafkajs's default factory is net.connect + keep-alive; this one adds the source address.
    const socket: Socket = connect({ host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
  const config: KafkaConfig = {
    clientId: opts.clientId,
    brokers: [opts.bootstrap],
    socketFactory,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    requestTimeout: opts.requestTimeoutMs ?? KAFKAJS_REQUEST_TIMEOUT_MS,
    retry: { retries: opts.retries ?? 2, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: opts.logLevel ?? LOG_LEVEL.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (logs.length >= MAX_LOG_ENTRIES) logs.shift();
      const { message, error, ...extra } = entry.log as { message: string; error?: unknown } & Record<string, unknown>;
      delete extra.timestamp;
      delete extra.logger;
      logs.push({ level: entry.level, namespace: entry.namespace, message, error: error === undefined ? undefined : String(error), extra });
    },
  };
  return { kafka: new Kafka(config), logs };
}

/** The last lines kafkajs logged, for a failure message. */
export function logTail(handle: KafkajsHandle, n = 15): string {
  return handle.logs
    .slice(-n)
    .map((l) => `${l.namespace}: ${l.message}${l.error ? ` (${l.error})` : ''}`)
    .join('\n');
}

export interface KafkaErrorInfo {
  /** The outermost error's class name (KafkaJSNonRetriableError, KafkaJSProtocolError, ...). */
  name: string;
  message: string;
  /** The Kafka protocol error somewhere in the chain (`cause`, `originalError`, aggregated errors). */
  protocol?: { type: string; code: number; name: string } | undefined;
}

/** Digs the Kafka protocol error (type, code) out of kafkajs's wrappers. */
export function kafkaErrorOf(err: unknown): KafkaErrorInfo {
  const e = err as { name?: string; message?: string };
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  let protocol: KafkaErrorInfo['protocol'];
  while (queue.length > 0 && seen.size < 50) {
    const x = queue.shift() as Record<string, unknown> | undefined;
    if (!x || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    if (typeof x.type === 'string' && typeof x.code === 'number') {
      protocol = { type: x.type, code: x.code, name: String(x.name) };
      break;
    }
    queue.push(x.cause, x.originalError);
    if (Array.isArray(x.errors)) queue.push(...(x.errors as unknown[]));
  }
  return { name: String(e?.name ?? typeof err), message: String(e?.message ?? err), protocol };
}

/** A producer with kafkajs 2's default partitioner named explicitly (else kafkajs warns on every producer). */
export function newProducer(handle: KafkajsHandle, opts: Parameters<KafkaClient['producer']>[0] = {}): Producer {
  return handle.kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner, ...opts });
}

/** Connects a producer, sends, disconnects (in finally); bounded by `timeoutMs` overall. */
export async function produceWithKafkajs(
  handle: KafkajsHandle,
  batches: Array<{ topic: string; messages: Message[] }>,
  opts: { timeoutMs?: number; acks?: number; producer?: Parameters<KafkaClient['producer']>[0] } = {},
): Promise<void> {
  const producer = newProducer(handle, opts.producer);
  try {
    await withDeadline(
      (async () => {
        await producer.connect();
        if (batches.length === 1) await producer.send({ topic: batches[0]!.topic, messages: batches[0]!.messages, acks: opts.acks ?? -1 });
        else await producer.sendBatch({ topicMessages: batches, acks: opts.acks ?? -1 });
      })(),
      opts.timeoutMs ?? 15_000,
      'kafkajs produce',
    );
  } finally {
    await withDeadline(producer.disconnect(), 5000, 'kafkajs producer disconnect').catch(() => {});
  }
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

export interface ConsumeOutcome {
  messages: ConsumedMessage[];
  /** The consumer's CRASH event, when it crashed (kafkajs reports group errors this way). */
  crash?: { error: unknown; restart: boolean; afterMs: number } | undefined;
}

/**
 * Runs a kafkajs consumer in `groupId` on `topic` from the beginning (or the group's committed
 * offset) until `count` messages arrived or `until` holds, the consumer crashed, or `timeoutMs` passed (then what arrived so far is returned). Disconnects in
 * finally (LeaveGroup).
 */
export async function consumeWithKafkajs(
  handle: KafkajsHandle,
  opts: { groupId: string; topic: string; count: number; timeoutMs?: number; until?: (messages: ConsumedMessage[]) => boolean },
): Promise<ConsumeOutcome> {
  const started = performance.now();
  const consumer: Consumer = handle.kafka.consumer({
    groupId: opts.groupId,
    // A single member: short timers keep joins and leaves quick.
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 200,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const messages: ConsumedMessage[] = [];
  let crash: ConsumeOutcome['crash'];
  try {
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.CRASH, (event) => {
          crash = { error: event.payload.error, restart: event.payload.restart, afterMs: performance.now() - started };
          // A crash kafkajs restarts from is not the end; one it does not restart from is.
          if (!event.payload.restart) resolve();
        });
        (async () => {
          await consumer.connect();
          await consumer.subscribe({ topics: [opts.topic], fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ topic, partition, message }) => {
              messages.push({ topic, partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null });
              if (messages.length >= opts.count || opts.until?.(messages)) resolve();
            },
          });
        })().catch(reject);
      }),
      opts.timeoutMs ?? 20_000,
      `kafkajs consume ${opts.topic} in group ${opts.groupId}`,
    ).catch((err: unknown) => {
      if (!(err instanceof DeadlineError)) throw err;
    });
  } finally {
    await withDeadline(consumer.disconnect(), 8000, 'kafkajs consumer disconnect').catch(() => {});
  }
  return { messages, crash };
}

// ---- kcat --------------------------------------------------------------------------------------

export interface KcatRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit (or to the moment `until` was satisfied). */
  elapsedMs: number;
  /** Killed because `timeoutMs` passed. */
  timedOut: boolean;
  /** Killed because `until` was satisfied. */
  stoppedOnMatch: boolean;
}

/** Fails with a clear message when kcat is not installed (never skips). */
export function requireKcat(): void {
  try {
    accessSync(KCAT_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`${KCAT_BIN} is missing: install kcat (Debian package kcat, librdkafka 2.x) — make setup does`);
  }
}

/**
 * Runs kcat with `args`, writing `stdin` (then closing it), killed (SIGKILL, by its pid) after
 * `timeoutMs` — or as soon as `until(stdout, stderr)` holds, for runs that would otherwise keep
 * going (a group consumer reporting an error).
 */
export function runKcat(args: string[], opts: { stdin?: string | Buffer; timeoutMs?: number; until?: (stdout: string, stderr: string) => boolean } = {}): Promise<KcatRun> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(KCAT_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stoppedOnMatch = false;
    let matchedAt: number | undefined;
    const kill = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const check = () => {
      if (!stoppedOnMatch && opts.until?.(stdout, stderr)) {
        stoppedOnMatch = true;
        matchedAt = performance.now();
        kill();
      }
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout = (stdout + s).slice(-1_000_000);
      check();
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-100_000);
      check();
    });
    child.stdin.on('error', () => {}); // kcat may exit before reading everything
    child.stdin.end(opts.stdin ?? '');
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}\nspawn ${KCAT_BIN}: ${err.message}`, elapsedMs: performance.now() - started, timedOut, stoppedOnMatch });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, elapsedMs: (matchedAt ?? performance.now()) - started, timedOut, stoppedOnMatch });
    });
  });
}

/** kcat's common arguments: the bootstrap broker, a client id, quiet logs apart from errors. */
export function kcatBase(bootstrap: string, clientId: string, extra: Record<string, string> = {}): string[] {
  const args = ['-b', bootstrap, '-X', `client.id=${clientId}`];
  for (const [k, v] of Object.entries(extra)) args.push('-X', `${k}=${v}`);
  return args;
}

/** `kcat -P`: one message per line of `lines` (key and value split by `:`), acks=all. */
export function kcatProduce(bootstrap: string, clientId: string, topic: string, lines: string[], opts: { timeoutMs?: number; extra?: Record<string, string> } = {}): Promise<KcatRun> {
  return runKcat([...kcatBase(bootstrap, clientId, { 'request.required.acks': '-1', ...opts.extra }), '-P', '-t', topic, '-K', ':'], {
    stdin: lines.map((l) => `${l}\n`).join(''),
    timeoutMs: opts.timeoutMs ?? 20_000,
  });
}

/** Output format of the consume helpers: topic, partition, offset, key, value, tab-separated. */
const KCAT_FORMAT = '%t\t%p\t%o\t%k\t%s\n';

export function parseKcatMessages(stdout: string): ConsumedMessage[] {
  return stdout
    .split('\n')
    .filter((l) => l.split('\t').length >= 5)
    .map((l) => {
      const [topic, partition, offset, key, ...value] = l.split('\t');
      return { topic: topic!, partition: Number(partition), offset: offset!, key: key === '' ? null : key!, value: value.join('\t') };
    });
}

/** `kcat -G group topic...`: a balanced (group) consumer from the earliest offset, stops after `count` messages. */
export function kcatConsumeGroup(bootstrap: string, clientId: string, groupId: string, topics: string | string[], count: number, opts: { timeoutMs?: number; until?: (stdout: string, stderr: string) => boolean; extra?: Record<string, string> } = {}): Promise<KcatRun> {
  return runKcat([...kcatBase(bootstrap, clientId, { 'auto.offset.reset': 'earliest', ...opts.extra }), '-G', groupId, '-c', String(count), '-f', KCAT_FORMAT, ...[topics].flat()], {
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.until ? { until: opts.until } : {}),
  });
}

/** `kcat -C`: a simple consumer of partition 0 from the beginning, exits at the end of the partition. */
export function kcatConsume(bootstrap: string, clientId: string, topic: string, opts: { timeoutMs?: number; extra?: Record<string, string> } = {}): Promise<KcatRun> {
  return runKcat([...kcatBase(bootstrap, clientId, opts.extra), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-f', KCAT_FORMAT], { timeoutMs: opts.timeoutMs ?? 20_000 });
}

/** librdkafka's text for an authorization error code (rd_kafka_err2str: "Broker: Topic authorization failed"). */
export const KCAT_AUTHORIZATION_TEXT = /Broker: (Topic|Group|Cluster) authorization failed/i;

/** A kcat run, summarized for a failure message. */
export function describeKcat(run: KcatRun): string {
  return `exit ${run.code ?? run.signal} after ${run.elapsedMs.toFixed(0)} ms${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout.slice(-1500)}\nstderr: ${run.stderr.slice(-3000)}`;
}
