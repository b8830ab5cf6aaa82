// The node proxy as a process of its own (docs/adr/0007-agent-process-model.md): spawned detached
// (its own session, so the agent's SIGTERM or a closed terminal never reaches it) in the node's
// proxy cgroup (the datapath gives that cgroup SO_ORIGINAL_DST and never redirects it), output to
// <state>/proxy.log, recorded in proxy.json. A restarted agent adopts a live proxy instead of
// starting a second one: the proxy kept serving with its last configuration while the agent was
// away, and its xDS client reconnects by itself. While the agent runs, a proxy that dies is
// started again (with a growing pause), and `stop()` is only for teardown.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Logger } from 'pino';
import { AgentError } from '../daemon/errors.js';
import {
  isRecordedProcessAlive,
  processStartTime,
  proxyLogPath,
  proxyRecordPath,
  readProxyRecord,
  removeProxyRecord,
  writeProxyRecord,
  type ProxyProcessRecord,
} from './process-record.js';

/** From dist/agent/proxy-supervisor/ to the repository root (bin/meshd.js, deploy/envoy). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Writes its own pid into the cgroup ($0) and execs the program: in the cgroup before any of its code runs. */
const CGROUP_EXEC = 'echo $$ > "$0" || exit 126; exec "$@"';

export interface ProxySupervisorOptions {
  mode: 'builtin' | 'envoy';
  /** '' for the node proxy; 'builtin' for envoy mode's built-in helper (proxy-builtin.json). */
  role?: string;
  stateDir: string;
  pinRoot: string;
  nodeId: string;
  xdsSocket: string;
  /** The agent API socket for `--agent-socket` (built-in proxy only; left out when the proxy lacks the option). */
  agentSocket?: string | undefined;
  proxyCgroup: string;
  logger: Logger;
  /** Resolves once the proxy holds the current configuration (the publisher's waitForSync). */
  waitInSync(nodeId: string, timeoutMs: number): Promise<void>;
  readyTimeoutMs: number;
  /** More `meshd proxy` flags (built-in proxy only). */
  extraArgs?: readonly string[];
  /** Envoy's admin address (default 127.0.0.1:0: an ephemeral port, never a clash). */
  envoyAdmin?: string;
}

export interface ProxyInfo {
  mode: 'builtin' | 'envoy';
  nodeId: string;
  pid: number | undefined;
  startTime: number | undefined;
  /** This agent found the proxy running and took it over. */
  adopted: boolean;
  alive: boolean;
  restarts: number;
  logFile: string;
  command: string[];
}

const WATCH_INTERVAL_MS = 1000;
const MAX_RESTART_PAUSE_MS = 30_000;

export class ProxySupervisor {
  readonly #o: ProxySupervisorOptions;
  readonly #recordPath: string;
  readonly #logFile: string;
  #record: ProxyProcessRecord | undefined;
  #adopted = false;
  #restarts = 0;
  #timer: NodeJS.Timeout | undefined;
  #restartPauseMs = 500;
  #nextRestartAt = 0;
  #released = false;

  private constructor(o: ProxySupervisorOptions) {
    this.#o = o;
    this.#recordPath = proxyRecordPath(o.stateDir, o.role ?? '');
    this.#logFile = proxyLogPath(o.stateDir, o.role ?? '');
  }

