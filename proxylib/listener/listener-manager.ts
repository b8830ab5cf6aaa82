// Binds the listeners of the current config and follows its changes, as Envoy's listener manager:
//   added   → bind its addresses (port 0 allowed; bound() reports the real port)
//   updated → bind new addresses, close removed ones; new connections use the new config at once,
//             existing ones re-resolve their chain by name per request and drain when it is gone
//   removed → stop accepting, drain its connections (HTTP/1.1 finishes in-flight work, HTTP/2 sends
//             GOAWAY), destroy what is left after the drain timeout
// Socket servers are created with pauseOnConnect so no byte is read before the listener phase
// decides who reads it, and allowHalfOpen so tcp_proxy can forward a half-close.
// UDP addresses (a DNS listener) are bound as UdpListenerSockets (udp-listener.ts): on removal they
// stop taking datagrams, let in-flight queries answer, then close (bounded by the drain timeout).
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { ListenerConfig, SocketAddressConfig } from '../config/types.js';
import type { ConfigChange, ConfigView } from '../config-store/types.js';
import { createDnsRuntime, type DnsRuntime } from '../dns/runtime.js';
import type { DnsDataPlaneOptions } from '../dns/types.js';
import { bindReusePort, bindTransparent, reusePortAvailable, transparentAvailable } from '../../bpf/index.js';
import { ProxyError } from '../errors.js';
import { coarseClock } from './coarse-clock.js';
import { setUpConnection, type ConnectionEntry, type SetupEnvironment } from './connection-setup.js';
import { findChain } from './downstream-connection.js';
import { DownstreamTlsTerminator } from './tls-termination.js';
import type { BoundListener, CoarseClock, ListenerManagerDeps, ProxyLogger, SocketEndpoint } from './types.js';
import { UdpListenerSocket } from './udp-listener.js';
import type { UdpFilterEnvironment } from './udp-types.js';

/** Envoy's --drain-time-s is 600 s for the whole server; per-listener drains here default to 5 s. */
const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;
/** How long a draining connection that has sent nothing yet may still deliver its first bytes. */
export const UNREAD_DRAIN_GRACE_MS = 1_000;
const UNREAD_POLL_MS = 10;

interface BoundAddress {
  key: string;
  configured: SocketEndpoint;
  bound: SocketEndpoint;
  server: Server;
}

interface ActiveListener {
  name: string;
  addresses: Map<string, BoundAddress>;
  /** UDP addresses by addressKey. */
  udp: Map<string, UdpListenerSocket>;
  connections: Set<ConnectionEntry>;
}

export interface BindFailure {
  listener: string;
  address: SocketEndpoint;
  error: ProxyError;
}

function addressKey(a: SocketAddressConfig): string {
  return `${a.address}|${a.port}|${a.ipv4Compat === true ? 'v4compat' : ''}`;
}

export class ListenerManager {
  private readonly active = new Map<string, ActiveListener>();
  private readonly failures = new Map<string, BindFailure>();
  /** Connections of listeners that were removed (or re-bound) and are draining. */
  private readonly draining = new Set<ConnectionEntry>();
  /** Draining connections waiting for their first bytes (startUnreadGrace). */
  private readonly inUnreadGrace = new WeakSet<ConnectionEntry>();
  private readonly env: SetupEnvironment;
  private readonly clock: CoarseClock;
  private readonly logger: ProxyLogger | undefined;
  private readonly drainTimeoutMs: number;
  private readonly portHandover: boolean;
  private readonly unsubscribe: () => void;
  /** Bind / unbind work runs one step at a time, in change order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly started: Promise<void>;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly udpEnv: UdpFilterEnvironment;
  /** The DNS filters' settings and upstream sockets (closed with the manager). */
  private readonly dns: DnsRuntime;
  /** UDP sockets finishing their in-flight queries after removal. */
  private readonly closingUdp = new Set<Promise<void>>();
  /** TCP servers this manager bound with SO_REUSEPORT, by address (the kernel would not refuse a second). */
  private readonly reusePortServers = new Map<string, Server>();
  private readonly reusePortBinding = new WeakSet<Server>();

