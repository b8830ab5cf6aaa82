// bench/cluster-identities (issue 9, "bench/cluster"): three agents' cluster state against ONE real
// etcd (Debian's etcd-server, started here on loopback with a temporary data dir), each agent a
// child process with its own etcd client and lease, as three nodes would be:
//   1. identity allocation rate under contention: every node allocates the same SHARED label sets in
//      the same order at once (worst case: every new set is raced by all three), plus OWN sets only it
//      uses, INFLIGHT allocations at a time per node; the rows give allocations/s per node and for the
//      cluster, and the bench checks that the three nodes got identical ids for every shared set.
//   2. ipcache propagation: node A publishes PODS new pod IPs one after the other (PACE_MS apart);
//      nodes B and C time each one's arrival through their watch. Latency = arrival time on B/C minus
//      the moment A started the put (same machine, same clock), p50/p99.
// Bounded: fixed counts, every wait has a deadline, etcd and the children are stopped on any exit.
//
//   npx tsc -p tsconfig.json && npm run bench:cluster
//   SHARED=100 OWN=50 PODS=100 node dist/bench/cluster-identities.js
//
// The etcd launcher is a few lines repeated from test/cluster/etcd-harness.ts: bench/ may use test/
// only through an index.ts, which test/ does not have.
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdentityAllocator, LabelSet } from '../policy/index.js';
import { openClusterState } from '../agent/index.js';
import type { ClusterState } from '../agent/index.js';
import { describeLoad, describeMachine, summarize } from './bench-report.js';

const ETCD = process.env.MESHD_ETCD_BINARY ?? '/usr/bin/etcd';
const NODES = 3;
const SHARED = envInt('SHARED', 300);
const OWN = envInt('OWN', 100);
const INFLIGHT = envInt('INFLIGHT', 8);
const PODS = Math.min(1000, envInt('PODS', 200));
const PACE_MS = envInt('PACE_MS', 5);
const DEADLINE_MS = 120_000;

type ToWorker = { cmd: 'allocate' } | { cmd: 'publish' } | { cmd: 'exit' };
type FromWorker =
  | { type: 'ready' }
  | { type: 'allocated'; elapsedMs: number; count: number; shared: [string, number][] }
  | { type: 'published'; sentAt: Record<string, number> }
  | { type: 'arrivals'; arrivedAt: Record<string, number> }
  | { type: 'error'; message: string };

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const now = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- worker (one node)
async function worker(index: number, url: string, prefix: string): Promise<void> {
  const send = (m: FromWorker): void => void process.send?.(m);
  const { allocator } = await IdentityAllocator.open();
  const state: ClusterState = await openClusterState({
    endpoints: [url], nodeName: `bench-node-${index}`, prefix, localAllocator: allocator,
    nodeIp: `192.168.250.${index + 1}`, podCidrs: [`10.250.${index}.0/24`], gcIntervalMs: 0, leaseTtlSeconds: 15,
  });
  const arrivedAt: Record<string, number> = {};
  state.ipcache.onChange((e) => {
    if (e.type === 'upsert' && e.entry.node !== state.session.nodeName) arrivedAt[e.entry.ip] = now();
  });
  process.on('message', (m: ToWorker) => {
    void (async () => {
      try {
        if (m.cmd === 'allocate') {
          const sets = [
            ...Array.from({ length: SHARED }, (_, i) => LabelSet.parse([`k8s:app=shared-${i}`, 'k8s:io.kubernetes.pod.namespace=bench'])),
            ...Array.from({ length: OWN }, (_, i) => LabelSet.parse([`k8s:app=own-${index}-${i}`, 'k8s:io.kubernetes.pod.namespace=bench'])),
          ];
          const shared: [string, number][] = [];
          let next = 0;
          const start = now();
          await Promise.all(Array.from({ length: INFLIGHT }, async () => {
            while (next < sets.length) {
              const i = next++;
              const { id } = await state.identities.allocate(sets[i]!);
              if (i < SHARED) shared.push([sets[i]!.canonicalKey, id]);
            }
          }));
          send({ type: 'allocated', elapsedMs: now() - start, count: sets.length, shared });
        } else if (m.cmd === 'publish') {
          const sentAt: Record<string, number> = {};
          for (let i = 0; i < PODS; i++) {
            const ip = `10.${250 + Math.floor(i / 250)}.${index}.${(i % 250) + 1}`;
            sentAt[ip] = now();
            await state.ipcache.publish({ ip, identity: 256 + i, pod: `bench/pod-${i}` });
            await sleep(PACE_MS);
          }
          send({ type: 'published', sentAt });
        } else if (m.cmd === 'exit') {
          send({ type: 'arrivals', arrivedAt });
          await state.close({ revoke: true });
          process.exit(0);
        }
      } catch (err) {
        send({ type: 'error', message: String(err) });
      }
    })();
  });
  send({ type: 'ready' });
}

