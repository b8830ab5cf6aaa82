// `meshd proxy --xds HOST:PORT|unix:PATH --node-id ID`: meshd's built-in L7 proxy on its own, as an
// xDS client of `meshd xds serve`, the agent, or any ADS server, running the same Listener, Route,
// Cluster, Endpoint and Secret resources Envoy would. Waits for the first complete configuration,
// prints one stdout line (what it listens on; scripts and tests wait for it), and runs until SIGINT
// or SIGTERM, then drains. Logs go to stderr.
import { BuiltinProxy, ProxyError, splitHostPort, type BuiltinProxyOptions } from '../../../proxylib/index.js';
import { DEFAULT_PIN_ROOT, PinnedDatapathView } from '../../../bpf/index.js';
import { FlowPusher, RemoteDnsAnswerObserver } from '../../proxy-link/index.js';
import type { CommandContext } from '../command-spec.js';
import type { CliIo } from '../cli-io.js';
import { UsageError } from '../errors.js';
import type { ParsedArgs } from '../parsed-args.js';
import { getString, hasFlag } from '../parsed-args.js';

export const DEFAULT_READY_TIMEOUT_S = 30;

export interface ProxyCommandOptions {
  xds: string;
  nodeId: string;
  cluster: string;
  admin: string | undefined;
  transparent: boolean;
  pinRoot: string;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  /** Bind the listener ports shareably, so a restarted proxy takes them over while this one drains. */
  portHandover: boolean;
  isVerbose: boolean;
  /** The agent's API socket: DNS answers are learned through it and flow records sent to it. */
  agentSocket: string | undefined;
  /** Longest an allowed DNS answer is held for the learning side; undefined = the proxy's default. */
  dnsResponseMaxDelayMs: number | undefined;
}

export function parseProxyOptions(args: ParsedArgs): ProxyCommandOptions {
  const xds = getString(args, 'xds');
  if (xds === undefined || xds === '') throw new UsageError('missing option --xds HOST:PORT|unix:PATH');
  // The proxy's own host:port grammar; ports out of range are the proxy's MESHD_ERR_PROXY_BAD_ADDRESS.
  if (!/^unix:\//.test(xds) && !splitHostPort(xds)) {
    throw new UsageError(`--xds must be HOST:PORT, [IPV6]:PORT or unix:/PATH (got '${xds}')`, 'e.g. --xds 127.0.0.1:18000 or --xds unix:/run/meshd/xds.sock');
  }
  const nodeId = getString(args, 'node-id');
  if (nodeId === undefined || nodeId === '') throw new UsageError('missing option --node-id ID', 'the id the xDS server knows this proxy by (meshd xds serve --node, or the agent\'s node name)');
  const agentSocket = getString(args, 'agent-socket');
  if (agentSocket !== undefined && !agentSocket.startsWith('/')) {
    throw new UsageError(`--agent-socket must be an absolute path (got '${agentSocket}')`, 'e.g. --agent-socket /var/lib/meshd/meshd.sock');
  }
  const maxDelay = getString(args, 'dns-response-max-delay');
  const dnsResponseMaxDelayMs = maxDelay === undefined ? undefined : Number(maxDelay);
  if (dnsResponseMaxDelayMs !== undefined && (!Number.isInteger(dnsResponseMaxDelayMs) || dnsResponseMaxDelayMs < 0)) {
    throw new UsageError(`--dns-response-max-delay must be a whole number of milliseconds >= 0 (got '${maxDelay}')`, 'e.g. --dns-response-max-delay 100');
  }
  const admin = getString(args, 'admin');
  if (admin !== undefined && !splitHostPort(admin)) throw new UsageError(`--admin must be HOST:PORT (got '${admin}')`, 'e.g. --admin 127.0.0.1:9901');
  return {
    xds,
    nodeId,
    cluster: getString(args, 'cluster') ?? '',
    admin,
    transparent: hasFlag(args, 'transparent'),
    pinRoot: getString(args, 'pin-root') ?? DEFAULT_PIN_ROOT,
    readyTimeoutMs: seconds(args, 'ready-timeout', DEFAULT_READY_TIMEOUT_S) * 1000,
    drainTimeoutMs: seconds(args, 'drain-timeout', 5) * 1000,
    portHandover: hasFlag(args, 'port-handover'),
    isVerbose: hasFlag(args, 'verbose'),
    agentSocket,
    dnsResponseMaxDelayMs,
  };
}

