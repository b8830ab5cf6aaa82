// One bound address of a UDP listener: receives datagrams, recovers each one's original destination
// from the datapath (protocol udp: the sendmsg hook recorded it under the client's address and port,
// or port 0 for a connect()ed socket), hands it to the listener filter that selects it, and sends
// replies from this same socket — the datapath's recvmsg hook then shows the client the resolver it
// asked as the sender (docs/adr/0003). A plain listener without redirect sees its own address as the
// destination and its filter uses its configured upstream.
//
// Restart without losing a datagram: every listener socket is bound with SO_REUSEADDR, so a new
// proxy (a restarted one, while the old one still runs) binds the same address and port. For
// unicast UDP, Linux hands each datagram to the most recently bound of the sockets that share an
// address with SO_REUSEADDR (not a hash over them, as SO_REUSEPORT does): from the moment the new
// socket is bound, the old one receives nothing new. The old one then reads what is already queued
// in its receive buffer (close() keeps reading until the socket has been quiet for
// HANDOVER_QUIET_MS), answers it and closes. Measured by test/dns/dns-restart-pod.test.ts: no query
// lost across a restart. Trade-off, in docs/dns.md: another process on the node that sets
// SO_REUSEADDR can bind the same address and port too (SO_REUSEPORT would limit it to the same uid,
// but spreads datagrams over both sockets, and Node 20's dgram cannot set it).
//
// Limitation: a listener bound to a wildcard address cannot tell which local address a datagram was
// sent to (Node has no IP_PKTINFO), so the original-destination lookup uses the wildcard; bind UDP
// listeners to the proxy's addresses (translation does).
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { SocketAddressConfig } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import type { OriginalDestinationResolver, ProxyLogger, SocketEndpoint } from './types.js';
import type { UdpDatagramFacts, UdpFilterEnvironment } from './udp-types.js';

/**
 * Datagrams handled at once per bound address; beyond it new ones are dropped (the client retries).
 * Bounds memory and upstream sockets when the resolver stops answering under load (Cilium's
 * dnsproxy-concurrency-limit plays the same role).
 */
export const MAX_DATAGRAMS_IN_FLIGHT = 4096;

/** Receive buffer asked for (best effort; the kernel caps it at net.core.rmem_max): bursts of queries. */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * On close, datagrams are still taken until none arrived for this long: the receive buffer is then
 * empty (libuv reads it to EAGAIN on every poll). With a successor bound, nothing new arrives.
 */
export const HANDOVER_QUIET_MS = 50;
/** Without a successor datagrams keep coming; stop taking them after this long (then drain). */
export const HANDOVER_MAX_MS = 1000;

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export interface UdpListenerDeps {
  view: ConfigView;
  env: UdpFilterEnvironment;
  originalDestination: OriginalDestinationResolver | undefined;
  logger: ProxyLogger | undefined;
  /** SO_REUSEADDR, so a restarted proxy can bind the port while this one drains (default off:
   *  a second bind fails with EADDRINUSE). */
  portHandover?: boolean | undefined;
}

/**
 * Sockets of this process by configuration (one ConfigView per proxy) and address: SO_REUSEADDR
 * would let two listeners of the SAME proxy share a port silently (only the last bound would get
 * datagrams), so that stays EADDRINUSE as without it. Another proxy (a restart) may share it.
 */
const boundInProcess = new Map<string, Set<UdpListenerSocket>>();

function addressKey(address: SocketAddressConfig): string {
  return `${address.address}|${address.port}`;
}

export class UdpListenerSocket {
  private readonly socket: dgram.Socket;
  /** Datagrams being handled plus replies being sent: close() waits for both. */
  private inFlight = 0;
  private draining = false;
  private closed = false;
  private closing = false;
  /** When close() last saw a datagram (Date.now): it waits for a quiet socket. */
  private lastDatagramAt = 0;
  private drainWaiters: Array<() => void> = [];
  bound: SocketEndpoint;