  /**
   * Adopts the recorded proxy when it still runs, else starts one; then waits until it holds the
   * current configuration. Throws MESHD_ERR_AGENT_ENVOY_NOT_FOUND (envoy mode without envoy in
   * PATH) or MESHD_ERR_AGENT_PROXY_START (it exited, or did not sync in time; proxy.log says why).
   */
  static async start(o: ProxySupervisorOptions): Promise<ProxySupervisor> {
    const s = new ProxySupervisor(o);
    const log = o.logger;
    const recorded = readProxyRecord(s.#recordPath, (w) => log.warn({ code: w.code }, w.message));
    if (recorded && recorded.mode === o.mode && recorded.nodeId === o.nodeId && isRecordedProcessAlive(recorded)) {
      s.#record = recorded;
      s.#adopted = true;
      log.info({ proxyPid: recorded.pid, mode: o.mode }, 'proxy: adopted the running proxy');
    } else {
      if (recorded && isRecordedProcessAlive(recorded)) {
        // A proxy of another mode or node id: it would hold the listener ports.
        log.warn({ proxyPid: recorded.pid, mode: recorded.mode, node: recorded.nodeId }, 'proxy: the running proxy has another mode or node id; stopping it');
        await stopProcess(recorded);
      }
      s.#record = s.#spawn();
    }
    try {
      await s.#waitReady();
    } catch (err) {
      if (!s.#adopted) await s.stop().catch(() => undefined);
      throw err;
    }
    s.#watch();
    return s;
  }

  info(): ProxyInfo {
    const r = this.#record;
    return {
      mode: this.#o.mode,
      nodeId: this.#o.nodeId,
      pid: r?.pid,
      startTime: r?.startTime,
      adopted: this.#adopted,
      alive: r !== undefined && isRecordedProcessAlive(r),
      restarts: this.#restarts,
      logFile: this.#logFile,
      command: r?.command ?? [],
    };
  }

  /** Stops watching; the proxy keeps running (agent stop: the next agent adopts it). */
  release(): void {
    this.#released = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Ends the proxy (SIGTERM, drain, then SIGKILL) and removes its record: teardown only. */
  async stop(): Promise<void> {
    this.release();
    if (this.#record) await stopProcess(this.#record);
    removeProxyRecord(this.#recordPath);
  }

  // ---- internals ----------------------------------------------------------------------------

  #command(): string[] {
    const o = this.#o;
    if (o.mode === 'envoy') {
      const envoy = findEnvoy();
      const bootstrap = writeEnvoyBootstrap(o.stateDir, o.xdsSocket, o.envoyAdmin ?? '127.0.0.1:0');
      return [envoy, '-c', bootstrap, '--service-node', o.nodeId, '--service-cluster', 'meshd', '--log-level', 'info', '--base-id', String(baseIdOf(o.stateDir))];
    }
    // --port-handover: a proxy started to replace a dead or old one binds the same ports while the
    // other still drains (SO_REUSEPORT / SO_REUSEADDR), so pods see no refused connection or query.
    const args = [process.execPath, join(REPO_ROOT, 'bin/meshd.js'), 'proxy', '--xds', `unix:${o.xdsSocket}`, '--node-id', o.nodeId, '--transparent', '--port-handover', '--pin-root', o.pinRoot];
    if (o.agentSocket !== undefined) args.push('--agent-socket', o.agentSocket);
    return [...args, ...(o.extraArgs ?? [])];
  }

  #spawn(): ProxyProcessRecord {
    const o = this.#o;
    const command = this.#command();
    const fd = openSync(this.#logFile, 'a');
    let pid: number | undefined;
    try {
      writeFileSync(fd, `--- ${new Date().toISOString()} meshd agent starts: ${command.join(' ')}\n`);
      // detached = setsid: a session of its own, outside the agent's process group and terminal.
      const child = spawn('/bin/sh', ['-c', CGROUP_EXEC, join(o.proxyCgroup, 'cgroup.procs'), ...command], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      child.on('error', (err) => o.logger.error({ err: err.message }, 'proxy: spawn failed'));
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(fd);
    }
    if (pid === undefined) throw new AgentError('MESHD_ERR_AGENT_PROXY_START', `could not start ${command[0]}`, { hint: `see ${this.#logFile}` });
    const startTime = processStartTime(pid);
    if (startTime === undefined) throw new AgentError('MESHD_ERR_AGENT_PROXY_START', `${command[0]} exited at once`, { hint: `see ${this.#logFile}: ${tailOf(this.#logFile)}` });
    const record: ProxyProcessRecord = { pid, startTime, mode: o.mode, nodeId: o.nodeId, command, startedAt: new Date().toISOString() };
    writeProxyRecord(this.#recordPath, record);
    o.logger.info({ proxyPid: pid, mode: o.mode, log: this.#logFile }, 'proxy: started');
    return record;
  }

  async #waitReady(): Promise<void> {
    const record = this.#record!;
    const synced = this.#o.waitInSync(this.#o.nodeId, this.#o.readyTimeoutMs);
    const exited = new Promise<never>((_, reject) => {
      const timer = setInterval(() => {
        if (isRecordedProcessAlive(record)) return;
        clearInterval(timer);
        reject(new AgentError('MESHD_ERR_AGENT_PROXY_START', `the ${this.#o.mode} proxy (pid ${record.pid}) exited before it took its configuration`, { hint: `see ${this.#logFile}: ${tailOf(this.#logFile)}` }));
      }, 100);
      timer.unref();
      void synced.finally(() => clearInterval(timer)).catch(() => undefined);
    });
    try {
      await Promise.race([synced, exited]);
    } catch (err) {
      if (err instanceof AgentError) throw err;
      throw new AgentError('MESHD_ERR_AGENT_PROXY_START', `the ${this.#o.mode} proxy (pid ${record.pid}) did not take its configuration: ${(err as Error).message}`, {
        hint: `see ${this.#logFile}: ${tailOf(this.#logFile)}`,
        cause: err,
      });
    }
    this.#o.logger.info({ proxyPid: record.pid, node: this.#o.nodeId }, 'proxy: holds the current configuration');
  }

  /** Restarts a proxy that died while the agent runs, pausing longer after each quick death. */
  #watch(): void {
    this.#timer = setInterval(() => {
      const r = this.#record;
      if (this.#released || !r || isRecordedProcessAlive(r)) return;
      const now = Date.now();
      if (now < this.#nextRestartAt) return;
      this.#o.logger.error({ proxyPid: r.pid, log: this.#logFile }, 'proxy: exited; starting it again');
      try {
        this.#record = this.#spawn();
        this.#adopted = false;
        this.#restarts++;
      } catch (err) {
        this.#o.logger.error({ err: (err as Error).message }, 'proxy: restart failed');
      }
      this.#nextRestartAt = now + this.#restartPauseMs;
      this.#restartPauseMs = Math.min(this.#restartPauseMs * 2, MAX_RESTART_PAUSE_MS);
    }, WATCH_INTERVAL_MS);
    this.#timer.unref();
  }
}

/** SIGTERM (the proxy drains), SIGKILL after `graceMs`; resolves when it is gone. */
export async function stopProcess(record: Pick<ProxyProcessRecord, 'pid' | 'startTime'>, graceMs = 7000): Promise<void> {
  if (!isRecordedProcessAlive(record)) return;
  try {
    process.kill(record.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isRecordedProcessAlive(record) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isRecordedProcessAlive(record)) {
    try {
      process.kill(record.pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
    const killDeadline = Date.now() + 2000;
    while (isRecordedProcessAlive(record) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 20));
  }
}

/** `envoy` from PATH, or MESHD_ERR_AGENT_ENVOY_NOT_FOUND. */
export function findEnvoy(path = process.env['PATH'] ?? ''): string {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'envoy');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  throw new AgentError('MESHD_ERR_AGENT_ENVOY_NOT_FOUND', `--proxy envoy: no envoy binary in PATH (${path === '' ? 'PATH is empty' : path})`, {
    hint: 'install Envoy (https://www.envoyproxy.io/docs/envoy/latest/start/install) or put its directory in PATH; or run the agent with the default --proxy builtin',
  });
}

/** deploy/envoy/bootstrap.yaml with the agent's xDS socket and an admin address of its own. */
export function writeEnvoyBootstrap(stateDir: string, xdsSocket: string, admin: string): string {
  const source = join(REPO_ROOT, 'deploy/envoy/bootstrap.yaml');
  const doc = parseYaml(readFileSync(source, 'utf8')) as {
    static_resources: { clusters: Array<{ name: string; load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { pipe: { path: string } } } }> }> } }> };
    admin?: { address: { socket_address: { address: string; port_value: number } } };
  };
  const xds = doc.static_resources.clusters.find((c) => c.name === 'meshd-xds');
  const endpoint = xds?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint;
  if (!endpoint) throw new AgentError('MESHD_ERR_AGENT_PROXY_START', `${source} has no meshd-xds cluster with a pipe endpoint`);
  endpoint.address.pipe.path = xdsSocket;
  const m = /^(.*):(\d+)$/.exec(admin);
  doc.admin = { address: { socket_address: { address: (m?.[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port_value: Number(m?.[2] ?? 0) } } };
  const out = join(stateDir, 'envoy-bootstrap.yaml');
  writeFileSync(out, `# Written by the meshd agent from ${source}.\n${stringifyYaml(doc)}`);
  return out;
}

/** Envoy's shared-memory base id: one per state directory, so two agents' Envoys never collide. */
function baseIdOf(stateDir: string): number {
  let h = 0;
  for (const c of stateDir) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 60_000;
}

/** The end of the proxy's log, its error lines first (a stack trace's last lines say little). */
function tailOf(file: string, lines = 5): string {
  if (!existsSync(file)) return '(no log)';
  const recent = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-60);
  const errors = recent.filter((l) => /MESHD_ERR_|Error\b|ERROR/.test(l) && !/^\s+at /.test(l)).slice(-3);
  return [...errors, ...recent.slice(-lines).filter((l) => !errors.includes(l))].join(' | ');
}
