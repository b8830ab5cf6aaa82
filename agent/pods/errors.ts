// Errors of the pods module (netns + veth + cgroup "pods" on this node). Codes are append-only
// and each has a section in docs/errors.md; callers match on `code`, never on the class.

import { MeshdError } from '../../policy/index.js';

export const PODS_ERROR_CODES = {
  MESHD_ERR_POD_INVALID_SPEC: 'a pod name, prefix or address the pods module cannot use',
  MESHD_ERR_POD_EXISTS: 'a pod with that name already exists on this node',
  MESHD_ERR_POD_ADDRESS_IN_USE: 'the requested pod address is already routed to another pod',
  MESHD_ERR_POD_ADDRESS_EXHAUSTED: 'no free address is left in the node pod range',
  MESHD_ERR_POD_CGROUP2_MISSING: 'no cgroup v2 hierarchy is mounted',
  MESHD_ERR_POD_COMMAND: 'an ip command or a /proc/sys write that sets up or removes a pod failed',
  MESHD_ERR_POD_EXEC_TIMEOUT: 'a command run in a pod did not finish in time and was killed',
  MESHD_ERR_POD_CLEANUP: 'something of a pod (process, netns, veth, cgroup) was still there after removal',
} as const;

export type PodsErrorCode = keyof typeof PODS_ERROR_CODES;

export class PodError extends MeshdError {
  override readonly code: PodsErrorCode;
  constructor(code: PodsErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'PodError';
    this.code = code;
  }
}

/** How a command run by the pods module ended (run-command.ts fills it in). */
export interface CommandOutcome {
  /** The exit status; null when the command was killed or never started. */
  code: number | null;
  stderr: string;
  /** `exit 1`, `killed by SIGKILL after 10000 ms`, or why it never ran (`spawn ip ENOENT`). */
  ending: string;
}

/** A command that failed: what ran, how it ended and what it said (ip's stderr names the line). */
export class PodCommandError extends PodError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(command: string, outcome: CommandOutcome, hint?: string) {
    super('MESHD_ERR_POD_COMMAND', `${command} failed (${outcome.ending}): ${outcome.stderr.trim() || 'no output'}`, hint);
    this.name = 'PodCommandError';
    this.command = command;
    this.exitCode = outcome.code;
    this.stderr = outcome.stderr;
  }
}
