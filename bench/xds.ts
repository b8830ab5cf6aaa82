// bench/xds: the xDS server under fan-out (issue 4, "Benchmark"): STREAMS ADS streams from a second
// process, one-policy changes pushed to all of them, SotW and Delta, each in a fresh server process;
// and the time to build a 10,000-endpoint snapshot. Aims on this machine: every ACK within 300 ms,
// under 25 KB of server RSS per stream, the 10,000-endpoint snapshot under 1 s. Knobs: bench/xds/flags.ts.
//
//   npx tsc -p tsconfig.json && npm run bench:xds
//   STREAMS=5000 CONNECTIONS=100 PUSHES=3 node --expose-gc dist/bench/xds.js
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { SnapshotCache, Snapshot } from '../xds/index.js';
import { describeLoad, describeMachine, summarize, type Summary } from './bench-report.js';
import { endpointMessages } from './xds/bench-resources.js';
import { ChildChannel } from './xds/child-channel.js';
import type { ServerRunReport, ServerRunResult } from './xds/server-run.js';

const ALL_ACKED_AIM_MS = 300;
const PER_STREAM_AIM_KB = 25;
const BUILD_AIM_MS = 1000;
/** research/xds.md §4, "meshd local anchor": a grpc-js ADS server on this machine, 1000 SotW streams, 4 KiB. */
const ANCHOR_ALL_ACKED_MS = 290;
const ANCHOR_PER_STREAM_KB = 24; // (93 MB − 69 MB) / 1000 streams

interface Row {
  scenario: string;
  summary: Summary;
  unit: 'ms' | 'KB' | 'MB';
  aim?: number;
  anchor?: number;
}

async function main(): Promise<void> {
  console.log(`bench/xds — ${describeMachine()}`);
  console.log(`gc: ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'available' : 'NOT available (run node --expose-gc)'}; ${describeLoad()}`);
  console.log(
    `parameters: STREAMS=${flags.STREAMS} CONNECTIONS=${flags.CONNECTIONS} PUSHES=${flags.PUSHES} POLICIES=${flags.POLICIES} ` +
      `ENDPOINTS=${flags.ENDPOINTS} ENDPOINTS_PER_CLUSTER=${flags.ENDPOINTS_PER_CLUSTER} SAMPLES=${flags.SAMPLES}`,
  );
  const rows: Row[] = [];
  for (const mode of ['sotw', 'delta'] as const) {
    const r = await runServer(mode);
    const label = mode === 'sotw' ? 'SotW' : 'Delta';
    const kbPerStream = ((r.rssStreamsMb - r.rssIdleMb) * 1024) / r.streams;
    const allStreamMs = r.pushes.flatMap((p) => p.perStreamMs);
    console.log(
      `${label}: ${r.streams} streams over ${r.connections} connections up in ${r.setupMs.toFixed(0)} ms (server CPU ${r.setupCpuMs.toFixed(0)} ms); ` +
        `listener ${r.listenerBytes} bytes; server RSS ${r.rssIdleMb.toFixed(1)} → ${r.rssStreamsMb.toFixed(1)} MB, heap ${r.heapIdleMb.toFixed(1)} → ${r.heapStreamsMb.toFixed(1)} MB` +
        (r.serverStreams !== undefined ? `; server counted ${r.serverStreams} streams` : ''),
    );
    rows.push(
      { scenario: `${label}: push → all ${r.streams} ACKed`, summary: summarize(r.pushes.map((p) => p.allAckedMs)), unit: 'ms', aim: ALL_ACKED_AIM_MS, ...(mode === 'sotw' ? { anchor: ANCHOR_ALL_ACKED_MS } : {}) },
      { scenario: `${label}: push → one stream ACKed (all streams, all pushes)`, summary: summarize(allStreamMs), unit: 'ms' },
      { scenario: `${label}: server CPU per push`, summary: summarize(r.pushes.map((p) => p.serverCpuMs)), unit: 'ms' },
      { scenario: `${label}: server RSS per stream`, summary: summarize([kbPerStream]), unit: 'KB', aim: PER_STREAM_AIM_KB, ...(mode === 'sotw' ? { anchor: ANCHOR_PER_STREAM_KB } : {}) },
      { scenario: `${label}: server heap per stream`, summary: summarize([((r.heapStreamsMb - r.heapIdleMb) * 1024) / r.streams]), unit: 'KB' },
    );
  }
  rows.push(...benchSnapshotBuild());
  console.log('');
  console.log(renderRows(rows));
  console.log('');
  console.log('published, for scale (research/xds.md §4; other machines, whole meshes, not this micro-benchmark):');
  console.log('  istiod: 1 vCPU, 1.5 GB for 1000 services / 2000 sidecars (Istio perf docs 1.12–1.16); 25,000 sidecars at 32.1 GB, 15 vCPU (AKS, ≈1.3 MB per sidecar);');
  console.log('          route propagation 120–300 ms (gateway-api-bench)');
  console.log('  go-control-plane: CreateWatch ≈4.4–5.3 µs and ~3 KB per watch, Fetch 365 ns (PR #445, i9-9980HK)');
}

