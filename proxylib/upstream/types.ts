// What the HTTP codecs (HTTP/1.1 and HTTP/2) need from the cluster layer: pick an endpoint of a
// cluster for one request, and open a connection to it (TLS origination included).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ClusterConfig } from '../config/types.js';

export interface UpstreamTarget {
  cluster: ClusterConfig;
  address: string;
  port: number;
  /** A stable key for connection pools: cluster, endpoint, TLS identity (SNI) and protocol. */
  poolKey: string;
  /** SNI to send when the cluster originates TLS ('' when none or not TLS). */
  serverName: string;
}

export type PickResult =
  | { ok: true; target: UpstreamTarget }
  | { ok: false; reason: 'cluster_not_found' | 'no_healthy_upstream' | 'no_original_destination' };

export interface PickContext {
  /** The connection's original destination (ORIGINAL_DST clusters connect to it). */
  originalDestination: { address: string; port: number };
  /** Host part of Host/:authority, for auto_sni. */
  host: string;
  /** The downstream protocol, for clusters that follow it. */
  downstreamProtocol: 'http1' | 'http2';
}

export interface ConnectOptions {
  /** ALPN to offer when originating TLS (['h2'] or ['http/1.1']); ignored for plain TCP. */
  alpnProtocols: string[];
}

export interface ClusterManager {
  pick(clusterName: string, ctx: PickContext): PickResult;
  /** Upstream protocol of a target for this request ('downstream' resolved). */
  protocolOf(target: UpstreamTarget, downstream: 'http1' | 'http2'): 'http1' | 'http2';
  /**
   * Opens a connection (connect timeout from the cluster; TLS origination with the cluster's
   * validation context and SNI when it has an UpstreamTlsContext). Rejects with a ProxyError
   * (MESHD_ERR_PROXY_UPSTREAM_CONNECT / MESHD_ERR_PROXY_UPSTREAM_TLS).
   */
  connect(target: UpstreamTarget, options: ConnectOptions): Promise<Socket | TLSSocket>;
  /**
   * Counts one request in flight on a target (least_request); call the returned function when the
   * request ends. Optional to implement and to call (added by D-listener; ViewClusterManager has it).
   */
  beginRequest?(target: UpstreamTarget): () => void;
}
