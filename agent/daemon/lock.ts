// agent.lock in the state directory: one agent per state directory. The file holds the owner's
// pid; it is created with O_EXCL, so two agents starting at once cannot both win. A lock whose
// pid no longer runs (the agent was SIGKILLed) is stale and taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from './errors.js';

export const LOCK_FILE = 'agent.lock';

export interface StateDirLock {
  readonly path: string;
  release(): void;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid recorded in the lock, when a live process holds it. */
export function lockHolder(stateDir: string): number | undefined {
  const pid = readPid(join(stateDir, LOCK_FILE));
  return pid !== undefined && isProcessAlive(pid) ? pid : undefined;
}

export function acquireStateDirLock(stateDir: string): StateDirLock {
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AgentError('MESHD_ERR_AGENT_STATE_DIR', `cannot create ${path}: ${(err as Error).message}`, { hint: 'run the agent as root, or give a writable --state-dir', cause: err });
      }
      const pid = readPid(path);
      if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) {
        throw new AgentError('MESHD_ERR_AGENT_ALREADY_RUNNING', `an agent (pid ${pid}) already runs on the state directory ${stateDir}`, {
          hint: `stop it first (kill ${pid}), or give this agent its own --state-dir`,
        });
      }
      // Stale: its owner died without releasing it (or the file was left half-written).
      try {
        unlinkSync(path);
      } catch {
        // Another starting agent removed it first; the next attempt decides.
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      path,
      release: () => {
        if (released) return;
        released = true;
        if (readPid(path) === process.pid) {
          try {
            unlinkSync(path);
          } catch {
            // Already gone.
          }
        }
      },
    };
  }
  throw new AgentError('MESHD_ERR_AGENT_ALREADY_RUNNING', `could not take ${path}: other agents keep starting on ${stateDir}`);
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