  constructor(
    private readonly view: ConfigView,
    deps: ListenerManagerDeps & DnsDataPlaneOptions,
  ) {
    this.clock = deps.clock ?? coarseClock;
    this.logger = deps.logger;
    const dns = createDnsRuntime(deps);
    this.dns = dns;
    this.drainTimeoutMs = deps.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.portHandover = deps.portHandover === true;
    if (this.portHandover && !reusePortAvailable()) {
      this.logger?.warn({}, 'port handover requested but the native SO_REUSEPORT helper is not built: TCP listeners bind plainly');
    }
    this.env = {
      view,
      clusters: deps.clusters,
      clock: this.clock,
      terminator: new DownstreamTlsTerminator(view),
      originalDestination: deps.originalDestination,
      identityOf: deps.identityOf,
      http1: deps.http1,
      http2: deps.http2,
      logger: deps.logger,
      listenerFiltersTimeoutMs: deps.listenerFiltersTimeoutMs,
      dataPlane: { dns },
    };
    this.udpEnv = { clusters: deps.clusters, clock: this.clock, logger: deps.logger, identityOf: (ip) => deps.identityOf?.(ip), dns };
    this.unsubscribe = view.onChange((change) => this.onConfigChange(change));
    this.started = this.enqueue(async () => {
      await Promise.all(view.listenerNames().map((name) => this.sync(name)));
    });
  }

  /** Resolves when the listeners present at construction are bound (failures are in bindFailures()). */
  start(): Promise<void> {
    return this.started;
  }

  /** Resolves when every bind/unbind caused by changes so far has been done. */
  settled(): Promise<void> {
    return this.queue;
  }

  bound(): BoundListener[] {
    const out: BoundListener[] = [];
    for (const listener of this.active.values()) {
      for (const a of listener.addresses.values()) out.push({ name: listener.name, configured: a.configured, bound: a.bound });
      for (const u of listener.udp.values()) out.push({ name: listener.name, configured: { address: u.configured.address, port: u.configured.port }, bound: u.bound });
    }
    return out;
  }

  /** The first bound address of a listener (tests and the admin page). */
  addressOf(listenerName: string): SocketEndpoint | undefined {
    const listener = this.active.get(listenerName);
    const first = listener?.addresses.values().next();
    if (first && !first.done) return first.value.bound;
    const udp = listener?.udp.values().next();
    return udp && !udp.done ? udp.value.bound : undefined;
  }

  /**
   * True when one of the bound listeners accepts connections for address:port (a wildcard listener
   * matches any address on its port). For ViewClusterManager's isOwnAddress: an ORIGINAL_DST pick of
   * the proxy's own address would loop.
   */
  isOwnAddress(address: string, port: number): boolean {
    for (const listener of this.active.values()) {
      for (const a of listener.addresses.values()) {
        if (a.bound.port !== port) continue;
        const host = a.bound.address;
        if (host === address || host === '0.0.0.0' || host === '::') return true;
      }
    }
    return false;
  }

  bindFailures(): BindFailure[] {
    return [...this.failures.values()];
  }

  /** Open downstream connections (all listeners, draining ones included), or of one listener. */
  connectionCount(listenerName?: string): number {
    if (listenerName !== undefined) {
      let n = this.active.get(listenerName)?.connections.size ?? 0;
      for (const entry of this.draining) if (entry.listenerName === listenerName) n++;
      return n;
    }
    let n = this.draining.size;
    for (const listener of this.active.values()) n += listener.connections.size;
    return n;
  }

  /**
   * Stops accepting on every listener and drains every connection; resolves when all are closed
   * (each is destroyed at the latest after the drain timeout). The manager ignores changes afterwards.
   */
  drain(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.unsubscribe();
    this.closing = this.enqueue(async () => {
      const names = [...this.active.keys()];
      await Promise.all(names.map((name) => this.unbindAll(name)));
      await Promise.all([this.waitForDrained(), ...this.closingUdp]);
      // Every UDP listener has answered or given up: nothing uses the upstream sockets any more.
      this.dns.close();
    });
    return this.closing;
  }

  /** drain(), then nothing is left: same as drain() (kept as the conventional name for shutdown). */
  close(): Promise<void> {
    return this.drain();
  }

  // ---- config changes ---------------------------------------------------------------------------

