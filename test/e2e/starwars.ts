// The Star Wars scenario of `make demo` and of the e2e test, on a real agent driven through the
// real CLI: pods deathstar (HTTP :80, gRPC :50051), tiefighter (org=empire), xwing
// (org=alliance), a Kafka broker and a DNS resolver (dnsmasq); "the outside world" is two test
// addresses on the node's loopback with an HTTP server on port 443 (api.empire.gov and an address
// no allowed answer returns). The policies of docs/examples/live are applied stage by stage and
// every request of a stage is one row: what was asked, what the policy intends, what happened,
// and which layer and policy decided (from the agent's flows).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoAppScript } from '../fixtures/demo-apps/index.js';
import { curlArgs, dig, grpc, type Attempt, type ScenarioPods } from './clients.js';
import { STAGES, type DemoRow, type RowResult, type Stage } from './rows.js';
import { DemoAgent, freeProxyPortBase } from './demo-agent.js';
import { decidingFlow, flowsOf, isObservedFlow, type ObservedFlow } from './flows.js';
import { CliError, REPO_ROOT, describeCli, meshd, meshdOk, parseJsonOutput, type CliResult } from './meshd-cli.js';

export interface PodSpec {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  command: string[];
}

export interface RunningPod extends PodSpec {
  ipv4: string;
}

const NODE = process.execPath;
const ROW_GAP_MS = 300;
const SLEEP_FOREVER = ['sleep', 'infinity'];

/** Which test addresses this run puts on lo (198.19.0.0/16 is part of RFC 2544's test range). */
function worldAddresses(): { apiIp: string; rebelIp: string } {
  const third = process.pid % 250;
  return { apiIp: `198.19.${third}.10`, rebelIp: `198.19.${third}.11` };
}

export function demoPods(addresses: { apiIp: string; rebelIp: string }): PodSpec[] {
  return [
    { namespace: 'empire', name: 'deathstar', labels: { org: 'empire', class: 'deathstar' }, command: [NODE, demoAppScript('deathstar')] },
    { namespace: 'empire', name: 'kafka', labels: { app: 'kafka' }, command: [NODE, demoAppScript('kafka-broker')] },
    {
      namespace: 'kube-system',
      name: 'coredns',
      labels: { 'k8s-app': 'kube-dns' },
      command: [
        '/usr/sbin/dnsmasq', '--no-resolv', '--no-hosts', '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root',
        '--port=53', '--log-facility=-', '--local-ttl=300',
        `--host-record=api.empire.gov,${addresses.apiIp},300`,
        `--host-record=rebel-base.org,${addresses.rebelIp},300`,
        '--cname=www.empire.gov,api.empire.gov,300',
      ],
    },
    { namespace: 'empire', name: 'tiefighter', labels: { org: 'empire', class: 'tiefighter' }, command: SLEEP_FOREVER },
    { namespace: 'alliance', name: 'xwing', labels: { org: 'alliance', class: 'xwing' }, command: SLEEP_FOREVER },
  ];
}

export interface WorldOptions {
  /** Progress lines (the demo prints them). */
  progress?: (line: string) => void;
  /** Called as soon as the world exists (before the agent starts), so a signal handler can close it. */
  onWorld?: (w: StarWarsWorld) => void;
}

/** Everything the scenario started, torn down by close() whatever happened. */
export class StarWarsWorld implements ScenarioPods {
  readonly pods = new Map<string, RunningPod>();
  readonly resolvConf: string;
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  private constructor(
    readonly workDir: string,
    readonly agent: DemoAgent,
    readonly addresses: { apiIp: string; rebelIp: string },
    private readonly progress: (line: string) => void,
  ) {
    this.resolvConf = join(workDir, 'resolv.conf');
  }

  get stateDir(): string {
    return this.agent.options.stateDir;
  }

  /** Starts the outside world, the agent and the pods, and waits until the services answer. */
  static async start(o: WorldOptions = {}): Promise<StarWarsWorld> {
    const workDir = mkdtempSync(join(tmpdir(), 'meshd-demo-'));
    const stateDir = join(workDir, 'state');
    mkdirSync(stateDir);
    const tag = `${process.pid}`;
    const agent = new DemoAgent({
      stateDir,
      pinRoot: `/sys/fs/bpf/meshd-demo-${tag}`,
      nodePrefix: `md${tag}-`,
      nodeName: `demo-${tag}`,
      proxyPortBase: await freeProxyPortBase(),
      logFile: join(workDir, 'agent.log'),
    });
    const w = new StarWarsWorld(workDir, agent, worldAddresses(), o.progress ?? (() => undefined));
    o.onWorld?.(w);
    try {
      await w.startOutsideWorld();
      w.progress(`starting meshd agent (state ${stateDir}, log ${agent.options.logFile})`);
      await agent.start();
      w.progress(`agent ready in ${agent.starts[0]!.readyMs.toFixed(0)} ms`);
      for (const spec of demoPods(w.addresses)) await w.runPod(spec);
      await w.waitForServices();
      writeFileSync(w.resolvConf, `nameserver ${w.pod('coredns').ipv4}\noptions attempts:1 timeout:3\n`);
      return w;
    } catch (err) {
      await w.close().catch(() => undefined);
      throw err;
    }
  }

