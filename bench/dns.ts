// bench/dns: meshd's DNS proxy against dnsmasq queried directly (issue 7, "Benchmark"), one run:
// queries per second and p50/p99 latency over UDP, direct vs through the proxy with 10 and with 1,000
// DNS rules, with 1 and with 32 queries in flight, and each proxied row's ratio to direct (aim:
// ≥ 0.5× direct qps, ≤ 1 ms added p99 — printed as "meets"/"misses", never as a failure).
//
// Layout as bench/http (research/perf.md's layout A): dnsmasq and the proxy pinned to one vCPU
// (SERVER_CPU), the load generator (this process, bench/dns/loadgen.ts) to the other (LOAD_CPU).
// The proxy is a child process configured only over xDS by this process's server, as `meshd proxy`
// is, with two UDP listeners (10 rules, 1,000 rules) forwarding to dnsmasq; it counts flow records
// as `meshd proxy` does for /stats, so a flow record is built per query. The names asked are matched
// by the LAST rule of each policy (a `*.bench.test` pattern after the filler rules), the worst case
// of the rule scan. Contenders alternate per round in rotating order; every cell is the median of
// REPS runs of SECS seconds. Bounded: REPS × 3 contenders × 2 loads × SECS (≈ 40 s by default).
//
//   npx tsc -p tsconfig.json && npm run bench:dns
//   REPS=1 SECS=1 node dist/bench/dns.js
//   PROFILE=1 node dist/bench/dns.js   # writes the proxy's --cpu-prof profile into the run directory
//
// Then the time from an upstream answer to the kernel allowing its IP, on a real pod and datapath
// (bench/dns/answer-to-allow.ts; needs root and BPF): ALLOW_N names (default 200), p50/p99.
//   ONLY_ALLOW=1 node dist/bench/dns.js   # only that part
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Snapshot, SnapshotCache, TYPE_URL, XdsServer, messageFromJson, messageSchemaOfUrl } from '../xds/index.js';
import { describeLoad, describeMachine } from './bench-report.js';
import { measureAnswerToAllow } from './dns/answer-to-allow.js';
import { runDnsLoad, type LoadResult } from './dns/loadgen.js';
import { ProcessRegistry, type ManagedProcess } from './http/processes.js';

const PROXY_CHILD = fileURLToPath(new URL('./dns/proxy-child.js', import.meta.url));
const DNSMASQ = '/usr/sbin/dnsmasq';
const NODE_ID = 'bench-dns';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const START_TIMEOUT_MS = 20_000;
const AIM_QPS_RATIO = 0.5;
const AIM_ADDED_P99_US = 1000;

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

const FLAGS = {
  REPS: envInt('REPS', 3, 1, 20),
  SECS: envInt('SECS', 2, 1, 60),
  SERVER_CPU: envInt('SERVER_CPU', 1, 0, 1023),
  LOAD_CPU: envInt('LOAD_CPU', 0, 0, 1023),
  /** The proxy's vCPU (default SERVER_CPU, the layout above). */
  PROXY_CPU: envInt('PROXY_CPU', envInt('SERVER_CPU', 1, 0, 1023), 0, 1023),
  PROFILE: process.env['PROFILE'] === '1',
  ALLOW_N: envInt('ALLOW_N', 200, 1, 240),
  ONLY_ALLOW: process.env['ONLY_ALLOW'] === '1',
};
const IN_FLIGHT = [1, 32] as const;
const RULE_COUNTS = [10, 1000] as const;
/** The names the load asks (all answered by dnsmasq's --address=/bench.test/). */
const NAMES = Array.from({ length: 16 }, (_, i) => `host${i}.bench.test`);

type Contender = 'direct' | `meshd-${(typeof RULE_COUNTS)[number]}`;

/** A DnsPolicy with `count` names: filler exact names and patterns first, `*.bench.test` last. */
function dnsPolicy(count: number): Record<string, unknown> {
  const names: Array<Record<string, string>> = [];
  for (let i = 0; names.length < count - 1; i++) names.push(i % 2 === 0 ? { match_name: `filler${i}.other.test` } : { match_pattern: `*.filler${i}.other.test` });
  names.push({ match_pattern: '*.bench.test' });
  return {
    '@type': 'type.googleapis.com/meshd.filters.dns.v1.DnsPolicy',
    stat_prefix: `bench.dns.${count}`,
    endpoint: 'bench/client',
    direction: 'EGRESS',
    endpoint_ips: ['127.0.0.1'],
    destination_ports: { start: 1, end: 65535 },
    default_deny: true,
    upstream: { cluster: 'dnsmasq' },
    rules: [{ name: `bench-${count}`, remotes: { any: true }, names }],
  };
}