function seconds(args: ParsedArgs, name: string, fallback: number): number {
  const v = getString(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of seconds (got '${v}')`);
  return n;
}

/** Transparent mode's resolvers over the datapath's pinned maps, and how to let go of them. */
export interface TransparentResolvers extends Required<Pick<BuiltinProxyOptions, 'identityOf' | 'originalDestination'>> {
  close(): void;
}

/**
 * Transparent mode: a read-only PinnedDatapathView of the kernel datapath the agent loaded (it loads
 * no object and attaches nothing: that is the agent's job). The ipcache gives source and destination
 * identities; the orig_dst map the original destination of each redirected connection (for the
 * original_dst listener filter and ORIGINAL_DST clusters). A lookup that fails (a malformed address)
 * answers "unknown" rather than failing the connection.
 */
export function openTransparentResolvers(pinRoot: string): TransparentResolvers {
  let view: PinnedDatapathView;
  try {
    view = PinnedDatapathView.open({ pinRoot });
  } catch (err) {
    // The datapath's message and hint say what is missing (not pinned, not root, another layout).
    const dp = err as { message?: string; code?: string; hint?: string };
    throw new ProxyError(
      'MESHD_ERR_PROXY_TRANSPARENT',
      `${dp.message ?? String(err)}${dp.code ? ` (${dp.code})` : ''}`,
      dp.hint ?? 'start the agent first (it loads and pins the datapath), and run the proxy as root',
    );
  }
  return {
    identityOf: (ip) => {
      try {
        return view.ipcache.identityOf(ip);
      } catch {
        return undefined;
      }
    },
    originalDestination: (tuple) => {
      try {
        const o = view.originalDestination(tuple);
        return o ? { address: o.address, port: o.port } : undefined;
      } catch {
        return undefined;
      }
    },
    close: () => view.close(),
  };
}

/**
 * Starts the proxy and waits for its first complete configuration; `stop` (a signal) cuts the wait
 * short (resolves undefined). `close` stops the proxy and then releases the datapath view.
 */
export async function startProxyCommand(opts: ProxyCommandOptions, io: CliIo, stop?: Promise<unknown>): Promise<{ proxy: BuiltinProxy; close(): Promise<void> } | undefined> {
  const logger = createStderrLogger(io, opts.isVerbose);
  const transparent = opts.transparent ? openTransparentResolvers(opts.pinRoot) : undefined;
  // With the agent's socket: allowed DNS answers are held until the agent has learned their IPs
  // (released at once and replayed later while it is away), and flow records are pushed to it.
  const link = opts.agentSocket
    ? { dns: new RemoteDnsAnswerObserver({ socketPath: opts.agentSocket, logger }), flows: new FlowPusher({ socketPath: opts.agentSocket, logger }) }
    : undefined;
  const closeLink = async (): Promise<void> => {
    await link?.flows.close();
    link?.dns.close();
  };
  let proxy: BuiltinProxy;
  try {
    proxy = await BuiltinProxy.start({
      xds: opts.xds,
      nodeId: opts.nodeId,
      cluster: opts.cluster,
      admin: opts.admin,
      logger,
      drainTimeoutMs: opts.drainTimeoutMs,
      portHandover: opts.portHandover,
      ...(opts.dnsResponseMaxDelayMs !== undefined ? { dnsResponseMaxDelayMs: opts.dnsResponseMaxDelayMs } : {}),
      ...(transparent ? { identityOf: transparent.identityOf, originalDestination: transparent.originalDestination } : {}),
      ...(link ? { dnsAnswerObserver: link.dns } : {}),
    });
  } catch (err) {
    transparent?.close();
    await closeLink();
    throw err;
  }
  // The map fds are released only after the proxy has drained: in-flight connections may still resolve.
  const closeAll = async (): Promise<void> => {
    await proxy.close();
    transparent?.close();
    // After the drain: the last requests' flow records are sent too.
    await closeLink();
  };
  try {
    const stopped = await Promise.race([proxy.ready(opts.readyTimeoutMs).then(() => false), ...(stop ? [stop.then(() => true)] : [])]);
    if (stopped) {
      await closeAll();
      return undefined;
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { proxy, close: closeAll };
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0 | 1> {
  const opts = parseProxyOptions(args);
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const started = await startProxyCommand(opts, io, signal);
  if (!started) {
    io.stdout(`meshd proxy: stopped before it was ready (${await signal})\n`);
    return 0;
  }
  const { proxy } = started;
  const listeners = proxy.listeners().map((l) => `${l.name}=${formatEndpoint(l.bound)}`);
  io.stdout(
    `meshd proxy: node ${opts.nodeId} ready from ${opts.xds}; listeners ${listeners.length > 0 ? listeners.join(' ') : 'none'}` +
      `${proxy.adminAddress ? `; admin ${proxy.adminAddress}` : ''}\n`,
  );
  const got = await signal;
  await started.close();
  io.stdout(`meshd proxy: stopped (${got})\n`);
  return 0;
}

function formatEndpoint(e: { address: string; port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** One line per event on stderr, `TIME LEVEL message {fields}`; a multi-line `detail` printed below, indented. */
function createStderrLogger(io: CliIo, isVerbose: boolean) {
  const write =
    (level: Level) =>
    (o: object, msg?: string): void => {
      if (level === 'debug' && !isVerbose) return;
      const { detail, err, ...fields } = o as { detail?: unknown; err?: unknown };
      if (err !== undefined) (fields as Record<string, unknown>).err = err instanceof Error ? err.message : String(err);
      const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      const below = typeof detail === 'string' && detail !== '' ? `\n${detail.replace(/^/gm, '  ')}` : '';
      io.stderr(`${new Date().toISOString()} ${level.toUpperCase()} ${msg ?? ''}${rest}${below}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
