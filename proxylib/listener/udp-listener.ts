// One bound address of a UDP listener: receives datagrams, recovers each one's original destination
// from the datapath (protocol udp: the sendmsg hook recorded it under the client's address and port,
// or port 0 for a connect()ed socket), hands it to the listener filter that selects it, and sends
// replies from this same socket — the datapath's recvmsg hook then shows the client the resolver it
// asked as the sender (docs/adr/0003). A plain listener without redirect sees its own address as the
// destination and its filter uses its configured upstream.
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

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export interface UdpListenerDeps {
  view: ConfigView;
  env: UdpFilterEnvironment;
  originalDestination: OriginalDestinationResolver | undefined;
  logger: ProxyLogger | undefined;
}

export class UdpListenerSocket {
  private readonly socket: dgram.Socket;
  /** Datagrams being handled plus replies being sent: close() waits for both. */
  private inFlight = 0;
  private draining = false;
  private closed = false;
  private drainWaiters: Array<() => void> = [];
  bound: SocketEndpoint;

  private constructor(
    readonly listenerName: string,
    readonly configured: SocketAddressConfig,
    private readonly deps: UdpListenerDeps,
  ) {
    const ipv6 = isIPv6(configured.address);
    // Envoy binds an IPv6 address IPv6-only unless ipv4_compat is set.
    this.socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 && configured.ipv4Compat !== true });
    this.bound = { address: configured.address, port: configured.port };
  }

  /** Binds; rejects with the socket error (the manager turns it into MESHD_ERR_PROXY_BIND). */
  static bind(listenerName: string, address: SocketAddressConfig, deps: UdpListenerDeps): Promise<UdpListenerSocket> {
    const listener = new UdpListenerSocket(listenerName, address, deps);
    return new Promise((resolve, reject) => {
      const socket = listener.socket;
      const onError = (err: Error): void => {
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
   * Stops taking datagrams, lets in-flight ones finish (their replies still leave from this socket),
   * then closes; at the latest after `drainTimeoutMs`.
   */
  async close(drainTimeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => this.drainWaiters.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
