// Benchmark (issue 9, "bench/cluster"): how long a new pod's identity takes to be enforced on the
// other nodes. Three nodes of the test fabric (fabric.ts) share one etcd; node B runs a server pod
// whose policy allows `role=client` on its port; for each sample a pod with a NEW label set
// (`role=client, seq=<k>`: a new identity, allocated through etcd) is started on node A, and the
// pod's own command connects to the server in a loop (50 ms connect timeout: a denied SYN is
// dropped) and prints the wall-clock time of its first successful connection. Measured, per pod:
//   - from `meshd pod run` starting on A to the first allowed connection on B (what a user sees);
//   - from `meshd pod run` returning (the pod runs, its identity is allocated) to that connection:
//     the cluster's share — etcd write, B's identity and ipcache watch, B's policy regeneration.
// Same machine, same clock, so the pod's Date.now() and this process's compare directly.
// Bounded: PODS (default 10, at most 50) samples, a 30 s deadline each; the fabric (agents, pods,
// netns, pins, etcd) is torn down on any exit.
//
// It lives in test/cluster because it drives the test fabric, and bench/ may not import test/
// (scripts/check-layers.mjs); `npm run bench:cluster-enforce` runs the compiled file.
//   npx tsc -p tsconfig.json && node dist/test/cluster/fabric-enforce.js
//   PODS=30 node dist/test/cluster/fabric-enforce.js
import { cpus, loadavg } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fabric } from './fabric.js';

const PODS = Math.min(50, positiveInt(process.env.PODS, 10));
const PORT = 8081;
const SAMPLE_DEADLINE_MS = 30_000;

function positiveInt(text: string | undefined, fallback: number): number {
  const v = Number(text);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const SERVER = `require('node:net').createServer((c) => c.end('pong')).listen(${PORT}, '::')`;
/** Tries until allowed (bounded by the deadline), then prints the time of the first success. */
const CLIENT = `const net = require('node:net'); const [host, deadline] = [process.argv[1], Date.now() + ${SAMPLE_DEADLINE_MS}];
(function attempt() {
  if (Date.now() > deadline) { console.log('ALLOWED never'); return; }
  const s = net.connect({ host, port: ${PORT}, timeout: 50 });
  s.once('data', () => { console.log('ALLOWED ' + Date.now()); s.destroy(); });
  s.once('timeout', () => { s.destroy(); attempt(); });
  s.once('error', () => setTimeout(attempt, 20));
})();
setInterval(() => {}, 1 << 30);`;

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-from-clients, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { role: client } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
`;

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function summary(values: readonly number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `${percentile(s, 0.5).toFixed(0)} / ${percentile(s, 0.99).toFixed(0)} / ${s[s.length - 1]!.toFixed(0)}`;
}

async function main(): Promise<void> {
  const [one, five] = loadavg();
  const fabric = await Fabric.create({ nodes: 3, etcd: true, agentRoutes: true });
  const workDir = mkdtempSync(join(tmpdir(), 'meshd-enforce-'));
  try {
    const [a, b] = [fabric.node(1), fabric.node(2)];
    await Promise.all(fabric.nodes.map((n) => fabric.startAgent(n)));
    const server = await fabric.meshd(b, ['pod', 'run', '--name', 'server', '-l', 'app=server', '-o', 'json', '--', process.execPath, '-e', SERVER]);
    if (server.code !== 0) throw new Error(`server pod: ${server.stderr}`);
    const serverIp = (JSON.parse(server.stdout) as { ipv4: string }).ipv4;
    writeFileSync(join(workDir, 'policy.yaml'), POLICY);
    const applied = await fabric.meshd(a, ['policy', 'apply', '-f', join(workDir, 'policy.yaml')]);
    if (applied.code !== 0) throw new Error(`policy apply: ${applied.stderr}`);
    const fromStart: number[] = [];
    const fromReady: number[] = [];
    for (let k = 0; k < PODS; k++) {
      const name = `c${k}`;
      const started = Date.now();
      const run = await fabric.meshd(a, ['pod', 'run', '--name', name, '-l', `role=client,seq=s${k}`, '-o', 'json', '--', process.execPath, '-e', CLIENT, serverIp]);
      const ready = Date.now();
      if (run.code !== 0) throw new Error(`pod ${name}: ${run.stderr}`);
      const log = (JSON.parse(run.stdout) as { logFile: string }).logFile;
      let allowedAt: number | undefined;
      while (allowedAt === undefined) {
        const m = /ALLOWED (\d+|never)/.exec(readFileSync(log, 'utf8'));
        if (m?.[1] === 'never' || Date.now() - ready > SAMPLE_DEADLINE_MS + 5000) throw new Error(`pod ${name} was never allowed to connect to ${serverIp} on ${b.name}`);
        if (m) allowedAt = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 20));
      }
      fromStart.push(allowedAt - started);
      fromReady.push(Math.max(0, allowedAt - ready));
      const rm = await fabric.meshd(a, ['pod', 'rm', name]);
      if (rm.code !== 0) throw new Error(`pod rm ${name}: ${rm.stderr}`);
    }
    console.log(`bench cluster-enforce — ${new Date().toISOString()}, ${cpus().length} cores, load ${one?.toFixed(2)} / ${five?.toFixed(2)} (1 / 5 min) at start`);
    console.log(`3 nodes (test fabric, one agent each) + etcd; ${PODS} pods, each a new identity, on node A; server + policy on node B\n`);
    console.log('| new pod on A → allowed on B | p50 / p99 / max ms |');
    console.log('|---|---|');
    console.log(`| from \`meshd pod run\` start (pod creation included) | ${summary(fromStart)} |`);
    console.log(`| from \`meshd pod run\` returned (identity allocated) | ${summary(fromReady)} |`);
    console.log('\n(resolution ~50 ms: the pod retries a dropped SYN every 50 ms)');
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    await fabric.dispose();
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130)); // the fabric's exit hook cleans up

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
