// The kafkajs load generator of bench/kafka, a child process pinned to the load vCPU: one producer,
// `inFlight` send loops, each send one produce request of `messagesPerRequest` messages of
// `messageBytes` (acks=all), for `secs` seconds or `maxBytes`, whichever comes first; the first send of
// each loop is a warm-up (connections, metadata) outside the measured window. Prints one JSON line:
// requests, bytes, elapsed ms, per-request latencies (send() call to its acknowledgement, as the
// application sees it). `--probe` sends one message and prints whether it went through or which
// Kafka error came back (the bench checks the policy is enforced before measuring).
//
//   node dist/bench/kafka/kafkajs-load.js '<json options>'
import { connect } from 'node:net';
import kafkajs from 'kafkajs';
import type { ISocketFactory } from 'kafkajs';
import { summarize } from '../bench-report.js';

const { Kafka, Partitioners, logLevel } = kafkajs;

export interface KafkajsLoadOptions {
  bootstrap: string;
  localAddress?: string | undefined;
  clientId: string;
  topic: string;
  messageBytes: number;
  messagesPerRequest: number;
  inFlight: number;
  secs: number;
  maxBytes: number;
  probe?: boolean;
}

export interface KafkajsLoadResult {
  requests: number;
  bytes: number;
  elapsedMs: number;
  /** Nearest-rank percentiles of the measured requests' latencies (NaN when none). */
  p50Ms: number;
  p99Ms: number;
  error?: string | undefined;
  /** --probe: the Kafka error type of the probe, or 'OK'. */
  probe?: string | undefined;
}

/** Latencies kept per run (a reservoir would be fairer on huge runs; runs here are seconds long). */
const MAX_LATENCIES = 500_000;
const NONE: KafkajsLoadResult = { requests: 0, bytes: 0, elapsedMs: 0, p50Ms: NaN, p99Ms: NaN };

/** Prints the result line and exits once it is written (a pipe may take it in several writes). */
function finish(result: KafkajsLoadResult, code: number): void {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
}

async function run(opts: KafkajsLoadOptions): Promise<KafkajsLoadResult> {
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = connect({ host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, onConnect);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: [opts.bootstrap],
    socketFactory,
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: { retries: 0 },
  });
  const producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  const value = Buffer.alloc(opts.messageBytes, 'x');
  const messages = Array.from({ length: opts.messagesPerRequest }, () => ({ value }));
  const latenciesMs: number[] = [];
  let requests = 0;
  let bytes = 0;
  try {
    await producer.connect();
    if (opts.probe) {
      try {
        await producer.send({ topic: opts.topic, messages: [{ value: 'probe' }], acks: -1 });
        return { ...NONE, requests: 1, bytes: 5, probe: 'OK' };
      } catch (err) {
        return { ...NONE, probe: protocolTypeOf(err) };
      }
    }
    // Warm-up: one request per loop, unmeasured.
    await Promise.all(Array.from({ length: opts.inFlight }, () => producer.send({ topic: opts.topic, messages, acks: -1 })));
    const requestBytes = opts.messageBytes * opts.messagesPerRequest;
    const started = performance.now();
    const deadline = started + opts.secs * 1000;
    const loop = async () => {
      while (performance.now() < deadline && bytes + requestBytes <= opts.maxBytes) {
        bytes += requestBytes; // reserved before the send, so loops together never exceed maxBytes
        const t0 = performance.now();
        await producer.send({ topic: opts.topic, messages, acks: -1 });
        if (latenciesMs.length < MAX_LATENCIES) latenciesMs.push(performance.now() - t0);
        requests++;
      }
    };
    await Promise.all(Array.from({ length: opts.inFlight }, loop));
    const elapsedMs = performance.now() - started;
    const latency = latenciesMs.length > 0 ? summarize(latenciesMs) : undefined;
    return { requests, bytes: requests * requestBytes, elapsedMs, p50Ms: latency?.median ?? NaN, p99Ms: latency?.p99 ?? NaN };
  } catch (err) {
    return { ...NONE, requests, bytes: requests * opts.messageBytes * opts.messagesPerRequest, error: `${(err as Error).name}: ${(err as Error).message}` };
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

function protocolTypeOf(err: unknown): string {
  const queue: unknown[] = [err];
  for (let i = 0; i < 20 && queue.length > 0; i++) {
    const x = queue.shift() as Record<string, unknown> | undefined;
    if (!x || typeof x !== 'object') continue;
    if (typeof x.type === 'string') return x.type;
    queue.push(x.cause, x.originalError);
  }
  return `${(err as Error)?.name}: ${(err as Error)?.message}`;
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: kafkajs-load.js <json options>\n');
  process.exit(2);
}
// Bounded however the producer behaves: the bench kills overruns too, this is the child's own guard.
const options = JSON.parse(arg) as KafkajsLoadOptions;
const guard = setTimeout(() => finish({ ...NONE, error: 'kafkajs-load: overran its own time bound' }, 1), (options.secs + 30) * 1000);
guard.unref();
run(options).then(
  (r) => finish(r, 0),
  (err: unknown) => finish({ ...NONE, error: String(err) }, 1),
);
