// A real etcd (Debian's etcd-server, /usr/bin/etcd) for the cluster tests and benchmark: loopback
// only, free ports, a temporary data dir; stop + restart on the same data dir (durability tests);
// and a cuttable TCP relay in front of it to take one node off etcd while the others stay on.
// Everything started here is stopped and removed by dispose(), which tests call in `after`/finally.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = process.env.MESHD_ETCD_BINARY ?? '/usr/bin/etcd';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export class EtcdHarness {
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  #child: ChildProcess | undefined;
  #log = '';
  #relays: EtcdRelay[] = [];
  #offExit: () => void = () => {};

  private constructor(dataDir: string, clientPort: number, peerPort: number) {
    this.dataDir = dataDir;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  /** Starts a fresh etcd and waits until it answers /health (fails with its log after 20 s). */
  static async start(): Promise<EtcdHarness> {
    const dataDir = await mkdtemp(join(tmpdir(), 'meshd-etcd-'));
    const harness = new EtcdHarness(dataDir, await freePort(), await freePort());
    // Last resort when the test process ends without dispose() (a failed before hook, the runner's
    // timeout): kill etcd and remove its data dir synchronously.
    const onExit = (): void => {
      harness.#child?.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    };
    process.once('exit', onExit);
    harness.#offExit = () => process.off('exit', onExit);
    try {
      await harness.restart();
    } catch (err) {
      await harness.dispose();
      throw err;
    }
    return harness;
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** (Re)starts etcd on the same data dir and ports. */
  async restart(): Promise<void> {
    if (this.running) return;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      ETCD_BINARY,
      [
        '--name', 'meshd-test',
        '--data-dir', this.dataDir,
        '--listen-client-urls', this.url,
        '--advertise-client-urls', this.url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `meshd-test=${peer}`,
        '--initial-cluster-state', 'new',
        '--log-level', 'warn',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.once('error', (err) => {
      this.#log += `spawn error: ${String(err)}\n`;
    });
    const keep = (b: Buffer): void => {
      this.#log = (this.#log + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#child = child;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`etcd (${ETCD_BINARY}) exited at start (install Debian's etcd-server):\n${this.#log}`);
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`etcd did not become healthy within 20 s:\n${this.#log}`);
  }

  /** Stops etcd (SIGTERM, SIGKILL after 10 s); the data dir stays for restart(). */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** A relay to this etcd that a test can cut (connections reset, new ones refused) and restore. */
  async relay(): Promise<EtcdRelay> {
    const relay = await EtcdRelay.start(this.clientPort);
    this.#relays.push(relay);
    return relay;
  }

  get log(): string {
    return this.#log;
  }

  async dispose(): Promise<void> {
    for (const relay of this.#relays) await relay.close();
    this.#relays = [];
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
    this.#offExit();
  }
}

export class EtcdRelay {
  readonly port: number;
  readonly #target: number;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  private constructor(port: number, target: number) {
    this.port = port;
    this.#target = target;
  }

  static async start(target: number): Promise<EtcdRelay> {
    const relay = new EtcdRelay(await freePort(), target);
    await relay.restore();
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resets every relayed connection and stops listening: the node behind it loses etcd. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.race([closed, sleep(2000)]);
  }

  async restore(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = createConnection(this.#target);
      this.#track(client);
      this.#track(upstream);
      spliceSockets(client, upstream);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()));
    this.#server = server;
  }

  async close(): Promise<void> {
    await this.cut();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}

/** Pipes two sockets into each other; when either errors or closes, both go (a relay leaves no half-open side). */
export function spliceSockets(client: Socket, upstream: Socket): void {
  client.pipe(upstream).pipe(client);
  const end = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.once('error', end).once('close', end);
  upstream.once('error', end).once('close', end);
}

function createConnection(port: number): Socket {
  return connect(port, '127.0.0.1');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 50 ms until it returns true; fails with `what` after `timeoutMs` (bounded). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
