// bench/kafka: produce throughput and request latency, direct to the fixture broker vs through meshd's
// built-in proxy enforcing a Kafka topic policy (issue 6, "Benchmark"), in one run, with kafkajs 2.2.4
// and with kcat (librdkafka 2.0.2). Scenarios: `large`, produce requests of 1 MiB of records (the
// issue's aim: ≥ 0.8× direct throughput), and `small`, 100-byte messages (kafkajs: one message per
// request, one in flight — the added latency of the hop; kcat: librdkafka's own batching).
//
// A third contender, a plain Node TCP relay (bench/kafka/tcp-relay.ts: socket.pipe both ways), is
// the floor of any Node proxy here, so "meshd vs relay" isolates the Kafka filter's own cost.
//
// Layout (research/perf.md layout A, as bench/http): the brokers and the proxy on SERVER_CPU, the
// load generators on LOAD_CPU; so "vs direct" is what the proxy leaves of the broker's throughput
// when it shares the broker's core, and CPU ms per MiB (proxy and broker processes, from /proc) is
// the layout-independent cost. Contenders are interleaved per round in rotating order; every row is
// the median of REPS runs.
//
// The proxy is configured the product's way: CiliumNetworkPolicy YAML (role produce, one topic) →
// policy engine → translateNode for the built-in proxy → meshd's xDS server (in this process) →
// BuiltinProxy in its own process (bench/kafka/proxy-child.ts), whose resolvers stand in for the
// datapath. Each contender has its own fixture broker process (test/fixtures/kafka-broker/main.js):
// the direct one advertises itself, the others the proxy's (or relay's) listener, so every
// connection of a proxied client goes through the proxy. Brokers keep every record in memory, so they are restarted
// for every client × scenario block and runs are bounded by MAX_MB. Before measuring, the bench
// checks the policy is enforced (a denied topic gets TOPIC_AUTHORIZATION_FAILED through the proxy).
//
//   npx tsc -p tsconfig.json && npm run bench:kafka
//   REPS=1 SECS=2 CLIENTS=kafkajs SCENARIOS=large node dist/bench/kafka.js
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotCache, XdsServer } from '../xds/index.js';
import { describeLoad, describeMachine, summarize } from './bench-report.js';
import { ProcessRegistry, cpuMicros, freePorts, renice, type ManagedProcess } from './http/processes.js';
import { CLIENT_NAMES, KafkaBenchUsageError, readFlags, type ClientName, type ContenderName, type KafkaBenchFlags, type ScenarioName } from './kafka/flags.js';
import type { KafkajsLoadOptions, KafkajsLoadResult } from './kafka/kafkajs-load.js';
import { runKcatLoad, writeMessageFile } from './kafka/kcat-load.js';
import { killRunningLoads, runLoad } from './kafka/load-runner.js';
import { BENCH_TOPIC, BROKER_POD_IP, CLIENT_POD_IP, DENIED_TOPIC, benchProxyConfig } from './kafka/policy.js';
import { CLIENT_LABEL, CONTENDER_LABEL, renderRatios, renderTable, type Sample } from './kafka/report.js';

const BROKER_MAIN = fileURLToPath(new URL('../test/fixtures/kafka-broker/main.js', import.meta.url));
const PROXY_CHILD = fileURLToPath(new URL('./kafka/proxy-child.js', import.meta.url));
const KAFKAJS_LOAD = fileURLToPath(new URL('./kafka/kafkajs-load.js', import.meta.url));
const TCP_RELAY = fileURLToPath(new URL('./kafka/tcp-relay.js', import.meta.url));
const NODE_ID = 'bench-kafka';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const MIB = 1_048_576;
const START_TIMEOUT_MS = 20_000;

