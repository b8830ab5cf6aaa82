// One measured run of bench/xds for one protocol variant, in a fresh process so its memory figures
// start clean: an XdsServer with the policy snapshot, a load-generator child with STREAMS streams,
// then PUSHES one-policy changes, each timed from setSnapshot to the last stream's ACK. The server's
// own RSS and CPU (process.cpuUsage: this process holds only the server) are what is reported.
import { fileURLToPath } from 'node:url';
import { SnapshotCache, XdsServer } from '../../xds/index.js';
import { policySnapshot } from './bench-resources.js';
import { ChildChannel } from './child-channel.js';
import { CONNECTIONS, POLICIES, PUSHES, STREAMS, TIMEOUT_MS } from './flags.js';
import { wallMs, type BenchMode, type ChildReport } from './load-generator.js';

export interface PushSample {
  /** setSnapshot → the last stream's ACK sent. */
  allAckedMs: number;
  /** Per stream: setSnapshot → its ACK sent. */
  perStreamMs: number[];
  /** Server CPU (user + system) over the push. */
  serverCpuMs: number;
}

export interface ServerRunResult {
  type: 'result';
  mode: BenchMode;
  streams: number;
  connections: number;
  listenerBytes: number;
  setupMs: number;
  setupCpuMs: number;
  rssIdleMb: number;
  rssStreamsMb: number;
  heapIdleMb: number;
  heapStreamsMb: number;
  pushes: PushSample[];
  serverStreams: number | undefined;
}

export type ServerRunReport = ServerRunResult | { type: 'error'; message: string };

const MB = 1024 * 1024;

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function run(mode: BenchMode): Promise<ServerRunResult> {
  const cache = new SnapshotCache();
  let policies = POLICIES;
  const initial = policySnapshot(policies);
  cache.setSnapshot('*', initial);
  const listenerBytes = [...initial.resources('type.googleapis.com/envoy.config.listener.v3.Listener').values()][0]!.body.length;
  const server = new XdsServer({ cache });
  const address = await server.listen('127.0.0.1:0');
  const generator = new ChildChannel<ChildReport>(fileURLToPath(new URL('./load-generator.js', import.meta.url)));
  try {
    await settle(300);
    collectGarbage();
    const idle = process.memoryUsage();

    const setupCpu = process.cpuUsage();
    generator.send({ type: 'open', address, streams: STREAMS, connections: CONNECTIONS, mode });
    const ready = await generator.waitFor('ready', TIMEOUT_MS);
    const setupCpuMs = cpuMsSince(setupCpu);
    await settle(500);
    collectGarbage();
    const withStreams = process.memoryUsage();

    const pushes: PushSample[] = [];
    for (let k = 0; k <= PUSHES; k++) {
      generator.send({ type: 'arm' });
      await generator.waitFor('armed', TIMEOUT_MS);
      const next = policySnapshot(++policies); // built before the clock starts: building is not pushing
      const cpu = process.cpuUsage();
      const t0 = wallMs();
      cache.setSnapshot('*', next);
      const acked = await generator.waitFor('acked', TIMEOUT_MS);
      const serverCpuMs = cpuMsSince(cpu);
      const perStreamMs = acked.ackWallMs.map((t) => t - t0);
      if (k > 0) pushes.push({ allAckedMs: Math.max(...perStreamMs), perStreamMs, serverCpuMs }); // k = 0 warms up
      await settle(200);
    }
    return {
      type: 'result',
      mode,
      streams: STREAMS,
      connections: CONNECTIONS,
      listenerBytes,
      setupMs: ready.setupMs,
      setupCpuMs,
      rssIdleMb: idle.rss / MB,
      rssStreamsMb: withStreams.rss / MB,
      heapIdleMb: idle.heapUsed / MB,
      heapStreamsMb: withStreams.heapUsed / MB,
      pushes,
      serverStreams: (server.metrics as { streams?: number }).streams,
    };
  } finally {
    generator.send({ type: 'close' });
    await generator.stop();
    await server.close();
  }
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('server-run.js runs as a forked child of bench/xds');
  const mode = process.env.BENCH_XDS_MODE === 'delta' ? 'delta' : 'sotw';
  let report: ServerRunReport;
  try {
    report = await run(mode);
  } catch (err) {
    report = { type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  process.send(report, () => process.disconnect());
}

await main();
