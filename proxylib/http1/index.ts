// The HTTP/1.1 data path of the built-in proxy: the downstream connection handler the listener
// calls for HTTP/1.x connections of an http_connection_manager chain.
import type { DownstreamConnection } from '../listener/index.js';
import { Http1Pool } from '../upstream/http1-pool.js';
import type { ClusterManager } from '../upstream/index.js';
import { Http1ServerConnection } from './server-connection.js';

// One keep-alive pool per cluster manager (that is, per proxy instance), shared by every
// downstream connection, so upstream connections are reused across clients.
const pools = new WeakMap<ClusterManager, Http1Pool>();

function poolFor(conn: DownstreamConnection): Http1Pool {
  let pool = pools.get(conn.clusters);
  if (pool === undefined) {
    pool = new Http1Pool({ clusters: conn.clusters, clock: conn.clock });
    pools.set(conn.clusters, pool);
  }
  return pool;
}

/** ListenerManagerDeps.http1: serves one HTTP/1.x downstream connection until it closes. */
export function handleHttp1Connection(conn: DownstreamConnection): void {
  new Http1ServerConnection(conn, poolFor(conn));
}

/** A handler bound to a given pool (tests and callers that own the pool's lifetime). */
export function createHttp1Handler(pool: Http1Pool): (conn: DownstreamConnection) => void {
  return (conn) => {
    new Http1ServerConnection(conn, pool);
  };
}

/** The shared pool of a cluster manager, e.g. to close its idle connections at shutdown. */
export function http1PoolOf(clusters: ClusterManager): Http1Pool | undefined {
  return pools.get(clusters);
}

export { Http1Pool, type Http1PoolOptions, type Http1PoolStats } from '../upstream/http1-pool.js';