async function runServer(mode: 'sotw' | 'delta'): Promise<ServerRunResult> {
  const child = new ChildChannel<ServerRunReport>(fileURLToPath(new URL('./xds/server-run.js', import.meta.url)), {
    execArgv: ['--expose-gc'],
    env: { ...process.env, BENCH_XDS_MODE: mode },
  });
  try {
    return await child.waitFor('result', flags.TIMEOUT_MS * 4);
  } finally {
    await child.stop(5000);
  }
}

/** 10,000 endpoints (as ClusterLoadAssignments with their EDS clusters) → a checked Snapshot in a cache. */
function benchSnapshotBuild(): Row[] {
  const messagesStart = performance.now();
  const { clusters, assignments } = endpointMessages(flags.ENDPOINTS, flags.ENDPOINTS_PER_CLUSTER);
  const messagesMs = performance.now() - messagesStart;
  const buildMs: number[] = [];
  const setMs: number[] = [];
  for (let i = 0; i <= flags.SAMPLES; i++) {
    const cache = new SnapshotCache();
    const t0 = performance.now();
    const snapshot = Snapshot.fromMessages({ version: `v${i}`, clusters, endpoints: assignments });
    const t1 = performance.now();
    cache.setSnapshot('*', snapshot); // includes the consistency check
    const t2 = performance.now();
    if (i === 0) continue; // warm-up
    buildMs.push(t1 - t0);
    setMs.push(t2 - t0);
  }
  const E = flags.ENDPOINTS;
  return [
    { scenario: `build ${E}-endpoint messages (${clusters.length} CLAs + EDS clusters)`, summary: summarize([messagesMs]), unit: 'ms' },
    { scenario: `Snapshot.fromMessages, ${E} endpoints`, summary: summarize(buildMs), unit: 'ms', aim: BUILD_AIM_MS },
    { scenario: `fromMessages + setSnapshot (consistency), ${E} endpoints`, summary: summarize(setMs), unit: 'ms', aim: BUILD_AIM_MS },
  ];
}

function format(v: number, unit: Row['unit']): string {
  if (unit === 'KB') return `${v.toFixed(1)} KB`;
  if (unit === 'MB') return `${v.toFixed(1)} MB`;
  return v < 1 ? `${(v * 1000).toPrecision(3)} µs` : v < 1000 ? `${v.toPrecision(3)} ms` : `${(v / 1000).toPrecision(3)} s`;
}

function renderRows(rows: Row[]): string {
  const header = ['scenario', 'n', 'median', 'p99 / max', 'aim', 'ratio to aim', 'vs local anchor'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.summary.n),
    format(r.summary.median, r.unit),
    r.summary.n === 1 ? '—' : r.summary.n >= 20 ? `p99 ${format(r.summary.p99, r.unit)}` : `max ${format(r.summary.max, r.unit)}`,
    r.aim === undefined ? '—' : `< ${format(r.aim, r.unit)}`,
    r.aim === undefined ? '—' : `${(r.summary.median / r.aim).toFixed(2)}× ${r.summary.median <= r.aim ? '(meets aim)' : '(misses aim)'}`,
    r.anchor === undefined ? '' : `${(r.summary.median / r.anchor).toFixed(2)}× of ${format(r.anchor, r.unit)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

// Imported here rather than statically so a malformed knob is a usage error (exit 2), not a stack.
let flags: typeof import('./xds/flags.js');
try {
  flags = await import('./xds/flags.js');
} catch (err) {
  if ((err as { code?: string }).code !== 'ERR_BENCH_USAGE') throw err;
  console.error(`bench/xds: ${(err as Error).message}`);
  process.exit(2);
}
await main();
