// A stand-in for the agent's API in CLI tests: the real API server (agent/api) on a temporary
// state directory, answering fixed data on the paths the command under test asks. The commands
// run in-process through main(), exactly as `meshd …` would, and the test reads what they print.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentSocketPath, startApiServer } from '../../agent/index.js';
import type { ApiRoute } from '../../agent/index.js';
import { captureIo } from '../../agent/index.js';
import type { CapturedIo } from '../../agent/index.js';
import { main } from '../../agent/index.js';

export interface FakeAgent {
  stateDir: string;
  /** Runs `meshd ...argv --state-dir <stateDir>`. */
  meshd(...argv: string[]): Promise<{ status: number; io: CapturedIo }>;
  /** Query strings the fake agent received, by path. */
  queries: Map<string, URLSearchParams[]>;
}

export async function withFakeAgent(routes: ApiRoute[], body: (agent: FakeAgent) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshd-cli-'));
  const queries = new Map<string, URLSearchParams[]>();
  const recorded = routes.map((r): ApiRoute => ({
    ...r,
    handler: (req) => {
      queries.set(req.path, [...(queries.get(req.path) ?? []), req.query]);
      return r.handler(req);
    },
  }));
  const server = await startApiServer({ socketPath: agentSocketPath(stateDir), routes: recorded });
  try {
    await body({ stateDir, queries, meshd: (...argv) => runMeshd([...argv, '--state-dir', stateDir]) });
  } finally {
    await server.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export async function runMeshd(argv: string[]): Promise<{ status: number; io: CapturedIo }> {
  const io = captureIo();
  const status = await main(argv, io);
  return { status, io };
}

/** A state directory no agent runs on. */
export async function withNoAgent(body: (stateDir: string) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshd-cli-none-'));
  try {
    await body(stateDir);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}
