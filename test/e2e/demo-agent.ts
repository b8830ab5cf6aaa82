// One `meshd agent` process for the demo and the e2e test, with its own state directory, pin root,
// node prefix, node name and proxy ports (never the machine defaults, so a demo never collides with
// a test or a real agent). Its output goes to a log file that callers show on failure. Stopping is
// SIGTERM (the agent drains; pods, BPF objects and the proxy stay), so stop + start is the restart
// a user would do; `teardown` removes everything the agent made.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MESHD_BIN, REPO_ROOT, meshd, describeCli, type CliResult } from './meshd-cli.js';

const READY_TIMEOUT_MS = 45_000;
const STOP_TIMEOUT_MS = 15_000;
/** Eight proxy ports from the base (http, kafka, dns, none × egress, ingress), as the contract lays them out. */
const PROXY_PORT_COUNT = 8;

export interface DemoAgentOptions {
  stateDir: string;
  pinRoot: string;
  nodePrefix: string;
  nodeName: string;
  proxyPortBase: number;
  logFile: string;
  /** Extra `meshd agent` arguments. */
  extraArgs?: string[];
}

export class DemoAgent {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> | undefined;
  /** Every start of this agent, with how long it took to answer. */
  readonly starts: Array<{ readyMs: number }> = [];

  constructor(readonly options: DemoAgentOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  args(): string[] {
    const o = this.options;
    return [
      'agent',
      '--state-dir', o.stateDir,
      '--pin-root', o.pinRoot,
      '--node-prefix', o.nodePrefix,
      '--node-name', o.nodeName,
      '--proxy-port-base', String(o.proxyPortBase),
      '--metrics', 'off',
      ...(o.extraArgs ?? []),
    ];
  }

  /** Starts the agent and waits (bounded) until its API answers; fails with the log's tail when it exits first. */
  async start(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) throw new Error('the demo agent is already running');
    const started = performance.now();
    const log = openSync(this.options.logFile, 'a');
    try {
      // detached: its own process group, so a Ctrl-C at the terminal reaches the driver only and
      // the driver decides the order (stop the agent, then tear down).
      this.child = spawn(process.execPath, [MESHD_BIN, ...this.args()], { cwd: REPO_ROOT, stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = once(child, 'exit').catch(() => undefined);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last: CliResult | undefined;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`meshd agent exited (${child.exitCode ?? child.signalCode}) before it was ready; its log:\n${this.logTail()}`);
      }
      if (existsSync(`${this.options.stateDir}/meshd.sock`)) {
        last = await meshd(this.options.stateDir, ['pod', 'list', '-o', 'json'], { timeoutMs: 10_000 });
        if (last.code === 0) {
          this.starts.push({ readyMs: performance.now() - started });
          return;
        }
      }
      await sleep(200);
    }
    throw new Error(`meshd agent was not ready within ${READY_TIMEOUT_MS} ms${last ? `; last probe:\n${describeCli(last)}` : ' (no API socket)'}\nits log:\n${this.logTail()}`);
  }

  /** SIGTERM and wait for the exit (SIGKILL after a bound); returns the exit code. */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill('SIGTERM');
    const done = await Promise.race([this.exited!.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await this.exited;
      throw new Error(`meshd agent did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed); its log:\n${this.logTail()}`);
    }
    return child.exitCode;
  }

  async restart(): Promise<void> {
    const code = await this.stop();
    if (code !== 0) throw new Error(`meshd agent exited ${code} on SIGTERM (expected 0); its log:\n${this.logTail()}`);
    await this.start();
  }

  /** `meshd teardown` for this agent's state dir, pin root and prefix; the agent is stopped first. */
  async teardown(): Promise<CliResult> {
    try {
      await this.stop();
    } catch {
      // teardown below removes whatever the agent left, killed or not
    }
    const o = this.options;
    return meshd(o.stateDir, ['teardown', '--state-dir', o.stateDir, '--pin-root', o.pinRoot, '--node-prefix', o.nodePrefix], { timeoutMs: 60_000 });
  }

  logTail(lines = 60): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** A base port with the next eight ports free for TCP and UDP on every address (bounded tries). */
export async function freeProxyPortBase(): Promise<number> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const base = 20_000 + 16 * Math.floor(Math.random() * 1000);
    let free = true;
    for (let p = base; p < base + PROXY_PORT_COUNT && free; p++) free = (await tcpFree(p)) && (await udpFree(p));
    if (free) return base;
  }
  throw new Error('no range of 8 free ports for the proxy in 20000–35999 after 40 tries');
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}
