// A real `meshd agent` for tests, isolated from every other agent on the machine: its own state
// directory (mkdtemp), pin root (/sys/fs/bpf/meshd-test-<pid>-<n>), node prefix (meshdt<pid>-<n>-:
// its own netns names and cgroup tree), node name and proxy port range. The agent runs as a child
// process (`node bin/meshd.js agent …`, as users run it: signals, exit status, the adopted proxy
// process) or in this process (Agent.start, for tests that need its objects). Whatever happens,
// `withAgent` ends with `meshd teardown`'s code: agent, proxy, pods, BPF pins and the state
// directory are gone afterwards, also when the test failed half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, assertTornDown, teardown, type AgentOptions, type AgentInfo } from '../../agent/index.js';
import { ApiClient, spawnInPod, type EndpointInfo } from '../../agent/index.js';
import { assertKernelReady, testPinRoot } from '../datapath/datapath-harness.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MESHD_BIN = join(REPO_ROOT, 'bin/meshd.js');

/** How long an agent may take to be ready (pods to re-adopt, a proxy to start on a busy machine). */
export const AGENT_READY_TIMEOUT_MS = 90_000;

let agents = 0;

export interface AgentPlace {
  stateDir: string;
  pinRoot: string;
  nodePrefix: string;
  nodeName: string;
  proxyPortBase: number;
}

