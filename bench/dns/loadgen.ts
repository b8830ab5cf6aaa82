// A closed-loop DNS load generator over UDP: `inFlight` workers, each with its own socket, send one
// query, wait for its answer, and send the next, for `seconds` (bounded in time; a query without an
// answer after QUERY_TIMEOUT_MS counts as lost and the worker goes on). Hand-written because no npm
// package measures DNS latency per query (dnsperf is not packaged for this machine's Debian); each
// query's latency is the time from send to the matching answer (same id), in microseconds.
import dgram from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';

const QUERY_TIMEOUT_MS = 1_000;

export interface LoadResult {
  answered: number;
  lost: number;
  /** Answers whose RCODE was not the expected one (a broken setup, reported, never averaged away). */
  unexpected: number;
  seconds: number;
  qps: number;
  p50Us: number;
  p99Us: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs the load against `server` with queries for `names` (in turn) and returns what it measured. */
export async function runDnsLoad(server: { address: string; port: number }, names: readonly string[], inFlight: number, seconds: number, expectRcode = 'NOERROR'): Promise<LoadResult> {
  const queries = names.map((name) => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }));
  const latencies: number[] = [];
  let lost = 0;
  let unexpected = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const worker = async (w: number): Promise<void> => {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    socket.connect(server.port, server.address);
    await once(socket, 'connect');
    let id = (w * 977) & 0xffff;
    let i = w;
    try {
      while (performance.now() < until) {
        id = (id + 1) & 0xffff;
        const q = Buffer.from(queries[i++ % queries.length]!);
        q.writeUInt16BE(id, 0);
        const sentAt = performance.now();
        const answer = await new Promise<Buffer | undefined>((resolve) => {
          const timer = setTimeout(() => {
            socket.off('message', onMessage);
            resolve(undefined);
          }, QUERY_TIMEOUT_MS);
          const onMessage = (msg: Buffer): void => {
            if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
            clearTimeout(timer);
            socket.off('message', onMessage);
            resolve(msg);
          };
          socket.on('message', onMessage);
          socket.send(q);
        });
        if (!answer) {
          lost++;
          continue;
        }
        latencies.push((performance.now() - sentAt) * 1000);
        const rcode = (dnsPacket.decode(answer) as { rcode?: string }).rcode ?? '';
        if (rcode !== expectRcode) unexpected++;
      }
    } finally {
      socket.close();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { answered: latencies.length, lost, unexpected, seconds: elapsed, qps: latencies.length / elapsed, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
}
