// bench/http: meshd's built-in proxy against a direct upstream, nginx and haproxy (issue 5,
// "Benchmark"), one run, same layout for every contender: research/perf.md's layout A — upstream and
// proxies pinned to one vCPU (SERVER_CPU), the load generator to the other (LOAD_CPU) — so "vs direct"
// is what a proxy sharing the upstream's core leaves of its throughput, and proxy CPU µs/request
// (utime+stime of the proxy's process tree from /proc ÷ requests completed) is the layout-independent
// cost. Scenarios: wrk HTTP/1.1 (CONNECTIONS keep-alive, and one connection for the added p50), h2load
// h2c GET and a gRPC-shaped POST (100 streams), TLS 1.3 keep-alive. Contenders are interleaved per
// round in rotating order so drift hits all alike; every row is the median of REPS runs.
//
// meshd runs exactly as a user runs it: `meshd xds serve --snapshot FILE` (Envoy resources written
// like meshd's translation, bench/http/meshd-snapshot.ts) and `meshd proxy --xds HOST:PORT`, both
// child processes; the proxy process is the one measured. Aims (issue 5): HTTP/1.1 ≥ 0.8× nginx,
// added p50 ≤ 30 µs at one connection, gRPC ≥ nginx grpc_pass, TLS keep-alive ≥ 0.8× nginx — printed
// as "meets"/"misses", never as a failure. Knobs: bench/http/flags.ts. Default run ≈ 4–5 minutes.
//
//   npx tsc -p tsconfig.json && npm run bench:http
//   REPS=1 SECS=2 CONTENDERS=direct,meshd,nginx SCENARIOS=h1,grpc node dist/bench/http.js
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeLoad, describeMachine } from './bench-report.js';
import { BODY_100, PORT_NAMES, haproxyConf, makeTlsFiles, nginxProxyConf, nginxUpstreamConf, writeGrpcBody, type Ports } from './http/configs.js';
import { CONTENDER_NAMES, HttpBenchUsageError, plannedSeconds, readFlags, type ContenderName, type HttpBenchFlags, type ScenarioName } from './http/flags.js';
import { runH2load, runWrk, type LoadResult } from './http/loadgen.js';
import { DENIED_PATH, benchPath, meshdSnapshot } from './http/meshd-snapshot.js';
import { ProcessRegistry, cpuMicros, freePorts, renice, waitForPort, type ManagedProcess } from './http/processes.js';
import { probeHttp1, probeHttp2, waitForAnswer, type ProbeAnswer } from './http/probe.js';
import { CONTENDER_LABEL, SCENARIO_TITLE, renderScenario, type Sample } from './http/report.js';

const MESHD_BIN = fileURLToPath(new URL('../../bin/meshd.js', import.meta.url));
const MESHD_READY_MS = 30_000;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface Contender {
  name: ContenderName;
  /** The process trees whose CPU is the proxy's (empty for direct). */
  proxyPids: number[];
  port: Record<'h1' | 'h2' | 'tls', number>;
}