  pod(name: string): RunningPod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name} in the scenario`);
    return p;
  }

  /** The "Internet": the test addresses on lo and an HTTP server on :443 of each. */
  private async startOutsideWorld(): Promise<void> {
    for (const ip of Object.values(this.addresses)) {
      execFileSync('ip', ['addr', 'replace', `${ip}/32`, 'dev', 'lo']);
      this.cleanups.push(() => {
        try {
          execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo'], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      });
    }
    // One server per test address (not the wildcard), so a port 443 in use elsewhere on the node does not matter.
    for (const ip of Object.values(this.addresses)) {
      const server = createServer({ keepAliveTimeout: 1000 }, (req, res) => {
        req.resume();
        res.end(`hello from ${ip}\n`);
      });
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(443, ip, resolve));
      this.cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
    }
  }

  /** `meshd pod run`; the pod's address comes from its JSON output or `meshd pod list`. */
  async runPod(spec: PodSpec): Promise<RunningPod> {
    const labels = Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).join(',');
    const r = await meshdOk(this.stateDir, ['pod', 'run', '--name', spec.name, '--namespace', spec.namespace, '--labels', labels, '-o', 'json', '--', ...spec.command], `meshd pod run ${spec.namespace}/${spec.name}`);
    let ipv4 = ipv4Of(parseJsonOutput(r.stdout), spec);
    if (!ipv4) ipv4 = ipv4Of(parseJsonOutput((await meshdOk(this.stateDir, ['pod', 'list', '-o', 'json'], 'meshd pod list')).stdout), spec);
    if (!ipv4) throw new Error(`no IPv4 address for pod ${spec.namespace}/${spec.name} in the output of pod run / pod list:\n${r.stdout}`);
    const pod = { ...spec, ipv4 };
    this.pods.set(spec.name, pod);
    this.progress(`pod ${spec.namespace}/${spec.name} ${ipv4} {${labels}}`);
    return pod;
  }

  async removePod(name: string): Promise<void> {
    const p = this.pod(name);
    await meshdOk(this.stateDir, ['pod', 'rm', '--namespace', p.namespace, p.name], `meshd pod rm ${p.namespace}/${p.name}`);
    this.pods.delete(name);
  }

  /** `meshd pod exec` in a pod of the scenario. */
  exec(podName: string, command: readonly string[], timeoutMs = 20_000): Promise<CliResult> {
    const p = this.pod(podName);
    return meshd(this.stateDir, ['pod', 'exec', '--namespace', p.namespace, p.name, '--', ...command], { timeoutMs });
  }

  /** Polls (bounded) until the deathstar, the broker and the resolver answer from the xwing (no policy yet). */
  private async waitForServices(): Promise<void> {
    const checks: Array<[string, () => Promise<boolean>]> = [
      ['deathstar HTTP', async () => (await this.exec('xwing', curlArgs('GET', `http://${this.pod('deathstar').ipv4}/v1`))).stdout.trim().endsWith('200')],
      ['deathstar gRPC', async () => (await grpc(this, 'xwing', 'RequestLanding')).allowed],
      ['kafka broker', async () => (await this.exec('xwing', ['kcat', '-b', `${this.pod('kafka').ipv4}:9092`, '-L', '-m', '3'])).code === 0],
      ['dnsmasq', async () => (await dig(this, 'xwing', 'api.empire.gov')).allowed],
    ];
    for (const [what, check] of checks) {
      const deadline = Date.now() + 20_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what} did not answer within 20 s of its pod starting; pod logs are under ${this.stateDir}/pods/`);
        await sleep(250);
      }
    }
    this.progress('deathstar (HTTP, gRPC), kafka and coredns answer');
  }

  /**
   * `meshd policy apply -f DIR`. It returns once the kernel enforces the policies; the proxy gets
   * its configuration over xDS right after, so the scenario waits until `meshd xds status` says
   * every proxy ACKed the newest version (bounded), or 1 s when that cannot be read.
   */
  async applyStage(stage: Stage): Promise<CliResult> {
    const dir = STAGES[stage];
    const r = await meshd(this.stateDir, ['policy', 'apply', '-f', dir]);
    if (r.code !== 0) throw new CliError(r, `meshd policy apply -f ${dir}`);
    await this.waitForProxyAck();
    this.progress(`applied ${dir.slice(REPO_ROOT.length)}: ${r.stdout.trim().split('\n').join('; ')}`);
    return r;
  }

  private async waitForProxyAck(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const r = await meshd(this.stateDir, ['xds', 'status', '-o', 'json']);
      if (r.code !== 0) break;
      if (proxiesInSync(r.stdout)) return;
      await sleep(100);
    }
    await sleep(1000);
  }

  /** Runs the rows in order, then attributes the agent's flows to them. */
  async runRows(rows: readonly DemoRow[]): Promise<RowResult[]> {
    const timed: Array<{ row: DemoRow; attempt: Attempt; startMs: number; endMs: number }> = [];
    for (const row of rows) {
      const startMs = Date.now();
      const attempt = await row.run(this);
      // A pause between requests: a flow stamped as its connection closes, or flushed a little
      // late, still falls before the next request starts. Each request's window ends where the
      // next one starts.
      await sleep(ROW_GAP_MS);
      const prev = timed.at(-1);
      if (prev) prev.endMs = startMs - 1;
      timed.push({ row, attempt, startMs, endMs: Date.now() });
    }
    // Proxy flow records reach the agent in batches: give the last ones a moment.
    await sleep(1500);
    const { flows, error } = await this.flows();
    return timed.map(({ row, attempt, startMs, endMs }) => {
      const from = this.pod(row.from);
      const decision = decidingFlow(flowsOf(flows, { startMs, endMs, fromPod: `${from.namespace}/${from.name}`, fromIps: [from.ipv4], destinationPort: row.destinationPort }));
      const problems: string[] = [];
      if ((row.expect === 'allowed') !== attempt.allowed) problems.push(`expected ${row.expect}, was ${attempt.allowed ? 'allowed' : 'denied'} (${attempt.detail})`);
      if (attempt.failure) problems.push(`the client failed: ${attempt.failure}`);
      if (error) problems.push(error);
      else if (!decision) problems.push('no flow recorded for this request');
      else {
        if (decision.layer !== row.layer) problems.push(`expected the ${row.layer} to decide, the flow says ${decision.layer} (${decision.verdict})`);
        if (row.policy && !decision.policy.includes(row.policy)) problems.push(`expected policy ${row.policy}, the flow names ${decision.policy}`);
      }
      return { row, attempt, decision, ok: problems.length === 0, problems, startMs, endMs };
    });
  }

  /** Every flow the agent holds (`meshd observe --last 5000 -o json`); a failed command is reported, not thrown, so the table still shows the verdicts. */
  async flows(): Promise<{ flows: ObservedFlow[]; error?: string }> {
    const r = await meshd(this.stateDir, ['observe', '--last', '5000', '-o', 'json']);
    if (r.code !== 0) return { flows: [], error: `meshd observe failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}` };
    return { flows: parseJsonOutput(r.stdout).filter(isObservedFlow) };
  }

  private closed: Promise<string[]> | undefined;

  /** Stops the agent, `meshd teardown`, removes the outside world; returns problems (never throws). Idempotent. */
  close(): Promise<string[]> {
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private async closeOnce(): Promise<string[]> {
    const problems: string[] = [];
    const t = await this.agent.teardown().catch((e: unknown) => ({ code: -1, err: String(e) }));
    if ('args' in t && t.code !== 0) problems.push(`meshd teardown failed:\n${describeCli(t)}`);
    if (!('args' in t)) problems.push(`meshd teardown: ${t.err}`);
    for (const c of this.cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        problems.push(String(e));
      }
    }
    return problems;
  }

  /** Removes the work directory (state, logs); the demo keeps it when something failed. */
  removeWorkDir(): void {
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** The IPv4 address of a pod in the output of `pod run -o json` (the pod) or `pod list -o json` ({pods}). */
function ipv4Of(items: unknown[], spec: PodSpec): string | undefined {
  const pod = items.find((e): e is { ipv4: string } => {
    const o = e as { name?: unknown; namespace?: unknown; ipv4?: unknown } | null;
    return !!o && o.name === spec.name && o.namespace === spec.namespace && typeof o.ipv4 === 'string';
  });
  return pod?.ipv4;
}

/** True when `meshd xds status -o json` shows a connected proxy and every proxy was sent the current snapshot and ACKed it (nothing in flight). */
export function proxiesInSync(stdout: string): boolean {
  let status: { version?: number | string; proxies?: Array<{ connected?: boolean; inSync?: boolean; snapshotVersion?: string }> };
  try {
    status = JSON.parse(stdout) as typeof status;
  } catch {
    return false;
  }
  const current = String(status.version ?? '');
  const proxies = status.proxies ?? [];
  return current !== '' && proxies.length > 0 && proxies.every((p) => p.connected === true && p.inSync === true && p.snapshotVersion === current);
}
