// The agent's JSON state files (xds.json, proxy.json, ...): written atomically (temp file +
// rename, so a crash leaves the old file or the new one), and a corrupt file is moved aside with
// a warning rather than stopping the agent (the same rule as agent/fqdn/fqdn-state-file.ts).
import { readFileSync, renameSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AgentError } from './errors.js';

let tempCounter = 0;

export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${++tempCounter}`;
  try {
    writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // Never created.
    }
    throw err;
  }
}

export interface JsonReadResult<T> {
  value: T | undefined;
  /** Set when the file was corrupt and moved aside (MESHD_ERR_AGENT_STATE_FILE_CORRUPT). */
  warning?: AgentError;
}

/**
 * Reads and decodes `path`; undefined when absent. A file that does not parse or decode is renamed
 * to `<path>.corrupt-<time>` and reported as a warning.
 */
export function readJsonState<T>(path: string, decode: (raw: unknown) => T): JsonReadResult<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { value: undefined };
    throw new AgentError('MESHD_ERR_AGENT_STATE_DIR', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { value: decode(JSON.parse(text)) };
  } catch (err) {
    const aside = `${path}.corrupt-${Date.now()}`;
    try {
      renameSync(path, aside);
    } catch {
      // Left in place; it is rewritten on the next save.
    }
    return {
      value: undefined,
      warning: new AgentError('MESHD_ERR_AGENT_STATE_FILE_CORRUPT', `${path} is corrupt (${(err as Error).message}); moved to ${aside}`, {
        hint: 'the agent starts without what it held; look at the moved file if the cause matters',
        cause: err,
      }),
    };
  }
}