function requireTools(): void {
  const missing = ['wrk', 'h2load', 'nginx', 'haproxy', 'taskset', 'openssl', 'getconf'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new HttpBenchUsageError(`missing tools: ${missing.join(', ')} (make setup installs them)`);
}

function toolVersions(): string {
  // nginx -v and wrk -v print to stderr, haproxy -v and h2load --version to stdout.
  const firstLine = (command: string) => {
    try {
      return execFileSync('sh', ['-c', `${command} 2>&1`], { encoding: 'utf8' }).trim().split('\n')[0]!;
    } catch (err) {
      return ((err as { stdout?: string }).stdout ?? `${command}: ?`).trim().split('\n')[0]!;
    }
  };
  return ['nginx -v', 'haproxy -v', 'wrk -v', 'h2load --version'].map(firstLine).join('; ');
}

async function main(): Promise<void> {
  const flags = readFlags();
  requireTools();
  const reg = new ProcessRegistry(flags.NICE);
  const dir = mkdtempSync(join(tmpdir(), 'meshd-bench-http-'));
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench/http: ${signal}, stopping every process it started`);
    void reg.stopAll().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    await runBench(flags, reg, dir);
  } finally {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    await reg.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runBench(flags: HttpBenchFlags, reg: ProcessRegistry, dir: string): Promise<void> {
  const output: string[] = [];
  const print = (line: string) => {
    output.push(line);
    console.log(line);
  };
  const log = (line: string) => console.error(line);
  const title = (s: string) => s.replace('H2_CONNECTIONS', String(flags.H2_CONNECTIONS)).replace('H2_STREAMS', String(flags.H2_STREAMS)).replace('CONNECTIONS', String(flags.CONNECTIONS)).replace('RULES', String(flags.RULES));
  const labels = Object.fromEntries(CONTENDER_NAMES.map((c) => [c, title(CONTENDER_LABEL[c])])) as Record<ContenderName, string>;

  print(`# bench/http — ${new Date().toISOString()}`);
  print('');
  print(`- ${describeMachine()}`);
  print(`- ${toolVersions()}`);
  print(`- ${describeLoad()} at start`);
  print(
    `- REPS=${flags.REPS} SECS=${flags.SECS} C1_SECS=${flags.C1_SECS} WARMUP_SECS=${flags.WARMUP_SECS} CONNECTIONS=${flags.CONNECTIONS} ` +
      `H2_CONNECTIONS=${flags.H2_CONNECTIONS} H2_STREAMS=${flags.H2_STREAMS} RULES=${flags.RULES} SERVER_CPU=${flags.SERVER_CPU} LOAD_CPU=${flags.LOAD_CPU} NICE=${flags.NICE} ` +
      `CONTENDERS=${flags.CONTENDERS.join(',')} SCENARIOS=${flags.SCENARIOS.join(',')}`,
  );
  print(`- layout A: upstream and proxies pinned to vCPU ${flags.SERVER_CPU}, wrk/h2load to vCPU ${flags.LOAD_CPU}; contenders interleaved, order rotating per round; medians of ${flags.REPS} runs; ${plannedSeconds(flags)} s of load planned`);

  const portList = await freePorts(PORT_NAMES.length);
  const ports = Object.fromEntries(PORT_NAMES.map((n, i) => [n, portList[i]!])) as unknown as Ports;
  const tls = makeTlsFiles(dir);
  const grpcBodyFile = writeGrpcBody(dir);
  const path = benchPath(flags.RULES);
  for (const name of ['nginx-upstream', 'nginx-proxy']) mkdirSync(join(dir, `${name}-tmp`));

  // ---- servers ----
  const cpu = flags.SERVER_CPU;
  const startNginx = async (name: string, conf: string): Promise<ManagedProcess> => {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, conf);
    const p = reg.start(name, cpu, 'nginx', ['-e', join(dir, `${name}.early.log`), '-c', file], join(dir, `${name}.log`));
    return p;
  };
  const upstream = await startNginx('nginx-upstream', nginxUpstreamConf(dir, ports, tls));
  const want = new Set(flags.CONTENDERS);
  const contenders: Contender[] = [];
  const started: Array<{ proc: ManagedProcess; port: number }> = [{ proc: upstream, port: ports.upH1 }];
  if (want.has('direct')) contenders.push({ name: 'direct', proxyPids: [], port: { h1: ports.upH1, h2: ports.upH2, tls: ports.upTls } });
  if (want.has('nginx')) {
    const p = await startNginx('nginx-proxy', nginxProxyConf(dir, ports, tls));
    started.push({ proc: p, port: ports.nginxH1 });
    contenders.push({ name: 'nginx', proxyPids: [p.pid], port: { h1: ports.nginxH1, h2: ports.nginxH2, tls: ports.nginxTls } });
  }
  if (want.has('haproxy')) {
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConf(ports, tls));
    const p = reg.start('haproxy', cpu, 'haproxy', ['-db', '-f', file], join(dir, 'haproxy.log'));
    started.push({ proc: p, port: ports.haproxyH1 });
    contenders.push({ name: 'haproxy', proxyPids: [p.pid], port: { h1: ports.haproxyH1, h2: ports.haproxyH2, tls: ports.haproxyTls } });
  }
  for (const { proc, port } of started) {
    if (!(await waitForPort(port, 10_000, () => proc.exited))) throw new Error(`${proc.label} did not listen on ${port}:\n${proc.logTail()}`);
    renice(proc.pid, flags.NICE); // after listening: nginx's worker exists by then
  }
  if (want.has('meshd') || want.has('meshd-rules')) {
    let meshd = await startMeshd(reg, dir, ports, flags, tls.cert, tls.key, path, log);
    // Once more after a pause: a dist/ being rebuilt at that moment (a shared checkout) fails the first start.
    if (!meshd.ok) {
      log(`meshd: ${meshd.reason}; retrying once in 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      meshd = await startMeshd(reg, dir, ports, flags, tls.cert, tls.key, path, log);
    }
    if (meshd.ok) {
      if (want.has('meshd')) contenders.push({ name: 'meshd', proxyPids: [meshd.pid], port: { h1: ports.meshdH1, h2: ports.meshdH2, tls: ports.meshdTls } });
      if (want.has('meshd-rules')) contenders.push({ name: 'meshd-rules', proxyPids: [meshd.pid], port: { h1: ports.rulesH1, h2: ports.rulesH2, tls: ports.rulesTls } });
      print(`- meshd: \`meshd xds serve --snapshot\` (pid ${meshd.xdsPid}) + \`meshd proxy --xds\` (pid ${meshd.pid}), both on vCPU ${cpu}; the proxy process is measured`);
    } else {
      print(`- meshd contenders left out: ${meshd.reason}`);
    }
  }
  contenders.sort((a, b) => CONTENDER_NAMES.indexOf(a.name) - CONTENDER_NAMES.indexOf(b.name));

  // ---- every contender answers what the upstream answers ----
  const grpcBody = readFileSync(grpcBodyFile);
  const runnable: Contender[] = [];
  for (const c of contenders) {
    const problems = await checkContender(c, flags.SCENARIOS, path, grpcBody);
    if (c.name === 'meshd-rules') {
      const denied = await probeHttp1(`http://127.0.0.1:${c.port.h1}${DENIED_PATH}`, false).catch((e: Error) => e);
      if (denied instanceof Error || denied.status !== 403) problems.push(`a path no rule allows was not denied: ${describe(denied)}`);
    }
    if (problems.length === 0) runnable.push(c);
    else print(`- ${labels[c.name]} left out: ${problems.join('; ')}`);
  }

  // ---- warm-up, then interleaved rounds ----
  const measure = async (c: Contender, scenario: ScenarioName, seconds: number): Promise<{ result: LoadResult; proxyUs: number | undefined; upstreamUs: number }> => {
    const p0 = cpuMicros(c.proxyPids);
    const u0 = cpuMicros([upstream.pid]);
    const result = await load(reg, flags, c, scenario, seconds, path, grpcBodyFile, dir);
    const p1 = cpuMicros(c.proxyPids);
    const u1 = cpuMicros([upstream.pid]);
    const n = Math.max(1, result.requests);
    return { result, proxyUs: c.proxyPids.length > 0 ? (p1 - p0) / n : undefined, upstreamUs: (u1 - u0) / n };
  };
  log(`warming up ${runnable.length} contenders × ${flags.SCENARIOS.length} scenarios (${flags.WARMUP_SECS} s each)`);
  for (const scenario of flags.SCENARIOS) for (const c of runnable) await measure(c, scenario, flags.WARMUP_SECS).catch((e: Error) => log(`warm-up ${c.name} ${scenario}: ${e.message}`));
  const samples: Sample[] = [];
  for (let rep = 0; rep < flags.REPS; rep++) {
    for (const scenario of flags.SCENARIOS) {
      const order = rotate(runnable, rep);
      for (const c of order) {
        const seconds = scenario === 'h1-c1' ? flags.C1_SECS : flags.SECS;
        try {
          const m = await measure(c, scenario, seconds);
          samples.push({ contender: c.name, scenario, rep, result: m.result, proxyUsPerReq: m.proxyUs, upstreamUsPerReq: m.upstreamUs });
          log(`round ${rep + 1}/${flags.REPS} ${scenario} ${c.name}: ${Math.round(m.result.rps)} req/s, p50 ${m.result.p50Ms.toFixed(3)} ms${m.proxyUs !== undefined ? `, proxy ${m.proxyUs.toFixed(1)} µs/req` : ''}${m.result.errors ? `, ${m.result.errors}` : ''}`);
        } catch (err) {
          log(`round ${rep + 1} ${scenario} ${c.name}: ${(err as Error).message}`);
        }
      }
    }
  }

  // ---- results ----
  const order = runnable.map((c) => c.name);
  for (const scenario of flags.SCENARIOS) {
    print('');
    print(`## ${title(SCENARIO_TITLE[scenario])}`);
    print('');
    print(renderScenario(samples, scenario, order, labels));
  }
  print('');
  print('- req/s and p50/p99: medians over the rounds (wrk --latency; h2load per-request times from --log-file); closed-loop load, so tails include queueing on the shared core');
  print('- proxy CPU µs/req: utime+stime of the proxy process tree ÷ requests completed; 1e6 ÷ it is the proxy\'s one-core capacity if it had the core to itself');
  print(`- ${describeLoad()} at end`);
  for (const c of runnable) for (const pid of c.proxyPids) if (!isAlive(pid)) print(`- WARNING: ${labels[c.name]} (pid ${pid}) exited during the run`);
  if (flags.PROFILE_DIR) print(`- PROFILE_DIR: meshd proxy's CPU profile (all scenarios) is written to ${flags.PROFILE_DIR} when it stops`);
  if (flags.OUT) writeFileSync(flags.OUT, `${output.join('\n')}\n`);
}

