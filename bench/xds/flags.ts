// Every knob of bench/xds, one line each, with its default (STYLE.md: flags in one place). Read once
// at startup; a malformed value is a usage error, not a silent default.

export class XdsBenchUsageError extends Error {
  // Bench-internal: printed by bench/xds.ts as a usage error (exit 2); never leaves the process.
  readonly code = 'ERR_BENCH_USAGE';
}

/** ADS streams the load generator opens (one node each, as Envoy per node). */
export const STREAMS = readCount('STREAMS', 1000, 1);
/** HTTP/2 connections the streams are multiplexed over (the research anchor used 50 streams each). */
export const CONNECTIONS = readCount('CONNECTIONS', 20, 1);
/** One-policy changes pushed and timed per protocol variant (after one unmeasured warm-up push). */
export const PUSHES = readCount('PUSHES', 5, 1);
/** RBAC policies in the served listener before the change; 32 make a ~4 KiB listener, the anchor's payload. */
export const POLICIES = readCount('POLICIES', 32, 1);
/** Endpoints in the snapshot-build scenario, spread over clusters of ENDPOINTS_PER_CLUSTER. */
export const ENDPOINTS = readCount('ENDPOINTS', 10_000, 1);
export const ENDPOINTS_PER_CLUSTER = readCount('ENDPOINTS_PER_CLUSTER', 10, 1);
/** Repeats of the snapshot-build scenario (after one warm-up). */
export const SAMPLES = readCount('SAMPLES', 5, 1);
/** Upper bound of any wait (streams up, all ACKs in); a bench that hangs is a failed bench. */
export const TIMEOUT_MS = readCount('TIMEOUT_MS', 60_000, 1000);

function readCount(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new XdsBenchUsageError(`${name}=${raw}: expected an integer ≥ ${min}`);
  return n;
}
