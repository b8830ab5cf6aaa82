// Starts a real XdsServer on loopback TCP (or a unix socket) with a fresh cache, and tears everything
// down even when a test fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotCache, XdsServer, type XdsLogger, type XdsServerCallbacks, type XdsServerOptions } from '../../../xds/index.js';
import { ScriptedClient } from './scripted-client.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

export function recordingLogger(lines: LogLine[]): XdsLogger {
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  cache: SnapshotCache;
  server: XdsServer;
  address: string;
  logs: LogLine[];
  client(): ScriptedClient;
  close(): Promise<void>;
}

export async function startHarness(opts: { unix?: boolean; callbacks?: XdsServerCallbacks; server?: Partial<XdsServerOptions> } = {}): Promise<Harness> {
  const logs: LogLine[] = [];
  const logger = recordingLogger(logs);
  const cache = new SnapshotCache({ logger });
  const server = new XdsServer({ cache, logger, ...(opts.callbacks ? { callbacks: opts.callbacks } : {}), ...opts.server });
  const dir = opts.unix ? mkdtempSync(join(tmpdir(), 'meshd-xds-')) : undefined;
  const clients: ScriptedClient[] = [];
  let address: string;
  try {
    address = await server.listen(dir ? `unix:${join(dir, 'xds.sock')}` : '127.0.0.1:0');
  } catch (err) {
    await server.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    cache,
    server,
    address,
    logs,
    client() {
      const c = new ScriptedClient(address);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `body` with a harness and always closes it. */
export async function withHarness(body: (h: Harness) => Promise<void>, opts?: Parameters<typeof startHarness>[0]): Promise<void> {
  const h = await startHarness(opts);
  try {
    await body(h);
  } finally {
    await h.close();
  }
}

export const NODE = { id: 'node-1', cluster: 'c', userAgentName: 'meshd-test' };
export const ENVOY_NODE = { id: 'envoy-1', cluster: 'c', userAgentName: 'envoy' };
