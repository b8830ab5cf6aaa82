// Before listening: a socket file left by an agent that died is removed, but only after checking
// that nobody answers on it; a live agent's socket (or a file that is not a socket) is never
// touched. Checking by connecting is the one test that cannot be fooled by a recycled pid.
import { connect } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { ApiError } from './errors.js';

/** How long a connect to a possibly-live socket may take before it counts as "no one there". */
const PROBE_TIMEOUT_MS = 1000;

export async function removeStaleSocket(socketPath: string): Promise<void> {
  const st = await lstat(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return;
  if (!st.isSocket()) {
    throw new ApiError('MESHD_ERR_API_SOCKET_PATH', `${socketPath} exists and is not a socket`, {
      hint: 'move the file away, or give the agent another --state-dir',
    });
  }
  if (await someoneAnswers(socketPath)) {
    throw new ApiError('MESHD_ERR_API_SOCKET_IN_USE', `another process is serving ${socketPath}`, {
      hint: 'an agent already runs on this state directory; stop it first, or give this one another --state-dir',
    });
  }
  await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

function someoneAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    // A live but stuck server still holds the path: treat "no answer in time" as live, safer
    // than deleting a socket someone is listening on.
    const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}
