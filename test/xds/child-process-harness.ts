// Child processes of the real-client tests (meshd xds serve, grpc-js-xds and Python gRPC clients and
// servers), each talking JSON lines: requests on stdin, replies and events on stdout. Everything
// waits with a deadline, and stop() always ends the process (SIGTERM, then SIGKILL), so a failing
// test leaves nothing running.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';

export interface ChildLine {
  [key: string]: unknown;
}

export class LineChild {
  private readonly child: ChildProcess;
  private readonly lines: ChildLine[] = [];
  private readonly waiters = new Set<() => void>();
  private stderrTail = '';
  private stdoutText = '';
  private nextId = 1;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.stdoutText = keepTail(this.stdoutText + line + '\n');
      if (!line.startsWith('{')) return;
      try {
        this.lines.push(JSON.parse(line) as ChildLine);
      } catch {
        return;
      }
      this.wake();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = keepTail(this.stderrTail + chunk.toString('utf8'));
    });
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      this.wake();
    });
    this.child.on('error', (err) => {
      this.stderrTail += `\nspawn error: ${err.message}`;
      this.exit = { code: -1, signal: null };
      this.wake();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What the process printed last, for failure messages. */
  diagnostics(): string {
    return `[${this.label} pid ${this.pid}${this.exit ? ` exited ${this.exit.code ?? this.exit.signal}` : ''}]\n--- stdout (tail)\n${this.stdoutText}\n--- stderr (tail)\n${this.stderrTail}`;
  }

  get stdout(): string {
    return this.stdoutText;
  }

  get stderr(): string {
    return this.stderrTail;
  }

  /** The first line (seen so far or arriving within `timeoutMs`) that matches. */
  async waitForLine(match: (line: ChildLine) => boolean, timeoutMs: number, what: string): Promise<ChildLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.exit) throw new Error(`${this.label} exited before ${what}\n${this.diagnostics()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${timeoutMs} ms\n${this.diagnostics()}`);
      await this.sleepUntilWoken(left);
    }
  }

  /** Waits until stdout contains `text` (for processes that print plain text, like meshd). */
  async waitForText(text: string | RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const has = () => (typeof text === 'string' ? this.stdoutText.includes(text) || this.stderrTail.includes(text) : text.test(this.stdoutText) || text.test(this.stderrTail));
    while (!has()) {
      if (this.exit) throw new Error(`${this.label} exited before printing ${String(text)}\n${this.diagnostics()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: did not print ${String(text)} within ${timeoutMs} ms\n${this.diagnostics()}`);
      await this.sleepUntilWoken(Math.min(left, 100));
    }
  }

  /** Sends `request` with a fresh id and waits for the reply carrying the same id. */
  async request(request: ChildLine, timeoutMs: number): Promise<ChildLine> {
    const id = this.nextId++;
    this.child.stdin!.write(JSON.stringify({ ...request, id }) + '\n');
    return this.waitForLine((l) => l['id'] === id, timeoutMs, `reply to ${JSON.stringify(request)}`);
  }

  /** Ends the process: SIGTERM, then SIGKILL after `graceMs`. Never throws. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exit) return;
    this.child.stdin?.end();
    this.child.kill('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (!this.exit && Date.now() < deadline) await this.sleepUntilWoken(deadline - Date.now());
    if (!this.exit) {
      this.child.kill('SIGKILL');
      const hardDeadline = Date.now() + 2000;
      while (!this.exit && Date.now() < hardDeadline) await this.sleepUntilWoken(hardDeadline - Date.now());
    }
  }

  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exit;
  }

  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exit) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label} did not exit within ${timeoutMs} ms\n${this.diagnostics()}`);
      await this.sleepUntilWoken(left);
    }
    return this.exit;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

function keepTail(s: string, max = 16_000): string {
  return s.length > max ? s.slice(s.length - max) : s;
}

/**
 * A TCP port below 32768 that is free on every interface right now. Below the ephemeral range
 * (32768–60999) so no outgoing connection or TIME-WAIT socket holds it (research/xds.md §2.3), and
 * checked on the wildcard address because grpc-js servers bind `*:port` even when asked for
 * 127.0.0.1. Random rather than fixed, so suites run concurrently on one machine do not collide.
 */
export async function findFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    // A port handed out earlier may not be bound yet; never hand it out twice.
    if (handedOut.has(port) || !(await isPortFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('findFreePort: no free port in 20000–31999 after 50 tries');
}

const handedOut = new Set<number>();

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '::', ipv6Only: false }, () => server.close(() => resolve(true)));
  });
}

/** Calls `attempt` until `isDone` holds for its result or `timeoutMs` passes; returns the last result. */
export async function pollUntil<T>(attempt: () => Promise<T>, isDone: (r: T) => boolean, timeoutMs: number, intervalMs = 100): Promise<{ result: T; tries: number; isDone: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let tries = 0;
  for (;;) {
    const result = await attempt();
    tries++;
    if (isDone(result)) return { result, tries, isDone: true };
    if (Date.now() + intervalMs > deadline) return { result, tries, isDone: false };
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
