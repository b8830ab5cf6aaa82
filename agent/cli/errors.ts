// Errors of the CLI. Codes are append-only and each has a section in docs/errors.md
// (error-registry.test.ts checks). main.ts is the only place that turns any of them into an
// exit code; commands throw, they never call process.exit.

import { MeshdError } from '../../policy/index.js';

export const CLI_ERROR_CODES = {
  MESHD_ERR_USAGE: 'the command line is wrong: unknown command or option, missing or malformed argument',
} as const;

export type CliErrorCode = keyof typeof CLI_ERROR_CODES;

/** The command line itself is wrong. Exit status 2, followed by a pointer to `--help`. */
export class UsageError extends MeshdError {
  constructor(message: string, hint?: string) {
    super('MESHD_ERR_USAGE', message, hint);
    this.name = 'UsageError';
  }
}

/**
 * A command that has already printed why it failed and only needs the process to end with
 * `exitCode`. Carries no meshd code: nothing more is printed for it.
 */
export class ExitError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit status ${exitCode}`);
    this.name = 'ExitError';
    this.exitCode = exitCode;
  }
}
