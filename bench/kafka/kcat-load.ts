// The kcat (librdkafka 2.0.2) load of bench/kafka: `kcat -P -l FILE` sends every line of a prepared
// file as one message (acks=all), librdkafka batching them into produce requests of up to
// `batch.size` bytes with several requests in flight, as a real producer does. Throughput and
// latency come from librdkafka's own protocol log (`-d protocol`): the window is the first
// ProduceRequest sent to the last ProduceResponse received (so kcat's start-up and metadata
// round trips are outside it), and each ProduceResponse line carries its round-trip time
// ("Received ProduceResponse (v7, 62 bytes, CorrId 5, rtt 1.23ms)").
import { closeSync, openSync, writeSync } from 'node:fs';
import { runLoad } from './load-runner.js';

export interface KcatLoadResult {
  requests: number;
  bytes: number;
  messages: number;
  elapsedMs: number;
  latenciesMs: number[];
  error?: string | undefined;
}

/** Writes `count` lines of `bytes` printable bytes each (no newline inside a message). */
export function writeMessageFile(path: string, count: number, bytes: number): void {
  const line = Buffer.alloc(bytes + 1, 'k');
  line[bytes] = 0x0a;
  const chunkLines = Math.max(1, Math.floor((4 * 1_048_576) / line.length));
  const chunk = Buffer.concat(Array.from({ length: Math.min(chunkLines, count) }, () => line));
  const fd = openSync(path, 'w');
  try {
    let left = count;
    while (left > 0) {
      const n = Math.min(left, chunkLines);
      writeSync(fd, chunk, 0, n * line.length);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

export interface KcatLoadOptions {
  bootstrap: string;
  topic: string;
  file: string;
  messages: number;
  messageBytes: number;
  batchBytes: number;
  /** librdkafka batch.num.messages (undefined: its default, 10000). */
  batchMessages?: number | undefined;
  lingerMs: number;
  inFlight: number;
  cpu: number;
  nice: number;
  timeoutMs: number;
}

// librdkafka's log line: "%7|1700000000.123|RECV|rdkafka#producer-1| [thrd:…]: …: Received ProduceResponse (v7, 62 bytes, CorrId 5, rtt 1.23ms)".
const SENT = /^%\d\|(\d+\.\d+)\|SEND\|.*Sent ProduceRequest \(v\d+, (\d+) bytes/;
const RECEIVED = /^%\d\|(\d+\.\d+)\|RECV\|.*Received ProduceResponse \(v\d+, \d+ bytes, CorrId \d+, rtt ([\d.]+)ms\)/;

export async function runKcatLoad(opts: KcatLoadOptions): Promise<KcatLoadResult> {
  const args = [
    '-b', opts.bootstrap,
    '-X', 'client.id=bench-kcat',
    '-X', 'acks=all',
    '-X', `batch.size=${opts.batchBytes}`,
    // A batch of batch.size plus its headers must fit the client's request and message limits.
    '-X', `message.max.bytes=${Math.max(1_000_000, opts.batchBytes + 65_536)}`,
    '-X', `linger.ms=${opts.lingerMs}`,
    '-X', `max.in.flight=${opts.inFlight}`,
    ...(opts.batchMessages !== undefined ? ['-X', `batch.num.messages=${opts.batchMessages}`] : []),
    '-X', 'queue.buffering.max.kbytes=1048576',
    '-X', 'queue.buffering.max.messages=10000000',
    '-d', 'protocol',
    '-P', '-t', opts.topic, '-l', opts.file,
  ];
  const run = await runLoad(opts.cpu, opts.nice, 'kcat', args, opts.timeoutMs);
  let first: number | undefined;
  let last: number | undefined;
  let requests = 0;
  const latenciesMs: number[] = [];
  for (const line of run.stderr.split('\n')) {
    const sent = SENT.exec(line);
    if (sent) {
      first ??= Number(sent[1]) * 1000;
      continue;
    }
    const received = RECEIVED.exec(line);
    if (received) {
      last = Number(received[1]) * 1000;
      latenciesMs.push(Number(received[2]));
      requests++;
    }
  }
  const failed = /Delivery failed|% ERROR|Topic authorization failed/i.exec(run.stderr);
  const error =
    run.timedOut ? `kcat overran ${opts.timeoutMs} ms and was killed` : run.code !== 0 ? `kcat exit ${run.code}: ${lastLines(run.stderr)}` : failed ? `kcat: ${lastLines(run.stderr)}` : requests === 0 ? 'kcat: no ProduceResponse in its protocol log' : undefined;
  return {
    requests,
    bytes: opts.messages * opts.messageBytes,
    messages: opts.messages,
    elapsedMs: first !== undefined && last !== undefined ? last - first : NaN,
    latenciesMs,
    error,
  };
}

function lastLines(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/\|(SEND|RECV)\|/.test(l) && l.trim() !== '')
    .slice(-3)
    .join(' / ')
    .slice(0, 400);
}
