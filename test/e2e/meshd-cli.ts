// Runs the real `meshd` CLI (bin/meshd.js) against one agent's state directory, as a user would.
// Client commands find the agent through $MESHD_STATE_DIR (the ApiClient default), so the scenario
// never depends on which command spells `--state-dir` how; the agent and teardown get the option.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MESHD_BIN = fileURLToPath(new URL('../../../bin/meshd.js', import.meta.url));

export interface CliResult {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Runs `meshd ARGS` with $MESHD_STATE_DIR set; bounded by `timeoutMs` (then SIGKILL). Never throws. */
export function meshd(stateDir: string, args: readonly string[], opts: { timeoutMs?: number; stdin?: string } = {}): Promise<CliResult> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MESHD_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, MESHD_STATE_DIR: stateDir, NO_COLOR: '1' },
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ args: [...args], code, signal, stdout, stderr, ms: performance.now() - started, timedOut });
    };
    child.on('error', (e) => {
      stderr += String(e);
      finish(null, null);
    });
    child.on('close', finish);
  });
}

/** A failed command, for an error message: the command line, its status and its output. */
export function describeCli(r: CliResult): string {
  const status = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  return `$ meshd ${r.args.join(' ')}\n(${status} after ${r.ms.toFixed(0)} ms)\n${r.stdout.slice(-3000)}${r.stderr.slice(-3000)}`;
}

export class CliError extends Error {
  constructor(readonly result: CliResult, what: string) {
    super(`${what} failed:\n${describeCli(result)}`);
  }
}

/** Runs a command that must succeed; throws CliError with its output otherwise. */
export async function meshdOk(stateDir: string, args: readonly string[], what: string, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await meshd(stateDir, args, opts);
  if (r.code !== 0) throw new CliError(r, what);
  return r;
}

/**
 * JSON output of a CLI command: one JSON document, or JSON lines. Arrays are flattened, and an
 * object holding one array under a well-known key ({flows:[…]}, {pods:[…]}) yields that array.
 */
export function parseJsonOutput(stdout: string): unknown[] {
  const text = stdout.trim();
  if (text === '') return [];
  const unwrap = (v: unknown): unknown[] => {
    if (Array.isArray(v)) return v;
    if (v && typeof v === 'object') {
      for (const key of ['flows', 'pods', 'endpoints', 'items', 'policies']) {
        const inner = (v as Record<string, unknown>)[key];
        if (Array.isArray(inner)) return inner;
      }
    }
    return [v];
  };
  try {
    return unwrap(JSON.parse(text));
  } catch {
    return text
      .split('\n')
      .filter((l) => l.trim().startsWith('{') || l.trim().startsWith('['))
      .flatMap((l) => unwrap(JSON.parse(l)));
  }
}
