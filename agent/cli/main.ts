// The meshd command line: resolve the command in the table, check its arguments, run it, and
// turn the outcome into an exit status. This is the only place that does that last step:
//   0  ok (the command's outcome was a success)
//   1  expected failure: the command reported one (problems found, flow denied), or threw a
//      coded meshd error (printed as `CODE  message` + `hint:`), or an internal error (a bug:
//      printed with its stack and a request to report it)
//   2  usage error: the command line is wrong; printed with a pointer to `--help`
// Errors are recognised by their `code`, not `instanceof`: they may come from another copy of
// the library, or across a process boundary as JSON.

import type { CliIo } from './cli-io.js';
import type { CommandGroup } from './command-spec.js';
import { processIo } from './cli-io.js';
import { COMMANDS } from './commands.js';
import { closestName } from './closest-name.js';
import { UsageError } from './errors.js';
import { parseCommandLine } from './parse-command-line.js';
import { readPackageVersion } from './read-package-version.js';
import { renderHelp } from './render-help.js';
import { renderProblem, toProblemReport } from './render-problem.js';
import { asksForHelp, commandLineName, resolveCommand } from './resolve-command.js';
import type { PolicyProblem } from '../../policy/index.js';

/**
 * Codes that mean "the arguments are wrong" rather than "the inputs are": exit 2. The trace
 * codes are the engine's verdict on `--from`/`--to`/`--kafka-api-key` values it cannot use.
 */
const USAGE_CODES: ReadonlySet<string> = new Set(['MESHD_ERR_USAGE', 'MESHD_ERR_TRACE_BAD_REF', 'MESHD_ERR_TRACE_BAD_ARGUMENT']);

/**
 * Runs one command line and resolves to its exit status; never throws, never exits.
 * `io` receives everything printed; `root` is the command table (tests pass their own).
 */
export async function main(argv: string[], io: CliIo = processIo, root: CommandGroup = COMMANDS): Promise<number> {
  // The command whose help a usage error points at; deepens as resolution goes.
  let path: string[] = [];
  try {
    const resolved = resolveCommand(root, argv);
    path = resolved.path;
    const { node, rest } = resolved;
    if (asksForHelp(rest)) {
      io.stdout(renderHelp(node, path));
      return 0;
    }
    if (node.kind === 'group') {
      const first = rest[0];
      if (first === undefined) {
        throw new UsageError(path.length === 0 ? 'missing command' : `missing command after '${commandLineName(path)}'`);
      }
      if (!first.startsWith('-')) {
        const guess = closestName(first, node.commands.map((c) => c.name));
        throw new UsageError(
          `unknown command '${commandLineName([...path, first])}'`,
          guess ? `did you mean '${commandLineName([...path, guess])}'?` : undefined,
        );
      }
      // Only group options are left, i.e. the root's --version.
      const args = parseCommandLine(node, rest);
      if (args.options.version !== true) throw new UsageError('missing command');
      return await runCommand(root, ['version'], [], io);
    }
    return await runCommand(root, path, rest, io);
  } catch (err) {
    return await reportFailure(err, path, io);
  }
}

async function runCommand(root: CommandGroup, path: string[], rest: string[], io: CliIo): Promise<number> {
  const { node } = resolveCommand(root, path);
  if (node.kind !== 'command') throw new Error(`command table: '${path.join(' ')}' is not a command`);
  const args = parseCommandLine(node, rest);
  const command = await node.load();
  return await command.run(args, { io, root });
}

async function reportFailure(err: unknown, path: string[], io: CliIo): Promise<number> {
  if (isExitError(err)) return err.exitCode;
  if (isCodedError(err)) {
    io.stderr(renderCodedError(err));
    if (!USAGE_CODES.has(err.code)) return 1;
    io.stderr(`run '${commandLineName(path)} --help'\n`);
    return 2;
  }
  const version = await readPackageVersion();
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  io.stderr(
    `meshd: internal error (a bug in meshd, not in your input)\n${stack}\n` +
      `Please report it with the command line you ran and this output ` +
      `(meshd ${version}, node ${process.version}, ${process.platform}-${process.arch}).\n`,
  );
  return 1;
}

interface CodedError {
  code: string;
  message: string;
  hint?: unknown;
  problems?: unknown;
}

function isCodedError(err: unknown): err is CodedError {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return typeof code === 'string' && code.startsWith('MESHD_ERR_') && typeof message === 'string';
}

function isExitError(err: unknown): err is { exitCode: number } {
  if (!(err instanceof Error) || err.name !== 'ExitError') return false;
  const { exitCode } = err as { exitCode?: unknown };
  return typeof exitCode === 'number' && Number.isInteger(exitCode);
}

function renderCodedError(err: CodedError): string {
  // Errors that carry every problem found print one line each. Layers shape them differently:
  // policy problems have a file position, xDS codec problems a code and a JSON path, and a
  // snapshot's consistency problems are plain sentences.
  if (Array.isArray(err.problems) && err.problems.length > 0) {
    return err.problems.map((p: unknown) => renderAnyProblem(err.code, p)).join('');
  }
  const hint = typeof err.hint === 'string' && err.hint !== '' ? `hint: ${err.hint}\n` : '';
  return `${err.code}  ${err.message}\n${hint}`;
}

function renderAnyProblem(code: string, p: unknown): string {
  if (typeof p === 'object' && p !== null) {
    const o = p as Record<string, unknown>;
    if (typeof o['position'] === 'object' && o['position'] !== null) return renderProblem(toProblemReport(p as PolicyProblem));
    if (typeof o['message'] === 'string') {
      const where = typeof o['path'] === 'string' && o['path'] !== '' ? `${o['path']}: ` : '';
      return `${typeof o['code'] === 'string' ? o['code'] : code}  ${where}${o['message']}\n`;
    }
  }
  return `${code}  ${String(p)}\n`;
}
