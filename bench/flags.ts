// Every knob of the benchmarks, one line each, with its default (STYLE.md: flags in one place).
// Read once at startup; a malformed value is a usage error, not a silent default.

export class BenchUsageError extends Error {
  // Bench-internal: caught in bench/policy.ts and printed as a usage error (exit 2); never leaves the process.
  readonly code = 'ERR_BENCH_USAGE';
}

/** Policies generated for bench/policy (CNP/CCNP documents, one file each). */
export const POLICIES = readCount('POLICIES', 1000, 1);
/** Endpoints generated for bench/policy, spread over ~50 namespaces. */
export const ENDPOINTS = readCount('ENDPOINTS', 1000, 2);
/** Repeats of the full-resolve, parse, naive-baseline and trace scenarios (after one warm-up run). */
export const SAMPLES = readCount('SAMPLES', 5, 1);
/** One-policy updates measured, each on a different policy (capped at POLICIES). */
export const UPDATES = readCount('UPDATES', 200, 1);
/** Seed of the fixture generator: the same seed gives byte-identical policies and endpoints. */
export const SEED = readCount('SEED', 1, 0);

function readCount(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new BenchUsageError(`${name}=${raw}: expected an integer ≥ ${min}`);
  return n;
}
