// A forked child driven over IPC: send a command, wait for the report of a given type, with a
// deadline; any 'error' report or an early exit fails the wait. Used by bench/xds.ts (→ server-run)
// and server-run (→ load-generator).
import { fork, type ChildProcess } from 'node:child_process';

export class ChildChannel<Report extends { type: string }> {
  private readonly child: ChildProcess;
  private readonly queue: Report[] = [];
  private wake: (() => void) | undefined;
  private exited: string | undefined;

  constructor(script: string, opts: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}) {
    this.child = fork(script, [], { execArgv: opts.execArgv ?? [], env: opts.env ?? process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m) => {
      this.queue.push(m as Report);
      this.wake?.();
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `exited with ${code ?? signal}`;
      this.wake?.();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(command: object): void {
    this.child.send(command);
  }

  async waitFor<T extends Report['type']>(type: T, timeoutMs: number): Promise<Extract<Report, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex((r) => r.type === type || r.type === 'error');
      if (i >= 0) {
        const [r] = this.queue.splice(i, 1);
        if (r!.type === 'error') throw new Error(`child ${this.child.pid}: ${(r as unknown as { message: string }).message}`);
        return r as Extract<Report, { type: T }>;
      }
      if (this.exited) throw new Error(`child ${this.child.pid} ${this.exited} before reporting ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`child ${this.child.pid}: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  /** Waits up to `graceMs` for the child to exit by itself, then kills it. */
  async stop(graceMs = 2000): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
