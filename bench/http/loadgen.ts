// The load generators of bench/http, pinned to the load vCPU: wrk for HTTP/1.1 (plain and TLS,
// keep-alive) and h2load for h2c (GET and a gRPC-shaped POST). Each run is bounded by its duration
// and killed if it overruns; its output is parsed into one Sample. Latency percentiles: wrk's
// `--latency` distribution, and for h2load the per-request times of `--log-file` (h2load prints no
// percentiles), as research/perf.md §1 did.
import { readFileSync, rmSync } from 'node:fs';
import type { ProcessRegistry } from './processes.js';

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers, socket errors, failed or errored h2 streams; '' when none. */
  errors: string;
}

export interface WrkRun {
  url: string;
  connections: number;
  seconds: number;
}

export interface H2loadRun {
  url: string;
  connections: number;
  streams: number;
  seconds: number;
  /** gRPC-shaped POST of this file, with content-type application/grpc and te: trailers. */
  grpcBodyFile: string | undefined;
  logFile: string;
}

const OVERRUN_MS = 15_000;

export async function runWrk(reg: ProcessRegistry, cpu: number, run: WrkRun): Promise<LoadResult> {
  const args = ['-t1', `-c${run.connections}`, `-d${run.seconds}s`, '--latency', run.url];
  const r = await reg.run('wrk', cpu, 'wrk', args, run.seconds * 1000 + OVERRUN_MS);
  if (r.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
  return parseWrk(r.stdout);
}

export function parseWrk(out: string): LoadResult {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const percentile = (q: string) => toMs(new RegExp(`^\\s+${q}%\\s+([\\d.]+\\w+)`, 'm').exec(out)?.[1]);
  const errors: string[] = [];
  const socket = /Socket errors: (.*)/.exec(out)?.[1];
  if (socket) errors.push(`socket errors ${socket}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (non2xx) errors.push(`${non2xx} non-2xx`);
  if (!Number.isFinite(requests) || !Number.isFinite(rps)) throw new Error(`cannot read wrk output:\n${out}`);
  return { requests, rps, p50Ms: percentile('50'), p99Ms: percentile('99'), errors: errors.join('; ') };
}

function toMs(v: string | undefined): number {
  const m = v === undefined ? null : /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export async function runH2load(reg: ProcessRegistry, cpu: number, run: H2loadRun): Promise<LoadResult> {
  const args = ['-c', String(run.connections), '-m', String(run.streams), '-t', '1', '-D', String(run.seconds), `--log-file=${run.logFile}`];
  if (run.grpcBodyFile) args.push('-d', run.grpcBodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
  args.push(run.url);
  try {
    const r = await reg.run('h2load', cpu, 'h2load', args, run.seconds * 1000 + OVERRUN_MS);
    if (r.code !== 0) throw new Error(`h2load ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
    return parseH2load(r.stdout, readFileSync(run.logFile, 'utf8'), run.seconds);
  } finally {
    rmSync(run.logFile, { force: true });
  }
}

export function parseH2load(out: string, log: string, seconds: number): LoadResult {
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!m) throw new Error(`cannot read h2load output:\n${out}`);
  const [done, succeeded, failed, errored, timeout] = [m[3], m[4], m[5], m[6], m[7]].map(Number) as [number, number, number, number, number];
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const errors: string[] = [];
  if (failed + errored + timeout > 0) errors.push(`${failed} failed, ${errored} errored, ${timeout} timeout`);
  const non2xx = status ? Number(status[2]) + Number(status[3]) + Number(status[4]) : 0;
  if (non2xx > 0) errors.push(`${non2xx} non-2xx`);
  // The log: one line per request, "start (µs since epoch) \t status \t duration (µs)".
  const durations: number[] = [];
  for (const line of log.split('\n')) {
    const d = Number(line.split('\t')[2]);
    if (Number.isFinite(d) && line !== '') durations.push(d);
  }
  durations.sort((a, b) => a - b);
  const rank = (q: number) => (durations.length === 0 ? NaN : durations[Math.min(durations.length - 1, Math.ceil(q * durations.length) - 1)]! / 1000);
  // With -D, h2load's own req/s divides by the whole run including connection set-up; the
  // duration is what it measured for.
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? succeeded / seconds);
  return { requests: done, rps, p50Ms: rank(0.5), p99Ms: rank(0.99), errors: errors.join('; ') };
}