  private onConfigChange(change: ConfigChange): void {
    if (this.closed || change.kind !== 'listener') return;
    for (const name of [...change.added, ...change.updated, ...change.removed]) {
      void this.enqueue(() => this.sync(name));
    }
    // Chains that disappeared from an updated listener: their connections drain now (they would see
    // hcm() undefined at their next request anyway; idle keep-alive connections need the nudge).
    for (const name of change.updated) this.drainOrphanedConnections(name);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step, step);
    this.queue = next.catch((err: unknown) => {
      this.logger?.error({ err }, 'listener manager step failed');
    });
    return this.queue;
  }

  /** Makes the bound addresses of one listener match the current config. */
  private async sync(name: string): Promise<void> {
    if (this.closed) return;
    const config = this.view.listener(name);
    if (!config) {
      await this.unbindAll(name);
      return;
    }
    let listener = this.active.get(name);
    if (!listener) {
      listener = { name, addresses: new Map(), udp: new Map(), connections: new Set() };
      this.active.set(name, listener);
    }
    const wanted = new Map(config.addresses.filter((a) => a.protocol === 'tcp').map((a) => [addressKey(a), a] as const));
    for (const [key, bound] of listener.addresses) {
      if (wanted.has(key)) continue;
      listener.addresses.delete(key);
      closeServer(bound.server);
    }
    for (const [key, address] of wanted) {
      if (listener.addresses.has(key)) continue;
      const failureKey = `${name}|${key}`;
      try {
        const bound = await this.bind(listener, address);
        listener.addresses.set(key, bound);
        this.failures.delete(failureKey);
      } catch (err) {
        const error =
          err instanceof ProxyError ? err : new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${name} could not listen on ${address.address}:${address.port}: ${(err as Error).message}`);
        this.failures.set(failureKey, { listener: name, address: { address: address.address, port: address.port }, error });
        this.logger?.error({ err: error, listener: name }, error.message);
      }
    }
    await this.syncUdp(listener, config.addresses.filter((a) => a.protocol === 'udp'));
  }

  /** Makes the bound UDP addresses of one listener match the config. */
  private async syncUdp(listener: ActiveListener, addresses: SocketAddressConfig[]): Promise<void> {
    const wanted = new Map(addresses.map((a) => [addressKey(a), a] as const));
    for (const [key, socket] of listener.udp) {
      if (wanted.has(key)) continue;
      listener.udp.delete(key);
      this.closeUdp(socket);
    }
    for (const [key, address] of wanted) {
      if (listener.udp.has(key)) continue;
      const failureKey = `${listener.name}|udp|${key}`;
      try {
        const socket = await UdpListenerSocket.bind(listener.name, address, {
          view: this.view,
          env: this.udpEnv,
          originalDestination: this.env.originalDestination,
          logger: this.logger,
          portHandover: this.portHandover,
        });
        if (this.closed || this.active.get(listener.name) !== listener) {
          this.closeUdp(socket);
          continue;
        }
        listener.udp.set(key, socket);
        this.failures.delete(failureKey);
      } catch (err) {
        const error = new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${listener.name} could not listen on udp ${address.address}:${address.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        this.failures.set(failureKey, { listener: listener.name, address: { address: address.address, port: address.port }, error });
        this.logger?.error({ err: error, listener: listener.name }, error.message);
      }
    }
  }

  private closeUdp(socket: UdpListenerSocket): void {
    const closing = socket.close(this.drainTimeoutMs).catch((err: unknown) => this.logger?.warn({ err, listener: socket.listenerName }, 'UDP listener close failed'));
    this.closingUdp.add(closing);
    void closing.finally(() => this.closingUdp.delete(closing));
  }

  private bind(listener: ActiveListener, address: SocketAddressConfig): Promise<BoundAddress> {
    return new Promise((resolve, reject) => {
      const server = createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true });
      const transparent = isTransparent(this.view.listener(listener.name));
      server.on('connection', (socket: Socket) => this.accept(listener, socket, transparent ? server : undefined));
      const onListenError = (err: NodeJS.ErrnoException): void => {
        reject(new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${listener.name} could not listen on ${address.address}:${address.port}: ${err.code ?? err.message}`));
      };
      server.once('error', onListenError);
      // Envoy binds an IPv6 address IPv6-only unless ipv4_compat is set.
      const ipv6Only = isIPv6(address.address) && address.ipv4Compat !== true;
      // With port handover on, a fixed port is bound with SO_REUSEPORT (when the native helper was
      // built), so a restarted proxy can listen while this one still drains (docs/dns.md,
      // "Restarting the proxy"); with net.ipv4.tcp_migrate_req=1 the kernel moves connections
      // queued on a closing listener to the new one. Off (the default), a plain bind: a second
      // process on the port gets EADDRINUSE. Two listeners of THIS proxy on one port must
      // conflict either way: checked by key.
      let listenOptions: { fd: number } | { host: string; port: number; ipv6Only: boolean } = { host: address.address, port: address.port, ipv6Only };
      if (transparent) {
        // BPF TPROXY (bpf/progs/tc.bpf.c, docs/adr/0003): the kernel assigns connections to pod
        // addresses to this socket; only an IP_TRANSPARENT listener may accept them.
        if (!transparentAvailable()) {
          reject(new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${listener.name} is transparent but meshd_transparent.node is not built (make build)`));
          return;
        }
        try {
          listenOptions = { fd: bindTransparent(address.address, address.port, { ipv6Only, reusePort: this.portHandover && address.port !== 0 }) };
        } catch (err) {
          reject(new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${listener.name} could not listen transparently on ${address.address}:${address.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
          return;
        }
      } else if (this.portHandover && address.port !== 0 && reusePortAvailable()) {
        // A server still being bound, or listening, holds the address; `listening` turns false as
        // soon as the server is closed (its connections may still drain).
        const holder = this.reusePortServers.get(addressKey(address));
        if (holder !== undefined && (holder.listening || this.reusePortBinding.has(holder))) {
          reject(new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${listener.name} could not listen on ${address.address}:${address.port}: EADDRINUSE (another listener of this proxy)`));
          return;
        }
        try {
          listenOptions = { fd: bindReusePort('tcp', address.address, address.port, ipv6Only) };
        } catch (err) {
          reject(new ProxyError('MESHD_ERR_PROXY_BIND', `listener ${listener.name} could not listen on ${address.address}:${address.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
          return;
        }
        const key = addressKey(address);
        this.reusePortServers.set(key, server);
        this.reusePortBinding.add(server);
        server.once('listening', () => this.reusePortBinding.delete(server));
        server.once('error', () => this.reusePortBinding.delete(server));
        server.once('close', () => {
          if (this.reusePortServers.get(key) === server) this.reusePortServers.delete(key);
        });
      }
      server.listen(listenOptions, () => {
        server.off('error', onListenError);
        server.on('error', (err) => this.logger?.error({ err, listener: listener.name }, 'listener socket error'));
        const info = server.address();
        const port = info !== null && typeof info === 'object' ? info.port : address.port;
        resolve({ key: addressKey(address), configured: { address: address.address, port: address.port }, bound: { address: address.address, port }, server });
      });
    });
  }

  /** `transparentServer`: the accepting server when it is IP_TRANSPARENT. A connection it accepted
   *  whose local address is not the server's own was assigned to it by BPF TPROXY: its local
   *  address IS the original destination (no SO_ORIGINAL_DST, no datapath lookup). */
  private accept(listener: ActiveListener, socket: Socket, transparentServer?: Server): void {
    const entry: ConnectionEntry = { raw: socket, listenerName: listener.name, chainRef: undefined, conn: undefined, socket, phase: 'setup', draining: false };
    if (transparentServer && acceptedForForeignAddress(transparentServer, socket)) entry.localIsOriginalDestination = true;
    // The listener owns error handling until the end: an unhandled 'error' would crash the process.
    socket.on('error', (err) => this.logger?.debug({ err, listener: listener.name }, 'downstream socket error'));
    listener.connections.add(entry);
    socket.once('close', () => {
      listener.connections.delete(entry);
      this.draining.delete(entry);
      this.onConnectionClosed();
    });
    setUpConnection(entry, this.env).catch((err: unknown) => {
      this.logger?.error({ err, listener: listener.name }, 'connection setup failed');
      socket.destroy();
    });
  }

  // ---- draining ---------------------------------------------------------------------------------

  private async unbindAll(name: string): Promise<void> {
    const listener = this.active.get(name);
    if (!listener) return;
    this.active.delete(name);
    for (const key of [...this.failures.keys()]) if (key.startsWith(`${name}|`)) this.failures.delete(key);
    for (const a of listener.addresses.values()) closeServer(a.server);
    listener.addresses.clear();
    for (const u of listener.udp.values()) this.closeUdp(u);
    listener.udp.clear();
    for (const entry of listener.connections) this.drainEntry(entry);
    listener.connections.clear();
  }

  private drainOrphanedConnections(name: string): void {
    const listener = this.active.get(name);
    const config = this.view.listener(name);
    if (!listener || !config) return;
    for (const entry of [...listener.connections]) {
      if (entry.chainRef && !findChain(config, entry.chainRef)) {
        listener.connections.delete(entry);
        this.drainEntry(entry);
      }
    }
  }

  private drainEntry(entry: ConnectionEntry): void {
    if (entry.draining || this.inUnreadGrace.has(entry)) return;
    if (entry.raw.bytesRead === 0 && !entry.raw.destroyed) {
      this.startUnreadGrace(entry);
      return;
    }
    this.finishDrain(entry);
  }

  /**
   * A connection accepted but not read yet (its client's first bytes, e.g. a TCP DNS query, may be
   * on the way: during a port handover the kernel gave it to this listener just before it closed)
   * is not closed at once: it gets up to UNREAD_DRAIN_GRACE_MS (at most the drain timeout) for its
   * first bytes to be read, and then drains as any other (a request in flight is finished). A
   * client that sends nothing in that time is closed as before. Polled (bytesRead), because
   * listening for 'data' or 'readable' here would change how the handler reads the socket.
   */
  private startUnreadGrace(entry: ConnectionEntry): void {
    this.inUnreadGrace.add(entry);
    this.draining.add(entry);
    const deadline = Date.now() + Math.min(this.drainTimeoutMs, UNREAD_DRAIN_GRACE_MS);
    const check = (): void => {
      if (entry.raw.destroyed) {
        this.inUnreadGrace.delete(entry);
        return;
      }
      // Read, and past the listener phase (a handler took the bytes): it drains from here.
      if ((entry.raw.bytesRead === 0 || entry.phase === 'setup') && Date.now() < deadline) {
        setTimeout(check, UNREAD_POLL_MS).unref();
        return;
      }
      this.inUnreadGrace.delete(entry);
      this.finishDrain(entry);
    };
    setTimeout(check, UNREAD_POLL_MS).unref();
  }

  private finishDrain(entry: ConnectionEntry): void {
    if (entry.draining) return;
    entry.draining = true;
    if (entry.phase === 'setup') {
      // Still in the listener phase (awaiting a ClientHello, a handshake or the first request bytes):
      // no request has started, so there is nothing to finish.
      this.draining.delete(entry);
      entry.socket.destroy();
      entry.raw.destroy();
      return;
    }
    this.draining.add(entry);
    const timer = this.clock.timeout(this.drainTimeoutMs, () => {
      entry.socket.destroy();
      entry.raw.destroy();
    });
    entry.raw.once('close', () => timer.cancel());
    // HTTP connections finish their in-flight work; tcp_proxy connections have no request boundary
    // to stop at and live until the drain timeout.
    entry.conn?.startDrain();
  }

  private drainWaiters: Array<() => void> = [];

  private onConnectionClosed(): void {
    if (this.drainWaiters.length === 0 || this.connectionCount() > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private waitForDrained(): Promise<void> {
    if (this.connectionCount() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

/** Stops accepting at once. close()'s callback would wait for open connections, which drain separately. */
function closeServer(server: Server): void {
  server.close();
}

/** The listener's `transparent` flag (Envoy's Listener.transparent). Read defensively: the
 *  compiled ListenerConfig gains the field with the config compiler's support for it. */
function isTransparent(config: ListenerConfig | undefined): boolean {
  return config?.transparent === true;
}

function comparableIp(ip: string | undefined): string {
  const s = ip ?? '';
  return s.startsWith('::ffff:') && s.includes('.') ? s.slice(7) : s;
}

/** True when the accepted socket's local address:port is not the listening socket's own. */
function acceptedForForeignAddress(server: Server, socket: Socket): boolean {
  const own = server.address();
  if (own === null || typeof own !== 'object') return false;
  return comparableIp(socket.localAddress) !== comparableIp(own.address) || socket.localPort !== own.port;
}