function requireTools(): void {
  const missing = ['kcat', 'taskset', 'getconf'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new KafkaBenchUsageError(`missing tools: ${missing.join(', ')} (make setup installs them)`);
}

function kcatVersion(): string {
  try {
    const out = execFileSync('kcat', ['-V'], { encoding: 'utf8' });
    return /Version [^\n]*/.exec(out)?.[0] ?? 'kcat ?';
  } catch {
    return 'kcat ?';
  }
}

async function main(): Promise<void> {
  const flags = readFlags();
  requireTools();
  const reg = new ProcessRegistry(flags.NICE);
  const dir = mkdtempSync(join(tmpdir(), 'meshd-bench-kafka-'));
  const cache = new SnapshotCache();
  const server = new XdsServer({ cache, orderHoldMs: 0 });
  const stopEverything = async () => {
    killRunningLoads();
    await reg.stopAll();
    await server.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench/kafka: ${signal}, stopping every process it started`);
    void stopEverything().finally(() => process.exit(130));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    await runBench(flags, reg, dir, server, cache);
  } finally {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    await stopEverything();
  }
}

/** Waits (bounded) until a child's log has a line matching `ready`; throws with the log tail otherwise. */
async function waitForLog(proc: ManagedProcess, ready: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ready.test(proc.logTail())) return;
    if (proc.exited) break;
    await sleep(50);
  }
  throw new Error(`${proc.label} did not start: ${proc.logTail()}`);
}

interface Setup {
  flags: KafkaBenchFlags;
  reg: ProcessRegistry;
  dir: string;
  ports: { direct: number; proxied: number; proxy: number; relayed: number; relay: number };
  proxy: ManagedProcess;
  relay: ManagedProcess | undefined;
}

/** One broker process per contender, each advertising the address its clients must come back to. */
type Brokers = Partial<Record<ContenderName, ManagedProcess>>;

async function startBrokers(s: Setup, block: string): Promise<Brokers> {
  const start = async (label: string, listen: string, advertise: string) => {
    const p = s.reg.start(label, s.flags.SERVER_CPU, process.execPath, [BROKER_MAIN, '--listen', listen, '--advertise', advertise, '--topic', `${BENCH_TOPIC}:1`], join(s.dir, `${label}-${block}.log`));
    await waitForLog(p, /^listening /m);
    renice(p.pid, s.flags.NICE);
    return p;
  };
  const brokers: Brokers = {};
  if (s.flags.CONTENDERS.includes('direct')) brokers.direct = await start('broker-direct', `127.0.0.1:${s.ports.direct}`, `127.0.0.1:${s.ports.direct}`);
  if (s.flags.CONTENDERS.includes('meshd')) brokers.meshd = await start('broker-meshd', `${BROKER_POD_IP}:${s.ports.proxied}`, `127.0.0.1:${s.ports.proxy}`);
  if (s.flags.CONTENDERS.includes('relay')) brokers.relay = await start('broker-relay', `127.0.0.1:${s.ports.relayed}`, `127.0.0.1:${s.ports.relay}`);
  return brokers;
}

function bootstrapOf(s: Setup, contender: ContenderName): string {
  return `127.0.0.1:${contender === 'direct' ? s.ports.direct : contender === 'meshd' ? s.ports.proxy : s.ports.relay}`;
}

async function runKafkajs(s: Setup, contender: ContenderName, opts: Omit<KafkajsLoadOptions, 'bootstrap' | 'localAddress' | 'clientId'>): Promise<KafkajsLoadResult> {
  const full: KafkajsLoadOptions = { ...opts, bootstrap: bootstrapOf(s, contender), localAddress: contender === 'meshd' ? CLIENT_POD_IP : undefined, clientId: 'bench-kafkajs' };
  const run = await runLoad(s.flags.LOAD_CPU, s.flags.NICE, process.execPath, [KAFKAJS_LOAD, JSON.stringify(full)], (opts.secs + 45) * 1000);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as KafkajsLoadResult;
  } catch {
    return { requests: 0, bytes: 0, elapsedMs: 0, p50Ms: NaN, p99Ms: NaN, error: `kafkajs load ${run.timedOut ? 'timed out' : `exit ${run.code}`}: no result line (${run.stdout.length} bytes of output) ${run.stderr.slice(-400)}` };
  }
}

/** The policy is really enforced: through the proxy a denied topic fails with TOPIC_AUTHORIZATION_FAILED, the bench topic works. */
async function probePolicy(s: Setup): Promise<string | undefined> {
  const base = { topic: BENCH_TOPIC, messageBytes: 5, messagesPerRequest: 1, inFlight: 1, secs: 5, maxBytes: 5, probe: true };
  const allowed = await runKafkajs(s, 'meshd', base);
  if (allowed.probe !== 'OK') return `kafkajs probe of ${BENCH_TOPIC} through the proxy: ${allowed.probe ?? allowed.error}`;
  const denied = await runKafkajs(s, 'meshd', { ...base, topic: DENIED_TOPIC });
  if (denied.probe !== 'TOPIC_AUTHORIZATION_FAILED') return `kafkajs probe of ${DENIED_TOPIC} through the proxy: expected TOPIC_AUTHORIZATION_FAILED, got ${denied.probe ?? denied.error}`;
  const probeFile = join(s.dir, 'probe.msgs');
  writeMessageFile(probeFile, 1, 5);
  const kcat = await runLoad(s.flags.LOAD_CPU, s.flags.NICE, 'kcat', ['-b', `127.0.0.1:${s.ports.proxy}`, '-P', '-t', DENIED_TOPIC, '-l', probeFile], 20_000);
  if (!/authorization failed/i.test(kcat.stderr)) return `kcat probe of ${DENIED_TOPIC} through the proxy: no authorization error (exit ${kcat.code}): ${kcat.stderr.slice(-300)}`;
  return undefined;
}

function latencySummary(latencies: number[]): { p50: number; p99: number } {
  if (latencies.length === 0) return { p50: NaN, p99: NaN };
  const s = summarize(latencies);
  return { p50: s.median, p99: s.p99 };
}

async function measure(
  s: Setup,
  brokers: Brokers,
  contender: ContenderName,
  client: ClientName,
  scenario: ScenarioName,
  rep: number,
  kcatFile: { path: string; messages: number; messageBytes: number } | undefined,
): Promise<Sample> {
  const f = s.flags;
  const broker = brokers[contender]!;
  const proxyPid = contender === 'meshd' ? s.proxy.pid : contender === 'relay' ? s.relay?.pid : undefined;
  const cpuBefore = { proxy: proxyPid === undefined ? 0 : cpuMicros([proxyPid]), broker: cpuMicros([broker.pid]) };
  let result: { bytes: number; requests: number; elapsedMs: number; error?: string | undefined };
  let lat: { p50: number; p99: number };
  let messages: number;
  if (client === 'kafkajs') {
    const large = scenario === 'large';
    const messageBytes = large ? f.LARGE_MESSAGE_BYTES : f.SMALL_MESSAGE_BYTES;
    const messagesPerRequest = large ? Math.max(1, Math.floor(f.BATCH_BYTES / f.LARGE_MESSAGE_BYTES)) : 1;
    const r = await runKafkajs(s, contender, {
      topic: BENCH_TOPIC,
      messageBytes,
      messagesPerRequest,
      inFlight: large ? f.KAFKAJS_IN_FLIGHT_LARGE : f.KAFKAJS_IN_FLIGHT_SMALL,
      secs: f.SECS,
      maxBytes: f.MAX_MB * MIB,
    });
    result = r;
    lat = { p50: r.p50Ms, p99: r.p99Ms };
    messages = r.requests * messagesPerRequest;
  } else {
    const file = kcatFile!;
    const r = await runKcatLoad({
      bootstrap: bootstrapOf(s, contender),
      topic: BENCH_TOPIC,
      file: file.path,
      messages: file.messages,
      messageBytes: file.messageBytes,
      batchBytes: f.BATCH_BYTES,
      batchMessages: scenario === 'large' ? undefined : f.KCAT_SMALL_BATCH_MESSAGES,
      lingerMs: f.KCAT_LINGER_MS,
      inFlight: f.KCAT_IN_FLIGHT,
      cpu: f.LOAD_CPU,
      nice: f.NICE,
      timeoutMs: Math.max(60_000, f.SECS * 30_000),
    });
    result = r;
    lat = latencySummary(r.latenciesMs);
    messages = r.messages;
  }
  const mib = result.bytes / MIB;
  const proxyUs = proxyPid === undefined ? 0 : cpuMicros([proxyPid]) - cpuBefore.proxy;
  const brokerUs = cpuMicros([broker.pid]) - cpuBefore.broker;
  return {
    contender,
    client,
    scenario,
    rep,
    bytes: result.bytes,
    messages,
    requests: result.requests,
    elapsedMs: result.elapsedMs,
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    proxyUsPerMiB: proxyPid !== undefined && mib > 0 ? proxyUs / mib : undefined,
    proxyUsPerRequest: proxyPid !== undefined && result.requests > 0 ? proxyUs / result.requests : undefined,
    brokerUsPerMiB: mib > 0 ? brokerUs / mib : NaN,
    error: result.error,
  };
}

async function runBench(flags: KafkaBenchFlags, reg: ProcessRegistry, dir: string, server: XdsServer, cache: SnapshotCache): Promise<void> {
  const output: string[] = [];
  const print = (line: string) => {
    output.push(line);
    console.log(line);
  };
  const log = (line: string) => console.error(line);
  const started = Date.now();

  print(`# bench/kafka — ${new Date().toISOString()}`);
  print('');
  print(`- ${describeMachine()}`);
  print(`- ${kcatVersion()}; kafkajs 2.2.4`);
  print(`- ${describeLoad()} at start`);
  print(
    `- REPS=${flags.REPS} SECS=${flags.SECS} MAX_MB=${flags.MAX_MB} BATCH_BYTES=${flags.BATCH_BYTES} LARGE_MESSAGE_BYTES=${flags.LARGE_MESSAGE_BYTES} SMALL_MESSAGE_BYTES=${flags.SMALL_MESSAGE_BYTES} ` +
      `KAFKAJS_IN_FLIGHT_LARGE=${flags.KAFKAJS_IN_FLIGHT_LARGE} KAFKAJS_IN_FLIGHT_SMALL=${flags.KAFKAJS_IN_FLIGHT_SMALL} KCAT_SMALL_MESSAGES=${flags.KCAT_SMALL_MESSAGES} KCAT_SMALL_BATCH_MESSAGES=${flags.KCAT_SMALL_BATCH_MESSAGES} KCAT_IN_FLIGHT=${flags.KCAT_IN_FLIGHT} KCAT_LINGER_MS=${flags.KCAT_LINGER_MS} ` +
      `SERVER_CPU=${flags.SERVER_CPU} PROXY_CPU=${flags.PROXY_CPU} LOAD_CPU=${flags.LOAD_CPU} NICE=${flags.NICE} CONTENDERS=${flags.CONTENDERS.join(',')} CLIENTS=${flags.CLIENTS.join(',')} SCENARIOS=${flags.SCENARIOS.join(',')}`,
  );
  print(`- layout A: brokers on vCPU ${flags.SERVER_CPU}, meshd proxy and TCP relay on vCPU ${flags.PROXY_CPU}, kafkajs/kcat on vCPU ${flags.LOAD_CPU}; contenders interleaved, order rotating per round; medians of ${flags.REPS} runs`);

  const [direct, proxied, proxyPort, relayed, relayPort] = (await freePorts(5)) as [number, number, number, number, number];
  const ports = { direct, proxied, proxy: proxyPort, relayed, relay: relayPort };
  const config = benchProxyConfig(ports.proxied, ports.proxy);
  const xdsAddress = await server.listen('127.0.0.1:0');
  cache.setSnapshot(NODE_ID, config.snapshot);
  const identityArgs = ['127.0.0.1', CLIENT_POD_IP].flatMap((ip) => ['--identity', `${ip}=${config.clientIdentity}`]);
  const profile = flags.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${flags.PROFILE_DIR}`] : [];
  const proxy = reg.start('meshd-proxy', flags.PROXY_CPU, process.execPath, [...profile, PROXY_CHILD, '--xds', xdsAddress, '--node-id', NODE_ID, '--destination', `${BROKER_POD_IP}:${ports.proxied}`, ...identityArgs], join(dir, 'proxy.log'));
  await waitForLog(proxy, /^ready$/m);
  renice(proxy.pid, flags.NICE);
  let relay: ManagedProcess | undefined;
  if (flags.CONTENDERS.includes('relay')) {
    relay = reg.start('tcp-relay', flags.PROXY_CPU, process.execPath, [TCP_RELAY, '--listen', `127.0.0.1:${ports.relay}`, '--upstream', `127.0.0.1:${ports.relayed}`], join(dir, 'relay.log'));
    await waitForLog(relay, /^ready$/m);
    renice(relay.pid, flags.NICE);
  }
  const setup: Setup = { flags, reg, dir, ports, proxy, relay };

  const samples: Sample[] = [];
  const excluded: string[] = [];
  let probed = false;
  const contenders = flags.CONTENDERS;
  for (const client of CLIENT_NAMES.filter((c) => flags.CLIENTS.includes(c))) {
    for (const scenario of flags.SCENARIOS) {
      const block = `${client}-${scenario}`;
      const brokers = await startBrokers(setup, block);
      try {
        let active = [...contenders];
        if (!probed && active.includes('meshd')) {
          probed = true;
          const problem = await probePolicy(setup);
          if (problem) {
            excluded.push(`meshd proxy left out: ${problem}`);
            log(`bench/kafka: ${problem}`);
          }
        }
        if (excluded.length > 0) active = active.filter((c) => c !== 'meshd');

        // kcat's input: sized from a direct warm-up run (large) so a measured run lasts about SECS.
        let kcatFile: { path: string; messages: number; messageBytes: number } | undefined;
        if (client === 'kcat') {
          const messageBytes = scenario === 'large' ? flags.LARGE_MESSAGE_BYTES : flags.SMALL_MESSAGE_BYTES;
          let count = scenario === 'large' ? Math.floor((Math.min(64, flags.MAX_MB) * MIB) / messageBytes) : flags.KCAT_SMALL_MESSAGES;
          const path = join(dir, `${block}.msgs`);
          writeMessageFile(path, count, messageBytes);
          kcatFile = { path, messages: count, messageBytes };
          if (scenario === 'large') {
            const calibration = await measure(setup, brokers, active.includes('direct') ? 'direct' : active[0]!, client, scenario, -1, kcatFile);
            const rate = calibration.bytes / (calibration.elapsedMs / 1000);
            const wanted = Number.isFinite(rate) && rate > 0 ? rate * flags.SECS : 64 * MIB;
            count = Math.max(64, Math.floor(Math.min(wanted, flags.MAX_MB * MIB) / messageBytes));
            writeMessageFile(path, count, messageBytes);
            kcatFile = { path, messages: count, messageBytes };
            log(`bench/kafka: kcat large runs send ${((count * messageBytes) / MIB).toFixed(0)} MiB (calibrated on direct: ${(rate / MIB).toFixed(0)} MiB/s)`);
          }
        }
        // Warm-up (JIT, connections): one unmeasured run per contender.
        for (const c of active) {
          const w = await measure(setup, brokers, c, client, scenario, -1, kcatFile);
          if (w.error) log(`bench/kafka: warm-up ${c} ${block}: ${w.error}`);
        }
        for (let rep = 0; rep < flags.REPS; rep++) {
          const order = active.map((_, i) => active[(i + rep) % active.length]!);
          for (const c of order) {
            const sample = await measure(setup, brokers, c, client, scenario, rep, kcatFile);
            samples.push(sample);
            log(`bench/kafka: ${block} ${c} rep ${rep}: ${(sample.bytes / MIB / (sample.elapsedMs / 1000)).toFixed(1)} MiB/s, p50 ${sample.p50Ms.toFixed(3)} ms, p99 ${sample.p99Ms.toFixed(3)} ms${sample.error ? `, error ${sample.error}` : ''}`);
          }
        }
      } finally {
        for (const b of Object.values(brokers)) await b.stop();
      }
    }
  }

  print('');
  print('## Results');
  for (const line of excluded) print(`- ${line}`);
  for (const client of CLIENT_NAMES.filter((c) => flags.CLIENTS.includes(c))) {
    for (const scenario of flags.SCENARIOS) {
      print('');
      print(`### ${CLIENT_LABEL[client]}, ${scenarioTitle(flags, client, scenario)}`);
      print('');
      print(renderTable(samples, client, scenario, contenders));
    }
  }
  print('');
  print('## Through the proxy / direct');
  print('');
  for (const line of renderRatios(samples, flags.CLIENTS, flags.SCENARIOS)) print(line);
  await proxy.stop();
  const flowLine = /flow records: .*/.exec(readFileSync(proxy.logFile, 'utf8'))?.[0];
  print('');
  print(`- meshd proxy ${flowLine ?? 'flow records: (not reported)'} (one per request, counted as meshd proxy's admin /stats does)`);
  print(`- ${describeLoad()} at end; run took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  print(`- labels: ${Object.values(CONTENDER_LABEL).join('; ')}`);
  if (flags.OUT) writeFileSync(flags.OUT, `${output.join('\n')}\n`);
}

function scenarioTitle(f: KafkaBenchFlags, client: ClientName, scenario: ScenarioName): string {
  if (scenario === 'large') {
    const perRequest = Math.max(1, Math.floor(f.BATCH_BYTES / f.LARGE_MESSAGE_BYTES));
    return client === 'kafkajs'
      ? `1 MiB produce requests (${perRequest} × ${f.LARGE_MESSAGE_BYTES} B messages per send), ${f.KAFKAJS_IN_FLIGHT_LARGE} in flight, acks=all`
      : `${f.LARGE_MESSAGE_BYTES} B messages, batch.size ${f.BATCH_BYTES} (1 MiB batches), linger.ms ${f.KCAT_LINGER_MS}, ${f.KCAT_IN_FLIGHT} in flight, acks=all`;
  }
  return client === 'kafkajs'
    ? `${f.SMALL_MESSAGE_BYTES} B messages, one per produce request, ${f.KAFKAJS_IN_FLIGHT_SMALL} in flight, acks=all`
    : `${f.KCAT_SMALL_MESSAGES.toLocaleString('en-US')} × ${f.SMALL_MESSAGE_BYTES} B messages, at most ${f.KCAT_SMALL_BATCH_MESSAGES} per produce request (batch.num.messages), ${f.KCAT_IN_FLIGHT} in flight, acks=all`;
}

main().catch((err: unknown) => {
  if (err instanceof KafkaBenchUsageError) {
    console.error(`bench/kafka: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
