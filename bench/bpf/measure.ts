// Interleaved measurement (research/bpf.md §4.0): in every repetition each variant runs every
// workload once, the order of variants rotating from one repetition to the next, so slow drift
// of the machine (a neighbour's load, thermal or idle-state effects) hits all variants alike,
// and a variant's ratio to its baseline can be taken within one repetition (a paired ratio).

import type { Pod } from '../../agent/index.js';
import type { LoadResult, Loadgen } from './loadgen.js';

export interface Workload {
  name: string;
  /** Column heading of the rate, e.g. "new conn/s". */
  unit: string;
  /** loadgen client arguments against `host`, the port chosen by the variant. */
  args(host: string, port: number, secs: number, maxOps: number): string[];
  /** The service port of this workload (the variant may map it, e.g. to a proxy port). */
  port: number;
  /** The number reported: a rate, or Gbit/s for throughput. */
  value(r: LoadResult): number;
}

export interface Variant {
  name: string;
  client: Pod;
  /** Where the client connects for a workload (the server's address, or the proxy's). */
  target(workload: Workload): { host: string; port: number };
  /** Runs before each of the variant's measurements (e.g. switching the datapath's mode). */
  before?(): Promise<void> | void;
}

export interface Sample {
  value: number;
  p50Us: number;
}

/** samples[variant][workload] = one sample per repetition, in repetition order. */
export type Samples = Map<string, Map<string, Sample[]>>;

export interface MeasureOptions {
  reps: number;
  secs: number;
  maxOps: number;
  log(line: string): void;
}

export async function measureInterleaved(loadgen: Loadgen, variants: readonly Variant[], workloads: readonly Workload[], o: MeasureOptions): Promise<Samples> {
  const samples: Samples = new Map(variants.map((v) => [v.name, new Map(workloads.map((w) => [w.name, [] as Sample[]]))]));
  for (let rep = 0; rep < o.reps; rep++) {
    const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
    for (const variant of order) {
      await variant.before?.();
      for (const workload of workloads) {
        const { host, port } = variant.target(workload);
        const result = await loadgen.runClient({ pod: variant.client }, workload.args(host, port, o.secs, o.maxOps), o.secs * 1000 + 30_000);
        samples.get(variant.name)!.get(workload.name)!.push({ value: workload.value(result), p50Us: result.p50_us });
      }
    }
    o.log(`  repetition ${rep + 1}/${o.reps} done`);
  }
  return samples;
}

export const crr: Workload = {
  name: 'crr',
  unit: 'new conn/s',
  port: 7002,
  args: (host, port, secs, maxOps) => ['crr', host, String(port), String(secs), String(maxOps), '64'],
  value: (r) => r.rate,
};

export function rr(size: number): Workload {
  return {
    name: `rr${size}`,
    unit: size === 64 ? 'trans/s' : `trans/s (${size / 1024} KiB)`,
    port: 7000,
    args: (host, port, secs, maxOps) => ['rr', host, String(port), String(secs), String(maxOps), String(size)],
    value: (r) => r.rate,
  };
}

export function tput(chunk: number): Workload {
  return {
    name: `tput${chunk}`,
    unit: `Gbit/s (${chunk / 1024} KiB writes)`,
    port: 7001,
    args: (host, port, secs) => ['tput', host, String(port), String(secs), String(chunk)],
    value: (r) => (r.bytes * 8) / r.seconds / 1e9,
  };
}