/** A fresh place; the port range is spread by pid so parallel test files do not collide. */
export function newAgentPlace(): AgentPlace {
  const n = agents++;
  return {
    stateDir: mkdtempSync(join(tmpdir(), 'meshd-agent-')),
    pinRoot: testPinRoot(),
    nodePrefix: `meshdt${process.pid}-${n}-`,
    nodeName: `test-${process.pid}-${n}`,
    proxyPortBase: 20_000 + (((process.pid % 1000) * 40 + n * 8) % 30_000),
  };
}

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  /** The ready line the agent printed. */
  readyLine: string;
  /** Everything the agent wrote on stderr so far (its JSON log). */
  stderr(): string;
  stdout(): string;
  /** Sends the signal and resolves with how the process ended (bounded: SIGKILL after 30 s). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface AgentWorld {
  place: AgentPlace;
  /** The running agent process (child mode); replaced by restart(). */
  process: AgentProcess | undefined;
  /** The in-process agent (inProcess mode). */
  agent: Agent | undefined;
  api: ApiClient;
  info(): Promise<AgentInfo>;
  /** Stops the agent (SIGTERM in child mode) and starts a new one on the same place. */
  restart(extraArgs?: string[]): Promise<void>;
  /** Runs one more `meshd agent` on this place to completion (30 s at most): the lock must refuse it. */
  spawnAnother(extraArgs?: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Runs `node bin/meshd.js ARGS` with --state-dir when asked, and returns its output. */
  meshd(args: string[], options?: { timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export interface WithAgentOptions {
  /** Default 'process'. */
  mode?: 'process' | 'inProcess';
  /** More `meshd agent` flags (process mode). */
  args?: string[];
  /** More Agent.start options (inProcess mode). */
  agentOptions?: AgentOptions;
  place?: Partial<AgentPlace>;
}

/** Flags of `meshd agent` for a place. */
export function agentArgs(place: AgentPlace, extra: string[] = []): string[] {
  return [
    'agent',
    '--state-dir', place.stateDir,
    '--pin-root', place.pinRoot,
    '--node-prefix', place.nodePrefix,
    '--node-name', place.nodeName,
    '--proxy-port-base', String(place.proxyPortBase),
    '--metrics', '127.0.0.1:0',
    ...extra,
  ];
}

/** Starts `meshd agent` and resolves once it printed its ready line; rejects with its stderr when it exits first. */
export async function startAgentProcess(place: AgentPlace, extra: string[] = [], timeoutMs = AGENT_READY_TIMEOUT_MS): Promise<AgentProcess> {
  const child = spawn(process.execPath, [MESHD_BIN, ...agentArgs(place, extra)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const proc: AgentProcess = {
    child,
    pid: child.pid!,
    readyLine: '',
    stderr: () => err,
    stdout: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = out.split('\n').find((l) => l.startsWith('meshd agent: ready'));
    if (line) {
      proc.readyLine = line;
      return proc;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`meshd agent exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(err)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`meshd agent not ready after ${timeoutMs} ms:\n${tail(err)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `node bin/meshd.js ARGS` to completion (bounded). */
export function runMeshd(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MESHD_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    collectOutput(child, options.timeoutMs ?? 60_000).then(resolve, reject);
  });
}

/** A child's exit code and whole stdout and stderr (both piped); SIGKILL after `timeoutMs` (bounded). */
export function collectOutput(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh connect() from the pod: OK or the errno name (EPERM = the kernel denied it). */
export async function connectOnce(client: EndpointInfo, ip: string, port: number): Promise<string> {
  const script = 'import errno,socket,sys\ntry:\n  socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("OK")\nexcept OSError as e:\n  print(errno.errorcode.get(e.errno, repr(e)))';
  const child = spawnInPod(client, ['python3', '-c', script, ip, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((resolve) => child.once('close', resolve));
  return out.trim();
}

/** Applies policy `name` (file `file`) selecting app=client with these egress rules through the API, then reconciles. */
export async function applyClientEgress(w: AgentWorld, file: string, name: string, egress: string): Promise<void> {
  await w.api.post('/v1/policies', {
    sources: [
      {
        file,
        text: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${name}, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
${egress}`,
      },
    ],
  });
  await w.api.post('/v1/agent/reconcile', {});
}

/**
 * Runs `fn` against a real agent on a place of its own; afterwards (also on failure) stops every
 * agent it started and tears the place down: proxy, pods, pins, state directory.
 */
export async function withAgent(options: WithAgentOptions, fn: (w: AgentWorld) => Promise<void>): Promise<void> {
  assertKernelReady();
  const place: AgentPlace = { ...newAgentPlace(), ...options.place };
  const mode = options.mode ?? 'process';
  const processes: AgentProcess[] = [];
  const inProcess: Agent[] = [];
  const api = ApiClient.forStateDir(place.stateDir);
  const start = async (extra: string[] = []): Promise<void> => {
    if (mode === 'process') {
      const p = await startAgentProcess(place, [...(options.args ?? []), ...extra]);
      processes.push(p);
      world.process = p;
    } else {
      const agent = await Agent.start({
        stateDir: place.stateDir,
        pinRoot: place.pinRoot,
        nodePrefix: place.nodePrefix,
        nodeName: place.nodeName,
        proxyPortBase: place.proxyPortBase,
        metrics: '127.0.0.1:0',
        logLevel: 'warn',
        ...options.agentOptions,
      });
      inProcess.push(agent);
      world.agent = agent;
    }
  };
  const world: AgentWorld = {
    place,
    process: undefined,
    agent: undefined,
    api,
    info: () => api.get<AgentInfo>('/v1/agent'),
    restart: async (extra = []) => {
      if (world.process) {
        const ended = await world.process.stop('SIGTERM');
        if (ended.code !== 0) throw new Error(`the agent exited with ${ended.code ?? ended.signal} on SIGTERM:\n${tail(world.process.stderr())}`);
      }
      if (world.agent) await world.agent.stop();
      await start(extra);
    },
    spawnAnother: (extra = []) => runMeshd(agentArgs(place, [...(options.args ?? []), ...extra]), { timeoutMs: 30_000 }),
    meshd: (args, o = {}) => runMeshd(args, o),
  };
  try {
    await start();
    await fn(world);
  } finally {
    api.close();
    const problems: string[] = [];
    for (const p of processes) await p.stop('SIGKILL').catch((e: unknown) => problems.push(String(e)));
    for (const a of inProcess) await a.stop().catch((e: unknown) => problems.push(String(e)));
    const report = await teardown({ stateDir: place.stateDir, pinRoot: place.pinRoot, nodePrefix: place.nodePrefix, purge: true, agentGraceMs: 5_000 });
    assertTornDown(report);
    if (problems.length > 0) throw new Error(`stopping the agents failed: ${problems.join('; ')}`);
  }
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
