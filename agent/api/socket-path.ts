// Where the agent's API socket is: `<state dir>/meshd.sock`. The CLI and the agent compute it
// the same way, so `--state-dir` (or $MESHD_STATE_DIR) is all a user ever gives.
import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/var/lib/meshd';
export const API_SOCKET_FILE = 'meshd.sock';

/** $MESHD_STATE_DIR when set and not empty, else /var/lib/meshd. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['MESHD_STATE_DIR'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_STATE_DIR;
}

export function agentSocketPath(stateDir: string = defaultStateDir()): string {
  return join(stateDir, API_SOCKET_FILE);
}

/** sockaddr_un's sun_path is 108 bytes with the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