// ---------------------------------------------------------------- main
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function startEtcd(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const child = spawn(ETCD, ['--name', 'bench', '--data-dir', dataDir, '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `bench=${peerUrl}`, '--log-level', 'warn', '--logger', 'zap'],
    { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${ETCD} exited at start (install Debian's etcd-server)`);
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(async (r) => ((await r.json()) as { health?: string }).health === 'true', () => false);
    if (ok) return { url, child };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('etcd did not become healthy within 20 s');
}

function nextMessage<T extends FromWorker['type']>(child: ChildProcess, type: T): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' from a worker within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    const onMessage = (m: FromWorker): void => {
      if (m.type === 'error') reject(new Error(`worker: ${m.message}`));
      else if (m.type !== type) return;
      else resolve(m as Extract<FromWorker, { type: T }>);
      clearTimeout(timer);
      child.off('message', onMessage);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshd-bench-etcd-'));
  const children: ChildProcess[] = [];
  let etcd: ChildProcess | undefined;
  const cleanup = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (etcd && etcd.exitCode === null) etcd.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { cleanup(); process.exit(130); });
  try {
    const started = await startEtcd(dataDir);
    etcd = started.child;
    const prefix = `meshd-bench-${process.pid}`;
    const self = fileURLToPath(import.meta.url);
    for (let i = 0; i < NODES; i++) children.push(fork(self, ['--worker', String(i), started.url, prefix], { stdio: 'inherit' }));
    await Promise.all(children.map((c) => nextMessage(c, 'ready')));

    // 1. allocation under contention
    const allocated = await Promise.all(children.map((c) => { const p = nextMessage(c, 'allocated'); c.send({ cmd: 'allocate' }); return p; }));
    const reference = new Map(allocated[0]!.shared);
    let disagreements = 0;
    for (const r of allocated.slice(1)) for (const [key, id] of r.shared) if (reference.get(key) !== id) disagreements++;
    const total = allocated.reduce((n, r) => n + r.count, 0);
    const wall = Math.max(...allocated.map((r) => r.elapsedMs));

    // 2. ipcache propagation A → B, C
    const published = nextMessage(children[0]!, 'published');
    children[0]!.send({ cmd: 'publish' });
    const { sentAt } = await published;
    await sleep(500); // the last entries' watch events
    const arrivals = await Promise.all(children.map((c) => { const p = nextMessage(c, 'arrivals'); c.send({ cmd: 'exit' }); return p; }));
    const latencies: Record<string, number[]> = { B: [], C: [] };
    let missing = 0;
    for (const [label, r] of [['B', arrivals[1]!], ['C', arrivals[2]!]] as const) {
      for (const [ip, sent] of Object.entries(sentAt)) {
        const at = r.arrivedAt[ip];
        if (at === undefined) missing++;
        else latencies[label]!.push(at - sent);
      }
    }
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((resolve) => c.once('exit', resolve)) : undefined)));

    const fmt = (n: number, d = 2): string => n.toFixed(d);
    console.log(`bench/cluster-identities — ${describeMachine()}`);
    console.log(`${describeLoad()}; etcd ${ETCD}; ${NODES} nodes as child processes; SHARED=${SHARED} OWN=${OWN} INFLIGHT=${INFLIGHT} PODS=${PODS} PACE_MS=${PACE_MS}\n`);
    console.log('| scenario | value |');
    console.log('|---|---|');
    allocated.forEach((r, i) => console.log(`| allocations/s, node ${'ABC'[i]} (${r.count} allocations, ${SHARED} raced by all nodes) | ${fmt(r.count / (r.elapsedMs / 1000), 0)} |`));
    console.log(`| allocations/s, cluster (${total} in ${fmt(wall, 0)} ms wall) | ${fmt(total / (wall / 1000), 0)} |`);
    console.log(`| shared label sets with differing ids across nodes | ${disagreements} (must be 0) |`);
    for (const label of ['B', 'C'] as const) {
      const s = summarize(latencies[label]!);
      console.log(`| ipcache A → ${label}: p50 / p99 / max ms (n=${s.n}) | ${fmt(s.median)} / ${fmt(s.p99)} / ${fmt(s.max)} |`);
    }
    console.log(`| ipcache entries never seen on B or C | ${missing} (must be 0) |`);
    if (disagreements > 0 || missing > 0) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

if (process.argv[2] === '--worker') {
  worker(Number(process.argv[3]), process.argv[4]!, process.argv[5]!).catch((err: unknown) => {
    process.send?.({ type: 'error', message: String(err) });
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
