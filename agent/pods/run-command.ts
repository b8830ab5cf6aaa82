// Runs `ip` without a shell: every name travels as its own argv element or as a line of
// an `ip -batch` script whose words were validated (addresses.ts), never through string
// interpolation into a shell. Async for normal use; sync for the exit and signal hooks, where
// the event loop will not run again.

import { execFile, spawnSync } from 'node:child_process';
import { PodCommandError, type CommandOutcome } from './errors.js';

export interface CommandResult extends CommandOutcome {
  stdout: string;
}

const COMMAND_TIMEOUT_MS = 10_000;

/** `exit N`, the signal that ended the command, or why it could not run, for error messages:
 *  a missing status never reads as "killed" when the program was never started. */
function describeEnding(code: number | null, signal: NodeJS.Signals | null, killedAtTimeout: boolean, startError: Error | undefined): string {
  if (startError !== undefined) return startError.message; // `spawn ip ENOENT`
  if (code !== null) return `exit ${code}`;
  if (killedAtTimeout) return `killed by ${signal ?? 'SIGKILL'} after ${COMMAND_TIMEOUT_MS} ms`;
  return `killed by ${signal ?? 'an unknown signal'}`;
}

export function runCommand(command: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
      // error.code: the exit status, or a string when the program could not run (ENOENT).
      const startError = error !== null && typeof error.code === 'string' ? error : undefined;
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      const signal = (error?.signal ?? null) as NodeJS.Signals | null;
      resolve({ code, stdout, stderr, ending: describeEnding(code, signal, error?.killed === true, startError) });
    });
    child.stdin?.on('error', () => {}); // the program may exit before reading its input
    child.stdin?.end(input ?? '');
  });
}

export function runCommandSync(command: string, args: readonly string[], input?: string): CommandResult {
  const r = spawnSync(command, args, { input: input ?? '', encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL' });
  // spawnSync reports its timeout as an ETIMEDOUT error next to the signal.
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const ending = describeEnding(r.status, r.signal, timedOut, timedOut ? undefined : r.error);
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ending };
}

/** `ip [globalArgs] -batch -` with `lines` on stdin; stops at the first failing line.
 *  Returns what the lines printed (`link show` and the like). */
export async function ipBatch(lines: readonly string[], globalArgs: readonly string[] = []): Promise<string> {
  const args = [...globalArgs, '-batch', '-'];
  const r = await runCommand('ip', args, lines.join('\n') + '\n');
  if (r.code !== 0) throw new PodCommandError(describeBatch(args, lines, r.stderr), r, hintFor(r));
  return r.stdout;
}

/** Like ipBatch with `-force`: runs every line even after failures (for removal, where a
 *  missing object is fine); returns ip's stderr. */
export async function ipBatchForce(lines: readonly string[], globalArgs: readonly string[] = []): Promise<string> {
  return (await runCommand('ip', [...globalArgs, '-force', '-batch', '-'], lines.join('\n') + '\n')).stderr;
}

export function ipBatchForceSync(lines: readonly string[]): string {
  return runCommandSync('ip', ['-force', '-batch', '-'], lines.join('\n') + '\n').stderr;
}

/** The 1-based line number ip reports in "Command failed -:N". */
export function failedBatchLine(stderr: string): number | undefined {
  const m = /Command failed -:(\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

function describeBatch(args: readonly string[], lines: readonly string[], stderr: string): string {
  const line = failedBatchLine(stderr);
  const failed = line === undefined ? undefined : lines[line - 1];
  return `ip ${args.join(' ')}${failed === undefined ? '' : ` (line ${line}: ${failed})`}`;
}

function hintFor(r: CommandOutcome): string | undefined {
  if (/\bENOENT\b/.test(r.ending)) return 'install iproute2 (the `ip` command)';
  if (/Operation not permitted/.test(r.stderr)) return 'pods need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)';
  if (/Unknown device type/.test(r.stderr)) return 'the kernel lacks that link type (CONFIG_VETH / CONFIG_DUMMY / CONFIG_IFB)';
  return undefined;
}