function snapshot(dnsmasqPort: number): Snapshot {
  const listeners = RULE_COUNTS.map((count) => ({
    name: `dns-${count}`,
    address: { socket_address: { protocol: 'UDP', address: '127.0.0.1', port_value: 0 } },
    udp_listener_config: {},
    listener_filters: [{ name: `meshd.filters.dns/bench-${count}`, typed_config: dnsPolicy(count) }],
  }));
  const clusters = [
    {
      name: 'dnsmasq',
      type: 'STATIC',
      connect_timeout: '1s',
      load_assignment: { cluster_name: 'dnsmasq', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: dnsmasqPort } } } }] }] },
    },
  ];
  const of = (typeUrl: string, json: unknown) => messageFromJson(messageSchemaOfUrl(typeUrl)!, json, typeUrl);
  return Snapshot.fromMessages({ version: 'v1', listeners: listeners.map((l) => of(TYPE_URL.listener, l)), clusters: clusters.map((c) => of(TYPE_URL.cluster, c)) } as never);
}

async function waitForLog(proc: ManagedProcess, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const m = pattern.exec(proc.logTail());
    if (m) return m;
    if (proc.exited) break;
    await sleep(50);
  }
  throw new Error(`${proc.label} did not start:\n${proc.logTail()}`);
}