  private constructor(
    readonly listenerName: string,
    readonly configured: SocketAddressConfig,
    private readonly deps: UdpListenerDeps,
  ) {
    const ipv6 = isIPv6(configured.address);
    // Envoy binds an IPv6 address IPv6-only unless ipv4_compat is set.
    // reuseAddr (port handover only): a restarted proxy binds the same address and port while
    // this one drains (above).
    this.socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 && configured.ipv4Compat !== true, reuseAddr: deps.portHandover === true });
    this.bound = { address: configured.address, port: configured.port };
  }

  /** Binds; rejects with the socket error (the manager turns it into MESHD_ERR_PROXY_BIND). */
  static bind(listenerName: string, address: SocketAddressConfig, deps: UdpListenerDeps): Promise<UdpListenerSocket> {
    const listener = new UdpListenerSocket(listenerName, address, deps);
    const key = addressKey(address);
    if (address.port !== 0 && [...(boundInProcess.get(key) ?? [])].some((other) => other.deps.view === deps.view && !other.closing && !other.closed)) {
      listener.socket.close();
      const err: NodeJS.ErrnoException = new Error(`bind EADDRINUSE ${address.address}:${address.port} (another listener of this proxy)`);
      err.code = 'EADDRINUSE';
      return Promise.reject(err);
    }
    // Registered before the bind completes, so two binds of one proxy at once still conflict.
    const held = boundInProcess.get(key) ?? new Set<UdpListenerSocket>();
    held.add(listener);
    boundInProcess.set(key, held);
    return new Promise((resolve, reject) => {
      const socket = listener.socket;
      const onError = (err: Error): void => {
        held.delete(listener);
        if (held.size === 0) boundInProcess.delete(key);
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ address: address.address, port: address.port, exclusive: true }, () => {
        socket.off('error', onError);
        socket.on('error', (err) => deps.logger?.error({ err, listener: listenerName }, 'UDP listener socket error'));
        try {
          socket.setRecvBufferSize(RECV_BUFFER_BYTES);
        } catch {
          // the default buffer still works
        }
        listener.bound = { address: address.address, port: socket.address().port };
        socket.on('message', (msg, rinfo) => listener.onDatagram(msg, rinfo));
        resolve(listener);
      });
    });
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.draining) return;
    if (this.closing) this.lastDatagramAt = Date.now();
    if (this.inFlight >= MAX_DATAGRAMS_IN_FLIGHT) {
      this.deps.logger?.debug({ listener: this.listenerName, inFlight: this.inFlight }, 'UDP listener at its in-flight limit; datagram dropped');
      return;
    }
    const config = this.deps.view.listener(this.listenerName);
    if (!config) return;
    const filters = config.udpListenerFilters ?? [];
    const remote: SocketEndpoint = { address: normalizeIp(rinfo.address), port: rinfo.port };
    const local = this.bound;
    let destination = local;
    let redirected = false;
    if (this.deps.originalDestination) {
      // The datapath keys UDP entries by protocol.
      const tuple = { local, remote, protocol: 'udp' as const };
      let resolved: SocketEndpoint | undefined;
      try {
        resolved = this.deps.originalDestination(tuple);
      } catch (err) {
        this.deps.logger?.debug({ err, listener: this.listenerName }, 'UDP original destination lookup failed');
      }
      if (resolved) {
        destination = { address: normalizeIp(resolved.address), port: resolved.port };
        redirected = true;
      }
    }
    const env = this.deps.env;
    const facts: UdpDatagramFacts = {
      listenerName: this.listenerName,
      source: remote,
      destination,
      redirected,
      sourceIdentity: env.identityOf(remote.address),
      destinationIdentity: env.identityOf(destination.address),
    };
    const reply = (message: Buffer): void => {
      if (this.closed) return;
      // A send is asynchronous: closing the socket before it completes would lose the reply.
      this.inFlight++;
      this.socket.send(message, rinfo.port, rinfo.address, (err) => {
        if (err) this.deps.logger?.debug({ err, listener: this.listenerName }, 'UDP reply not sent');
        this.done();
      });
    };
    const selected = filters.find((f) => f.filter.selects(facts));
    const work = selected ? selected.filter.handleDatagram(msg, facts, reply, env) : filters[0]?.filter.handleUnselected?.(msg, facts, reply, env);
    if (!work) return;
    this.inFlight++;
    work
      .catch((err: unknown) => this.deps.logger?.error({ err, listener: this.listenerName }, 'UDP listener filter failed'))
      .finally(() => this.done());
  }

  private done(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /**
   * Takes the datagrams already queued in the socket until it has been quiet for HANDOVER_QUIET_MS
   * (at most HANDOVER_MAX_MS), then stops taking datagrams, lets in-flight ones finish (their
   * replies still leave from this socket), and closes; at the latest after `drainTimeoutMs`.
   */
  async close(drainTimeoutMs: number): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    const started = Date.now();
    this.lastDatagramAt = started;
    const takeUntil = started + Math.min(drainTimeoutMs, HANDOVER_MAX_MS);
    while (Date.now() < takeUntil && Date.now() - this.lastDatagramAt < HANDOVER_QUIET_MS) {
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
    this.draining = true;
    const left = started + drainTimeoutMs - Date.now();
    if (this.inFlight > 0 && left > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => this.drainWaiters.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    const key = addressKey(this.configured);
    const held = boundInProcess.get(key);
    held?.delete(this);
    if (held?.size === 0) boundInProcess.delete(key);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
