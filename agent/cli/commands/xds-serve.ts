// `meshd xds serve --snapshot FILE`: a standalone xDS server for Envoy (or proxyless gRPC) without the
// agent. Serves the resources of a snapshot file to every node (or to --node), and pushes changes
// when the file changes; a change that does not load is logged and the previous snapshot stays.
// Runs until SIGINT or SIGTERM. The first stdout line says what is served and where, once the server
// listens (scripts and tests wait for it); logs go to stderr.
import { SnapshotCache, SnapshotFileWatcher, XdsServer, countResources } from '../../../xds/index.js';
import type { LoadedSnapshotFile } from '../../../xds/index.js';
import type { CommandContext } from '../command-spec.js';
import type { CliIo } from '../cli-io.js';
import { UsageError } from '../errors.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getString, hasFlag } from '../parsed-args.js';

/** go-control-plane's examples and Envoy's docs use 18000 for the management server. */
export const DEFAULT_LISTEN = '127.0.0.1:18000';

export interface XdsServeOptions {
  snapshotFile: string;
  /** `host:port` or `unix:/path`, as XdsServer.listen takes it. */
  address: string;
  /** '*' serves every node. */
  nodeId: string;
  isVerbose: boolean;
}

export function parseXdsServeOptions(args: ParsedArgs): XdsServeOptions {
  const snapshotFile = getString(args, 'snapshot');
  if (snapshotFile === undefined) throw new UsageError('missing option --snapshot FILE');
  const listen = getString(args, 'listen');
  const socket = getString(args, 'socket');
  if (listen !== undefined && socket !== undefined) throw new UsageError('give --listen or --socket, not both');
  const node = getString(args, 'node');
  if (node !== undefined && (node === '' || node === '*')) throw new UsageError(`--node needs a node id (got '${node}')`, 'leave --node out to serve every node');
  let address: string;
  if (socket !== undefined) {
    if (socket === '') throw new UsageError('--socket needs a path');
    address = `unix:${socket}`;
  } else {
    address = listen ?? DEFAULT_LISTEN;
    checkHostPort(address);
  }
  return { snapshotFile, address, nodeId: node ?? '*', isVerbose: hasFlag(args, 'verbose') };
}

export interface RunningXdsServe {
  /** The address the server is bound to (the real port when 0 was asked for). */
  address: string;
  watcher: SnapshotFileWatcher;
  server: XdsServer;
  cache: SnapshotCache;
  stop(): Promise<void>;
}

/** Loads the file, starts the server; throws XdsSnapshotFileError when the file does not load. */
export async function startXdsServe(opts: XdsServeOptions, io: CliIo): Promise<RunningXdsServe> {
  const logger = createStderrLogger(io, opts.isVerbose);
  const cache = new SnapshotCache({ logger });
  const watcher = await SnapshotFileWatcher.start({ file: opts.snapshotFile, cache, nodeId: opts.nodeId, logger });
  const server = new XdsServer({ cache, logger });
  let address: string;
  try {
    address = await server.listen(opts.address);
  } catch (err) {
    watcher.close();
    await server.close().catch(() => undefined);
    throw err;
  }
  return {
    address,
    watcher,
    server,
    cache,
    stop: async () => {
      watcher.close();
      await server.close();
    },
  };
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0 | 1> {
  const opts = parseXdsServeOptions(args);
  const running = await startXdsServe(opts, io);
  io.stdout(`meshd xds serve: serving ${describeLoaded(running.watcher.current)} from ${opts.snapshotFile} to ${opts.nodeId === '*' ? 'every node' : `node ${opts.nodeId}`} on ${running.address}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await running.stop();
  io.stdout(`meshd xds serve: stopped (${signal})\n`);
  return 0;
}

export function describeLoaded(loaded: LoadedSnapshotFile): string {
  // `listeners 3, routes 1`: the file's own list names, so no English plurals to get wrong.
  const counts = Object.entries(countResources(loaded))
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`);
  const version = loaded.contents.version !== undefined ? ` (version ${loaded.contents.version})` : '';
  return `${counts.length > 0 ? counts.join(', ') : 'no resources'}${version}`;
}

function checkHostPort(address: string): void {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT, e.g. ${DEFAULT_LISTEN} or [::1]:18000 (got '${address}')`);
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * The server's logger for the CLI: one line per event on stderr, `LEVEL message {fields}`, with a
 * multi-line `problems` field printed below, indented. Debug lines only with --verbose.
 */
function createStderrLogger(io: CliIo, isVerbose: boolean) {
  const write =
    (level: Level) =>
    (o: object, msg?: string): void => {
      if (level === 'debug' && !isVerbose) return;
      const { problems, ...fields } = o as { problems?: unknown };
      const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      const below = typeof problems === 'string' && problems !== '' ? `\n${problems.replace(/^/gm, '  ')}` : '';
      io.stderr(`${new Date().toISOString()} ${level.toUpperCase()} ${msg ?? ''}${rest}${below}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