function load(reg: ProcessRegistry, flags: HttpBenchFlags, c: Contender, scenario: ScenarioName, seconds: number, path: string, grpcBodyFile: string, dir: string): Promise<LoadResult> {
  switch (scenario) {
    case 'h1':
      return runWrk(reg, flags.LOAD_CPU, { url: `http://127.0.0.1:${c.port.h1}${path}`, connections: flags.CONNECTIONS, seconds });
    case 'h1-c1':
      return runWrk(reg, flags.LOAD_CPU, { url: `http://127.0.0.1:${c.port.h1}${path}`, connections: 1, seconds });
    case 'tls':
      return runWrk(reg, flags.LOAD_CPU, { url: `https://127.0.0.1:${c.port.tls}${path}`, connections: flags.CONNECTIONS, seconds });
    case 'h2':
    case 'grpc':
      return runH2load(reg, flags.LOAD_CPU, {
        url: `http://127.0.0.1:${c.port.h2}${path}`,
        connections: flags.H2_CONNECTIONS,
        streams: flags.H2_STREAMS,
        seconds,
        grpcBodyFile: scenario === 'grpc' ? grpcBodyFile : undefined,
        logFile: join(dir, `h2load-${c.name}-${scenario}.log`),
      });
  }
}

async function checkContender(c: Contender, scenarios: readonly ScenarioName[], path: string, grpcBody: Buffer): Promise<string[]> {
  const problems: string[] = [];
  const expectBody = (what: string, a: ProbeAnswer | Error, grpc: boolean) => {
    if (a instanceof Error) problems.push(`${what}: ${a.message}`);
    else if (a.status !== 200 || a.body !== BODY_100) problems.push(`${what}: ${describe(a)}`);
    else if (grpc && a.grpcStatus !== '0') problems.push(`${what}: the grpc-status trailer did not arrive (${describe(a)})`);
  };
  const get = <T>(p: Promise<T>) => p.catch((e: Error) => e);
  if (scenarios.includes('h1') || scenarios.includes('h1-c1')) expectBody('HTTP/1.1', await get(probeHttp1(`http://127.0.0.1:${c.port.h1}${path}`, false)), false);
  if (scenarios.includes('tls')) expectBody('TLS', await get(probeHttp1(`https://127.0.0.1:${c.port.tls}${path}`, true)), false);
  if (scenarios.includes('h2')) expectBody('h2c GET', await get(probeHttp2(`http://127.0.0.1:${c.port.h2}${path}`, undefined)), false);
  if (scenarios.includes('grpc')) expectBody('gRPC-shaped POST', await get(probeHttp2(`http://127.0.0.1:${c.port.h2}${path}`, grpcBody)), true);
  return problems;
}

