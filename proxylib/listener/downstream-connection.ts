// One accepted connection as the protocol handlers see it. Its filter chain is remembered by listener
// name and chain name (Envoy's filter chains are named) and re-resolved against the current config
// whenever the listener object in the view changes, so a config update reaches the next request on
// an existing connection; a chain that disappeared makes hcm() undefined and the connection drains.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionFacts, FilterChainConfig, HcmConfig, ListenerConfig, RouteTable } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import type { FlowRecord } from '../flow/index.js';
import { publishFlow } from '../flow/index.js';
import type { DownstreamFacts } from '../hcm/types.js';
import type { ClusterManager } from '../upstream/index.js';
import type { CoarseClock, DownstreamConnection, ProxyLogger, SocketEndpoint } from './types.js';

/** How a connection names its chain: Envoy chain names, with the position as a fallback for unnamed ones. */
export interface ChainRef {
  name: string;
  /** Index in filterChains; -1 for the default filter chain. */
  index: number;
}

export function chainRefOf(listener: ListenerConfig, chain: FilterChainConfig): ChainRef {
  if (chain === listener.defaultFilterChain) return { name: chain.name, index: -1 };
  return { name: chain.name, index: listener.filterChains.indexOf(chain) };
}

export function findChain(listener: ListenerConfig, ref: ChainRef): FilterChainConfig | undefined {
  if (ref.name !== '') {
    for (const chain of listener.filterChains) if (chain.name === ref.name) return chain;
    return listener.defaultFilterChain?.name === ref.name ? listener.defaultFilterChain : undefined;
  }
  const chain = ref.index < 0 ? listener.defaultFilterChain : listener.filterChains[ref.index];
  return chain && chain.name === '' ? chain : undefined;
}

export function hcmOfChain(chain: FilterChainConfig | undefined): HcmConfig | undefined {
  const terminal = chain?.networkFilters[chain.networkFilters.length - 1];
  return terminal?.kind === 'http_connection_manager' ? terminal.hcm : undefined;
}

export interface DownstreamConnectionInit {
  socket: Socket | TLSSocket;
  facts: DownstreamFacts;
  connectionFacts: ConnectionFacts;
  listener: ListenerConfig;
  chain: FilterChainConfig;
  scheme: 'http' | 'https';
  negotiatedAlpn: string | undefined;
  originalDestination: SocketEndpoint;
  sourceIdentity: number | undefined;
  destinationIdentity: number | undefined;
  acceptedAtMs: number;
  view: ConfigView;
  clusters: ClusterManager;
  clock: CoarseClock;
  identityOf: ((ip: string) => number | undefined) | undefined;
  logger: ProxyLogger | undefined;
}

export class ListenerDownstreamConnection implements DownstreamConnection {
  readonly socket: Socket | TLSSocket;
  readonly facts: DownstreamFacts;
  readonly connectionFacts: ConnectionFacts;
  readonly listenerName: string;
  readonly filterChainName: string;
  readonly scheme: 'http' | 'https';
  readonly negotiatedAlpn: string | undefined;
  readonly originalDestination: SocketEndpoint;
  readonly sourceIdentity: number | undefined;
  readonly destinationIdentity: number | undefined;
  readonly acceptedAtMs: number;
  readonly view: ConfigView;
  readonly clusters: ClusterManager;
  readonly clock: CoarseClock;
  readonly logger: ProxyLogger | undefined;
  readonly chainRef: ChainRef;

  private readonly resolveIdentity: ((ip: string) => number | undefined) | undefined;
  private listenerSeen: ListenerConfig | undefined;
  private chainSeen: FilterChainConfig | undefined;
  private drainCallbacks: Array<() => void> | undefined = [];
  private isDraining = false;

  constructor(init: DownstreamConnectionInit) {
    this.socket = init.socket;
    this.facts = init.facts;
    this.connectionFacts = init.connectionFacts;
    this.listenerName = init.listener.name;
    this.filterChainName = init.chain.name;
    this.scheme = init.scheme;
    this.negotiatedAlpn = init.negotiatedAlpn;
    this.originalDestination = init.originalDestination;
    this.sourceIdentity = init.sourceIdentity;
    this.destinationIdentity = init.destinationIdentity;
    this.acceptedAtMs = init.acceptedAtMs;
    this.view = init.view;
    this.clusters = init.clusters;
    this.clock = init.clock;
    this.logger = init.logger;
    this.resolveIdentity = init.identityOf;
    this.chainRef = chainRefOf(init.listener, init.chain);
    this.listenerSeen = init.listener;
    this.chainSeen = init.chain;
  }

  /** The chain in the current config (undefined when the listener or the chain is gone). */
  currentChain(): FilterChainConfig | undefined {
    const listener = this.view.listener(this.listenerName);
    if (listener !== this.listenerSeen) {
      this.listenerSeen = listener;
      this.chainSeen = listener ? findChain(listener, this.chainRef) : undefined;
    }
    return this.chainSeen;
  }

  hcm(): HcmConfig | undefined {
    return hcmOfChain(this.currentChain());
  }

  routeTable(): RouteTable | undefined {
    const hcm = this.hcm();
    if (!hcm) return undefined;
    return hcm.routes.kind === 'inline' ? hcm.routes.table : this.view.routeTable(hcm.routes.name);
  }

  publishFlow(record: FlowRecord): void {
    publishFlow(record);
  }

  identityOf(ip: string): number | undefined {
    return this.resolveIdentity?.(ip);
  }

  get draining(): boolean {
    return this.isDraining;
  }

  onDrain(callback: () => void): () => void {
    if (this.isDraining || !this.drainCallbacks) {
      queueMicrotask(callback);
      return () => {};
    }
    const callbacks = this.drainCallbacks;
    callbacks.push(callback);
    return () => {
      const i = callbacks.indexOf(callback);
      if (i >= 0) callbacks.splice(i, 1);
    };
  }

  /** Called by the listener manager: marks the connection draining and runs the callbacks once. */
  startDrain(): void {
    if (this.isDraining) return;
    this.isDraining = true;
    const callbacks = this.drainCallbacks ?? [];
    this.drainCallbacks = undefined;
    for (const callback of callbacks) {
      try {
        callback();
      } catch (err) {
        this.logger?.warn({ err, listener: this.listenerName }, 'drain callback threw');
      }
    }
  }
}
