// The byte tunnel an HTTP/1.1 exchange turns into once the upstream accepts its Upgrade (101) or
// CONNECT (2xx): both sockets carry opaque bytes, with backpressure each way. Kept apart from
// Http1Exchange because none of the request/response machinery applies any more; the exchange only
// records the flow when the tunnel ends.
import type { PooledConnection, UpstreamConnectionHandler } from '../upstream/http1-pool.js';
import type { Http1Exchange } from './exchange.js';
import type { Http1ServerConnection } from './server-connection.js';

export class Http1Tunnel implements UpstreamConnectionHandler {
  private upstream: PooledConnection | undefined;

  /** Takes over `upstream` (already detached from the pool): its events come here from now on. */
  constructor(
    private readonly connection: Http1ServerConnection,
    upstream: PooledConnection,
    private readonly exchange: Http1Exchange,
  ) {
    this.upstream = upstream;
    upstream.handler = this;
  }

  // ---- upstream → downstream --------------------------------------------------------------------

  onUpstreamData(chunk: Buffer): void {
    this.connection.refreshActivity();
    if (!this.connection.socket.write(chunk)) this.upstream?.socket.pause();
  }

  onUpstreamDrain(): void {
    this.connection.pauseForUpstream(false);
  }

  onUpstreamClose(error: Error | undefined): void {
    this.upstream = undefined;
    this.connection.endTunnel(this, error !== undefined);
  }

  /** The downstream socket drained: read from the upstream again. */
  resumeUpstreamReading(): void {
    this.upstream?.socket.resume();
  }

  // ---- downstream → upstream --------------------------------------------------------------------

  /** Downstream bytes; false when the upstream's write buffer is full. */
  writeUpstream(chunk: Buffer): boolean {
    const conn = this.upstream;
    if (conn === undefined) return true;
    return conn.socket.write(chunk);
  }

  /** The downstream sent FIN: pass it on (a tunnel half-closes, unlike HTTP). */
  endUpstream(): void {
    this.upstream?.socket.end();
  }

  // ---- the end ----------------------------------------------------------------------------------

  /** Either side closed: close the upstream side and record the exchange. */
  close(): void {
    const conn = this.upstream;
    this.upstream = undefined;
    if (conn !== undefined) this.connection.pool.discard(conn);
    this.exchange.onTunnelClosed();
  }

  /** The downstream went away (reset, abort): the same as close(). */
  onDownstreamClosed(): void {
    this.close();
  }

  /** stream_idle_timeout (or the route's idle_timeout): the exchange records it and resets the connection. */
  onStreamIdleTimeout(): void {
    this.exchange.onStreamIdleTimeout();
  }
}