function describe(a: ProbeAnswer | Error): string {
  return a instanceof Error ? a.message : `status ${a.status}, ${a.body.length}-byte body${a.grpcStatus !== undefined ? `, grpc-status ${a.grpcStatus}` : ''}`;
}

type MeshdStart = { ok: true; pid: number; xdsPid: number } | { ok: false; reason: string };

/** `meshd xds serve` + `meshd proxy`, as a user starts them; ready when every listener answers. */
async function startMeshd(reg: ProcessRegistry, dir: string, ports: Ports, flags: HttpBenchFlags, certFile: string, keyFile: string, path: string, log: (l: string) => void): Promise<MeshdStart> {
  const snapshot = join(dir, 'meshd-snapshot.json');
  writeFileSync(snapshot, meshdSnapshot(ports, flags.RULES, { chain: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') }));
  const xds = reg.start('meshd xds serve', flags.SERVER_CPU, process.execPath, [MESHD_BIN, 'xds', 'serve', '--snapshot', snapshot, '--listen', `127.0.0.1:${ports.xds}`], join(dir, 'meshd-xds.log'));
  if (!(await waitForPort(ports.xds, 15_000, () => xds.exited))) return { ok: false, reason: `meshd xds serve did not listen: ${xds.logTail()}` };
  const proxy = reg.start(
    'meshd proxy',
    flags.SERVER_CPU,
    process.execPath,
    [...(flags.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${flags.PROFILE_DIR}`] : []), MESHD_BIN, 'proxy', '--xds', `127.0.0.1:${ports.xds}`, '--node-id', 'bench-http', '--admin', `127.0.0.1:${ports.admin}`],
    join(dir, 'meshd-proxy.log'),
  );
  log(`meshd proxy pid ${proxy.pid}: waiting for its listeners (up to ${MESHD_READY_MS / 1000} s)`);
  const ready = await waitForAnswer(() => probeHttp1(`http://127.0.0.1:${ports.rulesH1}${path}`, false), 200, MESHD_READY_MS, () => proxy.exited);
  if (ready instanceof Error || ready.status !== 200) {
    const reason = `meshd proxy not ready within ${MESHD_READY_MS / 1000} s (${describe(ready)}); its log: ${proxy.logTail().trim().split('\n').slice(-8).join(' / ')}`;
    await proxy.stop();
    await xds.stop();
    return { ok: false, reason };
  }
  renice(proxy.pid, flags.NICE);
  return { ok: true, pid: proxy.pid, xdsPid: xds.pid };
}

function rotate<T>(list: readonly T[], by: number): T[] {
  if (list.length === 0) return [];
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

try {
  await main();
} catch (error) {
  if (error instanceof HttpBenchUsageError) {
    console.error(`bench/http: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(error);
    process.exitCode = 1;
  }
}