function freeUdpPort(): number {
  // dnsmasq needs a port free for UDP and TCP; a random high port, checked by dnsmasq's own bind.
  return 40_000 + Math.floor(Math.random() * 10_000);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function fmtUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`;
}

async function main(): Promise<void> {
  try {
    execFileSync('sh', ['-c', `command -v ${DNSMASQ} && command -v taskset`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${DNSMASQ} and taskset are needed (make setup installs them)`);
  }
  try {
    execFileSync('taskset', ['-pc', String(FLAGS.LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
  } catch {
    // unpinned: still a valid run, only noisier
  }
  if (FLAGS.ONLY_ALLOW) {
    console.log('# bench/dns (answer → allow only)');
    console.log(describeMachine());
    console.log(describeLoad());
    await printAnswerToAllow();
    return;
  }
  const reg = new ProcessRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'meshd-bench-dns-'));
  const cache = new SnapshotCache();
  const server = new XdsServer({ cache, orderHoldMs: 0 });
  const stop = async () => {
    await reg.stopAll();
    await server.close().catch(() => {});
    if (!FLAGS.PROFILE) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench/dns: ${signal}, stopping every process it started`);
    void stop().finally(() => process.exit(130));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    await run(reg, dir, server, cache);
  } finally {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    await stop();
  }
}

/** The answer → kernel allows the IP table (bench/dns/answer-to-allow.ts); a failure is printed, not thrown. */
async function printAnswerToAllow(): Promise<void> {
  console.log(`\n## answer → kernel allows the IP (real pod and datapath, ${FLAGS.ALLOW_N} fresh names, one at a time)`);
  try {
    const r = await measureAnswerToAllow(FLAGS.ALLOW_N);
    const row = (what: string, p: { p50: number; p99: number; max: number }) => console.log(`| ${what} | ${p.p50.toFixed(3)} ms | ${p.p99.toFixed(3)} ms | ${p.max.toFixed(3)} ms |`);
    console.log('| interval | p50 | p99 | max |');
    console.log('|---|---|---|---|');
    row('answer reaches the learning side → identity allocated, policy rewrite starts', r.toPolicyStart);
    row('answer reaches the learning side → policy map written', r.toPolicyMap);
    row('answer reaches the learning side → ipcache entry written (kernel allows)', r.toIpcache);
    row('answer reaches the learning side → onAnswer done, cache saved (answer released)', r.toKernel);
    row('answer reaches the learning side → connect() from the pod returned OK', r.toPodConnect);
    row('pod got the answer → its connect() returned OK', r.podConnect);
  } catch (err) {
    console.log(`not measured: ${(err as Error).message}`);
  }
}

async function run(reg: ProcessRegistry, dir: string, server: XdsServer, cache: SnapshotCache): Promise<void> {
  console.log('# bench/dns');
  console.log(describeMachine());
  console.log(describeLoad());
  console.log(`REPS=${FLAGS.REPS} SECS=${FLAGS.SECS}; dnsmasq on CPU ${FLAGS.SERVER_CPU}, proxy on CPU ${FLAGS.PROXY_CPU}, load on CPU ${FLAGS.LOAD_CPU}; UDP, A queries for ${NAMES.length} names`);

  let dnsmasq: ManagedProcess | undefined;
  let dnsmasqPort = 0;
  for (let attempt = 0; attempt < 5 && !dnsmasq; attempt++) {
    dnsmasqPort = freeUdpPort();
    const p = reg.start('dnsmasq', FLAGS.SERVER_CPU, DNSMASQ, ['--no-resolv', '--no-hosts', '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root', '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${dnsmasqPort}`, '--address=/bench.test/10.77.0.7', '--local-ttl=300', '--dns-forward-max=1000', '--log-facility=-'], join(dir, `dnsmasq-${attempt}.log`));
    await sleep(300);
    if (!p.exited) dnsmasq = p;
  }
  if (!dnsmasq) throw new Error('dnsmasq did not start (5 ports tried)');
  console.log(`dnsmasq ${execFileSync(DNSMASQ, ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);

  const xds = await server.listen('127.0.0.1:0');
  cache.setSnapshot(NODE_ID, snapshot(dnsmasqPort));
  const nodeArgs = FLAGS.PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const proxy = reg.start('meshd', FLAGS.PROXY_CPU, process.execPath, [...nodeArgs, PROXY_CHILD, '--xds', xds, '--node-id', NODE_ID, ...RULE_COUNTS.flatMap((c) => ['--listener', `dns-${c}`])], join(dir, 'proxy.log'));
  const ready = await waitForLog(proxy, /^ready (.*)$/m);
  const ports = new Map(ready[1]!.split(' ').map((kv) => kv.split('=') as [string, string]));

  const targets: Record<Contender, { address: string; port: number }> = {
    direct: { address: '127.0.0.1', port: dnsmasqPort },
    'meshd-10': { address: '127.0.0.1', port: Number(ports.get('dns-10')) },
    'meshd-1000': { address: '127.0.0.1', port: Number(ports.get('dns-1000')) },
  };
  const contenders = Object.keys(targets) as Contender[];
  // Every contender must answer correctly before anything is measured.
  for (const c of contenders) {
    const probe = await runDnsLoad(targets[c], NAMES, 1, 0.2);
    if (probe.answered === 0 || probe.unexpected > 0) throw new Error(`${c} does not answer the bench names with NOERROR (${JSON.stringify(probe)})`);
  }
  const denied = await runDnsLoad(targets['meshd-10'], ['not-allowed.example'], 1, 0.1, 'REFUSED');
  if (denied.answered === 0 || denied.unexpected > 0) throw new Error('the proxy does not refuse a name outside the policy: the policy is not enforced');

  const results = new Map<string, LoadResult[]>();
  for (let rep = 0; rep < FLAGS.REPS; rep++) {
    for (const inFlight of IN_FLIGHT) {
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(k + rep) % contenders.length]!;
        const r = await runDnsLoad(targets[c], NAMES, inFlight, FLAGS.SECS);
        const key = `${c}|${inFlight}`;
        results.set(key, [...(results.get(key) ?? []), r]);
      }
    }
  }

  for (const inFlight of IN_FLIGHT) {
    console.log(`\n## ${inFlight} quer${inFlight === 1 ? 'y' : 'ies'} in flight (median of ${FLAGS.REPS})\n`);
    console.log('| contender | qps | p50 | p99 | qps vs direct | added p99 | lost | aim |');
    console.log('|---|---|---|---|---|---|---|---|');
    const directRuns = results.get(`direct|${inFlight}`) ?? [];
    const dq = median(directRuns.map((r) => r.qps));
    const dp99 = median(directRuns.map((r) => r.p99Us));
    for (const c of contenders) {
      const runs = results.get(`${c}|${inFlight}`) ?? [];
      const qps = median(runs.map((r) => r.qps));
      const p50 = median(runs.map((r) => r.p50Us));
      const p99 = median(runs.map((r) => r.p99Us));
      const lost = runs.reduce((n, r) => n + r.lost + r.unexpected, 0);
      const ratio = qps / dq;
      const added = p99 - dp99;
      const aim = c === 'direct' ? '' : ratio >= AIM_QPS_RATIO && added <= AIM_ADDED_P99_US ? 'meets' : 'misses';
      console.log(`| ${c} | ${Math.round(qps)} | ${fmtUs(p50)} | ${fmtUs(p99)} | ${c === 'direct' ? '' : `${ratio.toFixed(2)}×`} | ${c === 'direct' ? '' : fmtUs(added)} | ${lost} | ${aim} |`);
    }
  }
  await proxy.stop();
  await printAnswerToAllow();
  if (FLAGS.PROFILE) console.log(`proxy CPU profile in ${dir} (kept)`);
}

main().catch((err: unknown) => {
  console.error(`bench/dns: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
